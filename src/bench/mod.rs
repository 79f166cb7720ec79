//! `hoso bench`: latency of each pipeline stage for one 640×480 single-face frame (p50,
//! p95), whole-pipeline throughput with every core busy, gallery search times on
//! synthetic galleries, and peak memory.

pub mod load;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use fast_image_resize::Resizer;
use serde::Serialize;

use crate::config::Config;
use crate::gallery::{Gallery, Query};
use crate::score;
use crate::vision::detect::Track;
use crate::vision::tune::Choice;
use crate::vision::{decode, primary_face, EngineOptions, FaceEngine, VisionError};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot read bench image {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("bench image: {0}")]
    Image(String),
    #[error(transparent)]
    Vision(#[from] VisionError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub mean_ms: f64,
    pub n: usize,
}

impl Latency {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
        Self {
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            mean_ms: v.iter().sum::<f64>() / v.len() as f64,
            n: v.len(),
        }
    }
}

/// Frames of several kiosks at once.
#[derive(Debug, Clone, Serialize)]
pub struct Concurrent {
    pub kiosks: usize,
    pub frames_per_s: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub frame: String,
    pub cores: usize,
    /// The CPU as the tuner names it, and each model's optimisation level with timings.
    pub cpu: String,
    pub tuning: Vec<Choice>,
    /// "int8" or "fp32".
    pub precision: String,
    pub min_face_px: f32,
    pub stages: BTreeMap<String, Latency>,
    pub pipeline: Latency,
    pub throughput_fps: BTreeMap<String, f64>,
    pub search: BTreeMap<String, Latency>,
    pub template_dims: usize,
    /// Kiosk latency, frame received → decision, by enrolled templates.
    pub kiosk: BTreeMap<String, Latency>,
    /// Several kiosks sending frames at once (largest gallery): by number of kiosks.
    pub concurrent: BTreeMap<String, Concurrent>,
    /// Opening the application with the largest gallery in the store.
    pub gallery_load: load::GalleryLoad,
    pub peak_rss_mb: f64,
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1e3)
}

/// A 640×480 JPEG of the image (letterboxed onto grey when the aspect differs).
fn frame_jpeg(path: &Path, cfg: &Config) -> Result<Vec<u8>, BenchError> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let img = decode(&bytes, &cfg.decode_limits()).map_err(|e| BenchError::Image(e.to_string()))?;
    let img = if img.dimensions() == (640, 480) {
        img
    } else {
        let scale = (640.0 / img.width() as f32).min(480.0 / img.height() as f32);
        let (w, h) = (
            (img.width() as f32 * scale) as u32,
            (img.height() as f32 * scale) as u32,
        );
        let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
        let mut canvas = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        image::imageops::overlay(
            &mut canvas,
            &small,
            i64::from((640 - w) / 2),
            i64::from((480 - h) / 2),
        );
        canvas
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), 85)
        .encode_image(&img)
        .map_err(|e| BenchError::Image(e.to_string()))?;
    Ok(out)
}

/// The whole per-frame pipeline as the kiosk runs it within a visit (decode, detection
/// around the last frame's face, quality, then the embedding beside the passive liveness
/// score); returns the number of faces embedded.
fn pipeline(
    engine: &FaceEngine,
    jpeg: &[u8],
    cfg: &Config,
    track: &mut Track,
) -> Result<usize, BenchError> {
    let img = decode(jpeg, &cfg.decode_limits()).map_err(|e| BenchError::Image(e.to_string()))?;
    let faces = engine.detect_tracked(&img, cfg.vision.min_face_px, track)?;
    let Some(face) = primary_face(&faces, img.width(), img.height()) else {
        return Ok(0);
    };
    engine.quality(&img, face);
    let (passive, embedded) = std::thread::scope(|s| {
        let p = s.spawn(|| engine.passive_score(&img, face));
        let e = engine.embed_probe(&img, face);
        (p.join(), e)
    });
    passive.map_err(|_| BenchError::Image("passive thread panicked".into()))??;
    embedded?;
    Ok(1)
}

