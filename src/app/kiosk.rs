//! The lobby kiosk's use cases: a camera frame (decoded here, decided in `visit`), the
//! presence check while a result is shown, and the result a citizen sees: masked name,
//! dossiers (most urgent first), timeline, appointment, next action. Matches are audited;
//! frames are never stored. The keypad fallback is `app::keypad`.

use std::collections::HashMap;

use serde::Serialize;

use super::dossiers::DossierView;
use super::{App, AppError};
use crate::applicant::greeting_name;
use crate::applicant::ApplicantId;
use crate::auth::Principal;
use crate::dossier::Status;
use crate::kiosk::KioskState;
use crate::kiosk::LookupMethod;
use crate::store::{dossiers as sql, now, people, DossierRow};
use crate::vision::decode;

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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KioskDossier {
    #[serde(flatten)]
    pub view: DossierView,
    pub next_action: String,
    pub next_action_en: String,
    /// The phrases read aloud for this dossier (procedure, status, due date, next step), in
    /// Vietnamese and in English; only these (and the greeting) may be read.
    pub say: Vec<String>,
    pub say_en: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KioskResult {
    pub display_name: String,
    pub dossiers: Vec<KioskDossier>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrameReply {
    pub state: KioskState,
    pub prompt: Option<String>,
    pub prompt_key: Option<&'static str>,
    /// How the result was found: by face or by the receipt's QR code.
    pub via: Option<LookupMethod>,
    pub result: Option<KioskResult>,
    /// The head-turn challenge in progress (state "challenge").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<crate::kiosk::ChallengeView>,
    /// A receipt QR code was seen but not read: what to tell the person (locale key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_hint: Option<&'static str>,
    /// A presence frame saw a receipt QR code held up (the result it gave stays).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub receipt: bool,
    /// The visit's identity evidence after this frame (for `hoso eval --kiosk`; never sent).
    #[serde(skip)]
    pub evidence: Option<crate::kiosk::Evidence>,
}

const RECENTLY_RETURNED_S: i64 = 7 * 24 * 3600;

fn check_session(session: &str) -> Result<(), AppError> {
    if session.is_empty() || session.len() > 100 {
        return Err(AppError::Invalid(
            "X-Kiosk-Session header (1–100 characters) is required".into(),
        ));
    }
    Ok(())
}

/// How soon a citizen must act on a dossier (lower first): a supplement or a payment is
/// asked of them, then overdue, then ready to collect, then the rest.
fn urgency(d: &DossierView) -> u8 {
    match d.status {
        5 | 6 => 0,
        _ if d.overdue => 1,
        9 => 2,
        _ if !d.closed => 3,
        _ => 4,
    }
}

/// The appointment's label: the receipt's date, or the apology's new one.
pub(crate) fn due_label(d: &DossierView) -> &'static str {
    if d.moved_with_apology {
        "kiosk.new_due"
    } else {
        "kiosk.due"
    }
}

impl App {
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
        // Late: never "wait for the appointment" (it has passed). The office apologises;
        // with the apology's new date the citizen is told it, else to ask at the counter.
        let key = if d.overdue {
            "next.overdue".to_string()
        } else if d.moved_with_apology && !d.closed && !matches!(d.status, 5 | 6 | 9) {
            "next.rescheduled".to_string()
        } else {
            format!("next.{}", d.status)
        };
        self.strings
            .get(en, &key)
            .replace(
                "{due}",
                &crate::app::dossiers::vn_format(
                    chrono::DateTime::parse_from_rfc3339(&d.due_at).map_or(0, |t| t.timestamp()),
                    "%d/%m/%Y",
                ),
            )
            .replace("{note}", &note)
            .replace("{agency}", &agency)
            .replace("{place}", &self.return_place(d.office_id))
            .trim()
            .to_string()
    }

    /// Where the results of `office` are returned (the configured place if unreadable).
    fn return_place(&self, office: i64) -> String {
        self.office(office)
            .map(|o| o.return_place)
            .unwrap_or_else(|_| self.config.office.return_place.clone())
    }

    fn kiosk_dossier(&self, d: &DossierRow) -> Result<KioskDossier, AppError> {
        let view = self.view(d)?;
        let (next_action, next_action_en) = (
            self.next_action(&view, false),
            self.next_action(&view, true),
        );
        Ok(KioskDossier {
            say: self.phrases(&view, false, &next_action),
            say_en: self.phrases(&view, true, &next_action_en),
            next_action,
            next_action_en,
            view,
        })
    }

    /// What the kiosk reads aloud of one dossier (never the name or the code), with dates,
    /// times and amounts written out for speech (`kiosk::spoken`).
    fn phrases(&self, d: &DossierView, en: bool, next: &str) -> Vec<String> {
        // "2026-12-05 17:00" → "05/12/2026", as the page shows it.
        let date = match d.due_at.get(..10).map(|s| s.split('-').collect::<Vec<_>>()) {
            Some(p) if p.len() == 3 => format!("{}/{}/{}", p[2], p[1], p[0]),
            _ => d.due_at.clone(),
        };
        let status = if en { d.status_text_en } else { d.status_text };
        [
            format!("{}.", d.procedure),
            format!("{status}."),
            format!("{}: {date}.", self.strings.get(en, due_label(d))),
            next.to_string(),
        ]
        .iter()
        .map(|p| crate::kiosk::spoken::for_speech(p, en))
        .collect()
    }

    /// The face result: open dossiers and those returned in the last 7 days, most urgent
    /// first (newest first within the same urgency).
    pub(crate) fn face_result(&self, applicant: ApplicantId) -> Result<KioskResult, AppError> {
        let (a, ds) = self.store.read(|c| {
            Ok((
                people::applicant(c, applicant.0)?,
                sql::dossiers_of(c, applicant.0)?,
            ))
        })?;
        let a = a.ok_or_else(|| AppError::NotFound(format!("applicant {applicant}")))?;
        let t = now();
        let mut dossiers = ds
            .iter()
            .filter(|d| {
                !Status::stored(d.status).is_closed()
                    || (Status::stored(d.status) == Status::Returned
                        && t - d.updated_at <= RECENTLY_RETURNED_S)
            })
            .map(|d| self.kiosk_dossier(d))
            .collect::<Result<Vec<_>, _>>()?;
        // Most urgent first (stable: newest first within a rank).
        dossiers.sort_by_key(|d| urgency(&d.view));
        Ok(KioskResult {
            display_name: greeting_name(&a.full_name),
            dossiers,
        })
    }

    pub(crate) fn one_dossier_result(&self, d: &DossierRow) -> Result<KioskResult, AppError> {
        let a = self
            .store
            .read(|c| people::applicant(c, d.applicant_id))?
            .ok_or_else(|| AppError::NotFound("applicant".into()))?;
        Ok(KioskResult {
            display_name: greeting_name(&a.full_name),
            dossiers: vec![self.kiosk_dossier(d)?],
        })
    }

    /// One camera frame from kiosk `device` in session `session`.
    pub fn kiosk_frame(
        &self,
        device: &Principal,
        session: &str,
        image: &[u8],
    ) -> Result<FrameReply, AppError> {
        check_session(session)?;
        static FRAMES: std::sync::LazyLock<crate::gate::Gate> =
            std::sync::LazyLock::new(crate::gate::Gate::per_core);
        let _turn = FRAMES.enter();
        let img = self.kiosk_decode(device, image)?;
        let reply = self.kiosk_image(device, session, &img)?;
        self.shown(device, reply.result.as_ref());
        Ok(reply)
    }

    /// One camera frame while the citizen holds up the receipt (the QR fallback).
    pub fn kiosk_receipt_frame(
        &self,
        device: &Principal,
        session: &str,
        image: &[u8],
    ) -> Result<FrameReply, AppError> {
        check_session(session)?;
        let img = self.kiosk_decode(device, image)?;
        let reply = self.kiosk_qr_frame(device, session, &img)?;
        self.shown(device, reply.result.as_ref());
        Ok(reply)
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

    /// What the kiosk page needs to know of its office: the start of dossier codes to
    /// pre-fill on the keypad, and how long a screen waits for a touch.
    /// The prefix is the kiosk's office's (the configured one for the default office), else
    /// that of the newest dossier of its office.
    pub fn kiosk_setup(&self, device: &Principal) -> Result<serde_json::Value, AppError> {
        let office = device
            .office
            .unwrap_or(crate::store::offices::DEFAULT_OFFICE);
        let configured = self.office(office)?.code_prefix;
        let prefix = if configured.is_empty() {
            self.store
                .read(|c| sql::newest_code(c, office))?
                .and_then(|c| c.split_once('-').map(|(p, _)| format!("{p}-")))
                .unwrap_or_default()
        } else {
            configured.clone()
        };
        Ok(serde_json::json!({
            "code_prefix": prefix,
            "inactivity_seconds": self.config.kiosk.inactivity_seconds.clamp(5, 600),
        }))
    }

    /// Whether someone is still in front of the kiosk (used while a result is shown, so the
    /// screen clears when the person walks away, and at the start until they have): a face
    /// detected, or a receipt QR code still held up (`receipt`; the person behind it may
    /// hide their face). No identification, no look-up.
    pub fn kiosk_presence(&self, device: &Principal, image: &[u8]) -> Result<FrameReply, AppError> {
        static FRAMES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let img = self.kiosk_decode(device, image)?;
        let n = FRAMES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (scan, faces) = std::thread::scope(|sc| {
            let scan =
                sc.spawn(|| crate::kiosk::qr::scan(&img, crate::kiosk::qr::Effort::Quick(n)));
            let faces = self.engine.detect(&img, self.config.vision.min_face_px);
            (scan.join().unwrap_or_default(), faces)
        });
        let receipt = scan.found.is_some() || scan.seen_px.is_some();
        let state = if !faces?.is_empty() || receipt {
            KioskState::HoldStill
        } else {
            KioskState::Searching
        };
        let mut r = self.reply(state, None, None, None);
        r.receipt = receipt;
        Ok(r)
    }
}

impl App {
    /// A kiosk's one-tap service rating (1–5; counts only, never who): one per result the
    /// kiosk showed in the last 15 minutes (409 otherwise).
    pub fn rate(&self, kiosk: &crate::auth::Principal, score: i64) -> Result<(), AppError> {
        if !(1..=5).contains(&score) {
            return Err(AppError::field("score", "score must be 1 to 5"));
        }
        if !super::lock(&self.shown).rate(kiosk.id, std::time::Instant::now()) {
            return Err(AppError::Conflict(
                "a visit is rated once, after its result was shown".into(),
            ));
        }
        let t = crate::store::now();
        self.store
            .tx(|tx| crate::store::dossiers::insert_rating(tx, kiosk.id, score, t))?;
        Ok(())
    }
}
