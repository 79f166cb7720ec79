//! The desk's side of the keypad lock (issue 26): which of a person's dossier codes kiosks
//! have missed or locked, and unlocking a code for its owner at the desk (audited). A lock
//! never stops a face or receipt-QR look-up of the same dossier.

use serde::Serialize;
use serde_json::json;

use super::{App, AppError};
use crate::auth::Principal;
use crate::kiosk::keypad::{seconds, KeypadRule};
use crate::store::audit::Action;
use crate::store::{misses, now, now_ms};

/// The keypad misses of one dossier code as the desk sees them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeLock {
    pub code: String,
    /// Wrong ID digits typed for this code (at all kiosks, in the last 15 minutes).
    pub misses: u32,
    /// How many kiosks missed it.
    pub kiosks: u32,
    /// When the latest miss was (Unix seconds).
    pub last_at: i64,
    /// Seconds the code stays locked at some kiosk (0: not locked).
    pub locked_for_s: u64,
}

impl App {
    /// The keypad misses of dossier `code` (None when there are none lately).
    pub(crate) fn code_lock(&self, code: &str) -> Result<Option<CodeLock>, AppError> {
        let rule = KeypadRule::default();
        let t = now_ms();
        let rows = self.store.read(|c| misses::of_code(c, code))?;
        let kiosks_key = crate::kiosk::keypad::kiosks_key(code);
        let (mut lock, mut locked_ms) = (
            CodeLock {
                code: code.to_string(),
                misses: 0,
                kiosks: 0,
                last_at: 0,
                locked_for_s: 0,
            },
            0i64,
        );
        for (key, m) in rows {
            let m = rule.current(Some(m), t);
            if m.count == 0 {
                continue;
            }
            let locks_at = if key == kiosks_key {
                lock.kiosks = m.count;
                rule.kiosks_to_lock
            } else {
                lock.misses += m.count;
                rule.code_misses
            };
            lock.last_at = lock.last_at.max(m.last_ms / 1000);
            if m.count >= locks_at {
                locked_ms = locked_ms.max(m.last_ms + rule.code_lock_ms - t);
            }
        }
        if locked_ms > 0 {
            lock.locked_for_s = seconds(locked_ms);
        }
        Ok((lock.misses > 0 || lock.kiosks > 0).then_some(lock))
    }

    /// Unlocks dossier `code` at the desk: its keypad misses on every kiosk are forgotten.
    /// Audited `dossier.unlock` with what was cleared.
    pub fn unlock_code(&self, by: &Principal, code: &str) -> Result<Option<CodeLock>, AppError> {
        let d = self.dossier(by, code)?;
        let before = self.code_lock(&d.code)?;
        self.store.audited(&by.actor, now(), |tx| {
            misses::clear_code(tx, &d.code)?;
            tx.record(
                Action::CodeUnlock,
                &d.code,
                json!({"misses": before.as_ref().map(|l| l.misses),
                       "kiosks": before.as_ref().map(|l| l.kiosks),
                       "locked_for_s": before.as_ref().map(|l| l.locked_for_s)}),
            )
        })?;
        Ok(before)
    }
}