/// A xorshift generator of values in [-0.5, 0.5).
fn synthetic(seed: u64) -> impl FnMut() -> f32 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

pub fn run(
    cfg: &Config,
    image: &Path,
    iterations: usize,
    max_gallery: usize,
) -> Result<BenchReport, BenchError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = cfg.models_dir();
    let engine = FaceEngine::load(&dir, &cfg.engine_options())?;
    let jpeg = frame_jpeg(image, cfg)?;
    let min_face = cfg.vision.min_face_px;

    // Warm up (first runs allocate ORT arenas).
    for _ in 0..3 {
        pipeline(&engine, &jpeg, cfg, &mut Track::default())?;
    }
    let (st, whole) = stage_times(&engine, &jpeg, cfg, image, iterations)?;

    // Throughput: one frame at a time, then one worker per core with single-threaded sessions.
    let mut throughput = BTreeMap::new();
    let frames = iterations.max(20);
    let mut track = Track::default();
    let (_, t) = time(|| {
        (0..frames).try_for_each(|_| pipeline(&engine, &jpeg, cfg, &mut track).map(|_| ()))
    });
    let (cpu, tuning) = engine.tuning();
    let (cpu, tuning) = (cpu.to_string(), tuning.to_vec());
    let precision = format!("{:?}", engine.precision()).to_lowercase();
    throughput.insert("sequential".to_string(), frames as f64 / (t / 1e3));
    drop(engine);
    let par_engine = FaceEngine::load(
        &dir,
        &EngineOptions {
            sessions: cores,
            threads: 1,
            parallel_embedders: false,
            ..cfg.engine_options()
        },
    )?;
    throughput.insert(
        format!("parallel_{cores}_workers"),
        parallel_fps(&par_engine, &jpeg, cfg, cores, frames)?,
    );

    // Gallery search on synthetic unit templates.
    let segs = par_engine.segments().to_vec();
    let dims: usize = segs.iter().map(|s| s.dims).sum();
    let fused = score::scorer(&par_engine.manifest, &segs, score::FUSED)
        .ok_or_else(|| BenchError::Image("no fused scorer".into()))?;
    drop(par_engine);
    let search = search_times(&segs, &fused, iterations, max_gallery);

    let (kiosk, concurrent) = kiosk_latency(cfg, &jpeg, iterations.max(20), max_gallery)?;
    let gallery_load = load::gallery_load(cfg, max_gallery.clamp(1_000, 100_000))?;

    Ok(BenchReport {
        frame: format!("{} as 640×480 JPEG ({} bytes)", image.display(), jpeg.len()),
        cores,
        cpu,
        tuning,
        precision,
        min_face_px: min_face,
        stages: st.into_iter().map(|(k, v)| (k, Latency::of(v))).collect(),
        pipeline: Latency::of(whole),
        throughput_fps: throughput,
        search,
        template_dims: dims,
        kiosk,
        concurrent,
        gallery_load,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Milliseconds per named stage.
type Samples = BTreeMap<String, Vec<f64>>;

/// Each stage of the pipeline timed on its own (`iterations` times), and the whole.
fn stage_times(
    engine: &FaceEngine,
    jpeg: &[u8],
    cfg: &Config,
    image: &Path,
    iterations: usize,
) -> Result<(Samples, Vec<f64>), BenchError> {
    let min_face = cfg.vision.min_face_px;
    let mut track = Track::default();
    let mut st: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut whole = Vec::new();
    let mut r = Resizer::new();
    let mut input = Vec::new();
    for i in 0..iterations {
        let (img, t) = time(|| decode(jpeg, &cfg.decode_limits()));
        let img = img.map_err(|e| BenchError::Image(e.to_string()))?;
        st.entry("decode".into()).or_default().push(t);
        let (faces, t) = time(|| engine.detect(&img, min_face));
        let faces = faces?;
        st.entry("detect".into()).or_default().push(t);
        let (_, t) =
            time(|| crate::kiosk::qr::scan(&img, crate::kiosk::qr::Effort::Quick(i as u32)));
        st.entry("qr_scan_start_screen".into()).or_default().push(t);
        let (res, t) = time(|| engine.detect_tracked(&img, min_face, &mut track));
        res?;
        st.entry("detect_in_visit".into()).or_default().push(t);
        let face = *primary_face(&faces, img.width(), img.height()).ok_or_else(|| {
            BenchError::Image(format!(
                "no face of at least {min_face} px in {}",
                image.display()
            ))
        })?;
        let (_, t) = time(|| engine.quality(&img, &face));
        st.entry("quality".into()).or_default().push(t);
        for k in 0.. {
            let Some(e) = engine.embedder(k) else { break };
            // A kiosk probe: one chip, no mirror image.
            let (_, t) = time(|| e.prepare(&img, &[face.landmarks], true, &mut r, &mut input));
            st.entry(format!("align_{}", e.name)).or_default().push(t);
            let mut out = Vec::new();
            let (res, t) = time(|| e.run(&input, 1, true, &mut out));
            res?;
            st.entry(format!("embed_{}", e.name)).or_default().push(t);
        }
        let (res, t) = time(|| engine.passive_score(&img, &face));
        if res?.is_some() {
            let name = engine.manifest.liveness.as_ref().map_or("", |l| &l.passive);
            st.entry(format!("passive_{name}")).or_default().push(t);
        }
        let (res, t) = time(|| pipeline(engine, jpeg, cfg, &mut track));
        res?;
        whole.push(t);
    }
    Ok((st, whole))
}

/// Frames per second with one worker per core, each running `frames` frames.
fn parallel_fps(
    engine: &FaceEngine,
    jpeg: &[u8],
    cfg: &Config,
    cores: usize,
    frames: usize,
) -> Result<f64, BenchError> {
    pipeline(engine, jpeg, cfg, &mut Track::default())?;
    let (res, t) = time(|| {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..cores)
                .map(|_| {
                    s.spawn(|| {
                        let mut track = Track::default();
                        (0..frames)
                            .try_for_each(|_| pipeline(engine, jpeg, cfg, &mut track).map(|_| ()))
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(BenchError::Image("worker panicked".into())))
                })
                .collect::<Result<Vec<_>, _>>()
        })
    });
    res?;
    Ok((frames * cores) as f64 / (t / 1e3))
}

