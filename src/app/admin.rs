//! The admin's use cases: settings (kiosk operating point, retention), accounts, device
//! tokens, the consent register, and the audit viewer. Every change is audited.

use crate::store::audit::Action;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{App, AppError};
use crate::applicant::{masked_name, ApplicantId};
use crate::auth::Principal;
use crate::auth::{self, Role};
use crate::config::Config;
use crate::store::{admin, audit, now, Store};

const SETTINGS_KEY: &str = "admin";

/// What the admin may change at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Days after the last dossier closed before face data is purged (1–365).
    #[schema(minimum = 1, maximum = 365)]
    pub retention_grace_days: u32,
    /// Kiosk operating point; None = the calibrated value from the model manifest (a value
    /// must lie within the band around the calibrated one the answer states, else 422).
    /// (Read as f64, so the document's bounds are checked on the number sent, not on a
    /// rounded one.)
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub kiosk_threshold: Option<f64>,
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub kiosk_margin: Option<f64>,
}

impl Settings {
    pub(crate) fn load(store: &Store, config: &Config) -> Result<Self, AppError> {
        let stored = store.read(|c| admin::setting(c, SETTINGS_KEY))?;
        Ok(stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Settings {
                retention_grace_days: config.retention.grace_days,
                kiosk_threshold: None,
                kiosk_margin: None,
            }))
    }
}

/// The settings with the calibrated operating point beside them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub retention_grace_days: u32,
    pub kiosk_threshold: Option<f32>,
    pub kiosk_margin: Option<f32>,
    pub calibrated_threshold: Option<f32>,
    pub calibrated_margin: Option<f32>,
    /// The threshold at a false-accept rate of 1e-3 (verification), for reference.
    pub threshold_far_1e3: Option<f32>,
    /// True when the kiosk runs off the calibrated point.
    pub off_calibration: bool,
    /// What the kiosks of the caller's scope decide with now (README: “Kiosk decisions at
    /// scale”): None without a fitted impostor tail.
    pub kiosk_scale: Option<KioskScaleView>,
}

/// The kiosk's operating point at its real number of people.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KioskScaleView {
    /// "office" or "province" (`kiosk.scope`).
    pub scope: &'static str,
    #[serde(flatten)]
    pub point: crate::kiosk::scale::ScalePoint,
}

/// One row of the consent register (the name masked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentEntry {
    pub display_name: String,
    /// Consented, enrolled with another recognition profile only: the kiosk cannot
    /// recognise the person until a clerk enrols the face again.
    pub needs_reenrolment: bool,
    #[serde(flatten)]
    pub record: admin::ConsentRecord,
}

impl From<admin::ConsentRecord> for ConsentEntry {
    fn from(r: admin::ConsentRecord) -> Self {
        Self {
            display_name: masked_name(&r.full_name),
            needs_reenrolment: r.withdrawn_at.is_none()
                && r.consent_id.is_some()
                && r.templates > 0
                && r.templates_active == 0,
            record: r,
        }
    }
}

/// A device with what this process saw of it (kiosk frames).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: crate::store::DeviceRow,
    pub last_frame_at: Option<i64>,
    pub unreadable_frames: u64,
}

impl App {
    /// The settings, with the operating point of the kiosks of `office` (None: every office).
    pub fn settings_view(&self, office: Option<i64>) -> SettingsView {
        let s = self.settings();
        let province = matches!(self.config.kiosk.scope, crate::config::KioskScope::Province);
        let people = self
            .eligible()
            .map(|e| e.within(if province { None } else { office }).len())
            .unwrap_or(0);
        let kiosk_scale = self.scale_point(people).map(|point| KioskScaleView {
            scope: if province { "province" } else { "office" },
            point,
        });
        let (ct, cm) = self.calibrated_point();
        let off = |v: Option<f64>, c: Option<f32>| v.is_some_and(|v| Some(v as f32) != c);
        SettingsView {
            off_calibration: off(s.kiosk_threshold, ct) || off(s.kiosk_margin, cm),
            retention_grace_days: s.retention_grace_days,
            kiosk_threshold: s.kiosk_threshold.map(|v| v as f32),
            kiosk_margin: s.kiosk_margin.map(|v| v as f32),
            calibrated_threshold: ct,
            calibrated_margin: cm,
            threshold_far_1e3: self.scorer.threshold_far_1e3,
            kiosk_scale,
        }
    }

