//! Dossier rules (Decree 61/2018, Circular 01/2018): the dossier code format, the ten
//! statuses and which moves between them are allowed, the one-time apology extension of
//! the appointment date, the supplement clock reset, and the derived "overdue".

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use serde::Serialize;

/// Default pattern of Art. 19: `V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX`.
pub const DEFAULT_CODE_PATTERN: &str =
    r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-([0-9]{6})-[0-9]{4}$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DossierError {
    #[error(
        "dossier code {0:?} does not match the office's format (e.g. 000.00.17.H29-231031-0001)"
    )]
    BadCode(String),
    /// The code has the office's shape but its date (YYMMDD) does not exist.
    #[error("dossier code {0:?} holds a date that does not exist")]
    BadCodeDate(String),
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
            NaiveDate::parse_from_str(d.as_str(), "%y%m%d")
                .map_err(|_| DossierError::BadCodeDate(code.clone()))?;
        }
        Ok(code)
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        Self::new(DEFAULT_CODE_PATTERN).expect("default pattern compiles")
    }
}

/// A dossier's status, with the codes synchronised with the national portal (1–10).
/// Serialised as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    Submitted = 1,
    Received = 2,
    Refused = 3,
    Processing = 4,
    SupplementRequested = 5,
    PaymentRequested = 6,
    Withdrawn = 7,
    Stopped = 8,
    Ready = 9,
    Returned = 10,
}

