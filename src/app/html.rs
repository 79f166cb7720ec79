//! Every HTML page and printable the server renders, as askama templates compiled from
//! `templates/*.html` (checked at build time, auto-escaping on: no value reaches a page
//! unescaped). One struct per page, holding what the page shows.

use askama::Template;

use super::requests::SubjectExport;
use super::AppError;

/// Renders a page; a template error is the program's fault, never the caller's.
pub fn render(page: &impl Template) -> Result<String, AppError> {
    page.render()
        .map_err(|e| AppError::Internal(format!("rendering a page: {e}")))
}

/// The receipt (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) with its QR code.
#[derive(Template)]
#[template(path = "receipt.html")]
pub struct Receipt<'a> {
    pub office: &'a str,
    pub address: &'a str,
    pub code: &'a str,
    pub applicant: &'a str,
    pub procedure: &'a str,
    pub documents: &'a [String],
    pub received: String,
    pub due: String,
    pub place: &'a str,
    pub clerk: &'a str,
    /// The QR code as a `data:` URI.
    pub qr: &'a str,
    pub url: &'a str,
}

/// The apology letter (Phiếu xin lỗi và hẹn lại ngày trả kết quả).
#[derive(Template)]
#[template(path = "apology.html")]
pub struct Apology<'a> {
    pub office: &'a str,
    pub address: &'a str,
    pub code: &'a str,
    pub applicant: &'a str,
    pub procedure: &'a str,
    pub received: String,
    pub old_due: String,
    pub new_due: String,
    pub written: String,
    pub place: &'a str,
    pub reason: Option<&'a str>,
}

/// The consent form, printed to be signed or as the record of a consent given.
#[derive(Template)]
#[template(path = "consent-form.html")]
pub struct ConsentForm<'a> {
    pub office: &'a str,
    pub state: &'a str,
    pub text: &'a str,
    pub name: &'a str,
    pub id_last4: &'a str,
    pub purpose: &'a str,
    pub method: &'a str,
    pub granted_at: &'a str,
    pub clerk: &'a str,
    pub version: &'a str,
    pub record: &'a str,
    pub sha256: &'a str,
}

/// The receipt QR's page on a citizen's phone: one dossier.
#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub procedure: &'a str,
    pub status: &'a str,
    pub status_en: &'a str,
    pub overdue: bool,
    pub received: String,
    pub due: String,
    pub due_label: &'a str,
    pub next: &'a str,
    pub next_en: &'a str,
    /// (local time, status) from the first step.
    pub timeline: Vec<(String, &'a str)>,
    pub office: &'a str,
}

/// The phone page for a link that finds no dossier.
#[derive(Template)]
#[template(path = "status-missing.html")]
pub struct StatusMissing;

/// The printable answer to a data-subject access request.
#[derive(Template)]
#[template(path = "subject-export.html")]
pub struct SubjectExportPage<'a> {
    pub office: &'a str,
    pub request: i64,
    pub generated: String,
    pub admin: &'a str,
    pub e: &'a SubjectExport,
}

impl SubjectExportPage<'_> {
    /// A time in seconds (the template hands it over behind one or two references).
    fn date(&self, t: impl Stamp) -> String {
        super::dossiers::vn_format(t.seconds(), "%Y-%m-%d %H:%M")
    }

    /// An RFC 3339 time to the minute.
    fn minute<'s>(&self, t: &'s str) -> &'s str {
        t.get(..16).unwrap_or(t)
    }

    /// When the face data was destroyed, if it was and nothing was enrolled since.
    fn destroyed_at(&self) -> Option<i64> {
        self.e
            .biometrics_purged_at
            .filter(|_| self.e.templates == 0)
    }
}

/// A Unix time, however many references a template wraps it in.
trait Stamp {
    fn seconds(&self) -> i64;
}

impl Stamp for i64 {
    fn seconds(&self) -> i64 {
        *self
    }
}

impl<T: Stamp + ?Sized> Stamp for &T {
    fn seconds(&self) -> i64 {
        (**self).seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = render(&StatusPage {
            code: "HS<1>",
            name: "<script>alert(1)</script>",
            procedure: "a & b",
            status: "s",
            status_en: "s",
            overdue: true,
            received: "r".into(),
            due: "d".into(),
            due_label: "l",
            next: "\"n\"",
            next_en: "n",
            timeline: vec![("t".into(), "<b>")],
            office: "o",
        })
        .unwrap();
        assert!(!page.contains("<script>") && page.contains("&#60;script&#62;"));
        assert!(page.contains("a &#38; b") && page.contains("&#60;b&#62;"));
        assert!(page.contains("<title>Tình trạng hồ sơ HS&#60;1&#62;</title>"));
        assert!(page.contains("Quá hạn"));
        let missing = render(&StatusMissing).unwrap();
        assert!(missing.contains("Không tìm thấy hồ sơ") && missing.contains("<style>"));
    }
}
