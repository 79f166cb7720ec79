//! Similarity scorers: cosine per embedder, and the fused score (mean of the embedders'
//! z-normalised cosines, normalised with impostor statistics from calibration). Every
//! scorer is linear in the per-embedder dot products, so it is a weighted dot product over
//! the whole template, which is what lets the gallery search all scorers the same way.

use serde::Serialize;

use crate::vision::manifest::{Calibration, Manifest};
use crate::vision::Segment;

pub const FUSED: &str = "fused";

/// One way of scoring two templates, with its operating point.
#[derive(Debug, Clone, Serialize)]
pub struct Scorer {
    pub name: String,
    /// Weight of each segment's dot product (0 = unused).
    pub weights: Vec<f32>,
    pub bias: f32,
    /// Accept threshold for 1:N (kiosk) decisions, if calibrated.
    pub threshold: Option<f32>,
    /// Verification threshold at FAR 1e-3, if calibrated.
    pub threshold_far_1e3: Option<f32>,
    /// Required lead of the best identity over the second, if calibrated.
    pub margin: Option<f32>,
}

impl Scorer {
    pub fn score(&self, segments: &[Segment], a: &[f32], b: &[f32]) -> f32 {
        segments
            .iter()
            .zip(&self.weights)
            .filter(|(_, w)| **w != 0.0)
            .map(|(s, w)| {
                w * dot(
                    &a[s.offset..s.offset + s.dims],
                    &b[s.offset..s.offset + s.dims],
                )
            })
            .sum::<f32>()
            + self.bias
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Impostor mean and standard deviation of one embedder's cosine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZStats {
    pub mean: f32,
    pub std: f32,
}

/// Builds the scorers the manifest describes: one per embedder, then "fused".
/// `stats` overrides the manifest's z-normalisation (used while calibrating).
pub fn scorers(manifest: &Manifest, segments: &[Segment], stats: Option<&[ZStats]>) -> Vec<Scorer> {
    let n = segments.len();
    let cal = |c: &Option<Calibration>| c.clone().filter(|c| c.impostor_std > 0.0);
    let mut out = Vec::with_capacity(n + 1);
    let mut z = Vec::with_capacity(n);
    for (i, e) in manifest.embedders.iter().enumerate() {
        let c = cal(&e.calibration);
        let mut weights = vec![0.0; n];
        weights[i] = 1.0;
        z.push(match (stats, &c) {
            (Some(s), _) => s[i],
            (None, Some(c)) => ZStats {
                mean: c.impostor_mean,
                std: c.impostor_std,
            },
            (None, None) => ZStats {
                mean: 0.0,
                std: 1.0,
            },
        });
        out.push(Scorer {
            name: e.name.clone(),
            weights,
            bias: 0.0,
            threshold: c.as_ref().map(|c| c.threshold),
            threshold_far_1e3: c.as_ref().map(|c| c.threshold_far_1e3),
            margin: c.as_ref().map(|c| c.margin),
        });
    }
    let fused_cal = if stats.is_some() {
        None
    } else {
        manifest.scorer.fused.clone()
    };
    out.push(Scorer {
        name: FUSED.to_string(),
        weights: z.iter().map(|s| 1.0 / (n as f32 * s.std)).collect(),
        bias: -z.iter().map(|s| s.mean / (n as f32 * s.std)).sum::<f32>(),
        threshold: fused_cal.as_ref().map(|c| c.threshold),
        threshold_far_1e3: fused_cal.as_ref().map(|c| c.threshold_far_1e3),
        margin: fused_cal.as_ref().map(|c| c.margin),
    });
    out
}

/// The scorer called `name`.
pub fn scorer(manifest: &Manifest, segments: &[Segment], name: &str) -> Option<Scorer> {
    scorers(manifest, segments, None)
        .into_iter()
        .find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_is_mean_of_z_scores() {
        let segs = vec![
            Segment {
                name: "a".into(),
                offset: 0,
                dims: 2,
            },
            Segment {
                name: "b".into(),
                offset: 2,
                dims: 2,
            },
        ];
        let z = [
            ZStats {
                mean: 0.1,
                std: 0.2,
            },
            ZStats {
                mean: 0.3,
                std: 0.05,
            },
        ];
        let n = 2.0f32;
        let weights: Vec<f32> = z.iter().map(|s| 1.0 / (n * s.std)).collect();
        let bias = -z.iter().map(|s| s.mean / (n * s.std)).sum::<f32>();
        let s = Scorer {
            name: FUSED.into(),
            weights,
            bias,
            threshold: None,
            threshold_far_1e3: None,
            margin: None,
        };
        let a = [1.0, 0.0, 0.6, 0.8];
        let b = [0.8, 0.6, 1.0, 0.0];
        let (ca, cb) = (0.8f32, 0.6f32);
        let want = ((ca - 0.1) / 0.2 + (cb - 0.3) / 0.05) / 2.0;
        assert!((s.score(&segs, &a, &b) - want).abs() < 1e-5);
    }
}
