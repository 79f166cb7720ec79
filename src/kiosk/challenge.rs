//! The active liveness challenge: after the face votes agree on a person, the kiosk asks
//! for a short random sequence of head turns (left/right) and checks them from the
//! landmark pose of each frame, with the same person in every frame and a time limit. A
//! turn the wrong way, another person, or the time running out fails the challenge; a
//! photo held still never moves. The order comes from a seedable RNG so tests can drive it.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One head turn, from the person's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    /// Turn to your left: the nose moves to the camera image's right (yaw > 0).
    Left,
    Right,
}

impl Turn {
    pub fn prompt(self) -> &'static str {
        match self {
            Turn::Left => "prompt.turn_left",
            Turn::Right => "prompt.turn_right",
        }
    }
}

/// How the challenge is judged.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeRule {
    pub steps: usize,
    /// |yaw| a turn must reach, degrees.
    pub turn_deg: f32,
    /// |yaw| under which the face counts as frontal again between turns.
    pub centre_deg: f32,
    pub time: Duration,
}

/// What one challenge frame showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChallengeFrame {
    NoFace,
    Face {
        yaw: f32,
        /// Some(true): the claimed person is the best match and above the verification
        /// threshold; Some(false): somebody else is; None: nobody is sure enough.
        same_person: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    Timeout,
    WrongDirection,
    OtherPerson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Waiting for the next move; the prompt to show.
    Continue(&'static str),
    Passed,
    Failed(Failure),
}

/// A running challenge for one claimed identity.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub identity: u64,
    pub steps: Vec<Turn>,
    pub done: usize,
    need_centre: bool,
    started: Instant,
    /// The best fused score of the frames that voted (for the audit).
    pub score: f32,
}

/// The random source of challenge orders: the OS's, or a fixed seed (tests).
pub struct Dice(rand::rngs::StdRng);

impl Dice {
    pub fn new(seed: Option<u64>) -> Self {
        Dice(match seed {
            Some(s) => rand::rngs::StdRng::seed_from_u64(s),
            None => rand::rngs::StdRng::from_os_rng(),
        })
    }

    pub fn turns(&mut self, n: usize) -> Vec<Turn> {
        (0..n.max(1))
            .map(|_| {
                if self.0.random_bool(0.5) {
                    Turn::Left
                } else {
                    Turn::Right
                }
            })
            .collect()
    }
}

impl Challenge {
    pub fn new(identity: u64, steps: Vec<Turn>, score: f32, now: Instant) -> Self {
        Self {
            identity,
            steps,
            done: 0,
            need_centre: false,
            started: now,
            score,
        }
    }

    /// Seconds left at `now`.
    pub fn remaining(&self, rule: &ChallengeRule, now: Instant) -> f32 {
        rule.time
            .saturating_sub(now.duration_since(self.started))
            .as_secs_f32()
    }

