//! The measuring commands: `hoso eval` (per frame and as kiosk visits), `hoso eval-pad`,
//! `hoso bench`, `hoso faces compare` and `hoso faces chips`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use hoso::config::Config;
use hoso::score;
use hoso::vision::decode;

use super::load_engine;

/// What `hoso eval` was asked for.
#[derive(clap::Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub faces: PathBuf,
    /// Enrolment images per identity in the 1:N protocol.
    #[arg(long, default_value_t = 2)]
    pub enrol: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the measured operating points into the model manifest.
    #[arg(long)]
    pub calibrate: bool,
    /// Replay the photos as kiosk visits through the frames use case (visit-level
    /// FNIR/FPIR, frames and time to a decision); with --calibrate, set the visit
    /// threshold.
    #[arg(long)]
    pub kiosk: bool,
    /// Frames per visit (--kiosk).
    #[arg(long, default_value_t = 12)]
    pub frames: usize,
    /// Seed of the visits' jitter (--kiosk) and of the distractors' split.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Folders of distractors (one person per sub-folder, comma-separated): measure
    /// identification as the gallery grows (near-duplicates dropped first); with
    /// --calibrate, write the fitted impostor tail the kiosk derives its thresholds from.
    #[arg(long, value_delimiter = ',')]
    pub distractors: Vec<PathBuf>,
    /// Gallery sizes in distractors (0 = all but the strangers).
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000, 0])]
    pub sizes: Vec<usize>,
    /// Distractors held out as strangers (non-mated visits).
    #[arg(long, default_value_t = 1000)]
    pub strangers: usize,
    /// The kiosk's target visit FPIR.
    #[arg(long, default_value_t = 1e-3)]
    pub target_fpir: f64,
}

/// `hoso eval`: per frame (1:1 and 1:N), or with --kiosk as visits.
pub fn eval(config: &Config, a: EvalArgs) -> Result<()> {
    let EvalArgs {
        faces,
        enrol,
        json,
        calibrate,
        kiosk,
        frames,
        seed,
        distractors,
        sizes,
        strangers,
        target_fpir,
    } = a;
    if !distractors.is_empty() && !kiosk {
        let o = ScaleArgs {
            faces: &faces,
            distractors: &distractors,
            sizes,
            strangers,
            seed,
            target_fpir,
            enrol,
        };
        return eval_scale(config, o, json, calibrate);
    }
    if kiosk {
        let scale = hoso::eval::kiosk_scale::KioskScaleOptions {
            sizes,
            strangers,
            seed,
            frames: frames.clamp(2, 100),
        };
        return eval_kiosk(
            config,
            &faces,
            (enrol, frames, seed),
            (&distractors, scale),
            json,
            calibrate,
        );
    }
    let engine = load_engine(config)?;
    let opts = hoso::eval::EvalOptions {
        enrol: enrol.max(1),
        min_face: config.vision.enrol_min_face_px,
        limits: config.decode_limits(),
    };
    let (report, stats) = hoso::eval::evaluate(&engine, &faces, &opts, calibrate)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", hoso::eval::report::text(&report));
    }
    if calibrate {
        let m = hoso::eval::calibrate(&engine, &report, &stats, &faces)?;
        eprintln!(
            "calibrated: kiosk scorer {}, combine {}, written to {}",
            m.scorer.kiosk,
            m.scorer.combine,
            m.dir.join(hoso::vision::Manifest::FILE).display()
        );
    }
    Ok(())
}

struct ScaleArgs<'a> {
    faces: &'a Path,
    distractors: &'a [PathBuf],
    sizes: Vec<usize>,
    strangers: usize,
    seed: u64,
    target_fpir: f64,
    enrol: usize,
}

