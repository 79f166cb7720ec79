//! Dossier rules (Decree 61/2018, Circular 01/2018): the dossier code format, the ten
//! statuses and which moves between them are allowed, the one-time apology extension of
//! the appointment date, the supplement clock reset, and the derived "overdue".

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use serde::Serialize;

/// Default pattern of Art. 19: `V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX`.
pub const DEFAULT_CODE_PATTERN: &str = r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-(\d{6})-\d{4}$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DossierError {
    #[error(
        "dossier code {0:?} does not match the office's format (e.g. 000.00.17.H29-231031-0001)"
    )]
    BadCode(String),
    #[error("status must be a number from 1 to 10")]
    BadStatus,
    #[error("a dossier cannot go from \"{from}\" to \"{to}\"")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
    },
    #[error(
        "the appointment date was already moved once with an apology; it cannot be moved again"
    )]
    ApologyUsed,
    #[error("the new appointment date must be later than the current one")]
    DueNotLater,
    #[error("the appointment date must be after the receipt date")]
    DueBeforeReceived,
    #[error("the dossier is closed")]
    Closed,
}

/// A compiled dossier-code pattern. A capture group, if present, must hold YYMMDD.
#[derive(Debug, Clone)]
pub struct CodeFormat(Regex);

impl CodeFormat {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(Self)
    }

    pub fn check(&self, code: &str) -> Result<String, DossierError> {
        let code = code.trim().to_ascii_uppercase();
        let bad = || DossierError::BadCode(code.clone());
        let caps = self.0.captures(&code).ok_or_else(bad)?;
        if let Some(d) = caps.get(1) {
            NaiveDate::parse_from_str(d.as_str(), "%y%m%d").map_err(|_| bad())?;
        }
        Ok(code)
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        Self::new(DEFAULT_CODE_PATTERN).expect("default pattern compiles")
    }
}

/// Status codes synchronised with the national portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Status(pub u8);

impl Status {
    pub fn new(n: i64) -> Result<Self, DossierError> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=10).contains(n))
            .map(Status)
            .ok_or(DossierError::BadStatus)
    }

    pub fn text_vi(self) -> &'static str {
        match self.0 {
            1 => "Mới đăng ký",
            2 => "Được tiếp nhận",
            3 => "Không được tiếp nhận",
            4 => "Đang xử lý",
            5 => "Yêu cầu bổ sung giấy tờ",
            6 => "Yêu cầu thực hiện nghĩa vụ tài chính",
            7 => "Công dân yêu cầu rút hồ sơ",
            8 => "Dừng xử lý",
            9 => "Đã xử lý xong",
            _ => "Đã trả kết quả",
        }
    }

    pub fn text_en(self) -> &'static str {
        match self.0 {
            1 => "Submitted online",
            2 => "Received",
            3 => "Refused at intake",
            4 => "In processing",
            5 => "Supplement requested",
            6 => "Fee or tax payment requested",
            7 => "Withdrawn by the citizen",
            8 => "Processing stopped",
            9 => "Result ready for collection",
            _ => "Result returned",
        }
    }

    /// Closed = 3, 7, 8 or 10.
    pub fn is_closed(self) -> bool {
        matches!(self.0, 3 | 7 | 8 | 10)
    }

    /// Statuses in which the appointment no longer runs (done or closed).
    pub fn stops_clock(self) -> bool {
        matches!(self.0, 3 | 7 | 8 | 9 | 10)
    }

    /// Allowed next statuses. Staying in the same status (e.g. the dossier moves to another
    /// agency while in processing) is always allowed for open dossiers.
    pub fn can_go_to(self, to: Status) -> bool {
        if self.is_closed() {
            return false;
        }
        if self == to {
            return true;
        }
        let allowed: &[u8] = match self.0 {
            1 => &[2, 3, 7],
            2 => &[4, 5, 6, 7, 8, 9],
            4 => &[5, 6, 7, 8, 9],
            5 => &[4, 7, 8],
            6 => &[4, 7, 8, 9],
            9 => &[10],
            _ => &[],
        };
        allowed.contains(&to.0)
    }
}

