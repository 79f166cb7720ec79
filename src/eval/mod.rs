//! `hoso eval`: measures every scorer on a labelled face folder — verification over all
//! genuine and impostor pairs, and 1:N identification with K enrolment images per person
//! and non-mated probes from a half-of-identities-left-out split run both ways — and
//! optionally writes the chosen operating points into the model manifest.

pub mod dataset;
pub mod distractors;
pub mod kiosk;
pub mod kiosk_scale;
pub mod metrics;
pub mod pad;
pub mod pad_visits;
pub mod replay;
pub mod report;
pub mod scale;
pub mod tnorm;
pub mod visits;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::gallery::{Gallery, Query};
use crate::score::{self, Scorer, ZStats, FUSED};
use crate::vision::manifest::Calibration;
use crate::vision::{decode, primary_face, DecodeLimits, FaceEngine, Segment, VisionError};
use dataset::Dataset;
use metrics::{eer, fnir_at_fpir, rate_at_or_above, threshold_at_rate, MatedResult};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read face folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("face folder {0} holds no identity folders with images")]
    Empty(String),
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error("cannot calibrate: {0}")]
    Calibrate(String),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Enrolment images per identity for the 1:N protocol.
    pub enrol: usize,
    /// Smallest face to look for.
    pub min_face: f32,
    pub limits: DecodeLimits,
}

/// One embedded image.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub identity: usize,
    pub template: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Identification {
    pub fnir_at_fpir: BTreeMap<String, f64>,
    pub rank1: f64,
    #[serde(rename = "threshold_at_fpir_0.001")]
    pub threshold_at_fpir_1e3: f32,
    pub mated_searches: usize,
    pub non_mated_searches: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScorerReport {
    pub tar_at_far: BTreeMap<String, f64>,
    pub eer: f64,
    #[serde(rename = "threshold_at_far_0.001")]
    pub threshold_at_far_1e3: f32,
    #[serde(rename = "threshold_at_far_0.0001")]
    pub threshold_at_far_1e4: f32,
    pub fnir_at_fpir: BTreeMap<String, f64>,
    pub rank1: f64,
    /// Identification with each way of combining a person's enrolment templates.
    pub identification: BTreeMap<String, Identification>,
    pub impostor_mean: f32,
    pub impostor_std: f32,
    /// False-match rate among impostor pairs of the East-Asian subgroup at the FAR 1e-3
    /// threshold.
    pub subgroup_fmr_at_threshold: Option<f64>,
    /// The 1:N accept threshold `--calibrate` would choose (see `kiosk_threshold`).
    pub kiosk_threshold: f32,
    /// The subgroup's false-match rate at that threshold.
    pub subgroup_fmr_at_kiosk_threshold: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub images: usize,
    pub identities: usize,
    pub failed_to_detect: usize,
    pub failed_files: Vec<String>,
    pub kiosk_scorer: String,
    pub combine: String,
    pub enrol: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Identities of the subgroup (`nuaa_*`) and its impostor pair count.
    pub subgroup: Vec<String>,
    pub subgroup_impostor_pairs: usize,
    pub scores: BTreeMap<String, ScorerReport>,
}

const FARS: [(f64, &str); 3] = [(1e-2, "0.01"), (1e-3, "0.001"), (1e-4, "0.0001")];
const FPIRS: [(f64, &str); 2] = [(1e-2, "0.01"), (1e-3, "0.001")];
const SUBGROUP_PREFIX: &str = "nuaa_";

/// Embeds the largest face of every image; returns embeddings and the files that failed.
pub fn embed_dataset(
    engine: &FaceEngine,
    data: &Dataset,
    opts: &EvalOptions,
) -> Result<(Vec<Embedded>, Vec<String>), EvalError> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for s in &data.samples {
        let name = s.path.display().to_string();
        let Ok(bytes) = std::fs::read(&s.path) else {
            failed.push(name);
            continue;
        };
        let img = match decode(&bytes, &opts.limits) {
            Ok(i) => i,
            Err(_) => {
                failed.push(name);
                continue;
            }
        };
        let faces = engine.detect_framed(&img, opts.min_face)?;
        let Some(face) = primary_face(&faces, img.width(), img.height()) else {
            failed.push(name);
            continue;
        };
        let mut t = engine.embed(&img, std::slice::from_ref(face))?;
        if let Some(template) = t.pop() {
            ok.push(Embedded {
                identity: s.identity,
                template,
            });
        }
    }
    Ok((ok, failed))
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f64;
    let m = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / n;
    (m as f32, var.sqrt() as f32)
}