    /// Replaces the settings (validated), stores and audits them.
    pub fn update_settings(&self, by: &Principal, new: Settings) -> Result<SettingsView, AppError> {
        if !(1..=365).contains(&new.retention_grace_days) {
            return Err(AppError::Invalid(
                "retention_grace_days must be between 1 and 365".into(),
            ));
        }
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !finite(new.kiosk_threshold) || !finite(new.kiosk_margin) {
            return Err(AppError::Invalid("thresholds must be numbers".into()));
        }
        if new.kiosk_margin.is_some_and(|m| m <= 0.0 || m > 1.0)
            || new.kiosk_threshold.is_some_and(|t| t <= 0.0 || t > 1.0)
        {
            return Err(AppError::Invalid(
                "thresholds and margins are above 0 and at most 1".into(),
            ));
        }
        let (ct, cm) = self.calibrated_point();
        if let (Some(v), Some((lo, hi))) = (new.kiosk_threshold, ct.map(threshold_band)) {
            if !(lo..=hi).contains(&(v as f32)) {
                return Err(AppError::unusable(
                    Some("kiosk_threshold"),
                    format!("kiosk_threshold must be between {lo:.3} and {hi:.3} (0.8 to 2.5 times the calibrated {:.3}, at most 1 for a cosine score)", ct.unwrap_or_default()),
                ));
            }
        }
        if let (Some(v), Some((lo, hi))) = (new.kiosk_margin, cm.map(margin_band)) {
            if !(lo..=hi).contains(&(v as f32)) {
                return Err(AppError::unusable(
                    Some("kiosk_margin"),
                    format!("kiosk_margin must be between {lo:.3} and {hi:.3} (half to five times the calibrated {:.3})", cm.unwrap_or_default()),
                ));
            }
        }
        let old = self.settings();
        let value = serde_json::to_string(&new).map_err(|e| AppError::Internal(e.to_string()))?;
        let t = now();
        self.store.audited(&by.actor, t, |tx| {
            admin::set_setting(tx, SETTINGS_KEY, &value, &by.actor, t)?;
            tx.record(
                Action::SettingsChange,
                SETTINGS_KEY,
                json!({"from": old, "to": new}),
            )?;
            Ok(())
        })?;
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(self.settings_view(by.office))
    }

    /// The accounts `by` manages (their office's, or all for a province admin).
    pub fn list_users(&self, by: &Principal) -> Result<Vec<admin::UserInfo>, AppError> {
        Ok(self.store.read(|c| admin::users(c, by.office))?)
    }

