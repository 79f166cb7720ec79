//! The lobby kiosk's use cases: a camera frame (receipt QR first, then the face rules of
//! `kiosk`), the keypad fallback (dossier code + last 4 ID digits, rate-limited and locked
//! out after repeated misses), and the result a citizen sees: masked name, dossiers,
//! timeline, appointment, next action. Matches are audited; frames are never stored.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::dossiers::DossierView;
use super::{App, AppError};
use crate::applicant::masked_name;
use crate::auth::Principal;
use crate::crypto::sha256_hex;
use crate::dossier::Status;
use crate::gallery::Query;
use crate::kiosk::{qr, Decision, KioskState, Observation, Rule};
use crate::store::{dossiers as sql, now, people, DossierRow};
use crate::vision::{decode, primary_face};

/// UI strings the server fills in (from the same locale files the pages use).
pub struct Strings {
    vi: HashMap<String, String>,
    en: HashMap<String, String>,
}

impl Strings {
    pub fn load() -> Self {
        let parse =
            |s: &str| serde_json::from_str::<HashMap<String, String>>(s).unwrap_or_default();
        Self {
            vi: parse(include_str!("../../kiosk-ui/locales/vi.json")),
            en: parse(include_str!("../../kiosk-ui/locales/en.json")),
        }
    }

    pub fn get(&self, en: bool, key: &str) -> String {
        let m = if en { &self.en } else { &self.vi };
        m.get(key).cloned().unwrap_or_else(|| key.to_string())
    }
}

#[derive(Debug, Serialize)]
pub struct KioskDossier {
    #[serde(flatten)]
    pub view: DossierView,
    pub next_action: String,
    pub next_action_en: String,
}

#[derive(Debug, Serialize)]
pub struct KioskResult {
    pub display_name: String,
    pub dossiers: Vec<KioskDossier>,
}

#[derive(Debug, Serialize)]
pub struct FrameReply {
    pub state: KioskState,
    pub prompt: Option<String>,
    pub prompt_key: Option<&'static str>,
    /// How the result was found: "face" or "qr".
    pub via: Option<&'static str>,
    pub result: Option<KioskResult>,
    /// The head-turn challenge in progress (state "challenge").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<super::liveness::ChallengeView>,
}

/// Keypad attempts of one kiosk.
#[derive(Debug, Default)]
pub struct Attempts {
    misses: u32,
    window: Vec<Instant>,
    locked_until: Option<Instant>,
}

const LOCKOUT_MISSES: u32 = 5;
const LOCKOUT: Duration = Duration::from_secs(300);
const PER_MINUTE: usize = 10;
const RECENTLY_RETURNED_S: i64 = 7 * 24 * 3600;

impl App {
    fn rule(&self) -> Rule {
        let s = self.settings();
        Rule {
            // The admin's operating point, else the calibrated one; uncalibrated scorers
            // never match.
            threshold: s
                .kiosk_threshold
                .or(self.scorer.threshold)
                .unwrap_or(f32::INFINITY),
            margin: s.kiosk_margin.or(self.scorer.margin).unwrap_or(0.0),
            window: 3,
            votes: 2,
        }
    }

    fn next_action(&self, d: &DossierView, en: bool) -> String {
        let note = d
            .timeline
            .last()
            .and_then(|e| e.note.clone())
            .unwrap_or_default();
        let agency = d
            .agency
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        self.strings
            .get(en, &format!("next.{}", d.status))
            .replace("{note}", &note)
            .replace("{agency}", &agency)
            .replace("{place}", &self.config.office.return_place)
            .trim()
            .to_string()
    }

    fn kiosk_dossier(&self, d: &DossierRow) -> Result<KioskDossier, AppError> {
        let view = self.view(d)?;
        Ok(KioskDossier {
            next_action: self.next_action(&view, false),
            next_action_en: self.next_action(&view, true),
            view,
        })
    }

    /// The face result: open dossiers and those returned in the last 7 days, newest first.
    fn face_result(&self, applicant: i64) -> Result<KioskResult, AppError> {
        let (a, ds) = self.store.read(|c| {
            Ok((
                people::applicant(c, applicant)?,
                sql::dossiers_of(c, applicant)?,
            ))
        })?;
        let a = a.ok_or_else(|| AppError::NotFound(format!("applicant {applicant}")))?;
        let t = now();
        let dossiers = ds
            .iter()
            .filter(|d| {
                !Status(d.status).is_closed()
                    || (d.status == 10 && t - d.updated_at <= RECENTLY_RETURNED_S)
            })
            .map(|d| self.kiosk_dossier(d))
            .collect::<Result<_, _>>()?;
        Ok(KioskResult {
            display_name: masked_name(&a.full_name),
            dossiers,
        })
    }