/// Genuine and impostor scores over all pairs; `subgroup` marks identities whose
/// impostor pairs are also collected separately.
fn pair_scores(
    e: &[Embedded],
    segs: &[Segment],
    s: &Scorer,
    subgroup: &[bool],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut gen, mut imp, mut sub) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..e.len() {
        for j in i + 1..e.len() {
            let v = s.score(segs, &e[i].template, &e[j].template);
            if e[i].identity == e[j].identity {
                gen.push(v);
            } else {
                imp.push(v);
                if subgroup[e[i].identity] && subgroup[e[j].identity] {
                    sub.push(v);
                }
            }
        }
    }
    (gen, imp, sub)
}

/// Mean of L2-normalised segments, re-normalised per segment.
fn mean_template(ts: &[&Vec<f32>], segs: &[Segment]) -> Vec<f32> {
    let mut m = vec![0.0f32; ts[0].len()];
    for t in ts {
        m.iter_mut().zip(t.iter()).for_each(|(a, b)| *a += b);
    }
    for s in segs {
        crate::vision::embed::normalise(&mut m[s.offset..s.offset + s.dims]);
    }
    m
}

fn identification(
    e: &[Embedded],
    n_ids: usize,
    segs: &[Segment],
    s: &Scorer,
    enrol: usize,
    combine: &str,
) -> Identification {
    let mut per_id: Vec<Vec<usize>> = vec![Vec::new(); n_ids];
    for (i, x) in e.iter().enumerate() {
        per_id[x.identity].push(i);
    }
    let mut mated = Vec::new();
    let mut non_mated = Vec::new();
    for half in 0..2 {
        let in_gallery = |id: usize| id % 2 == half;
        let g = Gallery::new(segs);
        for (id, idx) in per_id.iter().enumerate() {
            if !in_gallery(id) || idx.is_empty() {
                continue;
            }
            let enrolled: Vec<&Vec<f32>> =
                idx.iter().take(enrol).map(|&i| &e[i].template).collect();
            if combine == "mean" {
                g.add(id as u64, id as u64, &mean_template(&enrolled, segs));
            } else {
                for (k, t) in enrolled.iter().enumerate() {
                    g.add(id as u64, (id * 1000 + k) as u64, t);
                }
            }
        }
        for (id, idx) in per_id.iter().enumerate() {
            let probes: &[usize] = if in_gallery(id) {
                idx.get(enrol..).unwrap_or(&[])
            } else {
                idx
            };
            for &p in probes {
                let top = g.search(&Query::new(segs, s, &e[p].template));
                let Some(best) = top.best else { continue };
                if in_gallery(id) {
                    mated.push(MatedResult {
                        rank1_correct: best.identity == id as u64,
                        top_score: best.score,
                    });
                } else {
                    non_mated.push(best.score);
                }
            }
        }
    }
    let fnir_at_fpir = FPIRS
        .iter()
        .map(|(r, k)| (k.to_string(), fnir_at_fpir(&mated, &non_mated, *r).0))
        .collect();
    let rank1 = mated.iter().filter(|m| m.rank1_correct).count() as f64 / mated.len().max(1) as f64;
    Identification {
        fnir_at_fpir,
        rank1,
        threshold_at_fpir_1e3: threshold_at_rate(&non_mated, 1e-3),
        mated_searches: mated.len(),
        non_mated_searches: non_mated.len(),
    }
}

