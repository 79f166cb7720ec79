//! A kiosk camera frame as I/O around the pure visit machine of `kiosk::visit`: read a
//! receipt QR, detect the main face, run the quality gate, embed it and score its passive
//! liveness (only what the visit wants next), search the gallery among the people the kiosk
//! may identify, then act on what the visit decided — audit, count, record the look-up,
//! fetch the result. Frames are never stored.

use std::time::{Duration, Instant};

use serde_json::json;

use super::kiosk::{FrameReply, KioskResult};
use super::{App, AppError};
use crate::auth::Principal;
use crate::config::LivenessMode;
use crate::crypto::sha256_hex;
use crate::gallery::{Query, TopTwo};
use crate::kiosk::challenge::ChallengeRule;
use crate::kiosk::{
    qr, Decision, Event, KioskState, LivenessRule, Observation, PassivePoint, Ports, Session,
    VisitRule, Want,
};
use crate::store::dossiers as sql;
use crate::vision::embed::normalise;
use crate::vision::{primary_face, quality};

/// Defaults when the manifest has no visit calibration for the profile.
const MIN_FRAMES: usize = 2;
/// About 2 s of good frames at the page's ~5 frames/s.
const NO_MATCH_FRAMES: usize = 10;
/// No face for this long ends a visit.
const LEAVE: Duration = Duration::from_millis(1500);

impl App {
    /// The kiosk's operating point now: the admin's threshold/margin if set, else the
    /// profile's visit calibration, else its per-frame calibration; uncalibrated profiles
    /// never match.
    pub fn visit_rule(&self) -> VisitRule {
        if let Some(r) = *super::lock(&self.visit_override) {
            return r;
        }
        let s = self.settings();
        let v = self.engine.manifest.active().and_then(|p| p.visit.clone());
        let l = &self.config.liveness;
        let point = self
            .engine
            .manifest
            .liveness
            .as_ref()
            .filter(|p| p.passive != "none")
            .map(|p| PassivePoint {
                reject: p.reject,
                accept: p.accept,
                min_frames: p.min_frames.max(1),
            });
        let liveness = match (l.mode, point) {
            (LivenessMode::Off, _) => LivenessRule::Off,
            (LivenessMode::Passive, Some(p)) => LivenessRule::Passive(p),
            (LivenessMode::PassiveActive, Some(p)) => LivenessRule::PassiveActive(p),
            _ => LivenessRule::Active,
        };
        VisitRule {
            threshold: s
                .kiosk_threshold
                .or(v.as_ref().map(|v| v.threshold))
                .or(self.scorer.threshold)
                .unwrap_or(f32::INFINITY),
            margin: s
                .kiosk_margin
                .or(v.as_ref().map(|v| v.margin))
                .or(self.scorer.margin)
                .unwrap_or(0.0),
            min_frames: v.as_ref().map_or(MIN_FRAMES, |v| v.min_frames.max(1)),
            no_match_frames: v
                .as_ref()
                .map_or(NO_MATCH_FRAMES, |v| v.no_match_frames.max(1)),
            verify_threshold: self.scorer.threshold_far_1e3.unwrap_or(f32::INFINITY),
            liveness,
            challenge: ChallengeRule {
                steps: l.steps.clamp(1, 5),
                turn_deg: l.turn_deg,
                centre_deg: l.centre_deg,
                time: Duration::from_secs(l.seconds.max(1)),
            },
            leave: LEAVE,
        }
    }

    /// Replaces the operating point (evaluation only: `hoso eval --kiosk` measures raw
    /// evidence with a threshold no visit reaches).
    pub fn set_visit_override(&self, rule: Option<VisitRule>) {
        *super::lock(&self.visit_override) = rule;
    }

    /// One decoded frame (browser upload or the server-side camera).
    pub fn kiosk_image(
        &self,
        device: &Principal,
        session: &str,
        img: &image::RgbImage,
    ) -> Result<FrameReply, AppError> {
        let key = format!("{}:{session}", device.id);
        let t = Instant::now();
        // A receipt QR code answers at once, for that dossier only.
        if let Some(r) = self.qr_result(device, &key, img, t)? {
            return Ok(r);
        }
        let rule = self.visit_rule();
        let mut s = self.sessions().take(&key, t);
        let d = self.visit_frame(&mut s, img, &rule, t);
        self.sessions().put(&key, s, Instant::now());
        self.act(device, d?)
    }