/// Search latency on galleries of 10 000, 100 000 and 1 000 000 synthetic unit templates
/// (up to `max_gallery`).
fn search_times(
    segs: &[crate::vision::Segment],
    fused: &score::Scorer,
    iterations: usize,
    max_gallery: usize,
) -> BTreeMap<String, Latency> {
    let dims: usize = segs.iter().map(|s| s.dims).sum();
    let mut search = BTreeMap::new();
    let gallery = Gallery::new(segs);
    let mut rnd = synthetic(0x9E37_79B9_7F4A_7C15);
    let make = |rnd: &mut dyn FnMut() -> f32| {
        let mut t: Vec<f32> = (0..dims).map(|_| rnd()).collect();
        for s in segs {
            crate::vision::embed::normalise(&mut t[s.offset..s.offset + s.dims]);
        }
        t
    };
    let mut n = 0usize;
    for size in [10_000usize, 100_000, 1_000_000] {
        if size > max_gallery {
            break;
        }
        gallery.reserve(size - n);
        while n < size {
            let t = make(&mut rnd);
            gallery.add((n / 3) as u64, n as u64, &t);
            n += 1;
        }
        let probes: Vec<Query> = (0..20)
            .map(|_| Query::new(segs, fused, &make(&mut rnd)))
            .collect();
        gallery.search(&probes[0]);
        let times: Vec<f64> = (0..iterations.max(20))
            .map(|i| time(|| gallery.search(&probes[i % probes.len()])).1)
            .collect();
        search.insert(size.to_string(), Latency::of(times));
    }
    search
}

