//! The kiosk's presentation-attack defence as a use case (DESIGN §6): when the face votes
//! agree on a person, either show the result (liveness "off", or a confident passive
//! score), refuse at once (a passive score that says attack), or run the head-turn
//! challenge of `kiosk::challenge` on the next frames. Every suspected attack is audited
//! (kiosk, reason, score — never the image) and ends in the fallbacks, never in a match.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::kiosk::FrameReply;
use super::{App, AppError};
use crate::auth::Principal;
use crate::config::LivenessMode;
use crate::kiosk::challenge::{Challenge, ChallengeFrame, ChallengeRule, Outcome, Turn};
use crate::kiosk::{Decision, KioskState};
use crate::vision::{primary_face, quality, Face};

/// What the kiosk page shows of a running challenge.
#[derive(Debug, Clone, Serialize)]
pub struct ChallengeView {
    pub steps: Vec<Turn>,
    pub done: usize,
    pub seconds_left: f32,
}

impl App {
    fn challenge_rule(&self) -> ChallengeRule {
        let l = &self.config.liveness;
        ChallengeRule {
            steps: l.steps.clamp(1, 5),
            turn_deg: l.turn_deg,
            centre_deg: l.centre_deg,
            time: Duration::from_secs(l.seconds.max(1)),
        }
    }

    fn challenge_reply(&self, ch: &Challenge, prompt: &'static str, now: Instant) -> FrameReply {
        let mut r = self.reply(
            Decision {
                state: KioskState::Challenge,
                prompt: Some(prompt),
                matched: None,
            },
            None,
            None,
        );
        r.challenge = Some(ChallengeView {
            steps: ch.steps.clone(),
            done: ch.done,
            seconds_left: ch.remaining(&self.challenge_rule(), now),
        });
        r
    }

    /// A suspected attack: audited, counted, the session ends in the fallbacks.
    fn attack_reply(
        &self,
        device: &Principal,
        key: &str,
        reason: &str,
        score: f32,
        passive: Option<f32>,
    ) -> Result<FrameReply, AppError> {
        self.audit(
            &device.actor,
            "kiosk.attack_suspected",
            "",
            json!({"kiosk": device.name, "reason": reason, "score": score, "passive": passive}),
        )?;
        self.count(KioskState::SpoofSuspected);
        let age = self.sessions().age(key, Instant::now());
        self.record_lookup(device.id, "none", age)?;
        self.sessions().end(key);
        Ok(self.reply(
            Decision {
                state: KioskState::SpoofSuspected,
                prompt: Some("prompt.challenge_failed"),
                matched: None,
            },
            None,
            None,
        ))
    }

    /// After the votes agreed on `who`: None = show the result now; else the reply (a
    /// challenge started, or an attack refused).
    pub(crate) fn liveness_gate(
        &self,
        device: &Principal,
        key: &str,
        img: &image::RgbImage,
        face: &Face,
        who: i64,
        score: f32,
    ) -> Result<Option<FrameReply>, AppError> {
        let mode = self.config.liveness.mode;
        if mode == LivenessMode::Off {
            return Ok(None);
        }
        if mode == LivenessMode::Passive {
            if let (Some(p), Some(point)) = (
                self.engine.passive_score(img, face)?,
                self.engine.manifest.liveness.as_ref(),
            ) {
                if p >= point.accept {
                    return Ok(None);
                }
                if p < point.reject {
                    return self
                        .attack_reply(device, key, "passive", score, Some(p))
                        .map(Some);
                }
            }
        }
        let now = Instant::now();
        let steps = self.dice().turns(self.challenge_rule().steps);
        let ch = Challenge::new(who as u64, steps, score, now);
        let reply = self.challenge_reply(&ch, ch.prompt(), now);
        self.count(KioskState::Challenge);
        self.sessions().set_challenge(key, ch, now);
        Ok(Some(reply))
    }

    /// One frame of a running challenge: the pose says which way the head is turned, the
    /// gallery says whether it is still the same person.
    pub(crate) fn challenge_frame(
        &self,
        device: &Principal,
        key: &str,
        img: &image::RgbImage,
        mut ch: Challenge,
    ) -> Result<FrameReply, AppError> {
        let now = Instant::now();
        let faces = self.engine.detect(img, self.config.vision.min_face_px)?;
        let frame = match primary_face(&faces, img.width(), img.height()) {
            None => ChallengeFrame::NoFace,
            Some(face) => {
                let (yaw, _, _) = quality::pose(&face.landmarks);
                let top = self.identify(img, face)?;
                // The verification threshold (FAR 1e-3): turned faces score lower than the
                // frontal ones the kiosk threshold was set for.
                let thr = self.scorer.threshold_far_1e3.unwrap_or(f32::INFINITY);
                let same_person = top
                    .best
                    .filter(|b| b.score >= thr)
                    .map(|b| b.identity == ch.identity);
                ChallengeFrame::Face { yaw, same_person }
            }
        };
        match ch.observe(frame, &self.challenge_rule(), now) {
            Outcome::Continue(prompt) => {
                let reply = self.challenge_reply(&ch, prompt, now);
                self.sessions().set_challenge(key, ch, now);
                Ok(reply)
            }
            Outcome::Passed => {
                self.face_match_reply(device, key, ch.identity as i64, ch.score, Some(&ch.steps))
            }
            Outcome::Failed(f) => {
                let reason = serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.attack_reply(device, key, &reason, ch.score, None)
            }
        }
    }
}
