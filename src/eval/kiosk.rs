//! `hoso eval --kiosk`: replays labelled photos as kiosk visits through exactly the code
//! path of the frames endpoint (`App::kiosk_frame` on a temporary data directory: decode,
//! detection, quality gate, embedding, eligibility, gallery search, the visit machine).
//! Every other identity is enrolled through the intake use case (consent, K photos, an open
//! dossier); each remaining photo of an enrolled person is a mated visit, every photo of the
//! others a non-mated visit. Recognition alone is measured (liveness off). Visit-level FNIR,
//! FPIR, wrong-person matches, frames and milliseconds to a decision; `--calibrate` sets the
//! profile's visit threshold from the evidence of every visit.

use std::path::Path;

use serde::Serialize;

use super::dataset::Dataset;
use super::replay::{id_number, letters, play, DevVisit, Spread, Trace, VisitPlay};
use super::EvalError;
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::config::{Config, LivenessMode};
use crate::kiosk::VisitRule;
use crate::vision::manifest::VisitPoint;
use crate::vision::{decode, FaceEngine};

#[derive(Debug, Clone)]
pub struct KioskEvalOptions {
    /// Enrolment photos per enrolled identity.
    pub enrol: usize,
    /// Frames sent per visit at most.
    pub frames: usize,
    pub seed: u64,
    pub calibrate: bool,
    /// Distractors enrolled on top of the dev set, stage by stage (`kiosk_scale`).
    pub distractors: Option<(
        super::distractors::Distractors,
        super::kiosk_scale::KioskScaleOptions,
    )>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KioskReport {
    pub profile: String,
    pub faces_dir: String,
    pub enrolled_identities: usize,
    pub enrolment_photos: usize,
    /// Photos the intake refused (no face, low quality), tried in order until K took.
    pub enrolment_refused: usize,
    pub mated_visits: usize,
    pub non_mated_visits: usize,
    pub threshold: f32,
    pub margin: f32,
    pub min_frames: usize,
    pub no_match_frames: usize,
    /// Mated visits not matched to their person (no match, or no decision in time).
    pub fnir: f64,
    /// Non-mated visits matched to anyone.
    pub fpir: f64,
    /// Visits matched to the wrong enrolled person (mated or not).
    pub wrong_person: usize,
    /// Mated visits that never had enough good frames to decide.
    pub undecided: usize,
    /// What the kiosk last asked of those visits (prompt key → visits), and their photos.
    pub undecided_prompts: std::collections::BTreeMap<String, usize>,
    pub undecided_photos: Vec<String>,
    /// Frames sent until the match (mated visits matched).
    pub frames_to_match: Spread,
    /// Server time until the match (sum of the frames' processing), ms.
    pub ms_to_match: Spread,
    /// Frames until "not recognised" (non-mated visits).
    pub frames_to_no_match: Spread,
    /// Server time per frame, ms.
    pub ms_per_frame: Spread,
    /// With --calibrate: the highest score a wrong candidate reached over all visits.
    pub wrong_candidate_max: Option<f32>,
    /// With --distractors: the visits as the gallery grows.
    pub scale: Option<super::kiosk_scale::KioskScaleReport>,
}

/// Runs the evaluation for the engine's profile.
pub fn evaluate_kiosk(
    config: &Config,
    engine: FaceEngine,
    dir: &Path,
    opts: &KioskEvalOptions,
) -> Result<KioskReport, EvalError> {
    let folder = |source| EvalError::Folder {
        path: dir.display().to_string(),
        source,
    };
    let ds = Dataset::load(dir).map_err(folder)?;
    if ds.identities.is_empty() {
        return Err(EvalError::Empty(dir.display().to_string()));
    }
    let tmp = std::env::temp_dir().join(format!("hoso-eval-kiosk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut cfg = config.clone();
    cfg.data_dir = tmp.clone();
    cfg.liveness.mode = LivenessMode::Off;
    let app = App::open(cfg, engine, false)?;
    let result = run(&app, &ds, dir, opts);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Who the evaluation enrolled: each identity's gallery key (every other identity), which
/// photos enrolment used, and how many it took and refused.
struct Enrolled {
    applicant: Vec<Option<u64>>,
    used: Vec<bool>,
    photos: usize,
    refused: usize,
}

fn run(
    app: &App,
    ds: &Dataset,
    dir: &Path,
    opts: &KioskEvalOptions,
) -> Result<KioskReport, EvalError> {
    let clerk_id = app.create_user(
        &Principal::operator("system:eval"),
        "eval-clerk",
        "eval-password-2026",
        Role::Clerk,
        None,
    )?;
    let clerk = &Principal::user(
        Role::Clerk,
        clerk_id,
        "eval-clerk".into(),
        Some(crate::store::offices::DEFAULT_OFFICE),
    );
    let kiosk = Principal::device(
        Role::Kiosk,
        0,
        "eval".into(),
        Some(crate::store::offices::DEFAULT_OFFICE),
    );
    let limits = app.config.decode_limits();
    let e = enrol_half(app, clerk, ds, opts.enrol)?;
    let (rule, wrong_candidate_max) = if opts.calibrate {
        calibrate(app, &kiosk, ds, &e, opts, dir)?
    } else {
        (app.visit_rule(), None)
    };
    // The kiosk's own rule (scaled to its people) unless calibrating.
    app.set_visit_override(opts.calibrate.then_some(rule));
    let traces = visits(app, &kiosk, ds, &e.used, &e.applicant, opts, "run", &limits)?;
    app.set_visit_override(None);
    let scale = match &opts.distractors {
        Some((d, o)) => {
            let dev = dev_visits(ds, &e.used, &e.applicant, &limits);
            Some(super::kiosk_scale::run(app, clerk, &kiosk, &dev, d, o)?)
        }
        None => None,
    };
    let mut r = report(&traces, &rule);
    r.profile = app.engine.manifest.profile.clone();
    r.faces_dir = dir.display().to_string();
    r.enrolled_identities = e.applicant.iter().flatten().count();
    r.enrolment_photos = e.photos;
    r.enrolment_refused = e.refused;
    r.wrong_candidate_max = wrong_candidate_max;
    r.scale = scale;
    Ok(r)
}

/// Enrols every other identity: consent, the first `enrol` photos the intake accepts, a
/// dossier.
fn enrol_half(
    app: &App,
    clerk: &Principal,
    ds: &Dataset,
    enrol: usize,
) -> Result<Enrolled, EvalError> {
    let mut e = Enrolled {
        applicant: vec![None; ds.identities.len()],
        used: vec![false; ds.samples.len()],
        photos: 0,
        refused: 0,
    };
    for (i, _) in ds.identities.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        let a = app.create_applicant(
            clerk,
            &format!("Người Thử {}", letters(i)),
            &id_number(i),
            None,
        )?;
        app.record_consent(clerk, a, &app.consent.version.clone(), "tick")?;
        let mut n = 0;
        for (k, s) in ds
            .samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.identity == i)
        {
            if n == enrol {
                break;
            }
            match std::fs::read(&s.path).map(|b| app.enrol_face(clerk, a, &b)) {
                Ok(Ok(_)) => {
                    n += 1;
                    e.photos += 1;
                    e.used[k] = true;
                }
                _ => e.refused += 1,
            }
        }
        app.create_dossier(
            clerk,
            crate::app::dossiers::NewDossierInput {
                code: &format!("000.00.00.H01-261130-{:04}", i + 1),
                applicant_id: a,
                procedure: "Thử nghiệm",
                received_at: "2026-11-30 08:00",
                due_at: "2026-12-30 17:00",
                documents: &[],
                office: None,
            },
        )?;
        e.applicant[i] = Some(a.gallery_key());
    }
    Ok(e)
}

/// `--calibrate`: plays every visit with a threshold nothing reaches, sets the visit
/// threshold above every wrong candidate (never below the per-frame 1:N threshold) and
/// writes it to the manifest. Returns the rule and the highest wrong candidate's score.
fn calibrate(
    app: &App,
    kiosk: &Principal,
    ds: &Dataset,
    e: &Enrolled,
    opts: &KioskEvalOptions,
    dir: &Path,
) -> Result<(VisitRule, Option<f32>), EvalError> {
    let base = app.visit_rule();
    let mut rule = base;
    app.set_visit_override(Some(VisitRule {
        threshold: f32::INFINITY,
        min_frames: 1,
        no_match_frames: usize::MAX,
        ..base
    }));
    let limits = app.config.decode_limits();
    let traces = visits(app, kiosk, ds, &e.used, &e.applicant, opts, "cal", &limits)?;
    let margin = base.margin;
    let min_frames = 2;
    let wrong = traces
        .iter()
        .flat_map(|t| {
            t.evidence.iter().filter(move |e| {
                e.frames >= min_frames
                    && e.best.is_some_and(|(who, s)| {
                        Some(who) != t.truth && s - e.second.unwrap_or(f32::MIN) >= margin
                    })
            })
        })
        .filter_map(|e| e.best.map(|b| b.1))
        .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))));
    // Never below the per-frame 1:N threshold; above every wrong candidate by half the
    // margin.
    let per_frame = app.scorer.threshold.unwrap_or(f32::INFINITY);
    rule.threshold = wrong.map_or(per_frame, |w| per_frame.max(w + margin / 2.0));
    rule.min_frames = min_frames;
    rule.no_match_frames = opts.frames.min(10);
    let mut m = app.engine.manifest.clone();
    if let Some(p) = m.profiles.iter_mut().find(|p| p.name == m.profile) {
        let kept = p.visit.take();
        p.visit = Some(VisitPoint {
            target_fpir: kept.as_ref().and_then(|v| v.target_fpir),
            tail: kept.as_ref().and_then(|v| v.tail.clone()),
            int8_tail: kept.and_then(|v| v.int8_tail),
            threshold: rule.threshold,
            margin,
            min_frames,
            no_match_frames: rule.no_match_frames,
            measured_on: format!(
                "{} (hoso eval --kiosk: {} mated / {} non-mated visits of up to {} jittered frames, enrol {})",
                dir.display(),
                traces.iter().filter(|t| t.truth.is_some()).count(),
                traces.iter().filter(|t| t.truth.is_none()).count(),
                opts.frames,
                opts.enrol
            ),
        });
    }
    super::save_profile(&m)?;
    Ok((rule, wrong))
}

