//! Consent to face lookup: the one purpose, the versioned consent text the
//! office can edit, and the accepted ways of giving consent. Silence is not consent: only
//! an explicit tick or signature recorded by a clerk counts.

use std::path::Path;

use crate::crypto::sha256_hex;

/// The only purpose biometric data is processed for.
pub const PURPOSE: &str = "tra cứu tình trạng hồ sơ bằng nhận diện khuôn mặt";

/// The text shipped with the program; an office replaces it with `consent_text` in the config.
pub const DEFAULT_TEXT: &str = include_str!("../templates/consent.vi.txt");

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("cannot read consent text {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("consent text must start with a line `version: <name>`")]
    NoVersion,
    #[error("consent method must be \"tick\" or \"signature\"")]
    BadMethod,
    #[error("consent text version {given:?} is not the current one ({current:?}); show the person the current text")]
    WrongVersion { given: String, current: String },
}

/// How the applicant gave consent: a tick on the clerk's screen or a signature on the
/// printed form. Nothing else counts (silence is not consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Tick,
    Signature,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self, ConsentError> {
        match s {
            "tick" => Ok(Method::Tick),
            "signature" => Ok(Method::Signature),
            _ => Err(ConsentError::BadMethod),
        }
    }

    /// As stored and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Tick => "tick",
            Method::Signature => "signature",
        }
    }
}

/// The consent text in force.
#[derive(Debug, Clone)]
pub struct ConsentText {
    pub version: String,
    pub body: String,
    pub sha256: String,
}

impl ConsentText {
    pub fn parse(text: &str) -> Result<Self, ConsentError> {
        let (first, body) = text.split_once('\n').unwrap_or((text, ""));
        let version = first
            .strip_prefix("version:")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ConsentError::NoVersion)?;
        Ok(Self {
            version: version.to_string(),
            body: body.trim().to_string(),
            sha256: sha256_hex(text.as_bytes()),
        })
    }

    pub fn load(path: Option<&Path>) -> Result<Self, ConsentError> {
        match path {
            None => Self::parse(DEFAULT_TEXT),
            Some(p) => {
                let t = std::fs::read_to_string(p).map_err(|source| ConsentError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Self::parse(&t)
            }
        }
    }

    /// Checks what the clerk recorded against the text in force.
    pub fn check(&self, version: &str, method: &str) -> Result<Method, ConsentError> {
        let method = Method::parse(method)?;
        if version != self.version {
            return Err(ConsentError::WrongVersion {
                given: version.to_string(),
                current: self.version.clone(),
            });
        }
        Ok(method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_text_parses_and_checks() {
        let t = ConsentText::load(None).unwrap();
        assert_eq!(t.version, "2026-11-v1");
        assert!(t.body.contains("nhạy cảm"));
        assert_eq!(t.check("2026-11-v1", "tick").unwrap(), Method::Tick);
        assert_eq!(Method::parse("signature").unwrap().as_str(), "signature");
        assert!(matches!(
            t.check("old", "tick"),
            Err(ConsentError::WrongVersion { .. })
        ));
        assert!(matches!(
            t.check("2026-11-v1", "silence"),
            Err(ConsentError::BadMethod)
        ));
        assert!(ConsentText::parse("no header").is_err());
    }
}
