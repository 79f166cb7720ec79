//! Data-subject requests under Decree 13/2023: what a person may ask (access to their
//! data, withdrawal of consent, deletion), the states a request goes through, and the
//! steps an admin takes. Stored by their lowercase names.

use serde::{Deserialize, Serialize};

/// What the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Access,
    Withdrawal,
    Deletion,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Received,
    Acknowledged,
    Completed,
    Rejected,
}

/// What an admin does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Acknowledge,
    Complete,
    Reject,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Withdrawal => "withdrawal",
            RequestKind::Deletion => "deletion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Access, Self::Withdrawal, Self::Deletion]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Completing it destroys the person's face data.
    pub fn purges(self) -> bool {
        matches!(self, RequestKind::Withdrawal | RequestKind::Deletion)
    }
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::Acknowledged => "acknowledged",
            RequestStatus::Completed => "completed",
            RequestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Acknowledged,
            Self::Completed,
            Self::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn is_open(self) -> bool {
        matches!(self, RequestStatus::Received | RequestStatus::Acknowledged)
    }
}

impl Step {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "acknowledge" => Some(Step::Acknowledge),
            "complete" => Some(Step::Complete),
            "reject" => Some(Step::Reject),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ["access", "withdrawal", "deletion"] {
            assert_eq!(RequestKind::parse(k).unwrap().as_str(), k);
        }
        for s in ["received", "acknowledged", "completed", "rejected"] {
            assert_eq!(RequestStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(RequestKind::parse("erase").is_none());
        assert!(Step::parse("complete").is_some() && Step::parse("undo").is_none());
        assert!(RequestKind::Deletion.purges() && !RequestKind::Access.purges());
    }
}