    /// Refuses an account outside `by`'s office ("not found", as if it did not exist).
    fn require_user_in_scope(&self, by: &Principal, id: i64) -> Result<(), AppError> {
        if self.store.read(|c| admin::user_exists(c, id, by.office))? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("user {id}")))
        }
    }

    /// Activates/deactivates an account or sets its password (ending its sessions).
    pub fn update_user(
        &self,
        by: &Principal,
        id: i64,
        active: Option<bool>,
        password: Option<&str>,
    ) -> Result<(), AppError> {
        if active == Some(false) {
            if Some(id) == by.user_id() {
                return Err(AppError::Invalid(
                    "you cannot deactivate your own account".into(),
                ));
            }
            if self.store.read(|c| admin::other_active_admins(c, id))? == 0 {
                return Err(AppError::Conflict(
                    "the last active admin cannot be deactivated".into(),
                ));
            }
        }
        let hash = password
            .map(auth::hash_password)
            .transpose()
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let t = now();
        self.require_user_in_scope(by, id)?;
        {
            // Outside the database first, so a restore of an older backup re-applies them.
            if let Some(a) = active {
                let entry = crate::journal::Entry::AccountActive {
                    user: id,
                    active: a,
                };
                self.journal.append(t, entry)?;
            }
            if let Some(h) = &hash {
                let entry = crate::journal::Entry::PasswordChanged {
                    user: id,
                    hash: h.clone(),
                };
                self.journal.append(t, entry)?;
            }
        }
        self.store.audited_with(&by.actor, t, |tx| {
            let mut found = true;
            if let Some(a) = active {
                found &= admin::set_user_active(tx, id, a)?;
            }
            if let Some(h) = &hash {
                found &= admin::set_password(tx, id, h)?;
            }
            if !found {
                return Err(AppError::NotFound(format!("user {id}")));
            }
            tx.record(
                Action::UserUpdate,
                &format!("user:{id}"),
                json!({"active": active, "password_reset": hash.is_some()}),
            )?;
            Ok(())
        })
    }

    /// Sets the name a staff member signs receipts with (blank: the username), audited.
    pub fn set_display_name(
        &self,
        by: &Principal,
        id: i64,
        name: Option<&str>,
    ) -> Result<(), AppError> {
        let name = name.map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
        let name = name.as_deref().filter(|n| !n.is_empty());
        if let Some(n) = name {
            super::text::printable("display_name", n, 100)?;
        }
        self.require_user_in_scope(by, id)?;
        self.store.audited_with(&by.actor, now(), |tx| {
            if !admin::set_display_name(tx, id, name)? {
                return Err(AppError::NotFound(format!("user {id}")));
            }
            tx.record(
                Action::UserUpdate,
                &format!("user:{id}"),
                json!({"display_name": name}),
            )?;
            Ok(())
        })
    }

    /// The devices `by` manages (their office's, or all for a province admin).
    pub fn list_devices(&self, by: &Principal) -> Result<Vec<DeviceView>, AppError> {
        let health = self.kiosk_health();
        Ok(self
            .store
            .read(|c| admin::devices(c, by.office))?
            .into_iter()
            .map(|d| {
                let h = health.get(&d.name);
                DeviceView {
                    last_frame_at: h.map(|h| h.0),
                    unreadable_frames: h.map_or(0, |h| h.1),
                    device: d,
                }
            })
            .collect())
    }

    /// Revokes a device token at once (its next request is refused).
    pub fn revoke_device(&self, by: &Principal, id: i64) -> Result<(), AppError> {
        if !self
            .store
            .read(|c| admin::device_exists(c, id, by.office))?
        {
            return Err(AppError::NotFound(format!("active device {id}")));
        }
        let t = now();
        self.journal
            .append(t, crate::journal::Entry::DeviceRevoked { device: id })?;
        self.store.audited_with(&by.actor, t, |tx| {
            let Some(name) = admin::revoke_device(tx, id, t)? else {
                return Err(AppError::NotFound(format!("active device {id}")));
            };
            tx.record(
                Action::TokenRevoke,
                &format!("device:{id}"),
                json!({"name": name}),
            )?;
            Ok(())
        })
    }

    /// The consent register: the latest changes, or the applicants found by `query` (an
    /// applicant number, a CCCD number or a dossier code).
    pub fn consent_register(
        &self,
        by: &Principal,
        query: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ConsentEntry>, AppError> {
        let scope = by.office;
        let Some(q) = query.map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(self
                .store
                .read(|c| admin::consent_records(c, limit.clamp(1, 1000), &self.model_id, scope))?
                .into_iter()
                .map(Into::into)
                .collect());
        };
        // An applicant number, a CCCD/CMND number, or a dossier code.
        let id = match q.parse::<i64>() {
            Ok(n) if q.len() < 12 => Some(n),
            _ if crate::applicant::validate_id_number(q).is_ok() => {
                self.applicant_by_id_number(q)?.map(|a| a.0)
            }
            _ => self
                .store
                .read(|c| crate::store::dossiers::dossier(c, &q.to_uppercase()))?
                .map(|d| d.applicant_id),
        };
        if id.is_none() && q.chars().any(char::is_alphabetic) {
            // A name (with or without diacritics): everyone it fits, masked as always.
            let found = self.search_applicants(by, q)?;
            let mut out = Vec::new();
            for f in found {
                out.extend(
                    self.store
                        .read(|c| admin::consent_record_of(c, f.id.0, &self.model_id, scope))?
                        .into_iter()
                        .map(ConsentEntry::from),
                );
            }
            return Ok(out);
        }
        Ok(match id {
            Some(id) => self
                .store
                .read(|c| admin::consent_record_of(c, id, &self.model_id, scope))?
                .into_iter()
                .map(Into::into)
                .collect(),
            None => Vec::new(),
        })
    }

    /// An applicant's full name for an admin (the consent register and requests show names
    /// masked); every reveal is audited.
    pub fn reveal_name(&self, by: &Principal, id: ApplicantId) -> Result<String, AppError> {
        let a = self.applicant(by, id)?;
        self.audit(by, Action::NameReveal, &id.subject(), json!({}))?;
        Ok(a.full_name)
    }

    /// Audit entries for the viewer (the viewing itself is audited for exports).
    /// The entries `by` may read: those of their office's staff and devices, or all.
    pub fn audit_search(
        &self,
        by: &Principal,
        f: &audit::Filter,
    ) -> Result<Vec<audit::AuditRecord>, AppError> {
        Ok(self.store.read(|c| audit::search(c, f, by.office))?)
    }

    /// The audit entries as CSV (an export is audited).
    pub fn audit_export(&self, by: &Principal, f: &audit::Filter) -> Result<Vec<u8>, AppError> {
        let mut f = f.clone();
        f.limit = Some(f.limit.unwrap_or(100_000));
        let rows = self.audit_search(by, &f)?;
        self.audit(
            by,
            Action::AuditExport,
            "",
            json!({"rows": rows.len(), "action": f.action, "actor": f.actor, "subject": f.subject}),
        )?;
        Ok(audit::to_csv(&rows)?)
    }

    /// Issues a device token for the admin page (a kiosk or integration device).
    pub fn issue_device(
        &self,
        by: &Principal,
        role: Role,
        name: &str,
        office: Option<&str>,
    ) -> Result<(i64, String), AppError> {
        if role.is_person() {
            return Err(device_role_error());
        }
        self.issue_token(by, role, name, office)
    }
}

/// A device's role as an admin names it: "kiosk" or "integration".
pub fn device_role(s: &str) -> Result<Role, AppError> {
    Role::parse(s)
        .filter(|r| !r.is_person())
        .ok_or_else(device_role_error)
}

fn device_role_error() -> AppError {
    AppError::Invalid("role must be kiosk or integration".into())
}

/// The kiosk thresholds an admin may set around the calibrated one `c`: 0.8× to 2.5× (at
/// most 1 when the score is a cosine, i.e. `c` < 1). Below it the kiosk would match
/// strangers; above it nobody.
pub fn threshold_band(c: f32) -> (f32, f32) {
    let hi = 2.5 * c;
    (0.8 * c, if c < 1.0 { hi.min(1.0) } else { hi })
}

/// The margins an admin may set around the calibrated one: half to five times.
pub fn margin_band(c: f32) -> (f32, f32) {
    (0.5 * c, 5.0 * c)
}
