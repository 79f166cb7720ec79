//! The `hoso` commands that work on the models and the photos alone, end to end: `eval`,
//! `eval --kiosk`, `eval-pad`, `faces compare`, `bench`, and the error when ONNX Runtime is
//! missing. None of them reads the deployment's store, so the PostgreSQL pass of
//! `scripts/test.sh` leaves this file out (as it does `vision_real`).

mod common;

use common::run_hoso as run;
use std::path::Path;

/// A small face folder made of links into the shared set (nothing is copied).
fn subset(faces: &Path, ids: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for id in ids {
        std::os::unix::fs::symlink(faces.join(id), tmp.path().join(id)).unwrap();
    }
    std::os::unix::fs::symlink(faces.join("_spoof"), tmp.path().join("_spoof")).unwrap();
    tmp
}

#[test]
fn eval_json_reports_every_scorer() {
    let faces = faces_or_skip!();
    let ids = [
        "John_Salley",
        "John_Savage",
        "John_Schneider",
        "nuaa_0001",
        "nuaa_0002",
        "bbt_amy",
        "deepface_p01",
    ];
    let dir = subset(&faces, &ids);
    let images: usize = ids
        .iter()
        .map(|i| std::fs::read_dir(faces.join(i)).unwrap().count())
        .sum();
    // Both recognition profiles: fr_feature alone (default), dlib + faceres fused.
    for (profile, kiosk, scorers) in [
        ("fr_feature", "fr_feature", &["fr_feature", "fused"][..]),
        ("open-weights", "fused", &["dlib", "faceres", "fused"][..]),
    ] {
        let (ok, out, err) = run(&[
            "--profile",
            profile,
            "eval",
            "--faces",
            dir.path().to_str().unwrap(),
            "--enrol",
            "2",
            "--json",
        ]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["images"], images);
        assert_eq!(v["identities"], ids.len());
        assert_eq!(v["failed_to_detect"], 0);
        assert_eq!(v["kiosk_scorer"], kiosk);
        for s in scorers {
            let x = &v["scores"][s];
            for k in ["0.01", "0.001", "0.0001"] {
                let t = x["tar_at_far"][k].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&t), "{s} {k} {t}");
            }
            assert!(x["eer"].as_f64().unwrap() < 0.2, "{s}: {x}");
            assert!(x["threshold_at_far_0.001"].is_number());
            assert!(
                x["fnir_at_fpir"]["0.01"].is_number() && x["fnir_at_fpir"]["0.001"].is_number()
            );
            assert!(x["rank1"].as_f64().unwrap() > 0.8, "{s}: {x}");
        }
        if profile == "fr_feature" {
            let tar = v["scores"]["fr_feature"]["tar_at_far"]["0.001"]
                .as_f64()
                .unwrap();
            assert!(tar >= 0.99, "fr_feature TAR@1e-3 {tar}");
        }
    }
    let (ok, _, err) = run(&[
        "--profile",
        "nope",
        "eval",
        "--faces",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("no recognition profile \"nope\""),
        "{err}"
    );
}

#[test]
fn eval_kiosk_replays_visits_through_the_frames_use_case() {
    let faces = faces_or_skip!();
    let ids = [
        "Barack_Obama",
        "John_Salley",
        "nuaa_0001",
        "bbt_amy",
        "deepface_p01",
        "Joe_Biden",
    ];
    let dir = subset(&faces, &ids);
    let (ok, out, err) = run(&[
        "eval",
        "--kiosk",
        "--faces",
        dir.path().to_str().unwrap(),
        "--frames",
        "10",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profile"], "fr_feature");
    assert_eq!(v["enrolled_identities"], 3, "{v}");
    assert!(v["mated_visits"].as_u64().unwrap() >= 5, "{v}");
    assert!(v["non_mated_visits"].as_u64().unwrap() >= 10, "{v}");
    assert_eq!(v["fpir"], 0.0, "{v}");
    assert_eq!(v["wrong_person"], 0, "{v}");
    assert!(v["fnir"].as_f64().unwrap() <= 0.2, "{v}");
    // A match needs two good frames of evidence; strangers are told once, after ten.
    assert!(v["frames_to_match"]["mean"].as_f64().unwrap() >= 2.0, "{v}");
    assert_eq!(v["frames_to_no_match"]["p50"], 10.0, "{v}");
    assert!(v["ms_per_frame"]["p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn faces_compare_prints_quality_and_decisions() {
    let faces = faces_or_skip!();
    let obama = faces.join("Barack_Obama/obama.jpg");
    let obama2 = faces.join("Barack_Obama/obama2.jpg");
    let biden = faces.join("Joe_Biden/biden.jpg");
    let (ok, out, err) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        obama2.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("inter-eye") && out.contains("yaw"), "{out}");
    let fused = out
        .lines()
        .find(|l| l.trim_start().starts_with("fused:"))
        .unwrap();
    assert!(fused.contains("same person"), "{out}");
    let (ok, out, _) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        biden.to_str().unwrap(),
    ]);
    assert!(ok);
    for s in ["fr_feature:", "fused:"] {
        let l = out.lines().find(|l| l.trim_start().starts_with(s)).unwrap();
        assert!(l.contains("different people"), "{out}");
    }
    let noface = faces.join("_noface/scream.jpg");
    let (ok, _, err) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        noface.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("no face found"), "{err}");
}