/// What an event does to a dossier's dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub status: Status,
    pub due_at: DateTime<Utc>,
    pub apology_used: bool,
}

/// Current state the rules need.
#[derive(Debug, Clone)]
pub struct State {
    pub status: Status,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub original_due_at: DateTime<Utc>,
    pub apology_used: bool,
}

/// Applies an event (`to`, at time `at`, optional apology `new_due`) to `s`.
pub fn apply(
    s: &State,
    to: Status,
    at: DateTime<Utc>,
    new_due: Option<DateTime<Utc>>,
) -> Result<Change, DossierError> {
    if s.status.is_closed() {
        return Err(DossierError::Closed);
    }
    if !s.status.can_go_to(to) {
        return Err(DossierError::IllegalTransition {
            from: s.status.text_vi(),
            to: to.text_vi(),
        });
    }
    let mut due = s.due_at;
    let mut apology = s.apology_used;
    // A supplement request restarts the processing clock once the dossier is complete
    // again: the full processing time counts from the day it came back.
    if s.status.0 == 5 && to.0 == 4 {
        due = at + (s.original_due_at - s.received_at);
    }
    if let Some(nd) = new_due {
        if apology {
            return Err(DossierError::ApologyUsed);
        }
        if nd <= due {
            return Err(DossierError::DueNotLater);
        }
        due = nd;
        apology = true;
    }
    Ok(Change {
        status: to,
        due_at: due,
        apology_used: apology,
    })
}

/// Overdue: past the appointment and not done or closed.
pub fn is_overdue(status: Status, due_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > due_at && !status.stops_clock()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap()
    }

    #[test]
    fn code_format() {
        let f = CodeFormat::default();
        assert_eq!(
            f.check(" 000.00.17.h29-231031-0001 ").unwrap(),
            "000.00.17.H29-231031-0001"
        );
        assert!(f.check("000.00.17.H29-231331-0001").is_err(), "month 13");
        assert!(f.check("000.00.17.H29-231031-001").is_err());
        assert!(f.check("garbage").is_err());
        let custom = CodeFormat::new(r"^HS-\d{5}$").unwrap();
        assert!(custom.check("HS-12345").is_ok());
    }

    #[test]
    fn transitions() {
        let s = |n| Status::new(n).unwrap();
        assert!(s(2).can_go_to(s(4)));
        assert!(s(4).can_go_to(s(4)));
        assert!(s(9).can_go_to(s(10)));
        assert!(!s(10).can_go_to(s(4)));
        assert!(!s(2).can_go_to(s(10)));
        assert!(!s(3).can_go_to(s(3)));
        assert!(Status::new(0).is_err() && Status::new(11).is_err());
    }

    #[test]
    fn apology_once_and_supplement_reset() {
        let st = State {
            status: Status(4),
            received_at: t(1),
            due_at: t(11),
            original_due_at: t(11),
            apology_used: false,
        };
        let c = apply(&st, Status(4), t(10), Some(t(15))).unwrap();
        assert!(c.apology_used && c.due_at == t(15));
        let st2 = State {
            due_at: c.due_at,
            apology_used: true,
            ..st.clone()
        };
        assert_eq!(
            apply(&st2, Status(4), t(12), Some(t(20))),
            Err(DossierError::ApologyUsed)
        );
        assert_eq!(
            apply(&st, Status(4), t(10), Some(t(5))),
            Err(DossierError::DueNotLater)
        );
        // 10 days of processing restart when the supplement arrives on day 8.
        let sup = State {
            status: Status(5),
            ..st.clone()
        };
        assert_eq!(apply(&sup, Status(4), t(8), None).unwrap().due_at, t(18));
        assert!(matches!(
            apply(&st, Status(10), t(9), None),
            Err(DossierError::IllegalTransition { .. })
        ));
    }

    #[test]
    fn overdue_is_derived() {
        assert!(is_overdue(Status(4), t(5), t(6)));
        assert!(!is_overdue(Status(9), t(5), t(6)));
        assert!(!is_overdue(Status(4), t(7), t(6)));
    }
}
