//! One visit at the kiosk as a pure state machine (README: “Kiosk decisions”): it starts when a face appears
//! and ends when the face leaves, a result is shown, or the citizen chooses a fallback.
//! Identity evidence accumulates over the visit's good frames (the running mean of the probe
//! embeddings is searched); passive liveness evidence too (every good frame's score). The
//! head-turn challenge is a phase of the visit. "Not recognised" and "attack suspected" are
//! decided once per visit: later frames of the same visit repeat the decision and change
//! nothing until the face leaves. No I/O here: the caller searches the gallery and draws
//! the challenge's turns through the closures it passes in.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::challenge::{Challenge, ChallengeFrame, ChallengeRule, Failure, Outcome, Turn};
use super::{prompt_for, KioskState};
use crate::gallery::TopTwo;
use crate::vision::quality::Issue;

/// The passive check's operating point over a visit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassivePoint {
    /// Attack evidence: the median frame score of the visit is below this.
    pub reject: f32,
    /// Every good frame at or above this: live without a challenge.
    pub accept: f32,
    /// Good frames before the passive check may decide.
    pub min_frames: usize,
}

/// What the passive scores of a visit's good frames say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PassiveVerdict {
    /// Fewer than `min_frames` scores: not yet.
    TooFew,
    /// Clear attack evidence: the median score is below `reject`.
    Attack(f32),
    /// Every score at or above `accept`: live without a challenge.
    Live,
    /// Anything else (the median score).
    Doubt(f32),
}

impl PassivePoint {
    /// The policy over a visit (README: “Kiosk decisions”); `hoso eval-pad` judges with the same function.
    pub fn judge(&self, scores: &[f32]) -> PassiveVerdict {
        if scores.len() < self.min_frames {
            return PassiveVerdict::TooFew;
        }
        let m = median(scores);
        if m < self.reject {
            PassiveVerdict::Attack(m)
        } else if scores.iter().all(|&s| s >= self.accept) {
            PassiveVerdict::Live
        } else {
            PassiveVerdict::Doubt(m)
        }
    }
}

/// How a visit is checked for presentation attacks before any result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LivenessRule {
    /// No defence (tests of recognition alone).
    Off,
    /// The head-turn challenge before every face result.
    Active,
    /// The passive check alone: confidently live → result; attack → refused; in doubt →
    /// the fallbacks, no challenge.
    Passive(PassivePoint),
    /// The default: the passive check, and the challenge whenever it is not confident.
    PassiveActive(PassivePoint),
}

impl LivenessRule {
    pub fn passive(&self) -> Option<PassivePoint> {
        match self {
            Self::Passive(p) | Self::PassiveActive(p) => Some(*p),
            _ => None,
        }
    }
}

/// The operating point of a visit.
#[derive(Debug, Clone, Copy)]
pub struct VisitRule {
    /// Accept when the mean embedding's best identity scores at least this…
    pub threshold: f32,
    /// …and leads the runner-up by this…
    pub margin: f32,
    /// …after at least this many good frames.
    pub min_frames: usize,
    /// Good frames after which the visit is "not recognised".
    pub no_match_frames: usize,
    /// The second step (`kiosk::scale`): a best identity at or above this but below
    /// `threshold` (or without the margin) after `ask_after` good frames gets the question
    /// of its ID digits instead of a result. Equal to `threshold`: never asked.
    pub ask: f32,
    pub ask_after: usize,
    /// A challenge frame is "the same person" when the claimed identity is the best match
    /// at or above this (the verification threshold: turned faces score lower).
    pub verify_threshold: f32,
    pub liveness: LivenessRule,
    pub challenge: ChallengeRule,
    /// No face for this long ends the visit.
    pub leave: Duration,
}

