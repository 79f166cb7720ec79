//! The face engine on real photos from the shared dev set, with the committed models.

mod common;

use std::collections::BTreeMap;

use hoso::eval::dataset::Dataset;
use hoso::eval::metrics::rate_at_or_above;
use hoso::eval::{embed_dataset, EvalOptions};
use hoso::score;
use hoso::vision::manifest::Manifest;
use hoso::vision::{decode, primary_face, DecodeError, DecodeLimits, FaceEngine, VisionError};

/// Identity images where the detector rightly finds more than one face: people in the
/// background of NUAA webcam frames, and other people or posters in deepface photos.
const SECOND_FACE_EXCEPTIONS: &[&str] = &[
    "Lin-Manuel_Miranda/lin-manuel-miranda.png",
    "deepface_p02/img54.jpg",
    "deepface_p05/img62.jpg",
    "deepface_p10/img46.jpg",
    "deepface_p11/img31.jpg",
    "deepface_p13/img38.jpg",
    "deepface_p13/img40.jpg",
    "nuaa_0001/0001_00_00_01_440.jpg",
    "nuaa_0001/0001_00_00_01_63.jpg",
    "nuaa_0001/0001_00_00_02_181.jpg",
    "nuaa_0001/0001_00_00_02_313.jpg",
    "nuaa_0001/0001_00_00_02_438.jpg",
    "nuaa_0001/0001_00_00_02_57.jpg",
    "nuaa_0002/0002_01_00_01_29.jpg",
    "nuaa_0003/0003_01_00_01_266.jpg",
    "nuaa_0003/0003_01_00_01_406.jpg",
    "nuaa_0003/0003_01_00_01_468.jpg",
    "nuaa_0003/0003_01_00_01_86.jpg",
    "nuaa_0005/0005_00_00_02_182.jpg",
    "nuaa_0005/0005_00_00_02_317.jpg",
    "nuaa_0006/0006_00_00_02_63.jpg",
];

fn load(path: &std::path::Path) -> image::RgbImage {
    decode(&std::fs::read(path).unwrap(), &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn one_face_on_single_person_images() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let data = Dataset::load(&dir).unwrap();
    assert!(
        data.samples.len() >= 200,
        "dev set has {} images",
        data.samples.len()
    );
    let mut wrong = Vec::new();
    for s in &data.samples {
        let rel = s
            .path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let faces = e.detect_framed(&load(&s.path), 40.0).unwrap();
        let ok = if SECOND_FACE_EXCEPTIONS.contains(&rel.as_str()) {
            faces.len() >= 2
        } else {
            faces.len() == 1
        };
        if !ok {
            wrong.push(format!("{rel}: {} faces", faces.len()));
        }
    }
    assert!(wrong.is_empty(), "unexpected face counts: {wrong:#?}");
}

#[test]
fn several_faces_on_multi_and_none_on_noface() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let multi = Dataset::special(&dir, "_multi").unwrap();
    assert_eq!(multi.len(), 20);
    for p in &multi {
        let n = e.detect(&load(p), 20.0).unwrap().len();
        assert!(n >= 2, "{}: {n} faces", p.display());
    }
    let bald = e
        .detect(&load(&dir.join("_multi/bald_guys.jpg")), 20.0)
        .unwrap();
    assert!(
        bald.len() >= 20,
        "bald_guys collage: {} faces of ~24",
        bald.len()
    );
    let none = Dataset::special(&dir, "_noface").unwrap();
    assert_eq!(none.len(), 8);
    for p in &none {
        let f = e.detect_framed(&load(p), 20.0).unwrap();
        assert!(
            f.is_empty(),
            "{}: found {} face(s) in a no-face image",
            p.display(),
            f.len()
        );
    }
}