#[test]
fn missing_or_wrong_onnxruntime_gives_one_clear_error() {
    let faces = faces_or_skip!();
    let img = faces.join("Barack_Obama/obama.jpg");
    let img = img.to_str().unwrap();
    let out = common::bin()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .args(["faces", "compare", img, img])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ONNX Runtime library") && err.contains("scripts/setup.sh"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let bogus = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bogus.path(), b"not a shared library").unwrap();
    let out = common::bin()
        .env("ORT_DYLIB_PATH", bogus.path())
        .args(["faces", "compare", img, img])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot load ONNX Runtime"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bench_reports_stages_and_search() {
    let faces = faces_or_skip!();
    let img = faces.join("nuaa_0001/0001_00_00_01_0.jpg");
    let img = if img.exists() {
        img
    } else {
        let mut v: Vec<_> = std::fs::read_dir(faces.join("nuaa_0001"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v.remove(0)
    };
    let (ok, out, err) = run(&[
        "bench",
        "--json",
        "--iterations",
        "5",
        "--max-gallery",
        "10000",
        "--image",
        img.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for s in [
        "decode",
        "detect",
        "quality",
        "align_fr_feature",
        "embed_fr_feature",
        "passive_fr_liveness",
    ] {
        assert!(v["stages"][s]["p95_ms"].as_f64().unwrap() > 0.0, "{s}: {v}");
    }
    assert!(v["pipeline"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(v["search"]["10000"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(v["throughput_fps"]["sequential"].as_f64().unwrap() > 0.0);
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 10.0);
    for k in ["1", "2", "4"] {
        let c = &v["concurrent"][k];
        assert!(c["frames_per_s"].as_f64().unwrap() > 0.0, "{k}: {v}");
        assert!(c["latency"]["p95_ms"].as_f64().unwrap() > 0.0, "{k}: {v}");
    }
    // A server's start with that many templates in the store: all of them loaded.
    assert_eq!(v["gallery_load"]["templates"], 10000, "{v}");
    assert!(v["gallery_load"]["open_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn eval_pad_reports_attacks_and_the_kiosk_policy() {
    let faces = faces_or_skip!();
    let out = common::bin()
        .args(["eval-pad", "--faces"])
        .arg(&faces)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attacks"]["print"], 29, "{}", v["attacks"]);
    assert_eq!(v["attacks"]["screen"], 1);
    assert_eq!(
        v["bona_fide"], 224,
        "the Silent-Face live sample counts as bona fide"
    );
    assert!(v["no_face"].as_array().unwrap().is_empty());
    let policy = v["policy"].as_str().unwrap();
    assert!(
        policy.contains("Active") && policy.contains("head turns"),
        "{policy}"
    );
    // Poses are reported: the turned photos the challenge test relies on.
    let yaw = |f: &str| {
        v["presentations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["file"] == f)
            .unwrap()["yaw"]
            .as_f64()
            .unwrap()
    };
    assert!(yaw("Barack_Obama/obama1.jpg") > 12.0 && yaw("Barack_Obama/obama2.jpg") < -12.0);
}
