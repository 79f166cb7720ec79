//! The kiosk's keypad fallback: dossier code and the last 4 digits of the applicant's ID
//! number, under the guess limits of `kiosk::keypad` (misses per dossier code across all
//! kiosks, growing delays per kiosk; counters in the database, so a restart forgets
//! nothing). Every try is audited; a right one is counted as a keypad look-up.

use serde_json::json;

use super::kiosk::KioskResult;
use super::{App, AppError};
use crate::auth::Principal;
use crate::kiosk::keypad::{seconds, KeypadRule, Misses, Refusal};
use crate::kiosk::LookupMethod;
use crate::store::audit::Action;
use crate::store::{dossiers as sql, misses, now, now_ms};

impl App {
    /// The keypad fallback: dossier code and the last 4 digits of the applicant's ID, typed
    /// in kiosk page session `session` (which may resolve that session's face visit).
    pub fn kiosk_lookup(
        &self,
        device: &Principal,
        session: &str,
        code: &str,
        id_digits: &str,
    ) -> Result<KioskResult, AppError> {
        let digits: String = id_digits.chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 || id_digits.trim().len() != 4 {
            return Err(AppError::Invalid(
                "id_digits must be the last 4 digits of the ID number".into(),
            ));
        }
        let rule = KeypadRule::default();
        let code = self.codes.check(code).ok();
        let code_key = code.as_ref().map(|c| format!("code:{c}"));
        let kiosk_key = format!("kiosk:{}", device.id);
        // One look-up at a time: counters are read, checked and written without a race.
        let _gate = self.keypad_gate()?;
        let t = now_ms();
        let (code_m, kiosk_m) = self.store.read(|c| {
            let get = |k: &str| misses::get(c, k);
            Ok((
                code_key.as_deref().map(get).transpose()?.flatten(),
                get(&kiosk_key)?,
            ))
        })?;
        let (code_m, kiosk_m) = (rule.current(code_m, t), rule.current(kiosk_m, t));
        match rule.check(code_m, kiosk_m, t) {
            Err(Refusal::CodeLocked(ms)) => return Err(AppError::CodeLocked(seconds(ms))),
            Err(Refusal::KioskWait(ms)) => return Err(AppError::Throttled(seconds(ms))),
            Ok(()) => {}
        }
        let found = code
            .as_ref()
            .map(|c| self.store.read(|db| sql::dossier(db, c)))
            .transpose()?
            .flatten();
        let hit = match found {
            Some(d) => self
                .id_ends_with(crate::applicant::ApplicantId(d.applicant_id), &digits)?
                .then_some(d),
            None => None,
        };
        match hit {
            Some(d) => {
                self.store.audited(&device.actor, now(), |tx| {
                    if let Some(k) = &code_key {
                        misses::clear(tx, k)?;
                    }
                    tx.record(Action::KioskLookupCode, &d.code, json!({}))
                })?;
                drop(_gate);
                let visit = if session.is_empty() {
                    String::new()
                } else {
                    super::visit::visit_key(device, session)
                };
                self.record_lookup(device.id, &visit, LookupMethod::Keypad, None)?;
                let r = self.one_dossier_result(&d)?;
                self.shown(device, Some(&r));
                Ok(r)
            }
            None => {
                let (code_after, kiosk_after) = (
                    code_key.as_ref().map(|_| rule.missed(code_m, t)),
                    rule.missed(kiosk_m, t),
                );
                self.store.audited(&device.actor, now(), |tx| {
                    misses::prune(tx, t - rule.forget_ms.max(rule.code_lock_ms))?;
                    if let (Some(k), Some(m)) = (&code_key, code_after) {
                        misses::put(tx, k, m)?;
                    }
                    misses::put(tx, &kiosk_key, kiosk_after)?;
                    tx.record(
                        Action::KioskLookupMiss,
                        "",
                        json!({"code_misses": code_after.map(|m: Misses| m.count), "kiosk_misses": kiosk_after.count}),
                    )
                })?;
                Err(AppError::NotFound(
                    "no dossier with this code and ID digits".into(),
                ))
            }
        }
    }
}
