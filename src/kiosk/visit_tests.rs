//! Unit tests of the visit state machine (a gallery of three orthogonal identities).

use super::*;
use crate::gallery::Hit;

const LIVE: PassivePoint = PassivePoint {
    reject: 0.2,
    accept: 0.9,
    min_frames: 3,
};

fn rule(liveness: LivenessRule) -> VisitRule {
    VisitRule {
        threshold: 0.8,
        margin: 0.2,
        min_frames: 2,
        no_match_frames: 5,
        ask: 0.8,
        ask_after: 3,
        verify_threshold: 0.6,
        liveness,
        challenge: ChallengeRule {
            steps: 2,
            turn_deg: 12.0,
            centre_deg: 8.0,
            time: Duration::from_secs(10),
        },
        leave: Duration::from_secs(1),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (n(a) * n(b))
}

/// Cosine of the (normalised) probe with identities 1, 2, 3 = the unit axes.
fn search(t: &[f32]) -> TopTwo {
    let n = t.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    let mut hits: Vec<Hit> = (0..3)
        .map(|i| Hit {
            identity: i as u64 + 1,
            score: t[i] / n,
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    TopTwo {
        best: Some(hits[0]),
        second: Some(hits[1]),
    }
}

const P1: [f32; 3] = [1.0, 0.1, 0.0];
const P2: [f32; 3] = [0.1, 1.0, 0.0];
const STRANGER: [f32; 3] = [0.5, 0.5, 0.5];

struct Run {
    s: Session,
    rule: VisitRule,
    t: Instant,
}

impl Run {
    fn new(l: LivenessRule) -> Self {
        Run {
            s: Session::default(),
            rule: rule(l),
            t: Instant::now(),
        }
    }

    fn frame(&mut self, o: Observation) -> Decision {
        self.t += Duration::from_millis(200);
        let mut turns = |n: usize| vec![Turn::Left, Turn::Right][..n].to_vec();
        let mut similar = |a: &[f32], b: &[f32]| cosine(a, b);
        let mut ports = Ports {
            search: &mut search,
            similar: &mut similar,
            turns: &mut turns,
        };
        self.s.observe(o, self.t, &self.rule, &mut ports)
    }

    fn face(&mut self, t: &[f32], yaw: f32, passive: Option<f32>) -> Decision {
        self.frame(Observation::Face {
            template: t,
            yaw,
            passive,
        })
    }
}

fn matched(d: &Decision) -> Option<(u64, &'static str)> {
    match &d.event {
        Some(Event::Matched { who, liveness, .. }) => Some((*who, *liveness)),
        _ => None,
    }
}

#[test]
fn evidence_accumulates_and_matches_after_min_frames() {
    let mut r = Run::new(LivenessRule::Off);
    let d = r.face(&P1, 0.0, None);
    assert_eq!(d.state, KioskState::HoldStill);
    assert_eq!(d.evidence.unwrap().frames, 1);
    let d = r.face(&P1, 0.0, None);
    assert_eq!(d.state, KioskState::Matched);
    assert_eq!(matched(&d), Some((1, "off")));
    // The visit is over: the next face starts a new one.
    assert_eq!(r.face(&P1, 0.0, None).evidence.unwrap().frames, 1);
}

#[test]
fn a_stranger_is_not_recognised_once_per_visit_until_the_face_leaves() {
    let mut r = Run::new(LivenessRule::Off);
    let mut events = 0;
    for _ in 0..12 {
        let d = r.face(&STRANGER, 0.0, None);
        events += usize::from(d.event == Some(Event::NoMatch));
        if events > 0 {
            assert_eq!(d.state, KioskState::NoMatch);
        }
    }
    assert_eq!(events, 1, "not recognised is said once");
    // A moment without a face is not leaving…
    assert_eq!(r.frame(Observation::NoFace).state, KioskState::NoMatch);
    // …a second is: the next face starts a new visit.
    for _ in 0..5 {
        r.frame(Observation::NoFace);
    }
    assert_eq!(r.face(&P1, 0.0, None).state, KioskState::HoldStill);
    assert_eq!(matched(&r.face(&P1, 0.0, None)), Some((1, "off")));
}

#[test]
fn another_person_stepping_in_starts_a_new_visit() {
    let mut r = Run::new(LivenessRule::Off);
    // A weak look at person 1 (below the threshold), then person 2 steps in.
    r.face(&[0.7, 0.1, 0.7], 0.0, None);
    let d = r.face(&P2, 0.0, None);
    assert_eq!(d.evidence.unwrap().frames, 1, "the evidence started again");
    assert_eq!(matched(&r.face(&P2, 0.0, None)), Some((2, "off")));
}

#[test]
fn alternating_people_never_match_and_poor_frames_add_nothing() {
    let mut r = Run::new(LivenessRule::Off);
    let d = r.frame(Observation::Poor(Issue::TooSmall));
    assert_eq!(
        (d.state, d.prompt),
        (KioskState::HoldStill, Some("prompt.closer"))
    );
    for i in 0..5 {
        let d = r.face(if i % 2 == 0 { &P1 } else { &P2 }, 0.0, None);
        assert_eq!(matched(&d), None);
    }
}

#[test]
fn confident_passive_frames_skip_the_challenge() {
    let mut r = Run::new(LivenessRule::PassiveActive(LIVE));
    assert_eq!(r.face(&P1, 0.0, Some(0.99)).state, KioskState::HoldStill);
    // Identity is clear after 2 frames, but the passive check needs 3.
    assert_eq!(r.face(&P1, 0.0, Some(0.95)).state, KioskState::HoldStill);
    assert_eq!(matched(&r.face(&P1, 0.0, Some(0.97))), Some((1, "passive")));
}

#[test]
fn one_doubtful_frame_means_the_challenge_and_it_can_be_passed() {
    let mut r = Run::new(LivenessRule::PassiveActive(LIVE));
    r.face(&P1, 0.0, Some(0.99));
    r.face(&P1, 0.0, Some(0.5));
    let d = r.face(&P1, 0.0, Some(0.99));
    assert_eq!(d.state, KioskState::Challenge);
    assert_eq!(d.event, Some(Event::ChallengeStarted));
    assert_eq!(
        d.challenge.as_ref().unwrap().steps,
        vec![Turn::Left, Turn::Right]
    );
    // Turned faces skip the quality gate; the same person turns left, back, right.
    assert_eq!(r.s.want(), Want::Challenge);
    assert_eq!(r.face(&P1, 20.0, None).state, KioskState::Challenge);
    assert_eq!(r.face(&P1, 0.0, None).state, KioskState::Challenge);
    assert_eq!(matched(&r.face(&P1, -20.0, None)), Some((1, "challenge")));
}

#[test]
fn a_failed_challenge_is_decided_once_and_never_restarts() {
    let mut r = Run::new(LivenessRule::Active);
    r.face(&P1, 0.0, None);
    assert_eq!(r.face(&P1, 0.0, None).state, KioskState::Challenge);
    let d = r.face(&P1, -20.0, None); // asked left, turned right
    assert!(matches!(
        d.event,
        Some(Event::Attack {
            reason: "wrong_direction",
            ..
        })
    ));
    assert_eq!(r.s.want(), Want::Presence);
    for _ in 0..20 {
        let d = r.face(&P1, 0.0, None);
        assert_eq!((d.state, d.event), (KioskState::SpoofSuspected, None));
    }
}

#[test]
fn clear_passive_attack_evidence_is_refused_whoever_it_resembles() {
    let mut r = Run::new(LivenessRule::PassiveActive(LIVE));
    r.face(&P1, 0.0, Some(0.01));
    r.face(&P1, 0.0, Some(0.95)); // one replay frame scoring high changes nothing
    let d = r.face(&P1, 0.0, Some(0.05));
    assert_eq!(d.state, KioskState::SpoofSuspected);
    assert!(matches!(
        d.event,
        Some(Event::Attack {
            reason: "passive",
            ..
        })
    ));
}

#[test]
fn passive_alone_gives_the_fallback_when_in_doubt() {
    let mut r = Run::new(LivenessRule::Passive(LIVE));
    r.face(&P1, 0.0, Some(0.99));
    r.face(&P1, 0.0, Some(0.6));
    let d = r.face(&P1, 0.0, Some(0.99));
    assert_eq!(d.state, KioskState::SpoofSuspected);
}

/// Plausible for identity 1 (0.76) and 3 (0.64), sure of neither.
const GREY: [f32; 3] = [0.6, 0.1, 0.5];

fn asked(d: &Decision) -> Option<Vec<u64>> {
    match &d.event {
        Some(Event::Confirm { candidates }) => Some(candidates.iter().map(|c| c.0).collect()),
        _ => None,
    }
}

#[test]
fn the_grey_zone_asks_for_the_id_digits_of_the_best_two_and_never_shows_a_result() {
    let mut r = Run::new(LivenessRule::Off);
    r.rule.ask = 0.5;
    assert_eq!(r.face(&GREY, 0.0, None).state, KioskState::HoldStill);
    assert_eq!(r.face(&GREY, 0.0, None).state, KioskState::HoldStill);
    let d = r.face(&GREY, 0.0, None);
    assert_eq!(d.state, KioskState::Confirm);
    assert_eq!(asked(&d), Some(vec![1, 3]));
    assert_eq!(r.s.want(), Want::Presence);
    // Frames while the pad is shown repeat the question and change nothing.
    let d = r.face(&GREY, 0.0, None);
    assert_eq!((d.state, d.event), (KioskState::Confirm, None));
    let c = r.s.pending_confirm(r.t).unwrap().to_vec();
    assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 3]);
    // The right digits of candidate 3: that person's result, the visit over.
    let d = r.s.resolve_confirm(Some(c[1]), r.t);
    assert_eq!(matched(&d), Some((3, "second_step")));
    assert!(r.s.pending_confirm(r.t).is_none());
}

#[test]
fn wrong_digits_end_in_not_recognised_for_the_rest_of_the_visit() {
    let mut r = Run::new(LivenessRule::Off);
    r.rule.ask = 0.5;
    for _ in 0..3 {
        r.face(&GREY, 0.0, None);
    }
    let d = r.s.resolve_confirm(None, r.t);
    assert_eq!(
        (d.state, d.event),
        (KioskState::NoMatch, Some(Event::NoMatch))
    );
    assert!(r.s.pending_confirm(r.t).is_none());
    for _ in 0..5 {
        let d = r.face(&GREY, 0.0, None);
        assert_eq!((d.state, d.event), (KioskState::NoMatch, None));
    }
}

#[test]
fn an_unanswered_question_expires() {
    let mut r = Run::new(LivenessRule::Off);
    r.rule.ask = 0.5;
    for _ in 0..3 {
        r.face(&GREY, 0.0, None);
    }
    assert!(r.s.pending_confirm(r.t).is_some());
    r.t += CONFIRM_WAIT;
    assert!(r.s.pending_confirm(r.t).is_none());
    // The next face starts a new visit.
    assert_eq!(r.face(&P1, 0.0, None).evidence.unwrap().frames, 1);
}

#[test]
fn below_ask_is_not_recognised_and_a_sure_face_is_never_asked() {
    let mut r = Run::new(LivenessRule::Off);
    r.rule.ask = 0.7;
    r.rule.margin = 0.0;
    for _ in 0..5 {
        assert_eq!(asked(&r.face(&STRANGER, 0.0, None)), None);
    }
    let mut r = Run::new(LivenessRule::Off);
    r.rule.ask = 0.5;
    r.face(&P1, 0.0, None);
    assert_eq!(matched(&r.face(&P1, 0.0, None)), Some((1, "off")));
}

#[test]
fn a_doubtful_grey_visit_passes_the_challenge_into_the_question() {
    let mut r = Run::new(LivenessRule::PassiveActive(LIVE));
    r.rule.ask = 0.5;
    r.face(&GREY, 0.0, Some(0.99));
    r.face(&GREY, 0.0, Some(0.5));
    let d = r.face(&GREY, 0.0, Some(0.99));
    assert_eq!(d.state, KioskState::Challenge);
    r.face(&GREY, 20.0, None);
    r.face(&GREY, 0.0, None);
    let d = r.face(&GREY, -20.0, None);
    assert_eq!(d.state, KioskState::Confirm);
    assert_eq!(asked(&d), Some(vec![1, 3]));
}

#[test]
fn median_of_even_and_odd() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(&[]).is_nan());
}
