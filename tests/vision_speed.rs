//! The speed work keeps the engine's answers: tracking within a visit finds the face the
//! full detector finds, the int8 embedder agrees with fp32, and the per-machine choice of
//! optimisation levels is timed once and then read from its cache.

mod common;

use hoso::config::Config;
use hoso::eval::dataset::Dataset;
use hoso::vision::detect::{Face, Track};
use hoso::vision::tune::Optimisation;
use hoso::vision::{decode, primary_face, DecodeLimits, FaceEngine, Precision};

fn load(path: &std::path::Path) -> image::RgbImage {
    decode(&std::fs::read(path).unwrap(), &DecodeLimits::default()).unwrap()
}

/// `img` moved by (dx, dy) pixels on a grey canvas of the same size.
fn shifted(img: &image::RgbImage, dx: i64, dy: i64) -> image::RgbImage {
    let mut out = image::RgbImage::from_pixel(img.width(), img.height(), image::Rgb([128; 3]));
    image::imageops::overlay(&mut out, img, dx, dy);
    out
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Kiosk-sized faces of the dev set: the NUAA webcam frames (one person, 640×480).
fn kiosk_frames(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let data = Dataset::load(dir).unwrap();
    data.samples
        .iter()
        .filter(|s| s.path.to_string_lossy().contains("nuaa_"))
        .map(|s| s.path.clone())
        .collect()
}

/// Largest landmark distance between two faces, in eye distances of `b`.
fn landmark_error(a: &Face, b: &Face, shift: [f32; 2]) -> f32 {
    a.landmarks
        .iter()
        .zip(&b.landmarks)
        .map(|(p, q)| ((p[0] + shift[0] - q[0]).powi(2) + (p[1] + shift[1] - q[1]).powi(2)).sqrt())
        .fold(0.0f32, f32::max)
        / b.inter_eye()
}

/// The citizen moves 12 px right and 6 px down between two frames. The full detector does
/// not give exactly the same landmarks for the same face moved (its windows fall
/// elsewhere), and the template moves with them: that disagreement is the yardstick.
/// Tracking must find every face, and disagree with the full detector no more than the
/// full detector disagrees with itself.
#[test]
fn tracking_finds_the_face_the_full_detector_finds_after_it_moved() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let min_face = Config::default().vision.min_face_px;
    let (dx, dy) = (12, 6);
    let mut n = 0usize;
    let (mut err_track, mut err_full, mut cos_track, mut cos_full) = (0.0, 0.0, 0.0, 0.0);
    for path in kiosk_frames(&dir) {
        let img = load(&path);
        let mut track = Track::default();
        let faces = e.detect_tracked(&img, min_face, &mut track).unwrap();
        let Some(first) = primary_face(&faces, img.width(), img.height()).copied() else {
            continue;
        };
        let next = shifted(&img, dx, dy);
        let full = e.detect(&next, min_face).unwrap();
        let want = *primary_face(&full, next.width(), next.height()).unwrap();
        let got = e.detect_tracked(&next, min_face, &mut track).unwrap();
        assert_eq!(got.len(), 1, "{}: tracking lost the face", path.display());
        n += 1;
        err_track += landmark_error(&got[0], &want, [0.0, 0.0]);
        err_full += landmark_error(&first, &want, [dx as f32, dy as f32]);
        let full_t = e.embed_probe(&next, &want).unwrap();
        cos_track += cosine(&e.embed_probe(&next, &got[0]).unwrap(), &full_t);
        cos_full += cosine(&e.embed_probe(&img, &first).unwrap(), &full_t);
    }
    assert!(n >= 40, "only {n} kiosk frames");
    let n = n as f32;
    let (err_track, err_full, cos_track, cos_full) =
        (err_track / n, err_full / n, cos_track / n, cos_full / n);
    eprintln!(
        "{n} frames: landmark error tracking {err_track:.3} vs full detector moved {err_full:.3}; \
         template cosine {cos_track:.3} vs {cos_full:.3}"
    );
    assert!(
        err_track <= err_full * 1.25 + 0.005,
        "landmarks {err_track} vs {err_full}"
    );
    assert!(
        cos_track >= cos_full - 0.01,
        "templates {cos_track} vs {cos_full}"
    );
}