/// The caller's side of a frame: gallery search, template similarity, random turns.
pub struct Ports<'a> {
    /// The best two identities for a (not necessarily normalised) template.
    pub search: &'a mut dyn FnMut(&[f32]) -> TopTwo,
    /// The scorer's similarity of the visit's (not normalised) evidence and one template.
    pub similar: &'a mut dyn FnMut(&[f32], &[f32]) -> f32,
    /// A challenge's head turns.
    pub turns: &'a mut dyn FnMut(usize) -> Vec<Turn>,
}

/// What one frame showed.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    NoFace,
    /// A face the quality gate refused, with what to tell the person.
    Poor(Issue),
    /// A face, not analysed (the visit wanted only presence).
    Present,
    /// A face: its template, head yaw (degrees) and passive liveness score, if measured.
    Face {
        template: &'a [f32],
        yaw: f32,
        passive: Option<f32>,
    },
}

/// What the caller must compute for the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Quality gate, template, and the passive score when the rule has one.
    Identify,
    /// Template and yaw of the main face, no quality gate (turned faces are the point).
    Challenge,
    /// Only whether a face is there (the visit is decided; waiting for the face to leave).
    Presence,
}

/// What the page shows of a running challenge.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChallengeView {
    pub steps: Vec<Turn>,
    pub done: usize,
    pub seconds_left: f32,
}

/// The identity evidence after a good frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub best: Option<(u64, f32)>,
    pub second: Option<f32>,
    pub frames: usize,
}

/// Something that happened once in this visit, for the caller to audit and count.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Matched {
        who: u64,
        score: f32,
        /// How liveness was established: "off", "passive" or "challenge".
        liveness: &'static str,
        steps: Option<Vec<Turn>>,
    },
    NoMatch,
    Attack {
        reason: &'static str,
        score: f32,
        passive: Option<f32>,
    },
    ChallengeStarted,
    /// The face is plausible but not sure enough at this gallery size: the kiosk asks the
    /// last ID digits of these candidates (identity, score), best first.
    Confirm {
        candidates: Vec<(u64, f32)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: KioskState,
    /// Prompt key for the page (locale files), if any.
    pub prompt: Option<&'static str>,
    pub event: Option<Event>,
    pub challenge: Option<ChallengeView>,
    pub evidence: Option<Evidence>,
    /// Time since the visit's first frame.
    pub age: Duration,
}