#[test]
fn landmarks_are_plausible() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let img = load(&dir.join("Barack_Obama/obama.jpg"));
    let faces = e.detect(&img, 40.0).unwrap();
    let f = primary_face(&faces, img.width(), img.height()).unwrap();
    let [le, re, nose, ml, mr] = f.landmarks;
    assert!(
        le[0] < nose[0] && nose[0] < re[0],
        "eyes either side of the nose"
    );
    assert!(
        ml[0] < mr[0] && nose[1] < ml[1] && le[1] < nose[1],
        "mouth below nose below eyes"
    );
    for p in f.landmarks {
        assert!(p[0] >= f.bbox[0] && p[0] <= f.bbox[2] && p[1] >= f.bbox[1] && p[1] <= f.bbox[3]);
    }
    let q = e.quality(&img, f);
    assert!(
        q.inter_eye_px > 60.0 && q.yaw_deg.abs() < 15.0 && q.sharpness > 50.0,
        "{q:?}"
    );
}

#[test]
fn decodes_by_content_and_applies_exif_rotation() {
    let dir = faces_or_skip!();
    // A WebP file named .jpg.
    let webp = load(&dir.join("deepface_p03/img47.jpg"));
    assert!(webp.width() > 0);
    // EXIF orientation 6: the stored landscape frame must come out portrait and upright.
    let e = common::engine();
    let t1 = load(&dir.join("_spoof/silentface_sample/image_T1.jpg"));
    assert!(
        t1.height() > t1.width(),
        "EXIF rotation not applied: {:?}",
        t1.dimensions()
    );
    let faces = e.detect(&t1, 40.0).unwrap();
    let f = primary_face(&faces, t1.width(), t1.height()).expect("upright face found");
    assert!(
        f.landmarks[2][1] > f.landmarks[0][1],
        "nose below the eyes: face is upright"
    );
    assert!(e.quality(&t1, f).roll_deg.abs() < 20.0);
}

