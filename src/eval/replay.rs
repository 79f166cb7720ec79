//! One kiosk visit replayed from a photo through the frames use case (`App::kiosk_frame`,
//! jittered frames, the second step answered with the person's digits), what it leaves
//! behind ([`Trace`]) and the spreads the reports print. Shared by `eval::kiosk` and
//! `eval::kiosk_scale`.

use std::time::Instant;

use serde::Serialize;

use super::visits::Visit;
use crate::app::App;
use crate::auth::Principal;
use crate::kiosk::{Evidence, KioskState};

/// Percentiles of a list of values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub n: usize,
}

impl Spread {
    pub(crate) fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
        Self {
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: q(0.5),
            p95: q(0.95),
            n: v.len(),
        }
    }
}

/// What one replayed visit did.
pub(crate) struct Trace {
    pub photo: String,
    pub prompt: Option<&'static str>,
    pub truth: Option<u64>,
    pub evidence: Vec<Evidence>,
    pub matched: Option<u64>,
    pub no_match: bool,
    /// The kiosk asked the second step.
    pub asked: bool,
    pub frames: usize,
    pub ms: Vec<f64>,
}

/// What the dev set contributes at every size: its visits (photo, truth, digits).
pub(crate) struct DevVisit {
    pub photo: image::RgbImage,
    pub name: String,
    pub truth: Option<u64>,
    pub digits: String,
}

/// A name-safe label for a number (0 → "A", 26 → "BA").
pub(crate) fn letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// One visit to play: its page session, jitter seed, frames at most, and the ID number
/// its person types if the kiosk asks the second step.
pub(crate) struct VisitPlay {
    pub session: String,
    pub seed: u64,
    pub frames: usize,
    pub digits: String,
}

/// Plays one photo as a visit through the frames use case (and the second step's answer:
/// the last 2 digits of `visit.digits`).
pub(crate) fn play(
    app: &App,
    kiosk: &Principal,
    photo: &image::RgbImage,
    name: String,
    truth: Option<u64>,
    visit: &VisitPlay,
) -> Result<Trace, crate::app::AppError> {
    let mut v = Visit::new(photo, visit.seed);
    // Where a person asked to come closer would step: towards the main face.
    let main_face = app
        .engine
        .detect_framed(photo, app.config.vision.enrol_min_face_px)
        .ok()
        .and_then(|f| {
            crate::vision::primary_face(&f, photo.width(), photo.height())
                .map(|f| (f.centre(), f.height()))
        });
    let mut t = Trace {
        photo: name,
        prompt: None,
        truth,
        evidence: Vec::new(),
        matched: None,
        no_match: false,
        asked: false,
        frames: 0,
        ms: Vec::new(),
    };
    for f in 0..visit.frames {
        let jpeg = v.next_frame(f == 0);
        let start = Instant::now();
        let mut r = app.kiosk_frame(kiosk, &visit.session, &jpeg)?;
        t.ms.push(start.elapsed().as_secs_f64() * 1e3);
        t.frames = f + 1;
        t.prompt = r.prompt_key;
        t.evidence.extend(r.evidence);
        if let (Some("prompt.closer"), Some((c, h))) = (r.prompt_key, main_face) {
            v.approach(c, h);
        }
        if r.state == KioskState::Confirm {
            t.asked = true;
            let d = &visit.digits;
            r = app.kiosk_confirm(kiosk, &visit.session, &d[d.len().saturating_sub(2)..])?;
        }
        match r.state {
            KioskState::Matched => {
                t.matched = r.evidence.and_then(|e| e.best.map(|b| b.0));
                break;
            }
            KioskState::NoMatch => {
                t.no_match = true;
                break;
            }
            _ => {}
        }
    }
    Ok(t)
}

/// The ID number the evaluation gives enrolled person `i` (12 digits).
pub(crate) fn id_number(i: usize) -> String {
    format!("001{:09}", i.wrapping_mul(7919) % 1_000_000_000)
}