/// The visit-level figures of `traces` played under `rule` (the caller fills in what was
/// enrolled and where).
fn report(traces: &[Trace], rule: &VisitRule) -> KioskReport {
    let mated: Vec<&Trace> = traces.iter().filter(|t| t.truth.is_some()).collect();
    let non: Vec<&Trace> = traces.iter().filter(|t| t.truth.is_none()).collect();
    fn right(t: &&&Trace) -> bool {
        t.matched.is_some() && t.matched == t.truth
    }
    let undecided: Vec<&&Trace> = mated
        .iter()
        .filter(|t| t.matched.is_none() && !t.no_match)
        .collect();
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let spread =
        |f: &dyn Fn(&Trace) -> f64| Spread::of(mated.iter().filter(right).map(|t| f(t)).collect());
    KioskReport {
        profile: String::new(),
        faces_dir: String::new(),
        enrolled_identities: 0,
        enrolment_photos: 0,
        enrolment_refused: 0,
        mated_visits: mated.len(),
        non_mated_visits: non.len(),
        threshold: rule.threshold,
        margin: rule.margin,
        min_frames: rule.min_frames,
        no_match_frames: rule.no_match_frames,
        fnir: ratio(mated.iter().filter(|t| !right(t)).count(), mated.len()),
        fpir: ratio(
            non.iter().filter(|t| t.matched.is_some()).count(),
            non.len(),
        ),
        wrong_person: traces
            .iter()
            .filter(|t| t.matched.is_some() && t.matched != t.truth)
            .count(),
        undecided: undecided.len(),
        undecided_prompts: undecided.iter().fold(Default::default(), |mut m, t| {
            *m.entry(t.prompt.unwrap_or("none").to_string()).or_default() += 1;
            m
        }),
        undecided_photos: undecided.iter().map(|t| t.photo.clone()).collect(),
        frames_to_match: spread(&|t| t.frames as f64),
        ms_to_match: spread(&|t| t.ms.iter().sum()),
        frames_to_no_match: Spread::of(
            non.iter()
                .filter(|t| t.no_match)
                .map(|t| t.frames as f64)
                .collect(),
        ),
        ms_per_frame: Spread::of(traces.iter().flat_map(|t| t.ms.iter().copied()).collect()),
        wrong_candidate_max: None,
        scale: None,
    }
}

