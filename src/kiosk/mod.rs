//! The lobby kiosk's decision rules (DESIGN §6), independent of HTTP and storage: per
//! kiosk session, the last three good frames vote; a person is matched only when the same
//! identity cleared the threshold *and* led the runner-up by the margin in at least two of
//! them. Sessions expire when idle.

pub mod challenge;
pub mod qr;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::vision::quality::Issue;

/// What the kiosk page shows (DESIGN §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KioskState {
    Searching,
    HoldStill,
    Challenge,
    Matched,
    NoMatch,
    SpoofSuspected,
}

/// What one frame showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    NoFace,
    /// A face the quality gate refused, with what to tell the person.
    Poor(Issue),
    /// A good face: the best identity and its score, and the runner-up's score.
    Face {
        best: Option<(u64, f32)>,
        second: Option<f32>,
    },
}

/// Operating point of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub threshold: f32,
    pub margin: f32,
    /// Good frames that vote (3) and votes needed (2).
    pub window: usize,
    pub votes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: KioskState,
    /// Prompt key for the page (locale files), if any.
    pub prompt: Option<&'static str>,
    pub matched: Option<u64>,
}

#[derive(Debug, Default)]
struct Session {
    votes: VecDeque<Option<u64>>,
    challenge: Option<challenge::Challenge>,
    last_seen: Option<Instant>,
    first_seen: Option<Instant>,
}

/// All kiosk sessions.
pub struct Sessions {
    map: HashMap<String, Session>,
    idle: Duration,
    cap: usize,
}

