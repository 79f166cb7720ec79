//! `hoso eval --kiosk --distractors DIR[,DIR…]`: the kiosk's visits as its gallery grows.
//! On top of the dev set's enrolled half, deduplicated distractors are enrolled through
//! the real intake use cases (applicant, consent, one photo, an open dossier; on every
//! core), N at a time; at each N the dev set's mated and non-mated visits and a fixed set of
//! held-out distractors (strangers, never enrolled) are played through the frames use case
//! with the kiosk's own rule at that N. A visit the kiosk asks the second step answers with
//! its person's real last ID digits (mated) or a stranger's own (seeded random) digits.

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::distractors::Distractors;
use super::replay::{letters, play, DevVisit, Spread, Trace, VisitPlay};
use super::EvalError;
use crate::app::App;
use crate::auth::Principal;
use crate::kiosk::scale::ScalePoint;
use crate::vision::decode;

#[derive(Debug, Clone)]
pub struct KioskScaleOptions {
    /// Gallery sizes in distractors (0 = all but the strangers).
    pub sizes: Vec<usize>,
    /// Held-out distractors played as stranger visits at every size.
    pub strangers: usize,
    pub seed: u64,
    pub frames: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct KioskScaleRow {
    pub distractors: usize,
    /// People the kiosk may match (its scope).
    pub people: usize,
    /// The rule the kiosk derived for that many people (None: no fitted tail).
    pub rule: Option<ScalePoint>,
    pub non_mated: usize,
    /// Non-mated visits shown someone's dossiers (each a wrong person).
    pub non_mated_matched: usize,
    /// Non-mated visits asked the second step.
    pub non_mated_asked: usize,
    pub fpir: f64,
    pub mated: usize,
    /// Mated visits recognised by face alone, and after the second step.
    pub mated_by_face: usize,
    pub mated_by_second_step: usize,
    pub mated_asked: usize,
    pub fnir: f64,
    /// Visits (mated or not) shown another person's dossiers.
    pub wrong_person: usize,
    /// Server time per frame, ms.
    pub ms_per_frame: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct KioskScaleReport {
    pub folders: usize,
    pub failed: usize,
    pub near_duplicates: usize,
    pub known_people: usize,
    pub kept: usize,
    pub strangers: usize,
    /// Distractors the intake refused (no usable face at the intake's quality gate).
    pub enrolment_refused: usize,
    pub enrolment_seconds: f64,
    pub rows: Vec<KioskScaleRow>,
}

/// Enrols the distractors stage by stage and plays every stage's visits.
pub(crate) fn run(
    app: &App,
    clerk: &Principal,
    kiosk: &Principal,
    dev: &[DevVisit],
    d: &Distractors,
    o: &KioskScaleOptions,
) -> Result<KioskScaleReport, EvalError> {
    let limits = app.config.decode_limits();
    let (strangers, pool) = super::distractors::split(d.photos.len(), o.strangers, o.seed);
    let stranger_photos: Vec<(String, image::RgbImage)> = strangers
        .iter()
        .filter_map(|&i| {
            let p = &d.photos[i];
            let img = std::fs::read(p)
                .ok()
                .and_then(|b| decode(&b, &limits).ok())?;
            Some((p.display().to_string(), img))
        })
        .collect();
    let sizes = super::distractors::sizes(&o.sizes, pool.len());
    let mut enrolled = 0;
    let mut refused = 0;
    let mut enrol_time = 0.0;
    let mut rows = Vec::new();
    for &n in &sizes {
        let start = std::time::Instant::now();
        refused += enrol(app, clerk, d, &pool[enrolled..n], enrolled)?;
        enrol_time += start.elapsed().as_secs_f64();
        enrolled = n;
        let people = app.refresh_eligible()?.len();
        let rule = app.scale_point(people);
        let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed ^ n as u64);
        let mut visits: Vec<(&image::RgbImage, String, Option<u64>, String)> = dev
            .iter()
            .map(|v| (&v.photo, v.name.clone(), v.truth, v.digits.clone()))
            .collect();
        visits.extend(stranger_photos.iter().map(|(name, img)| {
            (
                img,
                name.clone(),
                None,
                format!("{:02}", rng.random_range(0..100)),
            )
        }));
        let traces = play_all(app, kiosk, &visits, o, n)?;
        rows.push(row(n, people, rule, &traces));
        eprintln!("  {} people: {} visits played", people, traces.len());
    }
    Ok(KioskScaleReport {
        folders: d.folders,
        failed: d.failed,
        near_duplicates: d.near_duplicates,
        known_people: d.known_people,
        kept: d.photos.len(),
        strangers: stranger_photos.len(),
        enrolment_refused: refused,
        enrolment_seconds: enrol_time,
        rows,
    })
}

/// Enrols distractors `idx` (numbered from `first`) through the intake use cases, on every
/// core; returns how many the intake refused.
fn enrol(
    app: &App,
    clerk: &Principal,
    d: &Distractors,
    idx: &[usize],
    first: usize,
) -> Result<usize, EvalError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = idx.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = idx
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || -> Result<usize, EvalError> {
                    let mut refused = 0;
                    for (j, &i) in part.iter().enumerate() {
                        let k = first + c * chunk + j;
                        let a = app.create_applicant(
                            clerk,
                            &format!("Người Đông {}", letters(k)),
                            &format!("079{:09}", k.wrapping_mul(104_729) % 1_000_000_000),
                            None,
                        )?;
                        app.record_consent(clerk, a, &app.consent.version.clone(), "tick")?;
                        let Ok(bytes) = std::fs::read(&d.photos[i]) else {
                            refused += 1;
                            continue;
                        };
                        if app.enrol_face(clerk, a, &bytes).is_err() {
                            refused += 1;
                            continue;
                        }
                        app.create_dossier(
                            clerk,
                            crate::app::dossiers::NewDossierInput {
                                code: &format!(
                                    "000.00.00.H02-2611{:02}-{:04}",
                                    1 + k / 9000,
                                    k % 9000 + 1
                                ),
                                applicant_id: a,
                                procedure: "Thử nghiệm",
                                received_at: "2026-11-30 08:00",
                                due_at: "2026-12-30 17:00",
                                documents: &[],
                                office: None,
                            },
                        )?;
                    }
                    Ok(refused)
                })
            })
            .collect();
        let mut refused = 0;
        for h in handles {
            refused += h
                .join()
                .map_err(|_| EvalError::Calibrate("an enrolment thread panicked".into()))??;
        }
        Ok(refused)
    })
}

