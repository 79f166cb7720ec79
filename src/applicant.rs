//! Applicants: validation of what the clerk types (full name in NFC Unicode, 12-digit
//! CCCD number, phone) and the masked display name the kiosk may show.

use unicode_normalization::UnicodeNormalization;

/// An applicant's number: their row in the store, their identity in the gallery, and the
/// subject of their audit entries.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ApplicantId(pub i64);

impl ApplicantId {
    /// The identity the gallery files the person's templates under.
    pub fn gallery_key(self) -> u64 {
        self.0 as u64
    }

    /// The applicant a gallery identity stands for.
    pub fn from_gallery(identity: u64) -> Self {
        ApplicantId(identity as i64)
    }

    /// The associated data a template of this person is sealed with: a template moved to
    /// another person's row does not open.
    pub fn template_aad(self) -> String {
        format!("template:{}", self.0)
    }

    /// How audit entries name the person.
    pub fn subject(self) -> String {
        format!("applicant:{}", self.0)
    }
}

impl std::fmt::Display for ApplicantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplicantError {
    #[error("full name is required (2–100 characters, letters and spaces)")]
    BadName,
    #[error(
        "ID number must be a 12-digit citizen identity number (CCCD) with a valid province code"
    )]
    BadIdNumber,
    /// 12 digits, but the first three are no province's code.
    #[error("ID number {0:03}… opens with no province's code (CCCD)")]
    UnknownProvince(u16),
    #[error("phone number must be 9–11 digits, optionally starting with +84")]
    BadPhone,
}

/// Province/city codes that open a CCCD number (Circular 07/2016/TT-BCA, as amended).
const PROVINCE_CODES: &[u16] = &[
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37,
    38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77,
    79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
];

/// NFC-normalised, trimmed, inner whitespace collapsed.
pub fn normalise_name(raw: &str) -> Result<String, ApplicantError> {
    let name: String = raw
        .nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let chars = name.chars().count();
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\'' || c == '.');
    if !(2..=100).contains(&chars) || !ok_chars {
        return Err(ApplicantError::BadName);
    }
    Ok(name)
}

/// A CCCD: 12 digits; province code; century/sex digit; birth year.
pub fn validate_id_number(raw: &str) -> Result<String, ApplicantError> {
    let id: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApplicantError::BadIdNumber);
    }
    let province: u16 = id[..3].parse().map_err(|_| ApplicantError::BadIdNumber)?;
    if !PROVINCE_CODES.contains(&province) {
        return Err(ApplicantError::UnknownProvince(province));
    }
    Ok(id)
}

pub fn validate_phone(raw: &str) -> Result<String, ApplicantError> {
    let p: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
        .collect();
    let digits = p.strip_prefix("+84").map(|r| format!("0{r}")).unwrap_or(p);
    if !(9..=11).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApplicantError::BadPhone);
    }
    Ok(digits)
}

/// The last `n` characters of an ID number (what a form or a search result may show).
pub fn last_digits(id_number: &str, n: usize) -> &str {
    id_number
        .get(id_number.len().saturating_sub(n)..)
        .unwrap_or("")
}

/// "Nguyễn Văn Thành" → "Nguyễn V. T***": family name, initials of middle names, first
/// letter of the given name.
pub fn masked_name(full: &str) -> String {
    let parts: Vec<&str> = full.split_whitespace().collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => format!("{}***", one.chars().next().unwrap_or('*')),
        [family, middle @ .., given] => {
            let mut s = (*family).to_string();
            for m in middle {
                if let Some(c) = m.chars().next() {
                    s.push(' ');
                    s.push(c);
                    s.push('.');
                }
            }
            s.push(' ');
            s.push(given.chars().next().unwrap_or('*'));
            s.push_str("***");
            s
        }
    }
}

/// The name a kiosk greets with: the masked name with the given name's initial as an
/// initial ("Nguyễn V. T."), no asterisks on a screen citizens read.
pub fn greeting_name(full: &str) -> String {
    let m = masked_name(full);
    match m.strip_suffix("***") {
        Some(s) => format!("{s}."),
        None => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_names_have_initials_not_asterisks() {
        assert_eq!(greeting_name("Trần Thị Thu Hà"), "Trần T. T. H.");
        assert_eq!(greeting_name("Hà"), "H.");
        assert_eq!(greeting_name(""), "");
    }

    #[test]
    fn names_are_nfc_and_masked() {
        // "Nguyễn" typed with combining marks (NFD) comes out NFC.
        let nfd = "Nguye\u{302}\u{303}n  Va\u{306}n   Tha\u{300}nh";
        let n = normalise_name(nfd).unwrap();
        assert_eq!(n, "Nguyễn Văn Thành");
        assert_eq!(masked_name(&n), "Nguyễn V. T***");
        assert_eq!(masked_name("Lê Thị Minh Khai"), "Lê T. M. K***");
        assert_eq!(masked_name("Hà Anh"), "Hà A***");
        assert_eq!(normalise_name("x"), Err(ApplicantError::BadName));
        assert_eq!(
            normalise_name("Robert'); DROP TABLE--1"),
            Err(ApplicantError::BadName)
        );
    }

    #[test]
    fn cccd_rules() {
        assert_eq!(
            validate_id_number("001 099 012345").unwrap(),
            "001099012345"
        );
        assert!(validate_id_number("079203000123").is_ok());
        assert_eq!(
            validate_id_number("00109901234"),
            Err(ApplicantError::BadIdNumber)
        );
        assert_eq!(
            validate_id_number("003099012345"),
            Err(ApplicantError::UnknownProvince(3))
        ); // no province 003
        assert_eq!(
            validate_id_number("00109901234a"),
            Err(ApplicantError::BadIdNumber)
        );
    }

    #[test]
    fn phones() {
        assert_eq!(validate_phone("+84 912 345 678").unwrap(), "0912345678");
        assert!(validate_phone("12").is_err());
    }
}
