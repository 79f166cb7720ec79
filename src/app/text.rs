//! Free text that people read on screens, receipts and the audit log (device, office and
//! staff names, addresses): checked once here, so no name carries a NUL or a line break.

use super::AppError;

/// A name people read (a device, an office, an address): trimmed, 1 to `max` characters,
/// every character printable (no NUL, no line break, no other control character).
pub fn printable(field: &'static str, raw: &str, max: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if raw.chars().count() > max {
        return Err(AppError::field(
            field,
            format!("{field}: at most {max} characters"),
        ));
    }
    if s.is_empty() {
        return Err(AppError::unusable(
            Some(field),
            format!("{field} is required (at most {max} characters)"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(AppError::unusable(
            Some(field),
            format!(
                "{field} may hold printable characters only (no control characters or line breaks)"
            ),
        ));
    }
    Ok(s.to_string())
}