/// The distractors of `dirs`, embedded and deduplicated, without the labelled set's own
/// people (the source sets hold some well-known people's photos); with the labelled set
/// and its embeddings.
fn distractors_beside(
    config: &Config,
    engine: &hoso::vision::FaceEngine,
    faces: &Path,
    dirs: &[PathBuf],
    enrol: usize,
) -> Result<(
    hoso::eval::distractors::Distractors,
    hoso::eval::dataset::Dataset,
    Vec<hoso::eval::Embedded>,
)> {
    let started = std::time::Instant::now();
    let opts = hoso::eval::EvalOptions {
        enrol: enrol.max(1),
        min_face: config.vision.enrol_min_face_px,
        limits: config.decode_limits(),
    };
    let mut d = hoso::eval::distractors::load(engine, dirs, opts.min_face, &opts.limits)?;
    let data = hoso::eval::dataset::Dataset::load(faces)
        .with_context(|| format!("cannot read {}", faces.display()))?;
    let (dev, _) = hoso::eval::embed_dataset(engine, &data, &opts)?;
    let known: Vec<&[f32]> = dev.iter().map(|e| e.template.as_slice()).collect();
    d.drop_known(engine.segments(), &known);
    eprintln!(
        "embedded {} distractors and {} photos of {} in {:.0} s ({} near-duplicates, {} of the labelled set's people dropped)",
        d.templates.len() + d.near_duplicates + d.known_people,
        dev.len(),
        faces.display(),
        started.elapsed().as_secs_f64(),
        d.near_duplicates,
        d.known_people
    );
    Ok((d, data, dev))
}

/// `hoso eval --distractors`: identification as the gallery grows, the tail fitted.
fn eval_scale(config: &Config, a: ScaleArgs, json: bool, calibrate: bool) -> Result<()> {
    let engine = load_engine(config)?;
    let (d, data, dev) = distractors_beside(config, &engine, a.faces, a.distractors, a.enrol)?;
    let m = &engine.manifest;
    let scorer = score::scorer(m, engine.segments(), &m.scorer.kiosk)
        .context("the manifest's kiosk scorer is unknown")?;
    let visit = m.active().and_then(|p| p.visit.clone());
    let o = hoso::eval::scale::ScaleOptions {
        sizes: a.sizes,
        strangers: a.strangers,
        seed: a.seed,
        target_fpir: a.target_fpir,
        floor_accept: visit.as_ref().map_or(0.0, |v| v.threshold),
        floor_ask: scorer.threshold_far_1e3.unwrap_or(0.0),
        margin: visit.as_ref().map_or(0.0, |v| v.margin),
        enrol: a.enrol.max(1),
    };
    let r = hoso::eval::scale::evaluate(&dev, &data.identities, &d, engine.segments(), &scorer, &o);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", hoso::eval::scale::text(&r));
    }
    if calibrate {
        let mut m = hoso::vision::Manifest::load(&engine.manifest.dir)?;
        let dirs: Vec<String> = a
            .distractors
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let name = engine.manifest.profile.clone();
        let v = m
            .profiles
            .iter_mut()
            .find(|p| p.name == name)
            .and_then(|p| p.visit.as_mut())
            .context(
                "the profile has no visit calibration: run `hoso eval --kiosk --calibrate` first",
            )?;
        v.target_fpir = Some(a.target_fpir);
        let precision = engine.scoring_precision();
        *v.tail_slot(precision) = Some(hoso::vision::manifest::TailPoint {
            tail: r.tail,
            measured_on: format!(
                "{} (hoso eval --distractors, {} embeddings: {} kept of {} folders, {} near-duplicates dropped, tail over {} impostor pairs)",
                dirs.join(","),
                precision.name(),
                r.kept,
                r.folders,
                r.near_duplicates,
                r.tail_pairs
            ),
        });
        m.save()?;
        eprintln!(
            "calibrated: the {} impostor tail written to the manifest",
            precision.name()
        );
    }
    Ok(())
}

fn eval_kiosk(
    config: &Config,
    faces: &Path,
    (enrol, frames, seed): (usize, usize, u64),
    (distractors, scale): (&[PathBuf], hoso::eval::kiosk_scale::KioskScaleOptions),
    json: bool,
    calibrate: bool,
) -> Result<()> {
    let engine = load_engine(config)?;
    let distractors = if distractors.is_empty() {
        None
    } else {
        let (d, _, _) = distractors_beside(config, &engine, faces, distractors, enrol)?;
        Some((d, scale))
    };
    let opts = hoso::eval::kiosk::KioskEvalOptions {
        enrol: enrol.max(1),
        frames: frames.clamp(2, 100),
        seed,
        calibrate,
        distractors,
    };
    let r = hoso::eval::kiosk::evaluate_kiosk(config, engine, faces, &opts)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", hoso::eval::kiosk::text(&r));
    }
    Ok(())
}

