//! Errors of the use cases, each with the HTTP status and stable code the API returns.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    /// 400 naming the field at fault, so a page can say it in its own language.
    #[error("{message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    /// 422 with a reason code (face enrolment: no_face, many_faces, low_quality, bad_image).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 422 `unusable`: a value of the documented shape whose content cannot be used (a name
    /// with digits, a CCCD whose province code does not exist, a date that does not, text
    /// of spaces or control characters). 400 is kept for what the API document states.
    #[error("{message}")]
    Unusable {
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    TooLarge(String),
    /// The request body did not arrive in time (408).
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// Too many failures from this client or for this account: wait this many seconds.
    #[error("too many failed attempts; try again in {0} s")]
    Throttled(u64),
    /// The dossier code is locked after repeated wrong ID digits: wait this many seconds.
    #[error("this dossier code is locked after repeated wrong ID digits; try again in {0} s or ask at the desk")]
    CodeLocked(u64),
    /// Every slot for this kind of work is taken: try again in a moment.
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error("the server's disk is full; nothing was saved")]
    DiskFull,
    /// The database cannot be reached (restarting, or every connection busy): nothing was
    /// saved; the same request may be sent again.
    #[error("the database is unavailable; nothing was saved, try again in a moment")]
    DatabaseUnavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_disk_full() => AppError::DiskFull,
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::DatabaseUnavailable
            }
            StoreError::Conflict(what) => AppError::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => AppError::NotFound(what),
            // What this deployment does not do (a backup of PostgreSQL: pg_dump does): the
            // request is right, the server is not the one to do it.
            StoreError::Unsupported(what) => AppError::Conflict(what.into()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::journal::JournalError> for AppError {
    fn from(e: crate::journal::JournalError) -> Self {
        match e {
            crate::journal::JournalError::Io { source, .. }
                if source.raw_os_error() == Some(28) =>
            {
                AppError::DiskFull
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::speech::SpeechError> for AppError {
    fn from(e: crate::speech::SpeechError) -> Self {
        match e {
            crate::speech::SpeechError::BadPhrase => AppError::Invalid(e.to_string()),
            crate::speech::SpeechError::Busy => AppError::Busy,
            e => AppError::Unprocessable {
                code: "speech_unavailable",
                message: e.to_string(),
            },
        }
    }
}

impl From<crate::crypto::CryptoError> for AppError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        match e {
            crate::crypto::CryptoError::KeyDb(s) => AppError::from(s),
            e => AppError::Internal(e.to_string()),
        }
    }
}

impl From<crate::boot::BootError> for AppError {
    fn from(e: crate::boot::BootError) -> Self {
        match e {
            crate::boot::BootError::Keys(e) => e.into(),
            crate::boot::BootError::Store(e) => e.into(),
            e => AppError::Internal(e.to_string()),
        }
    }
}

impl From<crate::vision::VisionError> for AppError {
    fn from(e: crate::vision::VisionError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::dossier::DossierError> for AppError {
    /// A code of the wrong shape is 400; one whose date does not exist, or an event the
    /// dossier's state does not allow, 422 or 409.
    fn from(e: crate::dossier::DossierError) -> Self {
        use crate::dossier::DossierError as E;
        match e {
            E::BadCode(_) | E::BadStatus => AppError::Invalid(e.to_string()),
            E::BadCodeDate(_) | E::DueNotLater | E::DueBeforeReceived => {
                AppError::unusable(None, e)
            }
            E::IllegalTransition { .. } | E::ApologyUsed | E::Closed => {
                AppError::Conflict(e.to_string())
            }
        }
    }
}

impl From<crate::applicant::ApplicantError> for AppError {
    fn from(e: crate::applicant::ApplicantError) -> Self {
        use crate::applicant::ApplicantError as E;
        match e {
            // Not 12 digits: the shape the API document states (400).
            E::BadIdNumber => AppError::field("id_number", e),
            E::UnknownProvince(_) => AppError::unusable(Some("id_number"), e),
            E::BadName => AppError::unusable(Some("full_name"), e),
            E::BadPhone => AppError::unusable(Some("phone"), e),
        }
    }
}

impl AppError {
    /// An invalid value of one named field.
    pub fn field(field: &'static str, e: impl std::fmt::Display) -> Self {
        AppError::InvalidField {
            field,
            message: e.to_string(),
        }
    }

    /// The same error about field `field` (a 400 stays a 400, a 422 a 422).
    pub fn at_field(self, field: &'static str) -> Self {
        match self {
            AppError::Invalid(message) | AppError::InvalidField { message, .. } => {
                AppError::InvalidField { field, message }
            }
            AppError::Unusable { message, .. } => AppError::Unusable {
                field: Some(field),
                message,
            },
            e => e,
        }
    }

    /// A value whose content cannot be used (422), naming its field when there is one.
    pub fn unusable(field: Option<&'static str>, e: impl std::fmt::Display) -> Self {
        AppError::Unusable {
            field,
            message: e.to_string(),
        }
    }

    /// The field at fault, when the error names one.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            AppError::InvalidField { field, .. } => Some(field),
            AppError::Unusable { field, .. } => *field,
            _ => None,
        }
    }

    /// Seconds the client should wait before trying again, when the error says so.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Throttled(s) | AppError::CodeLocked(s) => Some(*s),
            AppError::Busy => Some(1),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) | AppError::InvalidField { .. } => 400,
            AppError::Unprocessable { .. } | AppError::Unusable { .. } => 422,
            AppError::NotFound(_) => 404,
            AppError::Forbidden(_) => 403,
            AppError::Conflict(_) => 409,
            AppError::Unauthorized => 401,
            AppError::TooLarge(_) => 413,
            AppError::TimedOut => 408,
            AppError::Throttled(_) | AppError::CodeLocked(_) => 429,
            AppError::Busy => 503,
            AppError::DiskFull => 507,
            AppError::DatabaseUnavailable => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) | AppError::InvalidField { .. } => "invalid",
            AppError::Unprocessable { code, .. } => code,
            AppError::Unusable { .. } => "unusable",
            AppError::NotFound(_) => "not_found",
            AppError::Forbidden(_) => "forbidden",
            AppError::Conflict(_) => "conflict",
            AppError::Unauthorized => "unauthorized",
            AppError::TooLarge(_) => "too_large",
            AppError::TimedOut => "timeout",
            AppError::Throttled(_) => "too_many_requests",
            AppError::CodeLocked(_) => "code_locked",
            AppError::Busy => "busy",
            AppError::DiskFull => "disk_full",
            AppError::DatabaseUnavailable => "database_unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}
