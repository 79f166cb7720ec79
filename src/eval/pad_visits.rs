//! `hoso eval-pad`, per visit: every presentation replayed as a kiosk visit (the photo as
//! several jittered 640×480 frames, `visits`), the kiosk's passive model scored on each
//! frame, and the visit judged the way the kiosk judges it (README: “Kiosk decisions”): median below
//! `reject` → refused; every frame (at least `min_frames`) at or above `accept` → live
//! without a challenge; anything else → the head-turn challenge. Reports BPCER per frame
//! and per visit (all bona fide and NUAA), what the policy does to each attack species, and
//! `--calibrate` writes the operating point into the manifest.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::pad::PadReport;
use super::visits::Visit;
use super::EvalError;
use crate::kiosk::visit::{median, PassivePoint, PassiveVerdict};
use crate::vision::manifest::LivenessPoint;
use crate::vision::{decode, primary_face, DecodeLimits, FaceEngine};

/// Frames per visit.
pub const FRAMES: usize = 5;
/// Good frames before the passive check decides.
pub const MIN_FRAMES: usize = 3;
/// The lowest `accept` the calibration chooses (the vendor's 0.5 passed replay frames).
const ACCEPT_FLOOR: f32 = 0.9;

/// What the policy did with the visits of one group.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyOutcome {
    pub visits: usize,
    pub refused: usize,
    pub challenged: usize,
    pub accepted: usize,
    /// Frames below `accept` / all frames.
    pub frames_below_accept: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VisitPadReport {
    pub model: String,
    pub reject: f32,
    pub accept: f32,
    pub min_frames: usize,
    pub frames_per_visit: usize,
    /// By group: "bona_fide", "bona_fide_nuaa", and each attack species.
    pub outcome: BTreeMap<String, PolicyOutcome>,
    /// Per visit BPCER: bona fide visits not accepted without a challenge (all, NUAA).
    pub bpcer_visit: f64,
    pub bpcer_visit_nuaa: f64,
    /// Bona fide visits refused outright.
    pub refused_bona_fide: f64,
    /// Attack visits accepted without a challenge (must be 0).
    pub apcer_visit: f64,
}

struct Scored {
    kind: String,
    nuaa: bool,
    frames: Vec<f32>,
}

/// Scores every presentation of the frame-level report as a visit.
pub fn evaluate(
    engine: &FaceEngine,
    r: &PadReport,
    dir: &Path,
    min_face: f32,
    limits: &DecodeLimits,
    point: Option<&LivenessPoint>,
    calibrate: bool,
) -> Result<Option<VisitPadReport>, EvalError> {
    let Some(model) = point
        .map(|p| p.passive.clone())
        .filter(|p| p != "none")
        .or_else(|| engine.manifest.pad.first().map(|p| p.name.clone()))
    else {
        return Ok(None);
    };
    let scored = score_visits(engine, r, dir, (min_face, limits), &model)?;
    let (reject, accept) = match (calibrate, point) {
        (false, Some(p)) => (p.reject, p.accept),
        _ => calibrated(&scored),
    };
    // The kiosk's own policy (fewer than MIN_FRAMES scores, or doubt: the challenge).
    let point = PassivePoint {
        reject,
        accept,
        min_frames: MIN_FRAMES,
    };
    let judge = |s: &Scored| -> &'static str {
        match point.judge(&s.frames) {
            PassiveVerdict::Attack(_) => "refused",
            PassiveVerdict::Live => "accepted",
            _ => "challenged",
        }
    };
    let outcome = outcomes(&scored, &judge, accept);
    let rate = |g: &str, f: &dyn Fn(&PolicyOutcome) -> usize| {
        outcome
            .get(g)
            .map_or(0.0, |o| f(o) as f64 / o.visits.max(1) as f64)
    };
    let attacks: Vec<&PolicyOutcome> = outcome
        .iter()
        .filter(|(k, _)| !k.starts_with("bona_fide"))
        .map(|(_, v)| v)
        .collect();
    let att_visits: usize = attacks.iter().map(|o| o.visits).sum();
    let att_accepted: usize = attacks.iter().map(|o| o.accepted).sum();
    Ok(Some(VisitPadReport {
        bpcer_visit: rate("bona_fide", &|o| o.visits - o.accepted),
        bpcer_visit_nuaa: rate("bona_fide_nuaa", &|o| o.visits - o.accepted),
        refused_bona_fide: rate("bona_fide", &|o| o.refused),
        apcer_visit: att_accepted as f64 / att_visits.max(1) as f64,
        model,
        reject,
        accept,
        min_frames: MIN_FRAMES,
        frames_per_visit: FRAMES,
        outcome,
    }))
}