/// The dev set's visits (photos not used for enrolment), decoded once.
fn dev_visits(
    ds: &Dataset,
    used: &[bool],
    applicant: &[Option<u64>],
    limits: &crate::vision::DecodeLimits,
) -> Vec<DevVisit> {
    ds.samples
        .iter()
        .enumerate()
        .filter(|(k, _)| !used[*k])
        .filter_map(|(_, s)| {
            let photo = std::fs::read(&s.path)
                .ok()
                .and_then(|b| decode(&b, limits).ok())?;
            let truth = applicant[s.identity];
            Some(DevVisit {
                photo,
                name: s.path.display().to_string(),
                truth,
                digits: truth.map(|_| id_number(s.identity)).unwrap_or_default(),
            })
        })
        .collect()
}

/// Plays every visit (photos not used for enrolment) through the frames use case.
#[allow(clippy::too_many_arguments)]
fn visits(
    app: &App,
    kiosk: &Principal,
    ds: &Dataset,
    used: &[bool],
    applicant: &[Option<u64>],
    opts: &KioskEvalOptions,
    pass: &str,
    limits: &crate::vision::DecodeLimits,
) -> Result<Vec<Trace>, crate::app::AppError> {
    let mut out = Vec::new();
    for (k, s) in ds.samples.iter().enumerate() {
        if used[k] {
            continue;
        }
        let Some(photo) = std::fs::read(&s.path)
            .ok()
            .and_then(|b| decode(&b, limits).ok())
        else {
            continue;
        };
        let name = s
            .path
            .strip_prefix(&ds.root)
            .unwrap_or(&s.path)
            .display()
            .to_string();
        let truth = applicant[s.identity];
        let visit = VisitPlay {
            session: format!("eval-{pass}-{k}"),
            seed: opts.seed ^ (k as u64).wrapping_mul(0x9E37_79B9),
            frames: opts.frames,
            digits: truth.map(|_| id_number(s.identity)).unwrap_or_default(),
        };
        out.push(play(app, kiosk, &photo, name, truth, &visit)?);
    }
    Ok(out)
}