/// Runs the whole protocol. With `calibrate`, z-normalisation statistics come from this
/// data (else from the manifest, falling back to this data when it has none).
pub fn evaluate(
    engine: &FaceEngine,
    dir: &Path,
    opts: &EvalOptions,
    calibrate: bool,
) -> Result<(Report, Vec<ZStats>), EvalError> {
    let data = Dataset::load(dir).map_err(|source| EvalError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    if data.samples.is_empty() {
        return Err(EvalError::Empty(dir.display().to_string()));
    }
    let (emb, failed) = embed_dataset(engine, &data, opts)?;
    let segs = engine.segments();
    let m = &engine.manifest;
    let subgroup: Vec<bool> = data
        .identities
        .iter()
        .map(|n| n.starts_with(SUBGROUP_PREFIX))
        .collect();

    // Per-embedder impostor statistics from this data.
    let data_stats = impostor_stats(m, &emb, segs, &subgroup);
    let manifest_has_stats = m
        .embedders
        .iter()
        .all(|e| e.calibration.as_ref().is_some_and(|c| c.impostor_std > 0.0));
    let scorers = if calibrate || !manifest_has_stats {
        score::scorers(m, segs, Some(&data_stats))
    } else {
        score::scorers(m, segs, None)
    };

    let mut scores = BTreeMap::new();
    let (mut n_gen, mut n_imp, mut n_sub) = (0, 0, 0);
    for s in &scorers {
        let (r, counts) = scorer_report(
            &emb,
            segs,
            s,
            &subgroup,
            (data.identities.len(), opts.enrol),
            m,
        );
        (n_gen, n_imp, n_sub) = counts;
        scores.insert(s.name.clone(), r);
    }
    let report = Report {
        images: data.samples.len(),
        identities: data.identities.len(),
        failed_to_detect: failed.len(),
        failed_files: failed,
        kiosk_scorer: m.scorer.kiosk.clone(),
        combine: m.scorer.combine.clone(),
        enrol: opts.enrol,
        genuine_pairs: n_gen,
        impostor_pairs: n_imp,
        subgroup: data
            .identities
            .iter()
            .filter(|n| n.starts_with(SUBGROUP_PREFIX))
            .cloned()
            .collect(),
        subgroup_impostor_pairs: n_sub,
        scores,
    };
    Ok((report, data_stats))
}

/// Each embedder's impostor mean and standard deviation on this data (z-normalisation).
fn impostor_stats(
    m: &crate::vision::Manifest,
    emb: &[Embedded],
    segs: &[Segment],
    subgroup: &[bool],
) -> Vec<ZStats> {
    let unit = vec![
        ZStats {
            mean: 0.0,
            std: 1.0
        };
        segs.len()
    ];
    let base = score::scorers(m, segs, Some(&unit));
    base[..segs.len()]
        .iter()
        .map(|s| {
            let (_, imp, _) = pair_scores(emb, segs, s, subgroup);
            let (mean, std) = mean_std(&imp);
            ZStats { mean, std }
        })
        .collect()
}

/// One scorer's verification and identification figures, and its (genuine, impostor,
/// subgroup impostor) pair counts.
fn scorer_report(
    emb: &[Embedded],
    segs: &[Segment],
    s: &Scorer,
    subgroup: &[bool],
    (identities, enrol): (usize, usize),
    m: &crate::vision::Manifest,
) -> (ScorerReport, (usize, usize, usize)) {
    let (gen, imp, sub) = pair_scores(emb, segs, s, subgroup);
    let tar_at_far = FARS
        .iter()
        .map(|(r, k)| {
            (
                k.to_string(),
                rate_at_or_above(&gen, threshold_at_rate(&imp, *r)),
            )
        })
        .collect();
    let t3 = threshold_at_rate(&imp, 1e-3);
    let identification: BTreeMap<String, Identification> = ["max", "mean"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                identification(emb, identities, segs, s, enrol, c),
            )
        })
        .collect();
    let main = &identification[m.scorer.combine.as_str()];
    let (im, is) = mean_std(&imp);
    let t4 = threshold_at_rate(&imp, 1e-4);
    let kiosk = t4.max(main.threshold_at_fpir_1e3);
    let report = ScorerReport {
        tar_at_far,
        eer: eer(&gen, &imp),
        threshold_at_far_1e3: t3,
        threshold_at_far_1e4: t4,
        fnir_at_fpir: main.fnir_at_fpir.clone(),
        rank1: main.rank1,
        identification,
        impostor_mean: im,
        impostor_std: is,
        subgroup_fmr_at_threshold: (!sub.is_empty()).then(|| rate_at_or_above(&sub, t3)),
        kiosk_threshold: kiosk,
        subgroup_fmr_at_kiosk_threshold: (!sub.is_empty()).then(|| rate_at_or_above(&sub, kiosk)),
    };
    (report, (gen.len(), imp.len(), sub.len()))
}