/// `hoso eval-pad`: per frame and per visit, the kiosk's policy, optional calibration.
pub fn eval_pad(
    config: &Config,
    faces: &Path,
    json: bool,
    verbose: bool,
    calibrate: bool,
) -> Result<()> {
    let engine = load_engine(config)?;
    let limits = config.decode_limits();
    let r = hoso::eval::pad::evaluate_pad(&engine, faces, config.vision.min_face_px, &limits)?;
    let visits = hoso::eval::pad_visits::evaluate(
        &engine,
        &r,
        faces,
        config.vision.enrol_min_face_px,
        &limits,
        engine.manifest.liveness.as_ref(),
        calibrate,
    )?;
    if calibrate {
        write_liveness_point(&engine, faces, &r, visits.as_ref())?;
    }
    let policy = liveness_policy(config, &engine);
    if json {
        let mut v = serde_json::to_value(&r)?;
        v["policy"] = serde_json::Value::String(policy);
        v["visits"] = serde_json::to_value(&visits)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", hoso::eval::pad::text(&r));
    if let Some(v) = &visits {
        print!("{}", hoso::eval::pad_visits::text(v));
    }
    println!("\n{policy}");
    if verbose {
        for p in &r.presentations {
            println!(
                "  {:<60} {:<9} yaw {:+6.1} pitch {:+6.1} {:?}",
                p.file, p.kind, p.yaw, p.pitch, p.scores
            );
        }
    }
    Ok(())
}

/// `eval-pad --calibrate`: the passive operating point measured on the visits, written to
/// the manifest's `[liveness]`.
fn write_liveness_point(
    engine: &hoso::vision::FaceEngine,
    faces: &Path,
    r: &hoso::eval::pad::PadReport,
    visits: Option<&hoso::eval::pad_visits::VisitPadReport>,
) -> Result<()> {
    let v = visits.context("no passive model in the manifest to calibrate")?;
    let mut m = hoso::vision::Manifest::load(&engine.manifest.dir)?;
    m.liveness = Some(hoso::vision::manifest::LivenessPoint {
        passive: v.model.clone(),
        reject: v.reject,
        accept: v.accept,
        min_frames: v.min_frames,
        measured_on: format!(
            "{} (hoso eval-pad --calibrate: {} bona fide / {} attack visits of {} jittered frames)",
            faces.display(),
            r.bona_fide,
            r.attacks.values().sum::<usize>(),
            v.frames_per_visit
        ),
    });
    m.save()?;
    eprintln!(
        "calibrated: reject {:.4}, accept {:.3}, written to the manifest",
        v.reject, v.accept
    );
    Ok(())
}

/// The kiosk's liveness policy in words, as configured.
fn liveness_policy(config: &Config, engine: &hoso::vision::FaceEngine) -> String {
    use hoso::config::LivenessMode;
    let l = &config.liveness;
    let passive = engine
        .manifest
        .liveness
        .as_ref()
        .map_or("none", |p| p.passive.as_str());
    let challenge = format!(
        "every recognised face must pass a challenge of {} random head turns (>= {} deg) within {} s before any dossier is shown",
        l.steps, l.turn_deg, l.seconds
    );
    format!(
        "kiosk policy: liveness.mode = {:?}, passive model = {passive}; {}",
        l.mode,
        match l.mode {
            LivenessMode::Off => "NO presentation-attack defence".to_string(),
            LivenessMode::Active => challenge,
            _ if passive == "none" => challenge,
            LivenessMode::Passive => "the passive check over the visit accepts or refuses; in doubt, the fallbacks".to_string(),
            LivenessMode::PassiveActive => format!(
                "the passive check over the visit accepts (every good frame confidently live) or refuses (clear attack); anything else gets the challenge of {} head turns",
                l.steps
            ),
        }
    )
}

/// `hoso bench`.
pub fn bench(
    config: &Config,
    json: bool,
    image: Option<PathBuf>,
    iterations: usize,
    max_gallery: usize,
) -> Result<()> {
    let image = match image {
        Some(i) => i,
        None => default_bench_image()?,
    };
    let report = hoso::bench::run(config, &image, iterations.max(5), max_gallery)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", hoso::bench::text(&report));
    }
    Ok(())
}