pub fn text(r: &KioskReport) -> String {
    format!(
        "kiosk visits on {dir} — profile {p}\n  enrolled {ei} identities from {ep} photos ({er} refused by the intake); {mv} mated / {nv} non-mated visits\n  rule: threshold {th:.4}, margin {mg:.4}, ≥ {mf} good frames to match, not recognised after {nm}\n  visit FNIR {fnir:.4} ({und} undecided: {undp})   visit FPIR {fpir:.4}   wrong person {wp}\n  frames to a match: mean {fm:.2}, p95 {fp:.0}; server time to a match: p50 {mm:.1} ms, p95 {mp:.1} ms\n  frames to \"not recognised\": mean {nf:.1}; server time per frame p50 {pf:.1} ms, p95 {pp:.1} ms\n{cal}",
        dir = r.faces_dir,
        p = r.profile,
        ei = r.enrolled_identities,
        ep = r.enrolment_photos,
        er = r.enrolment_refused,
        mv = r.mated_visits,
        nv = r.non_mated_visits,
        th = r.threshold,
        mg = r.margin,
        mf = r.min_frames,
        nm = r.no_match_frames,
        fnir = r.fnir,
        und = r.undecided,
        undp = r
            .undecided_photos
            .join(", "),
        fpir = r.fpir,
        wp = r.wrong_person,
        fm = r.frames_to_match.mean,
        fp = r.frames_to_match.p95,
        mm = r.ms_to_match.p50,
        mp = r.ms_to_match.p95,
        nf = r.frames_to_no_match.mean,
        pf = r.ms_per_frame.p50,
        pp = r.ms_per_frame.p95,
        cal = r.wrong_candidate_max.map_or(String::new(), |w| format!(
            "  calibrated: the highest wrong candidate scored {w:.4}; threshold written to the manifest\n"
        )),
    ) + &r.scale.as_ref().map(super::kiosk_scale::text).unwrap_or_default()
}