    fn one_dossier_result(&self, d: &DossierRow) -> Result<KioskResult, AppError> {
        let a = self
            .store
            .read(|c| people::applicant(c, d.applicant_id))?
            .ok_or_else(|| AppError::NotFound("applicant".into()))?;
        Ok(KioskResult {
            display_name: masked_name(&a.full_name),
            dossiers: vec![self.kiosk_dossier(d)?],
        })
    }

    pub(crate) fn reply(
        &self,
        d: Decision,
        via: Option<&'static str>,
        result: Option<KioskResult>,
    ) -> FrameReply {
        FrameReply {
            state: d.state,
            prompt: d.prompt.map(|k| self.strings.get(false, k)),
            prompt_key: d.prompt,
            via,
            result,
            challenge: None,
        }
    }

    /// One camera frame from kiosk `device` in session `session`.
    pub fn kiosk_frame(
        &self,
        device: &Principal,
        session: &str,
        image: &[u8],
    ) -> Result<FrameReply, AppError> {
        if session.is_empty() || session.len() > 100 {
            return Err(AppError::Invalid(
                "X-Kiosk-Session header (1–100 characters) is required".into(),
            ));
        }
        let img = self.kiosk_decode(device, image)?;
        self.kiosk_image(device, session, &img)
    }

    /// Decodes a kiosk frame, counting unreadable ones for the kiosk's health.
    fn kiosk_decode(&self, device: &Principal, image: &[u8]) -> Result<image::RgbImage, AppError> {
        let img = decode(image, &self.config.decode_limits());
        self.kiosk_seen(&device.name, img.is_err());
        img.map_err(|e| AppError::Unprocessable {
            code: "bad_image",
            message: e.to_string(),
        })
    }

    /// Whether someone is still in front of the kiosk (used while a result is shown, so the
    /// screen clears when the person walks away): detection only, no identification.
    pub fn kiosk_presence(&self, device: &Principal, image: &[u8]) -> Result<FrameReply, AppError> {
        let img = self.kiosk_decode(device, image)?;
        let present = !self
            .engine
            .detect(&img, self.config.vision.min_face_px)?
            .is_empty();
        let state = if present {
            KioskState::HoldStill
        } else {
            KioskState::Searching
        };
        Ok(self.reply(
            Decision {
                state,
                prompt: None,
                matched: None,
            },
            None,
            None,
        ))
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
        if let Some((code, token)) = qr::find_lookup(img) {
            let d = self
                .store
                .read(|c| sql::dossier_by_token_hash(c, &sha256_hex(token.as_bytes())))?;
            if let Some(d) = d.filter(|d| d.code == code) {
                self.audit(&device.actor, "kiosk.lookup_qr", &d.code, json!({}))?;
                let age = self.sessions().age(&key, t);
                self.record_lookup(device.id, "qr", Some(age.unwrap_or_default()))?;
                self.sessions().end(&key);
                let r = self.one_dossier_result(&d)?;
                return Ok(self.reply(
                    Decision {
                        state: KioskState::Matched,
                        prompt: None,
                        matched: None,
                    },
                    Some("qr"),
                    Some(r),
                ));
            }
        }
        // A head-turn challenge in progress takes the frame.
        let running = self.sessions().take_challenge(&key, t);
        if let Some(ch) = running {
            return self.challenge_frame(device, &key, img, ch);
        }
        let faces = self.engine.detect(img, self.config.vision.min_face_px)?;
        let primary = primary_face(&faces, img.width(), img.height());
        let obs = match primary {
            None => Observation::NoFace,
            Some(face) => {
                let q = self.engine.quality(img, face);
                match self.config.vision.quality.check(&q) {
                    Some(issue) => Observation::Poor(issue),
                    None => {
                        let top = self.identify(img, face)?;
                        Observation::Face {
                            best: top.best.map(|h| (h.identity, h.score)),
                            second: top.second.map(|h| h.score),
                        }
                    }
                }
            }
        };
        let decision = self.sessions().observe(&key, obs, &self.rule(), t);
        if decision.state != KioskState::Matched {
            self.count(decision.state);
        }
        match decision.state {
            KioskState::Matched => {
                let who = decision.matched.unwrap_or_default() as i64;
                let score = match obs {
                    Observation::Face {
                        best: Some((_, s)), ..
                    } => s,
                    _ => f32::NAN,
                };
                // Presentation-attack defence before anything is shown.
                if let Some(face) = primary {
                    if let Some(reply) = self.liveness_gate(device, &key, img, face, who, score)? {
                        return Ok(reply);
                    }
                }
                self.face_match_reply(device, &key, who, score, None)
            }
            KioskState::NoMatch => {
                let age = self.sessions().age(&key, Instant::now());
                self.record_lookup(device.id, "none", age)?;
                self.sessions().end(&key);
                Ok(self.reply(decision, None, None))
            }
            _ => Ok(self.reply(decision, None, None)),
        }
    }

