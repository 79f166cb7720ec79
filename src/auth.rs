//! Who is calling: clerk and admin accounts (argon2id passwords, browser sessions with a
//! CSRF token), and kiosk and integration devices (bearer tokens stored as SHA-256).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Serialize;

use crate::crypto::{random_token, sha256_hex, CryptoError};

/// Who a caller is: a clerk or admin (a person with a password) or a kiosk or integration device (a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Clerk,
    Admin,
    Kiosk,
    Integration,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "clerk" => Some(Role::Clerk),
            "admin" => Some(Role::Admin),
            "kiosk" => Some(Role::Kiosk),
            "integration" => Some(Role::Integration),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Admin => "admin",
            Role::Kiosk => "kiosk",
            Role::Integration => "integration",
        }
    }

    pub fn is_person(self) -> bool {
        matches!(self, Role::Clerk | Role::Admin)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    /// "user:<id>" or "device:<id>", as written to the audit log.
    pub actor: String,
    /// The user id (clerks and admins) or device id.
    pub id: i64,
    pub name: String,
    /// The office the caller acts for; None: every office (a province admin, a
    /// province-wide integration token, the operator).
    pub office: Option<i64>,
}

impl Principal {
    /// A signed-in clerk or admin (`user:<id>` in the audit log).
    pub fn user(role: Role, id: i64, name: String, office: Option<i64>) -> Principal {
        Principal {
            role,
            actor: format!("user:{id}"),
            id,
            name,
            office,
        }
    }

    /// A kiosk or integration device (`device:<id>` in the audit log).
    pub fn device(role: Role, id: i64, name: String, office: Option<i64>) -> Principal {
        Principal {
            role,
            actor: format!("device:{id}"),
            id,
            name,
            office,
        }
    }

    /// Whether the caller acts for every office.
    pub fn is_province(&self) -> bool {
        self.office.is_none()
    }

    /// Someone acting on this machine rather than through a session or token: the
    /// operator's command line (`cli`), a job of the service (`retention`), demo setup.
    /// Acts as an admin; is no user account.
    pub fn operator(name: &str) -> Principal {
        Principal {
            role: Role::Admin,
            actor: name.to_string(),
            id: 0,
            name: name.to_string(),
            office: None,
        }
    }

    /// A caller nobody has authenticated (failed sign-ins, kiosk setup codes).
    pub fn anonymous() -> Principal {
        Principal {
            role: Role::Kiosk,
            actor: "anonymous".to_string(),
            id: 0,
            name: "anonymous".to_string(),
            office: None,
        }
    }

    /// The user account acting, for the records that name their clerk or admin.
    pub fn user_id(&self) -> Option<i64> {
        (self.role.is_person() && self.id > 0).then_some(self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password must be at least 10 characters")]
    WeakPassword,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    LongPassword,
    #[error("username must be 3–40 letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

pub fn validate_username(u: &str) -> Result<(), AuthError> {
    let ok = (3..=40).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadUsername)
    }
}

/// The longest password accepted, in characters (a sign-in body, at most 4 KB, holds it
/// even with every character escaped as JSON `\uXXXX`).
pub const MAX_PASSWORD_CHARS: usize = 64;

pub fn hash_password(pw: &str) -> Result<String, AuthError> {
    if pw.chars().count() < 10 {
        return Err(AuthError::WeakPassword);
    }
    if pw.chars().count() > MAX_PASSWORD_CHARS {
        return Err(AuthError::LongPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?
        .to_string())
}

pub fn verify_password(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// A fresh secret and the hash to store for it.
pub fn new_secret() -> Result<(String, String), AuthError> {
    let t = random_token()?;
    let h = sha256_hex(t.as_bytes());
    Ok((t, h))
}

/// A dummy hash to verify against when the user does not exist (same timing either way).
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qf6ZK8bdbAk3/ua3yH8c0mQWGfVTeEa9ZyVtSJ+Ldqk";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(AuthError::WeakPassword)
        ));
        assert!(!verify_password("anything", DUMMY_HASH));
    }

    #[test]
    fn usernames() {
        assert!(validate_username("clerk.an").is_ok());
        assert!(validate_username("a b").is_err());
    }
}
