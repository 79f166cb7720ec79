//! Browser-test helpers: the artifacts folder, whether the tooling is installed, fake-camera
//! videos made from photos, and the playwright-core scripts in tests/browser/.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether the browser tooling is installed (scripts/setup.sh installs it). Under CI a
/// missing piece is a failure.
pub fn tooling() -> bool {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/playwright-core");
    let ok = Path::new("/usr/bin/chromium").exists()
        && dir.exists()
        && Command::new("ffmpeg")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "browser tooling missing (chromium, ffmpeg, tests/browser/node_modules): run scripts/setup.sh";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

/// A .y4m "video" of still photos (10 frames each) for Chromium's fake camera.
pub fn y4m(photos: &[&Path], out: &Path) {
    let list = out.with_extension("txt");
    let mut s = String::new();
    for p in photos {
        s.push_str(&format!("file '{}'\nduration 1\n", p.display()));
    }
    s.push_str(&format!("file '{}'\n", photos[photos.len() - 1].display()));
    std::fs::write(&list, s).unwrap();
    let st = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(["-vf", "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,fps=10", "-pix_fmt", "yuv420p"])
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg");
}

pub fn node(script: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser"))
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A 640×480 camera frame of `face` (letterboxed as the camera shows it; None: an empty
/// room) with a receipt held up in front, its QR code (as printed, quiet zone included)
/// `width` px wide centred at `centre`, on white paper.
pub fn receipt_held_up(
    face: Option<&Path>,
    qr: &image::RgbImage,
    width: u32,
    centre: (i64, i64),
) -> image::RgbImage {
    let mut frame = image::RgbImage::from_pixel(640, 480, image::Rgb([96, 88, 80]));
    if let Some(face) = face {
        let f = image::open(face).unwrap().to_rgb8();
        let s = (640.0 / f.width() as f32).min(480.0 / f.height() as f32);
        let (w, h) = (
            (f.width() as f32 * s) as u32,
            (f.height() as f32 * s) as u32,
        );
        let f = image::imageops::resize(&f, w, h, image::imageops::FilterType::Triangle);
        image::imageops::overlay(
            &mut frame,
            &f,
            i64::from((640 - w) / 2),
            i64::from((480 - h) / 2),
        );
    }
    let ((cx, cy), w) = (centre, i64::from(width));
    let paper = image::RgbImage::from_pixel(width + 80, width + 140, image::Rgb([235, 232, 225]));
    image::imageops::overlay(&mut frame, &paper, cx - (w + 80) / 2, cy - w / 2 - 30);
    let code = image::imageops::resize(qr, width, width, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut frame, &code, cx - w / 2, cy - w / 2);
    frame
}