type KioskTimes = (BTreeMap<String, Latency>, BTreeMap<String, Concurrent>);

/// Frame received → kiosk decision, through the real use case (QR scan, detection,
/// quality, passive liveness, embedding, eligibility, gallery search, the visit) on a
/// temporary data directory seeded with synthetic applicants, each with an open dossier and
/// a template; then 1, 2 and 4 kiosks sending frames at once.
fn kiosk_latency(
    cfg: &Config,
    jpeg: &[u8],
    iterations: usize,
    max_gallery: usize,
) -> Result<KioskTimes, BenchError> {
    let tmp = std::env::temp_dir().join(format!("hoso-bench-{}", std::process::id()));
    let mut config = cfg.clone();
    config.data_dir = tmp.clone();
    // The decision path reads the gallery in memory: timed on SQLite whatever the config
    // says (`--database` is for the gallery load below).
    config.database = Default::default();
    let engine = FaceEngine::load(&cfg.models_dir(), &cfg.engine_options())?;
    let app = std::sync::Arc::new(
        crate::app::App::open(config, engine, false)
            .map_err(|e| BenchError::Image(e.to_string()))?,
    );
    crate::app::App::keep_eligible(&app);
    let segs = app.gallery.segments().to_vec();
    let dims: usize = segs.iter().map(|s| s.dims).sum();
    let kiosk = crate::auth::Principal {
        role: crate::auth::Role::Kiosk,
        actor: "device:0".into(),
        id: 0,
        name: "bench".into(),
        office: Some(crate::store::offices::DEFAULT_OFFICE),
    };
    let mut rnd = synthetic(0x51_7C_C1_B7_27_22_0A_95);
    let mut out = BTreeMap::new();
    let mut n = 0i64;
    for size in [1_000i64, 100_000] {
        if size as usize > max_gallery {
            break;
        }
        let add = size - n;
        app.seed_synthetic((n + 1) as usize, add as usize, None, 1)
            .map_err(|e| BenchError::Image(e.to_string()))?;
        app.gallery.reserve((size - n) as usize);
        for id in n + 1..=size {
            let mut t: Vec<f32> = (0..dims).map(|_| rnd()).collect();
            for s in &segs {
                crate::vision::embed::normalise(&mut t[s.offset..s.offset + s.dims]);
            }
            app.gallery.add(id as u64, id as u64, &t);
        }
        n = size;
        // As a server would have at its start: the set read once, the keeper's pace known.
        app.refresh_eligible()
            .map_err(|e| BenchError::Image(e.to_string()))?;
        app.kiosk_frame(&kiosk, "warm", jpeg)
            .map_err(|e| BenchError::Image(e.to_string()))?;
        let mut times = Vec::with_capacity(iterations);
        for i in 0..iterations {
            // Visits of two frames (a decision takes two): the first frame looks over the
            // whole frame, the second finds the face where it was.
            let session = format!("bench-{size}-{}", i / 2);
            let (r, t) = time(|| app.kiosk_frame(&kiosk, &session, jpeg));
            r.map_err(|e| BenchError::Image(e.to_string()))?;
            times.push(t);
        }
        out.insert(size.to_string(), Latency::of(times));
    }
    let concurrent = concurrent_kiosks(&app, &kiosk, jpeg, iterations);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok((out, concurrent?))
}