fn default_bench_image() -> Result<PathBuf> {
    let root = std::env::var_os("HOSO_TEST_FACES")
        .map_or_else(|| PathBuf::from("../shared/faces"), PathBuf::from);
    let dir = root.join("nuaa_0001");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("no --image given and {} is not readable", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .context("no image in the default bench folder; pass --image")
}

pub fn compare(config: &Config, a: &Path, b: &Path) -> Result<()> {
    let engine = load_engine(config)?;
    let mut templates = Vec::new();
    for p in [a, b] {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let img = decode(&bytes, &config.decode_limits())
            .with_context(|| format!("decoding {}", p.display()))?;
        let faces = engine.detect_framed(&img, config.vision.enrol_min_face_px)?;
        let Some(face) = hoso::vision::primary_face(&faces, img.width(), img.height()) else {
            bail!("no face found in {}", p.display());
        };
        let q = engine.quality(&img, face);
        let issue = config.vision.quality.check(&q);
        println!(
            "{}: {} face(s); main face {:.0}×{:.0} px at ({:.0},{:.0}), score {:.3}\n  inter-eye {:.1} px, yaw {:+.1}°, pitch {:+.1}°, roll {:+.1}°, sharpness {:.1}, brightness {:.0}, quality {:.2}{}",
            p.display(),
            faces.len(),
            face.width(),
            face.height(),
            face.bbox[0],
            face.bbox[1],
            face.score,
            q.inter_eye_px,
            q.yaw_deg,
            q.pitch_deg,
            q.roll_deg,
            q.sharpness,
            q.brightness,
            q.score,
            issue.map(|i| format!(" — kiosk gate: {}", i.code())).unwrap_or_default()
        );
        templates.push(engine.embed(&img, std::slice::from_ref(face))?.remove(0));
    }
    for s in score::scorers(&engine.manifest, engine.segments(), None) {
        let v = s.score(engine.segments(), &templates[0], &templates[1]);
        let verdict = match s.threshold_far_1e3 {
            Some(t) if v >= t => format!("same person (≥ {t:.3} at FAR 1e-3)"),
            Some(t) => format!("different people (< {t:.3} at FAR 1e-3)"),
            None => "not calibrated (run `hoso eval --calibrate`)".to_string(),
        };
        println!("{:>8}: {v:.4}  {verdict}", s.name);
    }
    Ok(())
}

/// `hoso faces chips`: every face photo's chips for one network, as raw f32 (the int8
/// calibration set; models/convert/quantize_int8.py). For an embedder, the aligned chip
/// and its mirror image; for a passive liveness model, its crop of every live photo and
/// every presentation attack (`_spoof/`).
pub fn chips(config: &Config, faces: &Path, network: &str, out: &Path) -> Result<()> {
    use std::io::Write;
    let engine = load_engine(config)?;
    let embedder = (0..)
        .map_while(|k| engine.embedder(k))
        .find(|e| e.name == network);
    let pad = engine.pad_model(network);
    if embedder.is_none() && pad.is_none() {
        anyhow::bail!("no embedder or liveness model {network} in the chosen profile");
    }
    let set = hoso::eval::dataset::Dataset::load(faces)
        .with_context(|| format!("reading {}", faces.display()))?;
    let mut photos: Vec<PathBuf> = set.samples.iter().map(|s| s.path.clone()).collect();
    if pad.is_some() {
        photos.extend(hoso::eval::dataset::Dataset::special(faces, "_spoof").unwrap_or_default());
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    let (mut resizer, mut input) = (fast_image_resize::Resizer::new(), Vec::new());
    let mut written = 0usize;
    for path in &photos {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(img) = decode(&bytes, &config.decode_limits()) else {
            continue;
        };
        let found = engine.detect_framed(&img, config.vision.enrol_min_face_px)?;
        let Some(face) = hoso::vision::primary_face(&found, img.width(), img.height()) else {
            continue;
        };
        if let Some(e) = embedder {
            e.prepare(&img, &[face.landmarks], false, &mut resizer, &mut input);
        } else if let Some(p) = pad {
            p.prepare(&img, face, &mut resizer, &mut input)?;
        }
        for v in &input {
            file.write_all(&v.to_le_bytes())?;
        }
        written += 1;
    }
    file.flush()?;
    println!(
        "{written} faces of {} photos → {} ({} values a face)",
        photos.len(),
        out.display(),
        input.len()
    );
    Ok(())
}
