//! `hoso eval-pad`: presentation-attack detection measured in the spirit of ISO/IEC
//! 30107-3. Bona fide (live) presentations are the identity folders; attacks are
//! `_spoof/<identity>/…`, with their species (print, screen) read from `MANIFEST.csv`
//! notes when the folder has one (a `_spoof` image noted LIVE counts as bona fide). For
//! every passive model: APCER per species and BPCER at the operating points, the EER, and
//! the same restricted to the NUAA capture (live and attack frames from one webcam).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dataset::Dataset;
use super::metrics::eer;
use crate::vision::{decode, primary_face, DecodeLimits, FaceEngine, VisionError};

/// One presentation and its scores.
#[derive(Debug, Clone, Serialize)]
pub struct Presentation {
    pub file: String,
    /// "bona_fide", or the attack species ("print", "screen", "unknown").
    pub kind: String,
    /// The capture subgroup: "nuaa" for the NUAA webcam frames, else "other".
    pub capture: String,
    /// Head pose from the landmarks (degrees; yaw > 0: turned to the person's left).
    pub yaw: f32,
    pub pitch: f32,
    pub scores: BTreeMap<String, f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub eer: f64,
    pub eer_nuaa: f64,
    /// Lowest threshold at which no attack is accepted (max attack score, just above).
    pub threshold_apcer0: f32,
    /// BPCER at that threshold: all bona fide, and NUAA bona fide only.
    pub bpcer_at_apcer0: f64,
    pub bpcer_nuaa_at_apcer0: f64,
    /// Threshold keeping BPCER (NUAA) at 5 %, and APCER per species there.
    pub threshold_bpcer5: f32,
    pub apcer_at_bpcer5: BTreeMap<String, f64>,
    pub bona_fide_mean: f32,
    pub attack_mean: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PadReport {
    pub faces_dir: String,
    pub bona_fide: usize,
    pub attacks: BTreeMap<String, usize>,
    pub no_face: Vec<String>,
    pub models: Vec<ModelReport>,
    pub presentations: Vec<Presentation>,
}

/// Species of each `_spoof` file named in `MANIFEST.csv` (identity,file,…,notes).
fn species(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(dir.join("MANIFEST.csv")) else {
        return out;
    };
    for line in text.lines() {
        let mut cols = line.splitn(5, ',');
        let (_, Some(file)) = (cols.next(), cols.next()) else {
            continue;
        };
        if !file.starts_with("_spoof/") {
            continue;
        }
        let notes = line.to_lowercase();
        let kind = if notes.contains("live (") || notes.contains("; live") {
            "bona_fide"
        } else if notes.contains("screen") {
            "screen"
        } else if notes.contains("printed") || notes.contains("paper") {
            "print"
        } else {
            "unknown"
        };
        out.insert(file.to_string(), kind.to_string());
    }
    out
}

fn capture(path: &Path) -> String {
    let s = path.to_string_lossy();
    if s.contains("nuaa_") {
        "nuaa".into()
    } else {
        "other".into()
    }
}

/// Scores every presentation with every passive model.
pub fn evaluate_pad(
    engine: &FaceEngine,
    dir: &Path,
    min_face: f32,
    limits: &DecodeLimits,
) -> Result<PadReport, VisionError> {
    let ds =
        Dataset::load(dir).map_err(|e| VisionError::Internal(format!("{}: {e}", dir.display())))?;
    let kinds = species(dir);
    let mut items: Vec<(PathBuf, String)> = ds
        .samples
        .iter()
        .map(|s| (s.path.clone(), "bona_fide".to_string()))
        .collect();
    for p in Dataset::special(dir, "_spoof").unwrap_or_default() {
        let rel = p
            .strip_prefix(dir)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = kinds.get(&rel).cloned().unwrap_or_else(|| "unknown".into());
        items.push((p, kind));
    }
    let mut presentations = Vec::new();
    let mut no_face = Vec::new();
    for (path, kind) in items {
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let Ok(bytes) = std::fs::read(&path) else {
            no_face.push(rel);
            continue;
        };
        let Ok(img) = decode(&bytes, limits) else {
            no_face.push(rel);
            continue;
        };
        let faces = engine.detect_framed(&img, min_face)?;
        let Some(face) = primary_face(&faces, img.width(), img.height()) else {
            no_face.push(rel);
            continue;
        };
        let scores = engine
            .pad_scores(&img, face)?
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect();
        let (yaw, pitch, _) = crate::vision::quality::pose(&face.landmarks);
        presentations.push(Presentation {
            yaw,
            pitch,
            capture: capture(&path),
            file: rel,
            kind,
            scores,
        });
    }
    let names: Vec<String> = engine.manifest.pad.iter().map(|p| p.name.clone()).collect();
    let models = names
        .iter()
        .map(|n| model_report(n, &presentations))
        .collect();
    let mut attacks = BTreeMap::new();
    for p in presentations.iter().filter(|p| p.kind != "bona_fide") {
        *attacks.entry(p.kind.clone()).or_insert(0) += 1;
    }
    Ok(PadReport {
        faces_dir: dir.display().to_string(),
        bona_fide: presentations
            .iter()
            .filter(|p| p.kind == "bona_fide")
            .count(),
        attacks,
        no_face,
        models,
        presentations,
    })
}

fn rate_below(v: &[f32], t: f32) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().filter(|&&s| s < t).count() as f64 / v.len() as f64
}

