//! The kiosk's operating point at its gallery's real size (README: “Kiosk decisions at
//! scale”, DESIGN §6). In a 1:N search every enrolled person is one more chance for a
//! stranger to resemble somebody: FPIR(N, t) = 1 − (1 − FMR(t))^N. FMR(t), the chance that
//! a stranger's visit scores t or more against one enrolled person, is modelled by an
//! exponential tail fitted on a large distractor set of the population the kiosk serves
//! (`hoso eval --distractors … --calibrate`): FMR(t) = exceed · e^(−(t − from)/scale).
//!
//! From the target FPIR and N the kiosk derives two thresholds:
//! - **ask**: between `ask` and `accept` the face is plausible but not sure enough at this
//!   N, so the kiosk asks the last two digits of the citizen's ID number for the top
//!   candidates (a stranger passes with odds 1 in 100 per candidate); `ask` spends at most
//!   half the FPIR budget. Below `ask`: "not recognised".
//! - **accept**: the face alone decides, with whatever budget the second step left (all of
//!   the other half, and more where the floor holds `ask` higher than the budget needs).
//!
//! Neither is ever below the profile's dev-calibrated floors. Pure arithmetic, no I/O.

use serde::{Deserialize, Serialize};

/// Odds that a stranger's own last two ID digits equal one candidate's.
pub const DIGITS_ODDS: f64 = 0.01;
/// Candidates the second step offers at most (the best two identities of the search).
pub const CANDIDATES: usize = 2;
/// The target visit FPIR when the manifest states none (DESIGN §6: ≤ 0.1 %).
pub const DEFAULT_TARGET_FPIR: f64 = 1e-3;

/// The share of impostor pairs the tail is fitted above (`hoso eval --distractors`).
pub const TAIL_SHARE: f64 = 1e-3;

/// The impostor tail of the kiosk scorer, per enrolled person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tail {
    /// Where the fit starts (a score).
    pub from: f32,
    /// The share of impostor comparisons at or above `from`.
    pub exceed: f64,
    /// Mean excess over `from` of those comparisons (the exponential's scale).
    pub scale: f32,
}

impl Tail {
    /// The modelled false-match rate of one comparison at threshold `t`.
    pub fn fmr(&self, t: f32) -> f64 {
        let z = f64::from(t - self.from) / f64::from(self.scale.max(1e-6));
        (self.exceed * (-z).exp()).min(1.0)
    }

    /// The threshold whose modelled false-match rate is `rate`.
    pub fn threshold(&self, rate: f64) -> f32 {
        let rate = rate.clamp(1e-300, 1.0);
        self.from + self.scale * (self.exceed / rate).ln() as f32
    }

    /// Fits the tail above the top `share` of `impostor` scores (maximum likelihood of an
    /// exponential excess: the mean excess). None with too few scores above it.
    pub fn fit(impostor: &mut [f32], share: f64) -> Option<Tail> {
        let n = impostor.len();
        let above = ((n as f64) * share).round() as usize;
        if above < 50 {
            return None;
        }
        impostor.sort_by(|a, b| b.total_cmp(a));
        let from = impostor[above - 1];
        let excess: f64 = impostor[..above]
            .iter()
            .map(|&s| f64::from(s - from))
            .sum::<f64>()
            / above as f64;
        Some(Tail {
            from,
            exceed: above as f64 / n as f64,
            scale: excess.max(1e-4) as f32,
        })
    }
}

/// The visit FPIR of `people` enrolled when each comparison false-matches with `fmr`.
pub fn fpir(fmr: f64, people: usize) -> f64 {
    1.0 - (1.0 - fmr.clamp(0.0, 1.0)).powf(people as f64)
}

/// The per-comparison rate that gives visit FPIR `target` over `people`.
fn per_person(target: f64, people: usize) -> f64 {
    1.0 - (1.0 - target.clamp(0.0, 1.0)).powf(1.0 / people.max(1) as f64)
}

/// The two thresholds for a kiosk that may match `people`, and what they promise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScalePoint {
    pub people: usize,
    /// The face alone decides at or above this.
    pub accept: f32,
    /// Between this and `accept`: the second step (ID digits). Equal to `accept` when the
    /// face never needs it.
    pub ask: f32,
    /// The modelled visit FPIR with both steps.
    pub expected_fpir: f64,
    pub target_fpir: f64,
}

