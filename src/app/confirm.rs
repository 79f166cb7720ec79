//! The kiosk's second step (README: “Kiosk decisions at scale”): when a face is plausible
//! but not sure enough for the number of people the kiosk may match, the visit asks the last
//! two digits of the citizen's ID number. Exactly one candidate whose ID ends with them: that
//! person's result. None, or more than one: "not recognised" (the fallback screen), never a
//! dossier; the miss counts towards each candidate's dossier codes' keypad lockout. One
//! answer per visit; every question and answer audited.

use serde_json::json;

use super::kiosk::FrameReply;
use super::visit::visit_key;
use super::{App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::Principal;
use crate::kiosk::keypad::KeypadRule;
use crate::store::audit::Action;
use crate::store::{dossiers as sql, misses, now, now_ms};

/// Digits asked (the odds a stranger's own digits fit one candidate: 1 in 10^DIGITS).
pub const DIGITS: usize = 2;

impl App {
    /// The answer to the second step in kiosk page session `session`: `id_digits` the last
    /// 2 digits of the ID number, or empty for "not me".
    pub fn kiosk_confirm(
        &self,
        device: &Principal,
        session: &str,
        id_digits: &str,
    ) -> Result<FrameReply, AppError> {
        let typed = id_digits.trim();
        let cancel = typed.is_empty();
        if !cancel && (typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit())) {
            return Err(AppError::Invalid(
                "id_digits must be the last 2 digits of the ID number, or empty".into(),
            ));
        }
        let key = visit_key(device, session);
        let (decision, candidates, fitting) = self.in_session(&key, |s, t| {
            let Some(candidates) = s.pending_confirm(t).map(<[_]>::to_vec) else {
                return Err(AppError::Conflict(
                    "no question is waiting in this kiosk session".into(),
                ));
            };
            let mut fitting = Vec::new();
            if !cancel {
                for &(who, score) in &candidates {
                    if self.id_ends_with(ApplicantId::from_gallery(who), typed)? {
                        fitting.push((who, score));
                    }
                }
            }
            let who = match fitting.as_slice() {
                [one] => Some(*one),
                _ => None,
            };
            Ok((s.resolve_confirm(who, t), candidates, fitting.len()))
        })?;
        if !cancel && fitting != 1 {
            self.second_step_missed(device, &candidates, fitting)?;
        }
        let reply = self.act(device, &key, decision)?;
        self.shown(device, reply.result.as_ref());
        Ok(reply)
    }

    /// A wrong answer: audited, and one miss on each candidate's open dossier codes.
    fn second_step_missed(
        &self,
        device: &Principal,
        candidates: &[(u64, f32)],
        fitting: usize,
    ) -> Result<(), AppError> {
        let rule = KeypadRule::default();
        let _gate = self.keypad_gate()?;
        let t = now_ms();
        let mut codes = Vec::new();
        for &(who, _) in candidates {
            let person = ApplicantId::from_gallery(who);
            let ds = self.store.read(|c| sql::dossiers_of(c, person.0))?;
            codes.extend(
                ds.into_iter()
                    .filter(|d| !crate::dossier::Status::stored(d.status).is_closed())
                    .map(|d| crate::kiosk::keypad::code_keys(&d.code, device.id)),
            );
        }
        // Counted like keypad misses: on this kiosk, and towards the kiosks' count.
        let counts = self.store.read(|c| {
            codes
                .iter()
                .map(|(h, k)| {
                    let m = rule.current_code(misses::get(c, h)?, misses::get(c, k)?, t);
                    Ok(rule.code_missed(m, t))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        self.store.audited(&device.actor, now(), |tx| {
            for (keys, m) in codes.iter().zip(&counts) {
                misses::put_code(tx, keys, *m)?;
            }
            tx.record(
                Action::KioskSecondStepMiss,
                "",
                json!({"kiosk": device.name, "candidates": candidates.len(), "fitting": fitting}),
            )
        })?;
        Ok(())
    }

    /// Audits the question of a second step (the candidates' count and scores, no identity).
    pub(crate) fn second_step_asked(
        &self,
        device: &Principal,
        candidates: &[(u64, f32)],
    ) -> Result<(), AppError> {
        let scores: Vec<f32> = candidates.iter().map(|c| c.1).collect();
        self.audit(
            device,
            Action::KioskSecondStep,
            "",
            json!({"kiosk": device.name, "candidates": candidates.len(), "scores": scores}),
        )
    }
}
