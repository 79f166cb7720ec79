//! The kiosk's keypad fallback: dossier code and the last 4 digits of the applicant's ID
//! number, under the guess limits of `kiosk::keypad` (misses per kiosk and dossier code, a
//! code locked everywhere only when several kiosks missed it, growing delays per kiosk;
//! counters in the database, so a restart forgets nothing) and a look-up budget per kiosk
//! (`kiosk::budget`). A kiosk tries its own office's codes only (any, serving the
//! province). Every miss is audited; a right one is audited and counted as a keypad look-up
//! once per kiosk and dossier in ten minutes.

use std::time::Instant;

use serde_json::json;

use super::kiosk::KioskResult;
use super::{lock, App, AppError};
use crate::auth::Principal;
use crate::kiosk::keypad::{seconds, CodeMisses, KeypadRule, Misses, Refusal};
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
        let digits = last_four(id_digits)?;
        let rule = KeypadRule::default();
        let code = self.codes.check(code).ok();
        if let Err(wait) = lock(&self.lookup_budget).take(device.id, Instant::now()) {
            return Err(AppError::Throttled(wait.as_secs().max(1)));
        }
        let kiosk_key = format!("kiosk:{}", device.id);
        // One look-up at a time: counters are read, checked and written without a race.
        let _gate = self.keypad_gate()?;
        let found = code
            .as_ref()
            .map(|c| self.store.read(|db| sql::dossier(db, c)))
            .transpose()?
            .flatten();
        // Another office's code is not this kiosk's to try (unless it serves the province):
        // found or not, its counters are neither read nor touched.
        let scope = self.kiosk_scope(device);
        let ours = found
            .as_ref()
            .is_none_or(|d| scope.is_none_or(|o| o == d.office_id));
        let found = found.filter(|_| ours);
        let code_keys = code
            .as_ref()
            .filter(|_| ours)
            .map(|c| crate::kiosk::keypad::code_keys(c, device.id));
        let t = now_ms();
        let (here, kiosks, kiosk_m) = self.store.read(|c| {
            let get = |k: &str| misses::get(c, k);
            let (here, kiosks) = match &code_keys {
                Some((h, k)) => (get(h)?, get(k)?),
                None => (None, None),
            };
            Ok((here, kiosks, get(&kiosk_key)?))
        })?;
        let code_m = rule.current_code(here, kiosks, t);
        let kiosk_m = rule.current(kiosk_m, t);
        match rule.check(code_m, kiosk_m, t) {
            Err(Refusal::CodeLocked(ms)) => return Err(AppError::CodeLocked(seconds(ms))),
            Err(Refusal::KioskWait(ms)) => return Err(AppError::Throttled(seconds(ms))),
            Ok(()) => {}
        }
        let hit = match found {
            Some(d) => self
                .id_ends_with(crate::applicant::ApplicantId(d.applicant_id), &digits)?
                .then_some(d),
            None => None,
        };
        let Some(d) = hit else {
            let counted = Counted {
                code_keys: code_keys.as_ref(),
                kiosk_key: &kiosk_key,
                code: code_m,
                kiosk: kiosk_m,
            };
            return Err(self.keypad_missed(device, &rule, counted, t));
        };
        // The same dossier again on the same kiosk within minutes: one look-up.
        let first = self.first_lookup(device, &d.code, LookupMethod::Keypad);
        self.store.audited(&device.actor, now(), |tx| {
            if let Some((h, k)) = &code_keys {
                misses::clear(tx, h)?;
                misses::clear(tx, k)?;
            }
            if first {
                tx.record(Action::KioskLookupCode, &d.code, json!({}))?;
            }
            Ok(())
        })?;
        drop(_gate);
        self.keypad_found(device, session, &d, first)
    }

    /// A miss: counted against the code (when it is this kiosk's to try) and the kiosk,
    /// audited; the answer is "not found" whatever was wrong.
    fn keypad_missed(&self, device: &Principal, rule: &KeypadRule, m: Counted, t: i64) -> AppError {
        let (code_after, kiosk_after) = (
            m.code_keys.map(|_| rule.code_missed(m.code, t)),
            rule.missed(m.kiosk, t),
        );
        let written = self.store.audited(&device.actor, now(), |tx| {
            misses::prune(tx, t - rule.forget_ms.max(rule.code_lock_ms))?;
            if let (Some(keys), Some(c)) = (m.code_keys, code_after) {
                misses::put_code(tx, keys, c)?;
            }
            misses::put(tx, m.kiosk_key, kiosk_after)?;
            tx.record(
                Action::KioskLookupMiss,
                "",
                json!({"code_misses": code_after.map(|c: CodeMisses| c.here.count),
                       "code_kiosks": code_after.map(|c: CodeMisses| c.kiosks.count),
                       "kiosk_misses": kiosk_after.count}),
            )
        });
        match written {
            Ok(_) => AppError::NotFound("no dossier with this code and ID digits".into()),
            Err(e) => e.into(),
        }
    }

    /// A right code and digits: counted (once per kiosk and dossier in ten minutes) and
    /// shown.
    fn keypad_found(
        &self,
        device: &Principal,
        session: &str,
        d: &sql::DossierRow,
        first: bool,
    ) -> Result<KioskResult, AppError> {
        let visit = if session.is_empty() {
            String::new()
        } else {
            super::visit::visit_key(device, session)
        };
        if first {
            self.record_lookup(device.id, &visit, LookupMethod::Keypad, None)?;
        }
        let r = self.one_dossier_result(d)?;
        self.shown(device, Some(&r));
        Ok(r)
    }

    /// Whether this is kiosk `device`'s first look-up of `code` by `method` in ten minutes
    /// (repeats are neither audited nor counted again).
    pub(crate) fn first_lookup(
        &self,
        device: &Principal,
        code: &str,
        method: LookupMethod,
    ) -> bool {
        lock(&self.lookup_repeats).first((device.id, code.to_string(), method), Instant::now())
    }
}

/// The 4 digits typed, or why they are not.
fn last_four(id_digits: &str) -> Result<String, AppError> {
    let digits: String = id_digits.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 || id_digits.trim().len() != 4 {
        return Err(AppError::Invalid(
            "id_digits must be the last 4 digits of the ID number".into(),
        ));
    }
    Ok(digits)
}

/// The miss counters a keypad look-up read: the code's (here and across kiosks, when it is
/// this kiosk's to try) and the kiosk's.
struct Counted<'a> {
    code_keys: Option<&'a (String, String)>,
    kiosk_key: &'a str,
    code: CodeMisses,
    kiosk: Misses,
}