/// Plays the visits on every core (each its own page session).
fn play_all(
    app: &App,
    kiosk: &Principal,
    visits: &[(&image::RgbImage, String, Option<u64>, String)],
    o: &KioskScaleOptions,
    stage: usize,
) -> Result<Vec<Trace>, EvalError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = visits.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = visits
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || -> Result<Vec<Trace>, EvalError> {
                    let mut out = Vec::with_capacity(part.len());
                    for (j, (img, name, truth, digits)) in part.iter().enumerate() {
                        let k = c * chunk + j;
                        let v = VisitPlay {
                            session: format!("scale-{stage}-{k}"),
                            seed: o.seed ^ (k as u64).wrapping_mul(0x9E37_79B9),
                            frames: o.frames,
                            digits: digits.clone(),
                        };
                        out.push(play(app, kiosk, img, name.clone(), *truth, &v)?);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut out = Vec::with_capacity(visits.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| EvalError::Calibrate("a visit thread panicked".into()))??,
            );
        }
        Ok(out)
    })
}

fn row(n: usize, people: usize, rule: Option<ScalePoint>, traces: &[Trace]) -> KioskScaleRow {
    let non: Vec<&Trace> = traces.iter().filter(|t| t.truth.is_none()).collect();
    let mated: Vec<&Trace> = traces.iter().filter(|t| t.truth.is_some()).collect();
    let right = |t: &&Trace| t.matched.is_some() && t.matched == t.truth;
    let by_face = mated.iter().filter(|t| right(t) && !t.asked).count();
    let by_step = mated.iter().filter(|t| right(t) && t.asked).count();
    let matched = non.iter().filter(|t| t.matched.is_some()).count();
    KioskScaleRow {
        distractors: n,
        people,
        rule,
        non_mated: non.len(),
        non_mated_matched: matched,
        non_mated_asked: non.iter().filter(|t| t.asked).count(),
        fpir: matched as f64 / non.len().max(1) as f64,
        mated: mated.len(),
        mated_by_face: by_face,
        mated_by_second_step: by_step,
        mated_asked: mated.iter().filter(|t| t.asked).count(),
        fnir: 1.0 - (by_face + by_step) as f64 / mated.len().max(1) as f64,
        wrong_person: traces
            .iter()
            .filter(|t| t.matched.is_some() && t.matched != t.truth)
            .count(),
        ms_per_frame: Spread::of(traces.iter().flat_map(|t| t.ms.iter().copied()).collect()),
    }
}

pub fn text(r: &KioskScaleReport) -> String {
    let mut s = format!(
        "\nkiosk visits as the gallery grows: {} distractor folders, {} without a face, {} near-duplicates dropped, {} the same person as a dev identity, {} kept; {} held out as strangers; intake refused {}; enrolment took {:.0} s\n\
         people | accept  ask    | non-mated: matched asked FPIR    | mated: face  2nd step (asked)  FNIR   | wrong | ms/frame p50 p95\n",
        r.folders, r.failed, r.near_duplicates, r.known_people, r.kept, r.strangers, r.enrolment_refused, r.enrolment_seconds
    );
    for w in &r.rows {
        let (a, k) = w.rule.map_or((f32::NAN, f32::NAN), |p| (p.accept, p.ask));
        s += &format!(
            "{:>6} | {:.4} {:.4} | {:>4}/{:<4} {:>5} {:.4} | {:>4}/{:<4} {:>4} ({:>3})  {:.3} | {:>5} | {:.1} {:.1}\n",
            w.people,
            a,
            k,
            w.non_mated_matched,
            w.non_mated,
            w.non_mated_asked,
            w.fpir,
            w.mated_by_face,
            w.mated,
            w.mated_by_second_step,
            w.mated_asked,
            w.fnir,
            w.wrong_person,
            w.ms_per_frame.p50,
            w.ms_per_frame.p95
        );
    }
    s
}