    /// The best two identities for one face among the people the kiosk may identify.
    pub(crate) fn identify(
        &self,
        img: &image::RgbImage,
        face: &crate::vision::Face,
    ) -> Result<crate::gallery::TopTwo, AppError> {
        let template = self
            .engine
            .embed(img, std::slice::from_ref(face))?
            .pop()
            .ok_or_else(|| AppError::Internal("no embedding".into()))?;
        let eligible = self.eligible()?;
        Ok(self.gallery.search_filtered(
            &Query::new(self.gallery.segments(), &self.scorer, &template),
            |id| eligible.contains(&(id as i64)),
        ))
    }

    /// Shows the face result for `who`: audited (score, kiosk, how liveness was checked),
    /// counted in the statistics, session ended.
    pub(crate) fn face_match_reply(
        &self,
        device: &Principal,
        key: &str,
        who: i64,
        score: f32,
        challenge: Option<&[crate::kiosk::challenge::Turn]>,
    ) -> Result<FrameReply, AppError> {
        self.audit(
            &device.actor,
            "kiosk.match",
            &format!("applicant:{who}"),
            json!({"score": score, "kiosk": device.name, "challenge": challenge}),
        )?;
        self.count(KioskState::Matched);
        let age = self.sessions().age(key, Instant::now());
        self.record_lookup(device.id, "face", age)?;
        self.sessions().end(key);
        let r = self.face_result(who)?;
        Ok(self.reply(
            Decision {
                state: KioskState::Matched,
                prompt: None,
                matched: Some(who as u64),
            },
            Some("face"),
            Some(r),
        ))
    }

    /// The keypad fallback: dossier code and the last 4 digits of the applicant's ID.
    pub fn kiosk_lookup(
        &self,
        device: &Principal,
        code: &str,
        id_digits: &str,
    ) -> Result<KioskResult, AppError> {
        let t = Instant::now();
        {
            let mut limits = self.attempts();
            let a = limits.entry(device.id).or_default();
            if a.locked_until.is_some_and(|u| t < u) {
                return Err(AppError::TooMany);
            }
            a.window
                .retain(|w| t.duration_since(*w) < Duration::from_secs(60));
            if a.window.len() >= PER_MINUTE {
                return Err(AppError::TooMany);
            }
            a.window.push(t);
        }
        let found = self
            .codes
            .check(code)
            .ok()
            .and_then(|c| self.store.read(|db| sql::dossier(db, &c)).ok().flatten());
        let hit = found.filter(|d| {
            let digits: String = id_digits.chars().filter(char::is_ascii_digit).collect();
            digits.len() == 4
                && self
                    .store
                    .read(|c| people::applicant(c, d.applicant_id))
                    .ok()
                    .flatten()
                    .and_then(|a| self.keys.open_field(&a.id_number_enc, "id_number").ok())
                    .is_some_and(|id| id.ends_with(digits.as_bytes()))
        });
        let mut limits = self.attempts();
        let a = limits.entry(device.id).or_default();
        match hit {
            Some(d) => {
                a.misses = 0;
                drop(limits);
                self.audit(&device.actor, "kiosk.lookup_code", &d.code, json!({}))?;
                self.record_lookup(device.id, "keypad", None)?;
                self.one_dossier_result(&d)
            }
            None => {
                a.misses += 1;
                if a.misses >= LOCKOUT_MISSES {
                    a.locked_until = Some(t + LOCKOUT);
                    a.misses = 0;
                }
                drop(limits);
                self.audit(&device.actor, "kiosk.lookup_miss", "", json!({}))?;
                Err(AppError::NotFound(
                    "no dossier with this code and ID digits".into(),
                ))
            }
        }
    }
}