    /// The prompt for the current step.
    pub fn prompt(&self) -> &'static str {
        if self.need_centre {
            "prompt.face_camera"
        } else {
            self.steps
                .get(self.done)
                .map_or("prompt.face_camera", |t| t.prompt())
        }
    }

    pub fn observe(&mut self, f: ChallengeFrame, rule: &ChallengeRule, now: Instant) -> Outcome {
        if now.duration_since(self.started) > rule.time {
            return Outcome::Failed(Failure::Timeout);
        }
        let ChallengeFrame::Face { yaw, same_person } = f else {
            return Outcome::Continue(self.prompt());
        };
        if same_person == Some(false) {
            return Outcome::Failed(Failure::OtherPerson);
        }
        if self.need_centre {
            if yaw.abs() < rule.centre_deg {
                self.need_centre = false;
            }
            return Outcome::Continue(self.prompt());
        }
        let turned = if yaw >= rule.turn_deg {
            Some(Turn::Left)
        } else if yaw <= -rule.turn_deg {
            Some(Turn::Right)
        } else {
            None
        };
        match turned {
            Some(t) if t != self.steps[self.done] => Outcome::Failed(Failure::WrongDirection),
            // A turn counts only when the face is surely the same person's.
            Some(_) if same_person == Some(true) => {
                self.done += 1;
                if self.done == self.steps.len() {
                    return Outcome::Passed;
                }
                self.need_centre = true;
                Outcome::Continue(self.prompt())
            }
            _ => Outcome::Continue(self.prompt()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ChallengeRule = ChallengeRule {
        steps: 2,
        turn_deg: 12.0,
        centre_deg: 8.0,
        time: Duration::from_secs(10),
    };

    fn face(yaw: f32) -> ChallengeFrame {
        ChallengeFrame::Face {
            yaw,
            same_person: Some(true),
        }
    }

    #[test]
    fn the_asked_turns_in_order_pass() {
        let t = Instant::now();
        let mut c = Challenge::new(7, vec![Turn::Left, Turn::Right], 4.0, t);
        assert_eq!(c.prompt(), "prompt.turn_left");
        assert_eq!(
            c.observe(face(2.0), &RULE, t),
            Outcome::Continue("prompt.turn_left")
        );
        assert_eq!(
            c.observe(face(15.0), &RULE, t),
            Outcome::Continue("prompt.face_camera")
        );
        // Still turned: waits for the centre; a right turn before it does not count.
        assert_eq!(
            c.observe(face(14.0), &RULE, t),
            Outcome::Continue("prompt.face_camera")
        );
        assert_eq!(
            c.observe(face(1.0), &RULE, t),
            Outcome::Continue("prompt.turn_right")
        );
        assert_eq!(c.observe(face(-16.0), &RULE, t), Outcome::Passed);
    }

    #[test]
    fn wrong_way_other_person_still_photo_and_time_fail() {
        let t = Instant::now();
        let mut c = Challenge::new(7, vec![Turn::Left, Turn::Right], 4.0, t);
        assert_eq!(
            c.observe(face(-20.0), &RULE, t),
            Outcome::Failed(Failure::WrongDirection)
        );
        let mut c = Challenge::new(7, vec![Turn::Right, Turn::Right], 4.0, t);
        let other = ChallengeFrame::Face {
            yaw: -20.0,
            same_person: Some(false),
        };
        assert_eq!(
            c.observe(other, &RULE, t),
            Outcome::Failed(Failure::OtherPerson)
        );
        // Unsure identity: the turn does not count.
        let unsure = ChallengeFrame::Face {
            yaw: -20.0,
            same_person: None,
        };
        assert_eq!(
            c.observe(unsure, &RULE, t),
            Outcome::Continue("prompt.turn_right")
        );
        // A still photo never moves; time runs out.
        let mut c = Challenge::new(7, vec![Turn::Left, Turn::Right], 4.0, t);
        for i in 0..50 {
            let now = t + Duration::from_millis(100 * i);
            assert!(matches!(
                c.observe(face(1.0), &RULE, now),
                Outcome::Continue(_)
            ));
        }
        assert_eq!(
            c.observe(face(1.0), &RULE, t + Duration::from_secs(11)),
            Outcome::Failed(Failure::Timeout)
        );
    }

    #[test]
    fn seeded_orders_repeat_and_vary() {
        let a: Vec<_> = (0..8)
            .map(|_| ())
            .scan(Dice::new(Some(42)), |d, _| Some(d.turns(3)))
            .collect();
        let b: Vec<_> = (0..8)
            .map(|_| ())
            .scan(Dice::new(Some(42)), |d, _| Some(d.turns(3)))
            .collect();
        assert_eq!(a, b, "the same seed gives the same orders");
        assert!(
            a.iter().any(|t| t != &a[0]),
            "orders vary from one challenge to the next"
        );
        assert!(
            a.iter().flatten().any(|t| *t == Turn::Left)
                && a.iter().flatten().any(|t| *t == Turn::Right)
        );
    }
}