/// The kiosk's 1:N accept threshold for one scorer: strict enough for both FAR 1e-4 in
/// verification and FPIR 1e-3 in identification on the calibration data.
pub fn kiosk_threshold(r: &ScorerReport, combine: &str) -> f32 {
    let ident = r
        .identification
        .get(combine)
        .map_or(f32::NEG_INFINITY, |i| i.threshold_at_fpir_1e3);
    r.threshold_at_far_1e4.max(ident)
}

/// Writes calibration into the manifest: z-statistics, thresholds, margin, the kiosk scorer
/// (fused when it measures best) and the better way of combining templates.
pub fn calibrate(
    engine: &FaceEngine,
    report: &Report,
    stats: &[ZStats],
    dir: &Path,
) -> Result<crate::vision::Manifest, EvalError> {
    let mut m = engine.manifest.clone();
    let measured_on = format!(
        "{} ({} images, {} identities, {} genuine / {} impostor pairs, enrol {})",
        dir.display(),
        report.images,
        report.identities,
        report.genuine_pairs,
        report.impostor_pairs,
        report.enrol
    );
    // Pick the combine mode with the lower FNIR at FPIR 1e-2 for the fused scorer.
    let fused = report
        .scores
        .get(FUSED)
        .ok_or_else(|| EvalError::Calibrate("no fused scorer".into()))?;
    let fnir = |c: &str| {
        fused
            .identification
            .get(c)
            .and_then(|i| i.fnir_at_fpir.get("0.01").copied())
            .unwrap_or(1.0)
    };
    m.scorer.combine = if fnir("mean") < fnir("max") {
        "mean"
    } else {
        "max"
    }
    .to_string();
    let cal = |r: &ScorerReport, mean: f32, std: f32| Calibration {
        impostor_mean: mean,
        impostor_std: std,
        threshold_far_1e3: r.threshold_at_far_1e3,
        threshold: kiosk_threshold(r, &m.scorer.combine),
        // Half an impostor standard deviation: the best identity must clearly lead.
        margin: 0.5 * r.impostor_std,
        measured_on: measured_on.clone(),
    };
    for (e, st) in m.embedders.iter_mut().zip(stats) {
        let r = report
            .scores
            .get(&e.name)
            .ok_or_else(|| EvalError::Calibrate(format!("no report for {}", e.name)))?;
        e.calibration = Some(cal(r, st.mean, st.std));
    }
    m.scorer.fused = Some(cal(fused, fused.impostor_mean, fused.impostor_std));
    let tar = |r: &ScorerReport| r.tar_at_far.get("0.001").copied().unwrap_or(0.0);
    let best = report
        .scores
        .iter()
        .filter(|(k, _)| k.as_str() != FUSED)
        .max_by(|a, b| tar(a.1).total_cmp(&tar(b.1)))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| FUSED.to_string());
    // One embedder: its own cosine (the fused score is the same ranking).
    m.scorer.kiosk = if m.embedders.len() > 1 && tar(fused) >= tar(&report.scores[&best]) {
        FUSED.to_string()
    } else {
        best
    };
    save_profile(&m)?;
    Ok(m)
}

/// Writes a profile's calibration (its scorer, visit point and its embedders' statistics)
/// into the whole manifest on disk, leaving the other profiles as they are.
pub fn save_profile(m: &crate::vision::Manifest) -> Result<(), EvalError> {
    let mut full = crate::vision::Manifest::load(&m.dir).map_err(VisionError::from)?;
    for e in &m.embedders {
        if let Some(x) = full.embedders.iter_mut().find(|x| x.name == e.name) {
            x.calibration = e.calibration.clone();
        }
    }
    let active = m.active().cloned();
    if let Some(p) = full.profiles.iter_mut().find(|p| p.name == m.profile) {
        p.scorer = m.scorer.clone();
        if let Some(a) = active {
            p.visit = a.visit;
        }
    }
    full.save().map_err(VisionError::from)?;
    Ok(())
}