/// Derives the operating point. `floor_accept` and `floor_ask` are the profile's
/// dev-calibrated visit and verification thresholds: the rule never goes below them.
pub fn point(
    tail: &Tail,
    people: usize,
    target_fpir: f64,
    floor_accept: f32,
    floor_ask: f32,
) -> ScalePoint {
    let n = people.max(1);
    let half = target_fpir / 2.0;
    let odds = DIGITS_ODDS * CANDIDATES as f64;
    let ask = tail
        .threshold(per_person((half / odds).min(1.0), n))
        .max(floor_ask);
    // What the second step spends (an upper bound: its zone ends at `accept`).
    let step = fpir(tail.fmr(ask), n) * odds;
    let accept = tail
        .threshold(per_person((target_fpir - step).max(target_fpir / 1e3), n))
        .max(floor_accept)
        .max(ask);
    let ask = ask.min(accept);
    let face = fpir(tail.fmr(accept), n);
    let expected = face + (fpir(tail.fmr(ask), n) - face).max(0.0) * odds;
    ScalePoint {
        people,
        accept,
        ask,
        expected_fpir: expected,
        target_fpir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIL: Tail = Tail {
        from: 0.35,
        exceed: 1e-3,
        scale: 0.04,
    };

    #[test]
    fn the_threshold_inverts_the_rate() {
        for t in [0.35f32, 0.5, 0.7] {
            assert!((TAIL.threshold(TAIL.fmr(t)) - t).abs() < 1e-5);
        }
        assert!((TAIL.fmr(0.35) - 1e-3).abs() < 1e-12);
    }

    #[test]
    fn more_people_need_a_higher_threshold_and_the_promise_holds() {
        let mut last = 0.0;
        for n in [40, 100, 1_000, 5_000, 50_000] {
            let p = point(&TAIL, n, 1e-3, 0.0, 0.0);
            assert!(p.accept > last, "{n}: {p:?}");
            assert!(p.ask < p.accept);
            assert!(p.expected_fpir <= 1e-3 * 1.0001, "{n}: {p:?}");
            // The second step spends at most half the budget, the face the rest.
            let step = fpir(TAIL.fmr(p.ask), n) * DIGITS_ODDS * CANDIDATES as f64;
            assert!(step <= 5e-4 * 1.0001, "{n}: {p:?}");
            assert!((fpir(TAIL.fmr(p.accept), n) + step - 1e-3).abs() < 1e-6);
            last = p.accept;
        }
    }

    #[test]
    fn the_floors_hold_for_a_small_office() {
        let p = point(&TAIL, 10, 1e-3, 0.49, 0.42);
        assert_eq!(p.accept, 0.49);
        assert!(p.ask >= 0.42 && p.ask <= p.accept);
        assert!(p.expected_fpir < 1e-3);
        // A floor above what the size needs leaves no room for the question.
        let p = point(&TAIL, 10, 1e-3, 0.49, 0.6);
        assert_eq!((p.accept, p.ask), (0.6, 0.6));
    }

    #[test]
    fn an_ask_floor_above_the_budget_leaves_the_face_the_rest() {
        // With ask held at 0.45, the question spends less than half: accept is lower
        // than with the even split.
        let free = point(&TAIL, 20, 1e-3, 0.0, 0.0);
        let held = point(&TAIL, 20, 1e-3, 0.0, 0.45);
        assert!(
            held.ask > free.ask && held.accept < free.accept,
            "{free:?} {held:?}"
        );
        assert!(held.expected_fpir <= 1e-3 * 1.0001);
    }

    #[test]
    fn a_fit_recovers_an_exponential_tail() {
        // Scores 0..1 uniform below, and an exponential tail of scale 0.05 above 0.4 for
        // the top 1 % (deterministic quantiles, no randomness).
        let n = 100_000;
        let mut v: Vec<f32> = (0..n)
            .map(|i| {
                let q = (i as f64 + 0.5) / n as f64; // upper-tail probability
                if q < 0.01 {
                    (0.4 - 0.05 * (q / 0.01).ln()) as f32
                } else {
                    (0.4 * (1.0 - q) / 0.99) as f32
                }
            })
            .collect();
        let t = Tail::fit(&mut v, 0.01).unwrap();
        assert!((t.from - 0.4).abs() < 0.002, "{t:?}");
        assert!((t.scale - 0.05).abs() < 0.003, "{t:?}");
        assert!((t.exceed - 0.01).abs() < 1e-4);
        assert!(Tail::fit(&mut v[..1000], 0.01).is_none());
    }
}