/// How long the kiosk waits for the answer of the second step.
pub const CONFIRM_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
enum Phase {
    Looking,
    Challenge(Challenge),
    /// Waiting for the ID digits of these candidates since the instant.
    Confirm(Vec<(u64, f32)>, Instant),
    Decided(KioskState, &'static str),
}

#[derive(Debug, Clone)]
struct Visit {
    started: Instant,
    sum: Vec<f32>,
    frames: usize,
    passive: Vec<f32>,
    /// Grey-zone candidates whose liveness is still being checked (the challenge ends in
    /// the question, not in a result).
    grey: Option<Vec<(u64, f32)>>,
    phase: Phase,
}

impl Visit {
    fn new(now: Instant) -> Self {
        Visit {
            started: now,
            sum: Vec::new(),
            frames: 0,
            passive: Vec::new(),
            grey: None,
            phase: Phase::Looking,
        }
    }
}

/// One kiosk session: its current visit, if a face is (or was just) in front of it.
#[derive(Debug, Clone, Default)]
pub struct Session {
    visit: Option<Visit>,
    /// Frames this page session has sent (the QR scan varies its enlargement by it).
    frames: u32,
    /// Where the face was in the last frame (the detector looks there first).
    pub track: crate::vision::detect::Track,
    last_face: Option<Instant>,
    pub(super) last_seen: Option<Instant>,
}

/// The median of `v` (NaN when empty).
pub fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let n = s.len();
    if n == 0 {
        return f32::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

impl Session {
    /// Counts a frame; its number in this page session.
    pub fn next_frame(&mut self) -> u32 {
        self.frames = self.frames.wrapping_add(1);
        self.frames
    }

    /// What to compute for the next frame.
    pub fn want(&self) -> Want {
        match self.visit.as_ref().map(|v| &v.phase) {
            Some(Phase::Challenge(_)) => Want::Challenge,
            Some(Phase::Decided(..) | Phase::Confirm(..)) => Want::Presence,
            _ => Want::Identify,
        }
    }

    /// The visit's age at `now` (zero without a visit).
    pub fn age(&self, now: Instant) -> Duration {
        self.visit
            .as_ref()
            .map_or(Duration::ZERO, |v| now.duration_since(v.started))
    }

    /// Ends the visit (a result was shown by QR or keypad, or the citizen chose a fallback).
    pub fn end_visit(&mut self) {
        self.visit = None;
        self.track.reset();
    }

    /// The candidates of a second step waiting for its answer at `now`, if any.
    pub fn pending_confirm(&self, now: Instant) -> Option<&[(u64, f32)]> {
        match self.visit.as_ref().map(|v| &v.phase) {
            Some(Phase::Confirm(c, since)) if now.duration_since(*since) < CONFIRM_WAIT => Some(c),
            _ => None,
        }
    }

    /// The answer of the second step: the one candidate whose digits were typed (a result,
    /// the visit over), or None ("not recognised" for the rest of the visit).
    pub fn resolve_confirm(&mut self, who: Option<(u64, f32)>, now: Instant) -> Decision {
        let mut d = Decision {
            state: KioskState::NoMatch,
            prompt: Some("prompt.not_recognised"),
            event: None,
            challenge: None,
            evidence: None,
            age: self.age(now),
        };
        match who {
            Some((who, score)) => self.decide_match(&mut d, who, score, "second_step", None),
            None => self.decide(
                &mut d,
                KioskState::NoMatch,
                "prompt.not_recognised",
                Event::NoMatch,
            ),
        }
        d
    }

    /// Feeds one frame.
    pub fn observe(
        &mut self,
        obs: Observation,
        now: Instant,
        rule: &VisitRule,
        ports: &mut Ports,
    ) -> Decision {
        let mut d = Decision {
            state: KioskState::Searching,
            prompt: Some("prompt.step_in"),
            event: None,
            challenge: None,
            evidence: None,
            age: Duration::ZERO,
        };
        if matches!(obs, Observation::NoFace) {
            let gone = self
                .last_face
                .is_none_or(|t| now.duration_since(t) >= rule.leave);
            if gone {
                self.visit = None;
                return d;
            }
        } else {
            self.last_face = Some(now);
        }
        // An unanswered question expires: the next frames start a new visit.
        if let Some(Phase::Confirm(_, since)) = self.visit.as_ref().map(|v| &v.phase) {
            if now.duration_since(*since) >= CONFIRM_WAIT {
                self.visit = None;
            }
        }
        let visit = self.visit.get_or_insert_with(|| Visit::new(now));
        d.age = now.duration_since(visit.started);
        let mut ended = None;
        match &mut visit.phase {
            Phase::Decided(state, prompt) => {
                d.state = *state;
                d.prompt = Some(*prompt);
            }
            Phase::Confirm(..) => {
                d.state = KioskState::Confirm;
                d.prompt = Some("prompt.confirm_digits");
            }
            Phase::Challenge(ch) => {
                ended = challenge_frame(ch, &mut visit.grey, &obs, now, rule, ports, &mut d);
            }
            Phase::Looking => match obs {
                Observation::NoFace => {}
                Observation::Present => {
                    d.state = KioskState::HoldStill;
                    d.prompt = Some("prompt.hold_still");
                }
                Observation::Poor(issue) => {
                    d.state = KioskState::HoldStill;
                    d.prompt = Some(prompt_for(issue));
                }
                Observation::Face {
                    template, passive, ..
                } => self.looking(&mut d, template, passive, now, rule, ports),
            },
        }
        match ended {
            Some(Ok((_, _, _, Some(candidates)))) => self.ask(&mut d, candidates, now),
            Some(Ok((who, score, steps, None))) => {
                self.decide_match(&mut d, who, score, "challenge", Some(steps))
            }
            Some(Err((reason, score))) => self.decide_attack(&mut d, reason, score, None),
            None => {}
        }
        d
    }

    /// A frame of a visit still looking for its person: the evidence grows by the frame and
    /// the rule decides (a match, the second step, a challenge, an attack or not yet).
    fn looking(
        &mut self,
        d: &mut Decision,
        template: &[f32],
        passive: Option<f32>,
        now: Instant,
        rule: &VisitRule,
        ports: &mut Ports,
    ) {
        let Some(v) = self.visit.as_mut() else { return };
        // Somebody else stepped in without the face ever leaving the picture: the evidence
        // so far is another person's, so the visit starts again.
        if v.frames > 0
            && (v.sum.len() != template.len()
                || (ports.similar)(&v.sum, template) < rule.verify_threshold)
        {
            *v = Visit::new(now);
            d.age = Duration::ZERO;
        }
        if v.sum.len() != template.len() {
            v.sum = vec![0.0; template.len()];
        }
        v.sum.iter_mut().zip(template).for_each(|(s, t)| *s += t);
        v.frames += 1;
        v.passive.extend(passive);
        let top = (ports.search)(&v.sum);
        let ev = Evidence {
            best: top.best.map(|h| (h.identity, h.score)),
            second: top.second.map(|h| h.score),
            frames: v.frames,
        };
        d.evidence = Some(ev);
        d.state = KioskState::HoldStill;
        d.prompt = Some("prompt.hold_still");
        let score = ev.best.map_or(f32::NAN, |b| b.1);
        let verdict = rule.liveness.passive().map(|p| p.judge(&v.passive));
        // Clear attack evidence ends the visit whoever the face resembles.
        if let Some(PassiveVerdict::Attack(m)) = verdict {
            return self.decide_attack(d, "passive", score, Some(m));
        }
        let candidate = ev.best.filter(|&(_, s)| {
            v.frames >= rule.min_frames && s >= rule.threshold && top.margin() >= rule.margin
        });
        // Plausible but not sure enough at this gallery size: the best two at or above
        // `ask` become the second step's candidates.
        let grey = (candidate.is_none() && v.frames >= rule.ask_after.max(rule.min_frames))
            .then(|| grey_zone(&top, rule.ask))
            .flatten();
        let Some((who, score)) = candidate.or_else(|| grey.as_ref().map(|c| c[0])) else {
            if v.frames >= rule.no_match_frames {
                self.decide(
                    d,
                    KioskState::NoMatch,
                    "prompt.not_recognised",
                    Event::NoMatch,
                );
            }
            return;
        };
        match (rule.liveness, verdict) {
            (_, Some(PassiveVerdict::TooFew)) => {}
            (LivenessRule::Off, _) | (_, Some(PassiveVerdict::Live)) if grey.is_some() => {
                self.ask(d, grey.unwrap_or_default(), now)
            }
            (LivenessRule::Off, _) => self.decide_match(d, who, score, "off", None),
            (_, Some(PassiveVerdict::Live)) => self.decide_match(d, who, score, "passive", None),
            (LivenessRule::Passive(_), Some(PassiveVerdict::Doubt(m))) => {
                self.decide_attack(d, "not_confidently_live", score, Some(m))
            }
            _ => {
                let ch = Challenge::new(who, (ports.turns)(rule.challenge.steps), score, now);
                d.state = KioskState::Challenge;
                d.prompt = Some(ch.prompt());
                d.challenge = Some(view(&ch, rule, now));
                d.event = Some(Event::ChallengeStarted);
                v.grey = grey;
                v.phase = Phase::Challenge(ch);
            }
        }
    }

    /// The second step: the kiosk asks the candidates' ID digits.
    fn ask(&mut self, d: &mut Decision, candidates: Vec<(u64, f32)>, now: Instant) {
        d.state = KioskState::Confirm;
        d.prompt = Some("prompt.confirm_digits");
        d.event = Some(Event::Confirm {
            candidates: candidates.clone(),
        });
        if let Some(v) = self.visit.as_mut() {
            v.phase = Phase::Confirm(candidates, now);
        }
    }

    fn decide(&mut self, d: &mut Decision, state: KioskState, prompt: &'static str, e: Event) {
        d.state = state;
        d.prompt = Some(prompt);
        d.event = Some(e);
        if let Some(v) = self.visit.as_mut() {
            v.phase = Phase::Decided(state, prompt);
        }
    }

    fn decide_match(
        &mut self,
        d: &mut Decision,
        who: u64,
        score: f32,
        liveness: &'static str,
        steps: Option<Vec<Turn>>,
    ) {
        let e = Event::Matched {
            who,
            score,
            liveness,
            steps,
        };
        // The result is shown: the visit is over, the next face starts a new one.
        d.state = KioskState::Matched;
        d.prompt = None;
        d.event = Some(e);
        self.visit = None;
        self.last_face = None;
    }

    fn decide_attack(
        &mut self,
        d: &mut Decision,
        reason: &'static str,
        score: f32,
        passive: Option<f32>,
    ) {
        let e = Event::Attack {
            reason,
            score,
            passive,
        };
        self.decide(d, KioskState::SpoofSuspected, "prompt.challenge_failed", e);
    }
}

fn view(ch: &Challenge, rule: &VisitRule, now: Instant) -> ChallengeView {
    ChallengeView {
        steps: ch.steps.clone(),
        done: ch.done,
        seconds_left: ch.remaining(&rule.challenge, now),
    }
}

/// The best two at or above `ask`, if any: the second step's candidates.
fn grey_zone(top: &TopTwo, ask: f32) -> Option<Vec<(u64, f32)>> {
    let c: Vec<(u64, f32)> = [top.best, top.second]
        .into_iter()
        .flatten()
        .filter(|h| h.score >= ask)
        .map(|h| (h.identity, h.score))
        .collect();
    (!c.is_empty()).then_some(c)
}

/// How a head-turn challenge ended: passed (who, score, the turns asked, the grey-zone
/// candidates still to ask) or failed (why, score).
type Ended = Result<(u64, f32, Vec<Turn>, Option<Vec<(u64, f32)>>), (&'static str, f32)>;

/// One frame of a running head-turn challenge; Some when the challenge ended.
fn challenge_frame(
    ch: &mut Challenge,
    grey: &mut Option<Vec<(u64, f32)>>,
    obs: &Observation,
    now: Instant,
    rule: &VisitRule,
    ports: &mut Ports,
    d: &mut Decision,
) -> Option<Ended> {
    let frame = match obs {
        Observation::Face { template, yaw, .. } => {
            let same_person = (ports.search)(template)
                .best
                .filter(|b| b.score >= rule.verify_threshold)
                .map(|b| b.identity == ch.identity);
            ChallengeFrame::Face {
                yaw: *yaw,
                same_person,
            }
        }
        _ => ChallengeFrame::NoFace,
    };
    match ch.observe(frame, &rule.challenge, now) {
        Outcome::Continue(prompt) => {
            d.state = KioskState::Challenge;
            d.prompt = Some(prompt);
            d.challenge = Some(view(ch, rule, now));
            None
        }
        Outcome::Passed => Some(Ok((ch.identity, ch.score, ch.steps.clone(), grey.take()))),
        Outcome::Failed(f) => {
            let reason = match f {
                Failure::Timeout => "timeout",
                Failure::WrongDirection => "wrong_direction",
                Failure::OtherPerson => "other_person",
            };
            Some(Err((reason, ch.score)))
        }
    }
}

#[cfg(test)]
#[path = "visit_tests.rs"]
mod tests;