#[test]
fn tracking_lets_go_when_the_face_leaves_and_looks_everywhere_again() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let min_face = Config::default().vision.min_face_px;
    let img = load(&kiosk_frames(&dir)[0]);
    let mut track = Track::default();
    assert_eq!(
        e.detect_tracked(&img, min_face, &mut track).unwrap().len(),
        1
    );
    let empty = image::RgbImage::from_pixel(640, 480, image::Rgb([128; 3]));
    assert!(e
        .detect_tracked(&empty, min_face, &mut track)
        .unwrap()
        .is_empty());
    // The face comes back elsewhere: found by the full detector, not by looking where it was.
    let moved = shifted(&img, -150, 0);
    let back = e.detect_tracked(&moved, min_face, &mut track).unwrap();
    assert_eq!(back.len(), 1, "face found again after it left");
}

#[test]
fn int8_embeddings_agree_with_fp32_and_fp32_stays_selectable() {
    let dir = faces_or_skip!();
    let int8 = common::engine();
    assert_eq!(int8.precision(), Precision::Int8);
    let mut opts = Config::default().engine_options();
    opts.precision = Precision::Fp32;
    opts.tuning_file = Some(common::tuning_file());
    let fp32 = FaceEngine::load(&common::models_dir(), &opts).unwrap();
    assert_eq!(fp32.precision(), Precision::Fp32);
    let mut worst = 1.0f32;
    for path in Dataset::load(&dir)
        .unwrap()
        .samples
        .iter()
        .step_by(7)
        .map(|s| &s.path)
    {
        let img = load(path);
        let faces = int8.detect_framed(&img, 40.0).unwrap();
        let Some(f) = primary_face(&faces, img.width(), img.height()) else {
            continue;
        };
        let a = int8.embed(&img, std::slice::from_ref(f)).unwrap().remove(0);
        let b = fp32.embed(&img, std::slice::from_ref(f)).unwrap().remove(0);
        worst = worst.min(cosine(&a, &b));
    }
    // Same template space: an fp32 enrolment is searched by an int8 probe and back.
    assert!(worst > 0.95, "int8 vs fp32 cosine down to {worst}");
}

#[test]
fn optimisation_levels_are_timed_once_then_read_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tuning.toml");
    let mut opts = Config::default().engine_options();
    opts.tuning_file = Some(file.clone());
    opts.sessions = 1;
    let first = FaceEngine::load(&common::models_dir(), &opts).unwrap();
    let (cpu, choices) = first.tuning();
    assert!(!cpu.is_empty());
    assert!(choices.len() >= 5, "{choices:?}");
    for c in choices {
        assert_eq!(c.how, "timed", "{c:?}");
        assert_eq!(c.timings.len(), 3, "{c:?}");
        // The fastest level was kept (a cheaper one within 3 % wins a tie).
        let best = c.timings.values().copied().fold(f64::INFINITY, f64::min);
        assert!(c.timings[&c.level] <= best * 1.031 + 0.01, "{c:?}");
    }
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("fr_feature"));
    let again = FaceEngine::load(&common::models_dir(), &opts).unwrap();
    for (a, b) in again.tuning().1.iter().zip(choices) {
        assert_eq!(a.how, "cached");
        assert_eq!((&a.model, &a.level), (&b.model, &b.level));
    }
    // The manifest's levels, or one forced for all, when configured.
    opts.optimisation = Optimisation::Manifest;
    let m = FaceEngine::load(&common::models_dir(), &opts).unwrap();
    let fr = m
        .tuning()
        .1
        .iter()
        .find(|c| c.model == "fr_feature")
        .unwrap();
    assert_eq!(
        (fr.level.as_str(), fr.how.as_str()),
        ("extended", "manifest")
    );
    opts.optimisation = Optimisation::Basic;
    let b = FaceEngine::load(&common::models_dir(), &opts).unwrap();
    assert!(b
        .tuning()
        .1
        .iter()
        .all(|c| c.level == "basic" && c.how == "forced"));
}