impl Sessions {
    pub fn new(idle: Duration, cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            idle,
            cap,
        }
    }

    fn session(&mut self, id: &str, now: Instant) -> &mut Session {
        let idle = self.idle;
        self.map
            .retain(|_, s| s.last_seen.is_some_and(|t| now.duration_since(t) < idle));
        if self.map.len() >= self.cap && !self.map.contains_key(id) {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        let s = self.map.entry(id.to_string()).or_default();
        s.first_seen.get_or_insert(now);
        s.last_seen = Some(now);
        s
    }

    /// Ends a session (after a result, or when the person leaves).
    pub fn end(&mut self, id: &str) {
        self.map.remove(id);
    }

    /// Takes the session's running challenge out (put it back with `set_challenge`).
    pub fn take_challenge(&mut self, id: &str, now: Instant) -> Option<challenge::Challenge> {
        if !self.map.contains_key(id) {
            return None;
        }
        self.session(id, now).challenge.take()
    }

    /// Starts or continues a challenge in the session.
    pub fn set_challenge(&mut self, id: &str, c: challenge::Challenge, now: Instant) {
        self.session(id, now).challenge = Some(c);
    }

    /// Time since the session's first frame.
    pub fn age(&self, id: &str, now: Instant) -> Option<Duration> {
        self.map
            .get(id)
            .and_then(|s| s.first_seen)
            .map(|t| now.duration_since(t))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Feeds one frame's observation into the session and decides.
    pub fn observe(&mut self, id: &str, obs: Observation, rule: &Rule, now: Instant) -> Decision {
        let s = self.session(id, now);
        let vote = match obs {
            Observation::NoFace => {
                return Decision {
                    state: KioskState::Searching,
                    prompt: Some("prompt.step_in"),
                    matched: None,
                };
            }
            Observation::Poor(issue) => {
                return Decision {
                    state: KioskState::HoldStill,
                    prompt: Some(prompt_for(issue)),
                    matched: None,
                };
            }
            Observation::Face { best, second } => best.and_then(|(who, score)| {
                let lead = second.map_or(f32::INFINITY, |s2| score - s2);
                (score >= rule.threshold && lead >= rule.margin).then_some(who)
            }),
        };
        s.votes.push_back(vote);
        while s.votes.len() > rule.window {
            s.votes.pop_front();
        }
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for v in s.votes.iter().flatten() {
            *counts.entry(*v).or_default() += 1;
        }
        if let Some((&who, _)) = counts.iter().find(|(_, &n)| n >= rule.votes) {
            return Decision {
                state: KioskState::Matched,
                prompt: None,
                matched: Some(who),
            };
        }
        if s.votes.len() >= rule.window {
            return Decision {
                state: KioskState::NoMatch,
                prompt: Some("prompt.not_recognised"),
                matched: None,
            };
        }
        Decision {
            state: KioskState::HoldStill,
            prompt: Some("prompt.hold_still"),
            matched: None,
        }
    }
}

/// The locale key of what to tell a person whose face the gate refused.
pub fn prompt_for(issue: Issue) -> &'static str {
    match issue {
        Issue::TooSmall => "prompt.closer",
        Issue::Turned => "prompt.look_straight",
        Issue::Blurred => "prompt.hold_still",
        Issue::TooDark => "prompt.too_dark",
        Issue::TooBright => "prompt.too_bright",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        threshold: 3.0,
        margin: 0.5,
        window: 3,
        votes: 2,
    };

    fn face(who: u64, score: f32, second: f32) -> Observation {
        Observation::Face {
            best: Some((who, score)),
            second: Some(second),
        }
    }

    #[test]
    fn two_of_three_consistent_frames_match() {
        let mut s = Sessions::new(Duration::from_secs(30), 10);
        let t = Instant::now();
        assert_eq!(
            s.observe("k", face(7, 4.0, 1.0), &RULE, t).state,
            KioskState::HoldStill
        );
        let d = s.observe("k", face(7, 4.2, 1.0), &RULE, t);
        assert_eq!((d.state, d.matched), (KioskState::Matched, Some(7)));
    }

    #[test]
    fn threshold_margin_and_consistency_are_all_required() {
        let mut s = Sessions::new(Duration::from_secs(30), 10);
        let t = Instant::now();
        // Below threshold, then too close to the runner-up, then a third identity.
        s.observe("a", face(1, 2.0, 0.0), &RULE, t);
        s.observe("a", face(1, 3.5, 3.2), &RULE, t);
        let d = s.observe("a", face(2, 4.0, 1.0), &RULE, t);
        assert_eq!(d.state, KioskState::NoMatch);
        // Alternating identities never match.
        let mut s = Sessions::new(Duration::from_secs(30), 10);
        s.observe("b", face(1, 4.0, 1.0), &RULE, t);
        s.observe("b", face(2, 4.0, 1.0), &RULE, t);
        assert_eq!(
            s.observe("b", face(3, 4.0, 1.0), &RULE, t).state,
            KioskState::NoMatch
        );
    }

    #[test]
    fn poor_frames_prompt_and_do_not_vote() {
        let mut s = Sessions::new(Duration::from_secs(30), 10);
        let t = Instant::now();
        let d = s.observe("k", Observation::Poor(Issue::TooSmall), &RULE, t);
        assert_eq!(
            (d.state, d.prompt),
            (KioskState::HoldStill, Some("prompt.closer"))
        );
        assert_eq!(
            s.observe("k", Observation::NoFace, &RULE, t).state,
            KioskState::Searching
        );
        s.observe("k", face(5, 4.0, 0.0), &RULE, t);
        assert_eq!(s.observe("k", face(5, 4.0, 0.0), &RULE, t).matched, Some(5));
    }

    #[test]
    fn sessions_expire_and_are_capped() {
        let mut s = Sessions::new(Duration::from_secs(30), 2);
        let t = Instant::now();
        s.observe("a", face(1, 4.0, 0.0), &RULE, t);
        // 31 s later the vote is forgotten: one more frame is not enough.
        let later = t + Duration::from_secs(31);
        assert_eq!(
            s.observe("a", face(1, 4.0, 0.0), &RULE, later).state,
            KioskState::HoldStill
        );
        s.observe("b", Observation::NoFace, &RULE, later);
        s.observe("c", Observation::NoFace, &RULE, later);
        assert!(s.len() <= 2);
    }
}
