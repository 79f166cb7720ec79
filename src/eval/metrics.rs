//! Biometric error rates from score lists (higher score = more alike): thresholds at a
//! false-accept rate, TAR, EER, and the 1:N rates FNIR and FPIR.

/// The lowest threshold `t` (accept when score >= t) whose false rate on `negatives` is at
/// most `rate`. `negatives` need not be sorted.
pub fn threshold_at_rate(negatives: &[f32], rate: f64) -> f32 {
    if negatives.is_empty() {
        return f32::NEG_INFINITY;
    }
    let mut v = negatives.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    let allowed = (rate * v.len() as f64).floor() as usize;
    if allowed >= v.len() {
        return f32::NEG_INFINITY;
    }
    // Accepting v[allowed] would make allowed+1 false accepts: start just above it.
    v[allowed].next_up()
}

/// Share of `scores` at or above `t`.
pub fn rate_at_or_above(scores: &[f32], t: f32) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s >= t).count() as f64 / scores.len() as f64
}

/// Equal error rate: where the false-accept and false-reject rates cross.
pub fn eer(genuine: &[f32], impostor: &[f32]) -> f64 {
    if genuine.is_empty() || impostor.is_empty() {
        return f64::NAN;
    }
    let mut g = genuine.to_vec();
    let mut i = impostor.to_vec();
    g.sort_by(f32::total_cmp);
    i.sort_by(f32::total_cmp);
    let mut cands: Vec<f32> = g.iter().chain(&i).copied().collect();
    cands.sort_by(f32::total_cmp);
    cands.dedup();
    let (ng, ni) = (g.len() as f64, i.len() as f64);
    let mut best = (f64::INFINITY, f64::NAN);
    for t in cands {
        // FRR: genuine below t; FAR: impostor at or above t.
        let frr = g.partition_point(|&s| s < t) as f64 / ng;
        let far = (i.len() - i.partition_point(|&s| s < t)) as f64 / ni;
        let gap = (far - frr).abs();
        if gap < best.0 {
            best = (gap, (far + frr) / 2.0);
        }
    }
    best.1
}

/// One mated 1:N search: whether the right identity came first, and its score.
#[derive(Debug, Clone, Copy)]
pub struct MatedResult {
    pub rank1_correct: bool,
    pub top_score: f32,
}

/// FNIR at the threshold where FPIR (share of non-mated searches whose top score is at or
/// above it) is at most `fpir`. Returns (fnir, threshold).
pub fn fnir_at_fpir(mated: &[MatedResult], non_mated_top: &[f32], fpir: f64) -> (f64, f32) {
    let t = threshold_at_rate(non_mated_top, fpir);
    let misses = mated
        .iter()
        .filter(|m| !(m.rank1_correct && m.top_score >= t))
        .count();
    let fnir = if mated.is_empty() {
        f64::NAN
    } else {
        misses as f64 / mated.len() as f64
    };
    (fnir, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_allows_exactly_the_rate() {
        let neg: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let t = threshold_at_rate(&neg, 0.01);
        assert_eq!(rate_at_or_above(&neg, t), 0.01);
        let t0 = threshold_at_rate(&neg, 0.0001);
        assert_eq!(rate_at_or_above(&neg, t0), 0.0);
        assert!(t0 > 0.999);
    }

    #[test]
    fn eer_of_separable_and_overlapping() {
        assert_eq!(eer(&[0.9, 0.8], &[0.1, 0.2]), 0.0);
        let g = [0.1, 0.2, 0.3, 0.4];
        assert!((eer(&g, &g) - 0.5).abs() <= 0.25);
    }

    #[test]
    fn fnir_counts_wrong_rank_and_low_scores() {
        let mated = [
            MatedResult {
                rank1_correct: true,
                top_score: 0.9,
            },
            MatedResult {
                rank1_correct: false,
                top_score: 0.95,
            },
            MatedResult {
                rank1_correct: true,
                top_score: 0.3,
            },
            MatedResult {
                rank1_correct: true,
                top_score: 0.8,
            },
        ];
        let nm = [0.1, 0.2, 0.5, 0.4];
        let (fnir, t) = fnir_at_fpir(&mated, &nm, 0.0);
        assert!(t > 0.5 && t < 0.51);
        assert_eq!(fnir, 0.5);
    }
}