    fn qr_result(
        &self,
        device: &Principal,
        key: &str,
        img: &image::RgbImage,
        t: Instant,
    ) -> Result<Option<FrameReply>, AppError> {
        let Some((code, token)) = qr::find_lookup(img) else {
            return Ok(None);
        };
        let d = self
            .store
            .read(|c| sql::dossier_by_token_hash(c, &sha256_hex(token.as_bytes())))?;
        let Some(d) = d.filter(|d| d.code == code) else {
            return Ok(None);
        };
        self.audit(&device.actor, "kiosk.lookup_qr", &d.code, json!({}))?;
        let age = self.sessions().end_visit(key, t);
        self.record_lookup(device.id, "qr", Some(age.unwrap_or_default()))?;
        let r = self.one_dossier_result(&d)?;
        Ok(Some(self.reply(
            KioskState::Matched,
            None,
            Some("qr"),
            Some(r),
        )))
    }

    /// Turns the frame into what the visit wants and lets it decide.
    fn visit_frame(
        &self,
        s: &mut Session,
        img: &image::RgbImage,
        rule: &VisitRule,
        t: Instant,
    ) -> Result<Decision, AppError> {
        let faces = self.engine.detect(img, self.config.vision.min_face_px)?;
        let primary = primary_face(&faces, img.width(), img.height());
        let want = s.want();
        let template: Vec<f32>;
        let obs = match (primary, want) {
            (None, _) => Observation::NoFace,
            (Some(_), Want::Presence) => Observation::Present,
            (Some(face), _) => {
                let issue = (want == Want::Identify)
                    .then(|| {
                        let q = self.engine.quality(img, face);
                        self.config.vision.quality.check(&q)
                    })
                    .flatten();
                match issue {
                    Some(issue) => Observation::Poor(issue),
                    None => {
                        let passive = if want == Want::Identify && rule.liveness.passive().is_some()
                        {
                            self.engine.passive_score(img, face)?
                        } else {
                            None
                        };
                        template = self
                            .engine
                            .embed(img, std::slice::from_ref(face))?
                            .pop()
                            .ok_or_else(|| AppError::Internal("no embedding".into()))?;
                        Observation::Face {
                            template: &template,
                            yaw: quality::pose(&face.landmarks).0,
                            passive,
                        }
                    }
                }
            }
        };
        let eligible = self.eligible()?;
        let segments = self.gallery.segments();
        let mut probe = Vec::new();
        let mut search = |v: &[f32]| -> TopTwo {
            probe.clear();
            probe.extend_from_slice(v);
            for seg in segments {
                normalise(&mut probe[seg.offset..seg.offset + seg.dims]);
            }
            self.gallery
                .search_filtered(&Query::new(segments, &self.scorer, &probe), |id| {
                    eligible.contains(&(id as i64))
                })
        };
        let mut similar = |sum: &[f32], one: &[f32]| -> f32 {
            let mut mean = sum.to_vec();
            for seg in segments {
                normalise(&mut mean[seg.offset..seg.offset + seg.dims]);
            }
            self.scorer.score(segments, &mean, one)
        };
        let mut turns = |n: usize| self.dice().turns(n);
        let mut ports = Ports {
            search: &mut search,
            similar: &mut similar,
            turns: &mut turns,
        };
        Ok(s.observe(obs, t, rule, &mut ports))
    }

    /// Acts once on what the visit decided: audit, statistics, the result.
    fn act(&self, device: &Principal, d: Decision) -> Result<FrameReply, AppError> {
        let mut result = None;
        match &d.event {
            Some(Event::Matched {
                who,
                score,
                liveness,
                steps,
            }) => {
                self.audit(
                    &device.actor,
                    "kiosk.match",
                    &format!("applicant:{who}"),
                    json!({"score": score, "kiosk": device.name, "liveness": liveness, "challenge": steps}),
                )?;
                self.record_lookup(device.id, "face", Some(d.age))?;
                result = Some(self.face_result(*who as i64)?);
            }
            Some(Event::Attack {
                reason,
                score,
                passive,
            }) => {
                self.audit(
                    &device.actor,
                    "kiosk.attack_suspected",
                    "",
                    json!({"kiosk": device.name, "reason": reason, "score": score, "passive": passive}),
                )?;
                self.record_lookup(device.id, "none", Some(d.age))?;
            }
            Some(Event::NoMatch) => self.record_lookup(device.id, "none", Some(d.age))?,
            Some(Event::ChallengeStarted) | None => {}
        }
        if d.event.is_some() || !matches!(d.state, KioskState::Matched) {
            self.count(d.state);
        }
        let via = result.is_some().then_some("face");
        let mut r = self.reply(d.state, d.prompt, via, result);
        r.challenge = d.challenge;
        r.evidence = d.evidence;
        Ok(r)
    }

    pub(crate) fn reply(
        &self,
        state: KioskState,
        prompt: Option<&'static str>,
        via: Option<&'static str>,
        result: Option<KioskResult>,
    ) -> FrameReply {
        FrameReply {
            state,
            prompt: prompt.map(|k| self.strings.get(false, k)),
            prompt_key: prompt,
            via,
            result,
            challenge: None,
            evidence: None,
        }
    }
}