/// Every presentation played as a visit of `FRAMES` jittered frames: the passive
/// model's score of each frame with a face.
fn score_visits(
    engine: &FaceEngine,
    r: &PadReport,
    dir: &Path,
    (min_face, limits): (f32, &DecodeLimits),
    model: &str,
) -> Result<Vec<Scored>, EvalError> {
    let mut scored = Vec::new();
    for (i, p) in r.presentations.iter().enumerate() {
        let Some(photo) = std::fs::read(dir.join(&p.file))
            .ok()
            .and_then(|b| decode(&b, limits).ok())
        else {
            continue;
        };
        let mut v = Visit::new(&photo, 0x5EED ^ i as u64);
        let mut frames = Vec::new();
        for f in 0..FRAMES {
            let img =
                decode(&v.next_frame(f == 0), limits).map_err(crate::vision::VisionError::from)?;
            let faces = engine.detect_framed(&img, min_face)?;
            if let Some(face) = primary_face(&faces, img.width(), img.height()) {
                if let Some((_, s)) = engine
                    .pad_scores(&img, face)?
                    .into_iter()
                    .find(|(n, _)| *n == model)
                {
                    frames.push(s);
                }
            }
        }
        scored.push(Scored {
            kind: p.kind.clone(),
            nuaa: p.capture == "nuaa",
            frames,
        });
    }
    Ok(scored)
}

/// What the policy did to each kind of presentation (and to NUAA's bona fide apart), with
/// the share of frames below `accept`.
fn outcomes(
    scored: &[Scored],
    judge: &dyn Fn(&Scored) -> &'static str,
    accept: f32,
) -> BTreeMap<String, PolicyOutcome> {
    let mut outcome: BTreeMap<String, PolicyOutcome> = BTreeMap::new();
    let mut below: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for s in scored {
        let mut groups = vec![s.kind.clone()];
        if s.kind == "bona_fide" && s.nuaa {
            groups.push("bona_fide_nuaa".into());
        }
        for g in groups {
            let o = outcome.entry(g.clone()).or_default();
            o.visits += 1;
            match judge(s) {
                "refused" => o.refused += 1,
                "accepted" => o.accepted += 1,
                _ => o.challenged += 1,
            }
            let b = below.entry(g).or_default();
            b.0 += s.frames.iter().filter(|&&x| x < accept).count();
            b.1 += s.frames.len();
        }
    }
    for (g, (n, d)) in below {
        if let Some(o) = outcome.get_mut(&g) {
            o.frames_below_accept = n as f64 / d.max(1) as f64;
        }
    }
    outcome
}

/// The operating point from the data: `reject` half the 1st percentile of bona fide visit
/// medians (so about 1 % of the odd bona fide photos, and no live webcam frame, are
/// refused); `accept` at least 0.9 and at least 0.45 above every attack frame (APCER 0
/// with a margin), at most 0.99.
fn calibrated(scored: &[Scored]) -> (f32, f32) {
    let mut bona: Vec<f32> = scored
        .iter()
        .filter(|s| s.kind == "bona_fide" && !s.frames.is_empty())
        .map(|s| median(&s.frames))
        .collect();
    bona.sort_by(f32::total_cmp);
    let p1 = bona
        .get((bona.len() as f64 * 0.01).floor() as usize)
        .copied()
        .unwrap_or(0.0);
    let attack_max = scored
        .iter()
        .filter(|s| s.kind != "bona_fide")
        .flat_map(|s| s.frames.iter().copied())
        .fold(0.0f32, f32::max);
    let accept = (attack_max + 0.45).clamp(ACCEPT_FLOOR, 0.99);
    let reject = (p1 / 2.0).min(accept / 10.0);
    (reject, accept)
}

pub fn text(r: &VisitPadReport) -> String {
    let mut s = format!(
        "\nper visit ({} jittered frames; policy: median < {:.4} → refused, every frame (≥ {}) ≥ {:.3} → no challenge, else challenge), model {}\n",
        r.frames_per_visit, r.reject, r.min_frames, r.accept, r.model
    );
    s.push_str("  group            visits  refused  challenged  accepted  frames<accept\n");
    for (g, o) in &r.outcome {
        s.push_str(&format!(
            "  {:<16} {:>6}  {:>7}  {:>10}  {:>8}  {:>12.3}\n",
            g, o.visits, o.refused, o.challenged, o.accepted, o.frames_below_accept
        ));
    }
    s.push_str(&format!(
        "  per visit: APCER (attacks let through without a challenge) {:.3}; BPCER (bona fide challenged or refused) {:.3}, NUAA {:.3}; bona fide refused {:.3}\n",
        r.apcer_visit, r.bpcer_visit, r.bpcer_visit_nuaa, r.refused_bona_fide
    ));
    s
}