/// 1, 2 and 4 kiosks sending frames at once (visits of two frames, every frame
/// identified): frames per second in all and each frame's latency.
fn concurrent_kiosks(
    app: &crate::app::App,
    kiosk: &crate::auth::Principal,
    jpeg: &[u8],
    iterations: usize,
) -> Result<BTreeMap<String, Concurrent>, BenchError> {
    let mut concurrent = BTreeMap::new();
    for kiosks in [1usize, 2, 4] {
        let frames = iterations;
        let ((res, lat), t) = time(|| {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..kiosks)
                    .map(|k| {
                        s.spawn(move || {
                            (0..frames)
                                .map(|i| {
                                    // Visits of two frames, every frame identified.
                                    let session = format!("conc-{kiosks}-{k}-{}", i / 2);
                                    let (r, t) = time(|| app.kiosk_frame(kiosk, &session, jpeg));
                                    r.map(|_| t).map_err(|e| BenchError::Image(e.to_string()))
                                })
                                .collect::<Result<Vec<f64>, _>>()
                        })
                    })
                    .collect();
                let mut all = Vec::new();
                for h in hs {
                    match h.join() {
                        Ok(Ok(v)) => all.extend(v),
                        Ok(Err(e)) => return (Err(e), all),
                        Err(_) => return (Err(BenchError::Image("kiosk panicked".into())), all),
                    }
                }
                (Ok(()), all)
            })
        });
        res?;
        concurrent.insert(
            kiosks.to_string(),
            Concurrent {
                kiosks,
                frames_per_s: (frames * kiosks) as f64 / (t / 1e3),
                latency: Latency::of(lat),
            },
        );
    }
    Ok(concurrent)
}

/// Peak resident memory of this process (VmHWM), MiB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub fn text(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "frame: {}; {} cores; min face {} px\nCPU: {}; precision {}",
        r.frame, r.cores, r.min_face_px, r.cpu, r.precision
    );
    let _ = writeln!(
        s,
        "{:<14} {:>9} {:>10} {:>10} {:>10}  (median ms of one run, 1 thread)",
        "model", "level", "basic", "extended", "all"
    );
    for c in &r.tuning {
        let t = |l: &str| c.timings.get(l).map_or("-".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            s,
            "{:<14} {:>9} {:>10} {:>10} {:>10}  {}",
            c.model,
            c.level,
            t("basic"),
            t("extended"),
            t("all"),
            c.how
        );
    }
    let _ = writeln!(
        s,
        "{:<22} {:>9} {:>9} {:>9}",
        "stage", "p50 ms", "p95 ms", "mean ms"
    );
    for (k, l) in r
        .stages
        .iter()
        .chain([(&"pipeline (all)".to_string(), &r.pipeline)])
    {
        let _ = writeln!(
            s,
            "{:<22} {:>9.2} {:>9.2} {:>9.2}",
            k, l.p50_ms, l.p95_ms, l.mean_ms
        );
    }
    for (k, v) in &r.throughput_fps {
        let _ = writeln!(s, "throughput {k}: {v:.1} frames/s");
    }
    for (k, l) in &r.search {
        let _ = writeln!(
            s,
            "search {k:>9} templates ({} dims): p50 {:.2} ms, p95 {:.2} ms",
            r.template_dims, l.p50_ms, l.p95_ms
        );
    }
    for (k, l) in &r.kiosk {
        let _ = writeln!(
            s,
            "kiosk frame → decision with {k:>7} enrolled: p50 {:.2} ms, p95 {:.2} ms",
            l.p50_ms, l.p95_ms
        );
    }
    for c in r.concurrent.values() {
        let _ = writeln!(
            s,
            "{} concurrent kiosk(s): {:.1} frames/s, p50 {:.2} ms, p95 {:.2} ms per frame",
            c.kiosks, c.frames_per_s, c.latency.p50_ms, c.latency.p95_ms
        );
    }
    let g = &r.gallery_load;
    let _ = writeln!(
        s,
        "start with {} templates in the store: open {:.2} s (seeding took {:.1} s)",
        g.templates, g.open_s, g.seed_s
    );
    let _ = writeln!(s, "peak RSS: {:.0} MiB", r.peak_rss_mb);
    s
}
