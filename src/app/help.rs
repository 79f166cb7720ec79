//! "Gọi cán bộ hỗ trợ": a citizen at a kiosk asks for staff. The request is recorded
//! (which kiosk and when — never who), audited, counted in the statistics and pushed to
//! every open clerk desk at once (`help_events`, server-sent events); a clerk answers it.
//! A kiosk with an unanswered request of the last few minutes does not make another.

use serde_json::json;

use super::{App, AppError};
use crate::auth::Principal;
use crate::store::audit::Action;
use crate::store::help::{self, HelpCall};
use crate::store::listen;
use crate::store::now;

/// An unanswered request younger than this is the same request (a second tap).
const REPEAT_S: i64 = 180;
/// Requests older than this are no longer shown as waiting.
const SHOWN_S: i64 = 3600;

impl App {
    /// A kiosk asks for staff; returns the request (a new one, or the one still waiting).
    pub fn call_staff(&self, device: &Principal) -> Result<HelpCall, AppError> {
        let t = now();
        if let Some(id) = self
            .store
            .read(|c| help::open_of(c, device.id, t - REPEAT_S))?
        {
            if let Some(call) = self.store.read(|c| help::get(c, id))? {
                return Ok(call);
            }
        }
        let id = self.store.audited(&device.actor, t, |tx| {
            let id = help::insert(tx, t, device.id)?;
            tx.record(
                Action::KioskHelpCall,
                "",
                json!({"kiosk": device.name, "call": id}),
            )?;
            Ok(id)
        })?;
        let call = self
            .store
            .read(|c| help::get(c, id))?
            .ok_or_else(|| AppError::Internal("help call vanished".into()))?;
        self.announce("help", &call);
        Ok(call)
    }

    /// The kiosk's own request `id` (whether a clerk is coming); another kiosk's is not found.
    pub fn my_help_call(&self, device: &Principal, id: i64) -> Result<HelpCall, AppError> {
        self.store
            .read(|c| help::get_of(c, id, device.id))?
            .ok_or_else(|| AppError::NotFound(format!("help request {id}")))
    }

    /// A clerk answers request `id` (of a kiosk of their office).
    pub fn answer_help(&self, by: &Principal, id: i64) -> Result<HelpCall, AppError> {
        let t = now();
        let theirs = self
            .store
            .read(|c| help::get(c, id))?
            .is_some_and(|c| c.office_id.is_none_or(|o| super::offices::sees(by, o)));
        if !theirs {
            return Err(AppError::NotFound(format!("help request {id}")));
        }
        let user = by.user_id().ok_or(AppError::Unauthorized)?;
        let answered = self.store.audited(&by.actor, t, |tx| {
            let ok = help::answer(tx, id, user, t)?;
            if ok {
                tx.record(Action::HelpAnswer, "", json!({"call": id}))?;
            }
            Ok(ok)
        })?;
        let call = self
            .store
            .read(|c| help::get(c, id))?
            .ok_or_else(|| AppError::NotFound(format!("help request {id}")))?;
        if answered {
            self.announce("answered", &call);
        }
        Ok(call)
    }

    /// Requests still waiting (the last hour) at the kiosks of `by`'s office, oldest first.
    pub fn waiting_help(&self, by: &Principal) -> Result<Vec<HelpCall>, AppError> {
        Ok(self
            .store
            .read(|c| help::open(c, now() - SHOWN_S, by.office))?)
    }

    /// Pushes a call (or its answer) to this server's desks, and to the other servers'
    /// desks through the database.
    fn announce(&self, kind: &str, call: &HelpCall) {
        let msg = json!({"type": kind, "call": call}).to_string();
        // No desk listening is fine: the request is stored and shown when a desk opens.
        let _ = self.help_events.send((call.office_id, msg.clone()));
        let relay =
            json!({"from": self.instance, "office": call.office_id, "msg": msg}).to_string();
        if let Err(e) = self.store.read(|c| listen::to_desks(c, &relay)) {
            tracing::warn!(error = %e, "telling the other servers' desks");
        }
    }

    /// A desk message from another server (`store::listen`): to this server's desks.
    pub(crate) fn desk_message_heard(&self, payload: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) else {
            return;
        };
        if v["from"].as_str() == Some(self.instance.as_str()) {
            return;
        }
        if let Some(msg) = v["msg"].as_str() {
            let _ = self
                .help_events
                .send((v["office"].as_i64(), msg.to_string()));
        }
    }
}
