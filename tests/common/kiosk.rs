//! Kiosk helpers: frames as JPEG, visits played from a photo until the kiosk decides, and
//! warm-up frames before a measurement.

use super::{engine, Client};

/// A JPEG of an image (kiosk frames).
pub fn jpeg(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    out
}

/// The states that end a kiosk visit's identification (or start its challenge, or ask
/// the second step).
pub fn decided(v: &serde_json::Value) -> bool {
    matches!(
        v["state"].as_str(),
        Some("matched" | "no_match" | "spoof_suspected" | "challenge" | "confirm")
    )
}

/// Whether the kiosk recognised the person (the result, the challenge before it, or the
/// second step's question: plausible, not sure enough at this gallery size).
pub fn recognised(v: &serde_json::Value) -> bool {
    matches!(
        v["state"].as_str(),
        Some("matched" | "challenge" | "confirm")
    )
}

/// Answers the second step of the visit in `session` with `digits`.
pub fn confirm(k: &Client, session: &str, digits: &str) -> serde_json::Value {
    let (s, v) = k.post_raw_with(
        "/api/v1/kiosk/confirm",
        "application/json",
        serde_json::json!({ "id_digits": digits })
            .to_string()
            .as_bytes(),
        &[("X-Kiosk-Session", session)],
    );
    assert_eq!(s, 200, "{v}");
    v
}

/// Plays a photo as a kiosk visit: 640×480 frames with small seeded jitter (like a person
/// standing still), stepping closer when the kiosk asks, until the visit decides (or
/// `max` frames). Returns the last reply and the frames sent.
pub fn visit(
    k: &Client,
    session: &str,
    photo: &std::path::Path,
    seed: u64,
    max: usize,
) -> (serde_json::Value, usize) {
    let img = hoso::vision::decode(
        &std::fs::read(photo).unwrap(),
        &hoso::vision::DecodeLimits::default(),
    )
    .unwrap();
    let focus = engine().detect_framed(&img, 40.0).ok().and_then(|f| {
        hoso::vision::primary_face(&f, img.width(), img.height()).map(|f| (f.centre(), f.height()))
    });
    let mut v = hoso::eval::visits::Visit::new(&img, seed);
    let mut last = serde_json::Value::Null;
    for i in 0..max {
        let frame = v.next_frame(i == 0);
        let (s, r) = k.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            &frame,
            &[("X-Kiosk-Session", session)],
        );
        assert_eq!(s, 200, "{}: {r}", photo.display());
        if let (Some("prompt.closer"), Some((c, h))) = (r["prompt_key"].as_str(), focus) {
            v.approach(c, h);
        }
        last = r;
        if decided(&last) {
            return (last, i + 1);
        }
    }
    (last, max)
}

/// Sends the same frame to the kiosk until the visit decides (at most 12 frames: a
/// stranger is "not recognised" after 10 good frames).
pub fn decide(k: &Client, session: &str, frame: &[u8]) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..12 {
        let (s, v) = k.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            frame,
            &[("X-Kiosk-Session", session)],
        );
        assert_eq!(s, 200, "{v}");
        let state = v["state"].as_str().unwrap_or_default().to_string();
        last = v;
        if decided(&last) || state == "searching" {
            break;
        }
    }
    last
}

/// One kiosk frame from a photo file.
pub fn kiosk_frame(k: &Client, session: &str, photo: &std::path::Path) -> serde_json::Value {
    let (s, v) = k.post_raw_with(
        "/api/v1/kiosk/frames",
        "image/jpeg",
        &std::fs::read(photo).unwrap(),
        &[("X-Kiosk-Session", session)],
    );
    assert_eq!(s, 200, "{}: {v}", photo.display());
    v
}

/// Sends `n` kiosk frames (each its own visit) so the models have run before a measurement.
pub fn warm_kiosk(k: &Client, frame: &[u8], n: usize) {
    for i in 0..n {
        k.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            frame,
            &[("X-Kiosk-Session", &format!("warm{i}"))],
        );
    }
}
