//! The limits the OpenAPI document states for query parameters, enforced where the
//! handlers read them (400 naming the parameter): lengths, ranges and closed sets.

use super::ApiError;
use crate::app::AppError;

fn bad(field: &'static str, what: String) -> ApiError {
    ApiError(AppError::field(field, format!("{field}: {what}")))
}

/// At most `max` characters, when present.
pub fn max_chars(field: &'static str, v: Option<&str>, max: usize) -> Result<(), ApiError> {
    match v {
        Some(s) if s.chars().count() > max => Err(bad(field, format!("at most {max} characters"))),
        _ => Ok(()),
    }
}

/// Within `lo..=hi`, when present.
pub fn within(field: &'static str, v: Option<i64>, lo: i64, hi: i64) -> Result<(), ApiError> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => Err(bad(field, format!("from {lo} to {hi}"))),
        _ => Ok(()),
    }
}

/// One of `allowed`, when present.
pub fn one_of(field: &'static str, v: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match v {
        Some(s) if !allowed.contains(&s) => Err(bad(field, format!("one of {allowed:?}"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_only_what_is_out_of_them() {
        assert!(max_chars("q", Some("ấấ"), 2).is_ok());
        assert!(max_chars("q", Some("abc"), 2).is_err());
        assert!(max_chars("q", None, 0).is_ok());
        assert!(within("days", Some(0), 1, 366).is_err());
        assert!(within("days", Some(366), 1, 366).is_ok());
        assert!(one_of("format", Some("xml"), &["json", "csv"]).is_err());
        assert!(one_of("format", Some("csv"), &["json", "csv"]).is_ok());
    }
}