#[test]
fn bad_images_are_refused_clearly() {
    let dir = faces_or_skip!();
    let l = DecodeLimits::default();
    let jpeg = std::fs::read(dir.join("Barack_Obama/obama.jpg")).unwrap();
    let e = refused(
        decode(&jpeg[..jpeg.len() / 3], &l),
        "truncated JPEG refused",
    );
    assert!(matches!(e, DecodeError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("corrupt or truncated"));
    let e = refused(
        decode(b"%PDF-1.4 not an image at all", &l),
        "non-image refused",
    );
    assert_eq!(e, DecodeError::UnknownFormat);
    // A JPEG header claiming 30000×30000: patch the SOF0 dimensions of a real file.
    let mut big = jpeg.clone();
    let sof = sof_offset(&big);
    big[sof + 5..sof + 7].copy_from_slice(&30000u16.to_be_bytes());
    big[sof + 7..sof + 9].copy_from_slice(&30000u16.to_be_bytes());
    let e = refused(decode(&big, &l), "30000x30000 refused");
    assert!(
        matches!(
            e,
            DecodeError::TooLarge {
                width: 30000,
                height: 30000,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn committed_models_match_the_manifest() {
    let m = Manifest::load(&common::models_dir()).unwrap();
    for f in m.files() {
        m.read_verified(f).unwrap_or_else(|e| panic!("{e}"));
    }
    let int8 = m.int8_files();
    assert!(
        int8.iter().any(|f| f.file == "fr_feature_int8.onnx"),
        "{int8:?}"
    );
    for f in &int8 {
        m.read_verified(f).unwrap_or_else(|e| panic!("{e}"));
    }
    // Every profile is calibrated per frame and per visit; the passive check has its point.
    for p in &m.profiles {
        let active = m.select(Some(&p.name)).unwrap();
        let s = hoso::score::scorer(&active, &segments(&active), &active.scorer.kiosk).unwrap();
        assert!(s.threshold.is_some(), "{}: kiosk scorer calibrated", p.name);
        assert!(p.visit.is_some(), "{}: visit point calibrated", p.name);
    }
    assert_eq!(m.default_profile, "fr_feature");
    let l = m.liveness.as_ref().expect("passive operating point");
    assert_eq!(l.passive, "fr_liveness");
    assert!(l.reject < l.accept && l.min_frames >= 3, "{l:?}");
}

/// The template segments of a manifest's embedders, in order.
fn segments(m: &Manifest) -> Vec<hoso::vision::Segment> {
    let mut offset = 0;
    m.embedders
        .iter()
        .map(|e| {
            let s = hoso::vision::Segment {
                name: e.name.clone(),
                offset,
                dims: e.dims,
            };
            offset += e.dims;
            s
        })
        .collect()
}

#[test]
fn a_model_with_the_wrong_hash_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::models_dir();
    std::fs::create_dir_all(tmp.path().join("mtcnn")).unwrap();
    let m = Manifest::load(&src).unwrap();
    for f in m.files() {
        std::os::unix::fs::symlink(src.join(&f.file), tmp.path().join(&f.file)).unwrap();
    }
    let text = std::fs::read_to_string(src.join(Manifest::FILE)).unwrap();
    let pnet = &m.detector.pnet.sha256;
    std::fs::write(
        tmp.path().join(Manifest::FILE),
        text.replace(pnet.as_str(), &"0".repeat(64)),
    )
    .unwrap();
    let err = FaceEngine::load(tmp.path(), &Default::default())
        .err()
        .expect("must refuse");
    assert!(matches!(err, VisionError::Manifest(_)), "{err}");
    assert!(
        err.to_string().contains("does not match the manifest"),
        "{err}"
    );
}

/// Genuine pairs score above impostor pairs at the calibrated thresholds, with bounds.
#[test]
fn calibrated_thresholds_separate_genuine_from_impostor() {
    let dir = faces_or_skip!();
    let e = common::engine();
    let data = Dataset::load(&dir).unwrap();
    let opts = EvalOptions {
        enrol: 2,
        min_face: 40.0,
        limits: DecodeLimits::default(),
    };
    let (emb, failed) = embed_dataset(e, &data, &opts).unwrap();
    assert!(failed.is_empty(), "failed to detect: {failed:?}");
    let segs = e.segments();
    let mut rates = BTreeMap::new();
    for s in score::scorers(&e.manifest, segs, None) {
        let t = s.threshold_far_1e3.expect("calibrated");
        let (mut gen, mut imp) = (Vec::new(), Vec::new());
        for i in 0..emb.len() {
            for j in i + 1..emb.len() {
                let v = s.score(segs, &emb[i].template, &emb[j].template);
                if emb[i].identity == emb[j].identity {
                    gen.push(v)
                } else {
                    imp.push(v)
                }
            }
        }
        let (tar, far) = (rate_at_or_above(&gen, t), rate_at_or_above(&imp, t));
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(mean(&gen) > mean(&imp) + 3.0 * (s.threshold_far_1e3.unwrap() - mean(&imp)) / 4.0);
        rates.insert(s.name.clone(), (tar, far));
    }
    eprintln!("TAR/FAR at the calibrated FAR-1e-3 thresholds: {rates:?}");
    for (name, (tar, far)) in &rates {
        assert!(*far <= 0.002, "{name}: FAR {far}");
        assert!(*tar >= 0.85, "{name}: TAR {tar}");
    }
    // The default profile's embedder (MODELS.md §7: TAR@1e-3 0.9985 on this set).
    let tar = rates["fr_feature"].0;
    assert!(tar >= 0.99, "fr_feature TAR {tar}");
}

/// Offset of the frame header (SOF0/SOF2) found by walking the JPEG segments.
fn sof_offset(jpeg: &[u8]) -> usize {
    let mut p = 2;
    loop {
        assert_eq!(jpeg[p], 0xFF, "segment marker at {p}");
        let marker = jpeg[p + 1];
        if marker == 0xC0 || marker == 0xC2 {
            return p;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[p + 2], jpeg[p + 3]]));
        p += 2 + len;
    }
}

/// The error of a decode that must fail (without printing a whole image if it succeeds).
fn refused(r: Result<image::RgbImage, DecodeError>, what: &str) -> DecodeError {
    match r {
        Ok(img) => panic!("{what}: decoded a {:?} image instead", img.dimensions()),
        Err(e) => e,
    }
}
