//! A kiosk camera frame as I/O around the pure visit machine of `kiosk::visit`: read a
//! receipt QR, detect the main face, run the quality gate, embed it and score its passive
//! liveness (only what the visit wants next), search the gallery among the people the kiosk
//! may identify, then act on what the visit decided — audit, count, record the look-up,
//! fetch the result. Frames are never stored.

use crate::store::audit::Action;
use std::time::{Duration, Instant};

use serde_json::json;

use super::kiosk::{FrameReply, KioskResult};
use super::{lock, App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::Principal;
use crate::config::LivenessMode;
use crate::crypto::sha256_hex;
use crate::gallery::{Query, TopTwo};
use crate::kiosk::challenge::ChallengeRule;
use crate::kiosk::LookupMethod;
use crate::kiosk::{
    qr, Decision, Event, KioskState, LivenessRule, Observation, PassivePoint, Ports, Session,
    VisitRule, Want,
};
use crate::store::dossiers as sql;
use crate::vision::embed::normalise;
use crate::vision::{primary_face, quality};

/// What one frame showed, computed before the visit decides.
enum Facts {
    NoFace,
    Present,
    Poor(crate::vision::quality::Issue),
    Face {
        template: Vec<f32>,
        yaw: f32,
        passive: Option<f32>,
    },
}

/// A frame answered by a receipt QR, or by the visit.
enum Either {
    Qr(FrameReply),
    Visit(Result<Decision, AppError>),
}

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
        if let Some(r) = *lock(&self.visit_override) {
            return r;
        }
        let s = self.settings();
        let v = self.engine.manifest.active().and_then(|p| p.visit.as_ref());
        let (ct, cm) = self.calibrated_point();
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
        let threshold = s
            .kiosk_threshold
            .map(|t| t as f32)
            .or(ct)
            .unwrap_or(f32::INFINITY);
        let min_frames = v.map_or(MIN_FRAMES, |v| v.min_frames.max(1));
        VisitRule {
            threshold,
            margin: s.kiosk_margin.map(|m| m as f32).or(cm).unwrap_or(0.0),
            min_frames,
            // Without a fitted tail there is no second step.
            ask: threshold,
            ask_after: min_frames + 1,
            no_match_frames: v.map_or(NO_MATCH_FRAMES, |v| v.no_match_frames.max(1)),
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

    /// The operating point for a kiosk that may match `people` (README: “Kiosk decisions at
    /// scale”): with the profile's fitted impostor tail, the accept and ask thresholds follow
    /// the number of people; the admin's or calibrated threshold is a floor (a setting can
    /// make the kiosk stricter, never looser than its size needs). None without a tail.
    pub fn scale_point(&self, people: usize) -> Option<crate::kiosk::scale::ScalePoint> {
        self.point_for(&self.visit_rule(), people)
    }

    /// The scaled point from a rule already at hand: its threshold (the admin's or the
    /// calibrated one) and verification threshold are the floors.
    fn point_for(
        &self,
        rule: &VisitRule,
        people: usize,
    ) -> Option<crate::kiosk::scale::ScalePoint> {
        let v = self.engine.manifest.active()?.visit.as_ref()?;
        let tail = v.tail_for(self.engine.scoring_precision())?;
        Some(crate::kiosk::scale::point(
            &tail.tail,
            people,
            v.target_fpir
                .unwrap_or(crate::kiosk::scale::DEFAULT_TARGET_FPIR),
            rule.threshold,
            rule.verify_threshold.min(rule.threshold),
        ))
    }

    /// `rule` for a kiosk that may match `people` (unchanged without a fitted tail, or
    /// under an evaluation's override).
    fn scaled(&self, mut rule: VisitRule, people: usize) -> VisitRule {
        if lock(&self.visit_override).is_some() {
            return rule;
        }
        if let Some(p) = self.point_for(&rule, people) {
            rule.threshold = p.accept;
            rule.ask = p.ask;
        }
        rule
    }

    /// The calibrated threshold and margin: the profile's visit point, else its per-frame
    /// 1:N point (the admin's settings may override either).
    pub(crate) fn calibrated_point(&self) -> (Option<f32>, Option<f32>) {
        let v = self.engine.manifest.active().and_then(|p| p.visit.as_ref());
        (
            v.map(|v| v.threshold).or(self.scorer.threshold),
            v.map(|v| v.margin).or(self.scorer.margin),
        )
    }

    /// Replaces the operating point (evaluation only: `hoso eval --kiosk` measures raw
    /// evidence with a threshold no visit reaches).
    pub fn set_visit_override(&self, rule: Option<VisitRule>) {
        *lock(&self.visit_override) = rule;
    }

    /// Runs `f` on page session `key`, taken out of the map (a frame is processed without
    /// the lock) and put back after.
    pub(crate) fn in_session<T>(&self, key: &str, f: impl FnOnce(&mut Session, Instant) -> T) -> T {
        let t = Instant::now();
        let mut s = self.sessions().take(key, t);
        let out = f(&mut s, t);
        self.sessions().put(key, s, Instant::now());
        out
    }

    /// One decoded frame (browser upload or the server-side camera). The receipt-QR scan
    /// and the face analysis run side by side; a receipt QR answers first.
    pub fn kiosk_image(
        &self,
        device: &Principal,
        session: &str,
        img: &image::RgbImage,
    ) -> Result<FrameReply, AppError> {
        let key = visit_key(device, session);
        let rule = self.visit_rule();
        let (scan, result) = self.in_session(&key, |s, t| {
            let want = s.want();
            let n = s.next_frame();
            // While a face is followed, every other frame is also searched for a receipt
            // (a code held up is still read within a few frames, and the face's models get
            // the cores the rest of the time).
            let scan_qr = !s.track.following() || n % 2 == 0;
            let (scan, facts) = std::thread::scope(|sc| {
                let scan = scan_qr.then(|| sc.spawn(|| qr::scan(img, qr::Effort::Quick(n))));
                let facts = self.frame_facts(img, want, &rule, &mut s.track);
                let scan = scan.map(|h| h.join().unwrap_or_default());
                (scan.unwrap_or_default(), facts)
            });
            let result = match scan
                .found
                .as_ref()
                .map(|(code, token)| self.qr_result(device, &key, s, code, token, t))
            {
                Some(Ok(Some(reply))) => Ok(Either::Qr(reply)),
                Some(Err(e)) => Err(e),
                _ => facts.map(|f| Either::Visit(self.observe(s, &f, &rule, t, device))),
            };
            (scan, result)
        });
        let mut reply = match result? {
            Either::Qr(reply) => return Ok(reply),
            Either::Visit(d) => self.act(device, &key, d?)?,
        };
        reply.qr_hint = qr_hint(scan.seen_px);
        Ok(reply)
    }

    /// A frame while the citizen holds up the receipt (they chose the QR fallback, so the
    /// face visit is over): only the QR code is looked for, hard, with a hint on how to
    /// hold it.
    pub fn kiosk_qr_frame(
        &self,
        device: &Principal,
        session: &str,
        img: &image::RgbImage,
    ) -> Result<FrameReply, AppError> {
        let key = visit_key(device, session);
        let (scan, faces) = std::thread::scope(|sc| {
            let scan = sc.spawn(|| qr::scan(img, qr::Effort::Hard));
            let faces = self.engine.detect(img, self.config.vision.min_face_px);
            (scan.join().unwrap_or_default(), faces)
        });
        let reply = self.in_session(&key, |s, t| {
            s.end_visit();
            match &scan.found {
                Some((code, token)) => self.qr_result(device, &key, s, code, token, t),
                None => Ok(None),
            }
        });
        if let Some(r) = reply? {
            return Ok(r);
        }
        // Whether someone is there (the page returns to the start once they leave).
        let state = if faces?.is_empty() {
            KioskState::Searching
        } else {
            KioskState::HoldStill
        };
        let mut r = self.reply(state, Some("prompt.qr_show"), None, None);
        r.qr_hint = qr_hint(scan.seen_px).or(Some("prompt.qr_show"));
        Ok(r)
    }

    /// The dossier of a receipt QR code read in the frame (None: not one of ours).
    fn qr_result(
        &self,
        device: &Principal,
        visit: &str,
        s: &mut Session,
        code: &str,
        token: &str,
        t: Instant,
    ) -> Result<Option<FrameReply>, AppError> {
        let d = self
            .store
            .read(|c| sql::dossier_by_token_hash(c, &sha256_hex(token.as_bytes())))?;
        let Some(d) = d.filter(|d| d.code == code) else {
            return Ok(None);
        };
        // The same receipt again on the same kiosk within minutes: one look-up.
        let first = self.first_lookup(device, &d.code, LookupMethod::Qr);
        if first {
            self.audit(device, Action::KioskLookupQr, &d.code, json!({}))?;
        }
        let age = s.age(t);
        s.end_visit();
        if first {
            self.record_lookup(device.id, visit, LookupMethod::Qr, Some(age))?;
        }
        let r = self.one_dossier_result(&d)?;
        Ok(Some(self.reply(
            KioskState::Matched,
            None,
            Some(LookupMethod::Qr),
            Some(r),
        )))
    }

    /// What the visit wants to know of this frame: the main face, its quality, template,
    /// yaw and passive score (the passive model runs beside the embedder).
    fn frame_facts(
        &self,
        img: &image::RgbImage,
        want: Want,
        rule: &VisitRule,
        track: &mut crate::vision::detect::Track,
    ) -> Result<Facts, AppError> {
        let faces = self
            .engine
            .detect_tracked(img, self.config.vision.min_face_px, track)?;
        let Some(face) = primary_face(&faces, img.width(), img.height()) else {
            return Ok(Facts::NoFace);
        };
        if want == Want::Presence {
            return Ok(Facts::Present);
        }
        if want == Want::Identify {
            let q = self.engine.quality(img, face);
            if let Some(issue) = self.config.vision.quality.check(&q) {
                return Ok(Facts::Poor(issue));
            }
        }
        let passive_wanted = want == Want::Identify && rule.liveness.passive().is_some();
        let (passive, template) = std::thread::scope(|sc| {
            let passive = passive_wanted.then(|| sc.spawn(|| self.engine.passive_score(img, face)));
            let template = self.engine.embed_probe(img, face);
            let passive = match passive.map(|h| h.join()) {
                None => Ok(None),
                Some(Ok(r)) => r,
                Some(Err(_)) => Err(crate::vision::VisionError::Internal(
                    "passive liveness thread panicked".into(),
                )),
            };
            (passive, template)
        });
        let template = template?;
        Ok(Facts::Face {
            template,
            yaw: quality::pose(&face.landmarks).0,
            passive: passive?,
        })
    }

    /// The offices a kiosk's face search covers: its own, or every office with
    /// `kiosk.scope = "province"` (or for a kiosk of no office).
    pub fn kiosk_scope(&self, device: &Principal) -> Option<i64> {
        match self.config.kiosk.scope {
            crate::config::KioskScope::Province => None,
            crate::config::KioskScope::Office => device.office,
        }
    }

    /// Feeds the frame's facts to the visit, with the gallery among the people the kiosk may
    /// identify.
    fn observe(
        &self,
        s: &mut Session,
        facts: &Facts,
        rule: &VisitRule,
        t: Instant,
        device: &Principal,
    ) -> Result<Decision, AppError> {
        let obs = match facts {
            Facts::NoFace => Observation::NoFace,
            Facts::Present => Observation::Present,
            Facts::Poor(i) => Observation::Poor(*i),
            Facts::Face {
                template,
                yaw,
                passive,
            } => Observation::Face {
                template,
                yaw: *yaw,
                passive: *passive,
            },
        };
        let eligible = self.eligible()?;
        let eligible = eligible.within(self.kiosk_scope(device));
        let rule = &self.scaled(*rule, eligible.len());
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
    pub(crate) fn act(
        &self,
        device: &Principal,
        visit: &str,
        d: Decision,
    ) -> Result<FrameReply, AppError> {
        let mut result = None;
        match &d.event {
            Some(Event::Matched {
                who,
                score,
                liveness,
                steps,
            }) => {
                let person = ApplicantId::from_gallery(*who);
                // The match and "last recognised" in one write.
                self.store.audited(&device.actor, crate::store::now(), |tx| {
                    tx.record(
                        Action::KioskMatch,
                        &person.subject(),
                        json!({"score": score, "kiosk": device.name, "liveness": liveness, "challenge": steps}),
                    )?;
                    crate::store::desk::mark_recognised(tx, person.0, tx.at())
                })?;
                self.record_lookup(device.id, visit, LookupMethod::Face, Some(d.age))?;
                result = Some(self.face_result(person)?);
            }
            Some(Event::Attack {
                reason,
                score,
                passive,
            }) => {
                self.audit(
                    device,
                    Action::KioskAttackSuspected,
                    "",
                    json!({"kiosk": device.name, "reason": reason, "score": score, "passive": passive}),
                )?;
                self.record_lookup(device.id, visit, LookupMethod::None, Some(d.age))?;
            }
            Some(Event::NoMatch) => {
                self.record_lookup(device.id, visit, LookupMethod::None, Some(d.age))?
            }
            Some(Event::Confirm { candidates }) => self.second_step_asked(device, candidates)?,
            Some(Event::ChallengeStarted) | None => {}
        }
        if d.event.is_some() || !matches!(d.state, KioskState::Matched) {
            self.count(d.state);
        }
        let via = result.is_some().then_some(LookupMethod::Face);
        let mut r = self.reply(d.state, d.prompt, via, result);
        r.challenge = d.challenge;
        // A second step's answer carries no frame evidence: the match is the evidence.
        r.evidence = d.evidence.or(match d.event {
            Some(Event::Matched { who, score, .. }) => Some(crate::kiosk::Evidence {
                best: Some((who, score)),
                second: None,
                frames: 0,
            }),
            _ => None,
        });
        Ok(r)
    }

    pub(crate) fn reply(
        &self,
        state: KioskState,
        prompt: Option<&'static str>,
        via: Option<LookupMethod>,
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
            qr_hint: None,
            receipt: false,
        }
    }
}

/// The key of a kiosk page's session (and of its visit) among all kiosks' pages.
pub(crate) fn visit_key(device: &Principal, session: &str) -> String {
    format!("{}:{session}", device.id)
}

/// What to tell a person whose receipt QR code was seen but not read.
fn qr_hint(seen_px: Option<u32>) -> Option<&'static str> {
    seen_px.map(|w| {
        if w < qr::CLOSER_PX {
            "prompt.qr_closer"
        } else {
            "prompt.qr_hold_still"
        }
    })
}
