//! The lobby kiosk's decision rules (README: “Kiosk decisions”), independent of HTTP and storage: the
//! states a kiosk page shows, the sessions of the kiosk pages (each holding the current
//! visit of `visit`, the pure state machine that decides), the head-turn challenge and the
//! receipt QR reader. Sessions expire when idle.

pub mod budget;
pub mod challenge;
pub mod eligible;
pub mod keypad;
pub mod qr;
pub mod scale;
pub mod shown;
pub mod spoken;
pub mod visit;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::vision::quality::Issue;
pub use visit::{
    ChallengeView, Decision, Event, Evidence, LivenessRule, Observation, PassivePoint, Ports,
    Session, VisitRule, Want,
};

/// How a kiosk visit ended, as the statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LookupMethod {
    /// Recognised by face.
    Face,
    /// The receipt's QR code shown to the camera.
    Qr,
    /// Dossier code and ID digits typed on the keypad.
    Keypad,
    /// Not resolved (yet): a fallback may still resolve the visit.
    None,
}

impl LookupMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LookupMethod::Face => "face",
            LookupMethod::Qr => "qr",
            LookupMethod::Keypad => "keypad",
            LookupMethod::None => "none",
        }
    }

    /// A fallback that can resolve a visit the face left unresolved.
    pub fn is_fallback(self) -> bool {
        matches!(self, LookupMethod::Qr | LookupMethod::Keypad)
    }
}

/// What the kiosk page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KioskState {
    Searching,
    HoldStill,
    Challenge,
    Matched,
    NoMatch,
    SpoofSuspected,
    /// The second step: the kiosk asks the last 2 digits of the citizen's ID number.
    Confirm,
}

/// All kiosk sessions (one per kiosk page), each holding its current visit. A frame takes
/// its session out, is processed without the lock, and puts it back.
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

    /// The session `id` (a fresh one if unknown or idle too long), taken out of the map.
    pub fn take(&mut self, id: &str, now: Instant) -> Session {
        let idle = self.idle;
        self.map
            .retain(|_, s| s.last_seen.is_some_and(|t| now.duration_since(t) < idle));
        self.map.remove(id).unwrap_or_default()
    }

    /// Puts a session back after its frame.
    pub fn put(&mut self, id: &str, mut s: Session, now: Instant) {
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
        s.last_seen = Some(now);
        self.map.insert(id.to_string(), s);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