fn rate_at_or_above(v: &[f32], t: f32) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().filter(|&&s| s >= t).count() as f64 / v.len() as f64
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

fn model_report(name: &str, ps: &[Presentation]) -> ModelReport {
    let pick = |f: &dyn Fn(&Presentation) -> bool| -> Vec<f32> {
        ps.iter()
            .filter(|p| f(p))
            .filter_map(|p| p.scores.get(name).copied())
            .collect()
    };
    let live = pick(&|p| p.kind == "bona_fide");
    let live_nuaa = pick(&|p| p.kind == "bona_fide" && p.capture == "nuaa");
    let attacks = pick(&|p| p.kind != "bona_fide");
    let attacks_nuaa = pick(&|p| p.kind != "bona_fide" && p.capture == "nuaa");
    let t0 = attacks
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        .next_up();
    let mut sorted = live_nuaa.clone();
    sorted.sort_by(f32::total_cmp);
    let t5 = sorted
        .get((sorted.len() as f64 * 0.05).floor() as usize)
        .copied()
        .unwrap_or(0.0);
    let mut apcer = BTreeMap::new();
    let mut species: Vec<&str> = ps
        .iter()
        .filter(|p| p.kind != "bona_fide")
        .map(|p| p.kind.as_str())
        .collect();
    species.sort();
    species.dedup();
    for s in species {
        let v = pick(&|p| p.kind == s);
        apcer.insert(s.to_string(), rate_at_or_above(&v, t5));
    }
    ModelReport {
        model: name.to_string(),
        eer: eer(&live, &attacks),
        eer_nuaa: eer(&live_nuaa, &attacks_nuaa),
        threshold_apcer0: t0,
        bpcer_at_apcer0: rate_below(&live, t0),
        bpcer_nuaa_at_apcer0: rate_below(&live_nuaa, t0),
        threshold_bpcer5: t5,
        apcer_at_bpcer5: apcer,
        bona_fide_mean: mean(&live),
        attack_mean: mean(&attacks),
    }
}

/// The report as text.
pub fn text(r: &PadReport) -> String {
    let mut s = format!(
        "presentation-attack detection on {}\n  bona fide: {}   attacks: {:?}   without a usable face: {}\n\n",
        r.faces_dir,
        r.bona_fide,
        r.attacks,
        r.no_face.len()
    );
    if r.models.is_empty() {
        s.push_str("  no passive model in the manifest (candidates that were measured and not shipped: models/convert/pad-candidates.toml)\n");
        return s;
    }
    s.push_str("  model       EER    EER(NUAA)  t@APCER=0  BPCER  BPCER(NUAA)  t@BPCER5%  APCER per species   mean live/attack\n");
    for m in &r.models {
        s.push_str(&format!(
            "  {:<10} {:>5.3}  {:>9.3}  {:>9.4}  {:>5.3}  {:>11.3}  {:>9.4}  {:<18} {:.3}/{:.3}\n",
            m.model,
            m.eer,
            m.eer_nuaa,
            m.threshold_apcer0,
            m.bpcer_at_apcer0,
            m.bpcer_nuaa_at_apcer0,
            m.threshold_bpcer5,
            m.apcer_at_bpcer5
                .iter()
                .map(|(k, v)| format!("{k} {v:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            m.bona_fide_mean,
            m.attack_mean
        ));
    }
    s
}