use Status::*;

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 10] = [
        Submitted,
        Received,
        Refused,
        Processing,
        SupplementRequested,
        PaymentRequested,
        Withdrawn,
        Stopped,
        Ready,
        Returned,
    ];

    /// The status with portal code `n`.
    pub fn new(n: i64) -> Result<Self, DossierError> {
        Self::ALL
            .into_iter()
            .find(|s| i64::from(s.code()) == n)
            .ok_or(DossierError::BadStatus)
    }

    /// A status read back from the store (written through [`Status::new`], so always a
    /// known code; an unknown one reads as closed, so nothing shows or counts it as open).
    pub fn stored(code: u8) -> Self {
        Self::new(i64::from(code)).unwrap_or(Returned)
    }

    /// The portal code.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn text_vi(self) -> &'static str {
        match self {
            Submitted => "Mới đăng ký",
            Received => "Được tiếp nhận",
            Refused => "Không được tiếp nhận",
            Processing => "Đang xử lý",
            SupplementRequested => "Yêu cầu bổ sung giấy tờ",
            PaymentRequested => "Yêu cầu thực hiện nghĩa vụ tài chính",
            Withdrawn => "Công dân yêu cầu rút hồ sơ",
            Stopped => "Dừng xử lý",
            Ready => "Đã xử lý xong",
            Returned => "Đã trả kết quả",
        }
    }

    pub fn text_en(self) -> &'static str {
        match self {
            Submitted => "Submitted online",
            Received => "Received",
            Refused => "Refused at intake",
            Processing => "In processing",
            SupplementRequested => "Supplement requested",
            PaymentRequested => "Fee or tax payment requested",
            Withdrawn => "Withdrawn by the citizen",
            Stopped => "Processing stopped",
            Ready => "Result ready for collection",
            Returned => "Result returned",
        }
    }

    /// Closed: refused, withdrawn, stopped or returned; nothing more happens to it.
    pub fn is_closed(self) -> bool {
        matches!(self, Refused | Withdrawn | Stopped | Returned)
    }

    /// Statuses in which the appointment no longer runs (done or closed).
    pub fn stops_clock(self) -> bool {
        self.is_closed() || self == Ready
    }

    /// Finished: the result is ready or returned (the office's timeliness counts these).
    pub fn is_finished(self) -> bool {
        matches!(self, Ready | Returned)
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
        let allowed: &[Status] = match self {
            Submitted => &[Received, Refused, Withdrawn],
            Received => &[
                Processing,
                SupplementRequested,
                PaymentRequested,
                Withdrawn,
                Stopped,
                Ready,
            ],
            Processing => &[
                SupplementRequested,
                PaymentRequested,
                Withdrawn,
                Stopped,
                Ready,
            ],
            SupplementRequested => &[Processing, Withdrawn, Stopped],
            PaymentRequested => &[Processing, Withdrawn, Stopped, Ready],
            Ready => &[Returned],
            _ => &[],
        };
        allowed.contains(&to)
    }

    /// The codes of the statuses `keep` selects, as an SQL list (`3, 7, 8, 10`): the SQL
    /// says "closed" through this, never by repeating the numbers.
    pub fn sql_list(keep: fn(Status) -> bool) -> String {
        Self::ALL
            .into_iter()
            .filter(|s| keep(*s))
            .map(|s| s.code().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The status lists the SQL filters by, generated from [`Status`] once.
pub mod sql {
    use super::Status;
    use std::sync::LazyLock;

    /// Closed statuses (`3, 7, 8, 10`).
    pub static CLOSED: LazyLock<String> = LazyLock::new(|| Status::sql_list(Status::is_closed));
    /// Statuses whose appointment clock has stopped (`3, 7, 8, 9, 10`).
    pub static CLOCK_STOPPED: LazyLock<String> =
        LazyLock::new(|| Status::sql_list(Status::stops_clock));
    /// Statuses whose clock runs (`1, 2, 4, 5, 6`).
    pub static CLOCK_RUNNING: LazyLock<String> =
        LazyLock::new(|| Status::sql_list(|s| !s.stops_clock()));
    /// Finished statuses (`9, 10`).
    pub static FINISHED: LazyLock<String> = LazyLock::new(|| Status::sql_list(Status::is_finished));
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
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
    if s.status == SupplementRequested && to == Processing {
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
        for st in Status::ALL {
            assert_eq!(Status::new(i64::from(st.code())), Ok(st));
            assert_eq!(serde_json::to_string(&st).unwrap(), st.code().to_string());
        }
        assert_eq!(Status::sql_list(Status::is_closed), "3, 7, 8, 10");
        assert_eq!(Status::sql_list(Status::stops_clock), "3, 7, 8, 9, 10");
        assert_eq!(Status::stored(0), Status::Returned);
        assert_eq!(*sql::CLOCK_RUNNING, "1, 2, 4, 5, 6");
        assert_eq!(*sql::FINISHED, "9, 10");
    }

    #[test]
    fn apology_once_and_supplement_reset() {
        let st = State {
            status: Status::Processing,
            received_at: t(1),
            due_at: t(11),
            original_due_at: t(11),
            apology_used: false,
        };
        let c = apply(&st, Status::Processing, t(10), Some(t(15))).unwrap();
        assert!(c.apology_used && c.due_at == t(15));
        let st2 = State {
            due_at: c.due_at,
            apology_used: true,
            ..st.clone()
        };
        assert_eq!(
            apply(&st2, Status::Processing, t(12), Some(t(20))),
            Err(DossierError::ApologyUsed)
        );
        assert_eq!(
            apply(&st, Status::Processing, t(10), Some(t(5))),
            Err(DossierError::DueNotLater)
        );
        // 10 days of processing restart when the supplement arrives on day 8.
        let sup = State {
            status: Status::SupplementRequested,
            ..st.clone()
        };
        assert_eq!(
            apply(&sup, Status::Processing, t(8), None).unwrap().due_at,
            t(18)
        );
        assert!(matches!(
            apply(&st, Status::Returned, t(9), None),
            Err(DossierError::IllegalTransition { .. })
        ));
    }

    #[test]
    fn overdue_is_derived() {
        assert!(is_overdue(Status::Processing, t(5), t(6)));
        assert!(!is_overdue(Status::Ready, t(5), t(6)));
        assert!(!is_overdue(Status::Processing, t(7), t(6)));
    }
}
