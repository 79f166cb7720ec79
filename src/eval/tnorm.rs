//! Score normalisation against the probe's own scores over the gallery (T-norm), measured
//! beside the raw score in `hoso eval --distractors`: z = (best − mean) / std of the probe's
//! scores against every enrolled template. The z impostor tail is fitted on the gallery's
//! distractors the same way as the raw one (each distractor's scores against the others),
//! and the same two-step rule is applied at each N. Evaluation only: the kiosk keeps
//! whichever the measurements support.

use serde::Serialize;

use crate::kiosk::scale::{self, Tail, CANDIDATES, DIGITS_ODDS};
use crate::score::Scorer;
use crate::vision::Segment;

#[derive(Debug, Clone, Serialize)]
pub struct TnormRow {
    pub people: usize,
    pub tail: Tail,
    pub accept: f32,
    pub ask: f32,
    pub non_mated: usize,
    pub non_mated_accepted: usize,
    pub non_mated_asked: usize,
    pub fpir: f64,
    pub mated: usize,
    pub mated_by_face: usize,
    pub mated_by_second_step: usize,
    pub wrong_person: usize,
    pub fnir: f64,
}

/// One probe's scores against a gallery of (identity, template).
struct Scored {
    /// Per identity: the best score, best first.
    ranked: Vec<(u64, f32)>,
    mean: f32,
    std: f32,
}

fn score_all(
    probe: &[f32],
    gallery: &[(u64, &[f32])],
    segs: &[Segment],
    scorer: &Scorer,
    skip: Option<usize>,
) -> Scored {
    let mut best: std::collections::HashMap<u64, f32> = Default::default();
    let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for (k, (id, t)) in gallery.iter().enumerate() {
        if Some(k) == skip {
            continue;
        }
        let s = scorer.score(segs, probe, t);
        sum += f64::from(s);
        sq += f64::from(s) * f64::from(s);
        n += 1;
        let e = best.entry(*id).or_insert(f32::MIN);
        *e = e.max(s);
    }
    let mean = sum / n.max(1) as f64;
    let std = (sq / n.max(1) as f64 - mean * mean).max(1e-12).sqrt();
    let mut ranked: Vec<(u64, f32)> = best.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Scored {
        ranked,
        mean: mean as f32,
        std: std as f32,
    }
}

/// The z-space tail: every pool distractor's z-scores against the rest of the pool.
pub fn fit_tail(pool: &[&[f32]], segs: &[Segment], scorer: &Scorer) -> Option<Tail> {
    let gallery: Vec<(u64, &[f32])> = pool
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u64, *t))
        .collect();
    let mut z = Vec::with_capacity(pool.len() * pool.len());
    for (i, t) in pool.iter().enumerate() {
        let s = score_all(t, &gallery, segs, scorer, Some(i));
        z.extend(s.ranked.iter().map(|(_, v)| (v - s.mean) / s.std));
    }
    Tail::fit(&mut z, scale::TAIL_SHARE)
}

/// The rule in z-space at one gallery: probes are (template, truth).
#[allow(clippy::too_many_arguments)]
pub fn row(
    tail: &Tail,
    gallery: &[(u64, &[f32])],
    people: usize,
    probes: &[(&[f32], Option<u64>)],
    segs: &[Segment],
    scorer: &Scorer,
    target: f64,
    margin_z: f32,
) -> TnormRow {
    let p = scale::point(tail, people, target, f32::MIN, f32::MIN);
    let (mut acc, mut asked, mut passes) = (0, 0, 0.0);
    let (mut face, mut step, mut wrong, mut mated, mut non) = (0, 0, 0, 0, 0);
    for (t, truth) in probes {
        let s = score_all(t, gallery, segs, scorer, None);
        let z = |v: f32| (v - s.mean) / s.std;
        let Some(&(best, b)) = s.ranked.first() else {
            continue;
        };
        let second = s.ranked.get(1).map_or(f32::MIN, |x| z(x.1));
        let zb = z(b);
        let verdict = if zb >= p.accept && zb - second >= margin_z {
            Some(vec![best])
        } else if zb >= p.ask {
            let mut c: Vec<u64> = s
                .ranked
                .iter()
                .take(CANDIDATES)
                .filter(|x| z(x.1) >= p.ask)
                .map(|x| x.0)
                .collect();
            c.insert(0, u64::MAX); // marks "asked"
            Some(c)
        } else {
            None
        };
        match truth {
            None => {
                non += 1;
                match verdict {
                    Some(c) if c[0] == u64::MAX => {
                        asked += 1;
                        passes += (c.len() - 1) as f64 * DIGITS_ODDS;
                    }
                    Some(_) => acc += 1,
                    None => {}
                }
            }
            Some(tr) => {
                mated += 1;
                match verdict {
                    Some(c) if c[0] == u64::MAX => step += usize::from(c[1..].contains(tr)),
                    Some(c) if c[0] == *tr => face += 1,
                    Some(_) => wrong += 1,
                    None => {}
                }
            }
        }
    }
    TnormRow {
        people,
        tail: *tail,
        accept: p.accept,
        ask: p.ask,
        non_mated: non,
        non_mated_accepted: acc,
        non_mated_asked: asked,
        fpir: (acc as f64 + passes) / non.max(1) as f64,
        mated,
        mated_by_face: face,
        mated_by_second_step: step,
        wrong_person: wrong,
        fnir: 1.0 - (face + step) as f64 / mated.max(1) as f64,
    }
}
