//! Accounts and devices: creating users and device tokens, signing in and out, and
//! resolving a session cookie or bearer token to a principal.

use crate::store::audit::Action;
use serde_json::json;

use super::{App, AppError};
use crate::auth::{self, Principal, Role};
use crate::crypto::sha256_hex;
use crate::store::{now, users};

/// What a successful sign-in returns: the cookie value (secret) and the CSRF token.
pub struct Login {
    pub session: String,
    pub csrf_token: String,
    pub role: Role,
    pub max_age_s: i64,
}

impl App {
    pub fn create_user(
        &self,
        by: &Principal,
        username: &str,
        password: &str,
        role: Role,
        office: Option<&str>,
    ) -> Result<i64, AppError> {
        if !role.is_person() {
            return Err(AppError::Invalid("a user's role is clerk or admin".into()));
        }
        let office = self.office_for_new(by, role, office)?;
        auth::validate_username(username).map_err(|e| AppError::Invalid(e.to_string()))?;
        let hash = auth::hash_password(password).map_err(|e| AppError::Invalid(e.to_string()))?;
        let t = now();
        Ok(self.store.audited(&by.actor, t, |tx| {
            let id = users::insert_user(tx, username, &hash, role.as_str(), office, t)?;
            tx.record(
                Action::UserCreate,
                &format!("user:{id}"),
                json!({"username": username, "role": role, "office": office}),
            )?;
            Ok(id)
        })?)
    }

    /// Issues a kiosk or integration token; the token is shown once and stored hashed.
    pub fn issue_token(
        &self,
        by: &Principal,
        role: Role,
        name: &str,
        office: Option<&str>,
    ) -> Result<(i64, String), AppError> {
        if role.is_person() {
            return Err(AppError::Invalid(
                "a device token's role is kiosk or integration".into(),
            ));
        }
        let office = self.office_for_new(by, role, office)?;
        let name = &super::text::printable("name", name, 80)?;
        let (token, hash) = auth::new_secret().map_err(|e| AppError::Internal(e.to_string()))?;
        let t = now();
        let id = self.store.audited(&by.actor, t, |tx| {
            let id = users::insert_device(tx, name, role.as_str(), office, &hash, t)?;
            tx.record(
                Action::TokenIssue,
                &format!("device:{id}"),
                json!({"name": name, "role": role, "office": office}),
            )?;
            Ok(id)
        })?;
        Ok((id, token))
    }

    /// Checks a username and password (the same work whether the account exists, is
    /// deactivated or not) and opens a session. A failure is audited by the caller
    /// ([`App::sign_in`]), which counts them.
    pub fn login(&self, username: &str, password: &str) -> Result<Login, AppError> {
        let user = self.store.read(|c| users::user_by_name(c, username))?;
        let hash = user
            .as_ref()
            .map_or(auth::DUMMY_HASH, |u| u.password_hash.as_str());
        let matches = auth::verify_password(password, hash);
        let t = now();
        let Some(u) = user.filter(|u| matches && u.active) else {
            return Err(AppError::Unauthorized);
        };
        let role = Role::parse(&u.role)
            .ok_or_else(|| AppError::Internal("bad role in database".into()))?;
        let (session, hash) = auth::new_secret().map_err(|e| AppError::Internal(e.to_string()))?;
        let (csrf, _) = auth::new_secret().map_err(|e| AppError::Internal(e.to_string()))?;
        let max_age_s = self.config.office.session_hours.max(1) * 3600;
        self.store.audited(&format!("user:{}", u.id), t, |tx| {
            users::insert_session(tx, &hash, u.id, &csrf, t, t + max_age_s)?;
            tx.record(Action::Login, &u.username, json!({}))?;
            Ok(())
        })?;
        Ok(Login {
            session,
            csrf_token: csrf,
            role,
            max_age_s,
        })
    }

    pub fn logout(&self, session: &str) -> Result<(), AppError> {
        let h = sha256_hex(session.as_bytes());
        self.store.tx(|tx| users::delete_session(tx, &h))?;
        Ok(())
    }

    /// The principal behind a session cookie, with the session's CSRF token.
    pub fn session_principal(
        &self,
        session: &str,
    ) -> Result<Option<(Principal, String)>, AppError> {
        let h = sha256_hex(session.as_bytes());
        let row = self.store.read(|c| users::session(c, &h, now()))?;
        Ok(row.and_then(|s| {
            let role = Role::parse(&s.user.role)?;
            Some((
                Principal::user(role, s.user.id, s.user.username, s.user.office_id),
                s.csrf_token,
            ))
        }))
    }

    /// The active kiosk device named `name` (the server camera serves its page).
    pub fn kiosk_device(&self, name: &str) -> Result<Principal, AppError> {
        let d = self
            .store
            .read(|c| users::device_by_name(c, name))?
            .filter(|d| Role::parse(&d.role) == Some(Role::Kiosk))
            .ok_or_else(|| AppError::NotFound(format!("active kiosk device named {name:?}")))?;
        Ok(Principal::device(Role::Kiosk, d.id, d.name, d.office_id))
    }

    /// The device behind a bearer token.
    pub fn device_principal(&self, token: &str) -> Result<Option<Principal>, AppError> {
        let h = sha256_hex(token.as_bytes());
        let row = self.store.read(|c| users::device_by_token(c, &h, now()))?;
        Ok(row.and_then(|d| {
            let role = Role::parse(&d.role)?;
            Some(Principal::device(role, d.id, d.name, d.office_id))
        }))
    }
}
