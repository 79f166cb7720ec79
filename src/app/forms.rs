//! The printable pages: the consent form (A4) — the consent in force as recorded, or, before
//! anything is recorded, the same form for the person to sign first — and the dossier
//! receipt (A5, form 01 of Circular 01/2018) with its lookup QR code.

use serde_json::json;

use super::dossiers::vn_format;
use super::{App, AppError};
use crate::applicant::{last_digits, ApplicantId};
use crate::auth::Principal;
use crate::consent::PURPOSE;
use crate::store::audit::Action;
use crate::store::people;

/// A QR code of `text` as PNG bytes (error correction M, 6 px modules, quiet zone).
pub fn qr_png(text: &str) -> Result<Vec<u8>, AppError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let img = code
        .render::<image::Luma<u8>>()
        .module_dimensions(6, 6)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| AppError::Internal(format!("QR image: {e}")))?;
    Ok(png)
}

/// The QR code of `text` as a PNG data URI (prints sharp at 4 px a module).
fn qr_png_data_uri(text: &str) -> Result<String, AppError> {
    use base64::Engine;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(qr_png(text)?)
    ))
}

/// How the receipt writes a time ("09 giờ 30 phút, ngày 22/11/2026") and a date
/// ("ngày 22/11/2026"), and the consent form a time ("09:30, 22/11/2026").
const RECEIPT_TIME: &str = "%H giờ %M phút, ngày %d/%m/%Y";
const RECEIPT_DATE: &str = "ngày %d/%m/%Y";
const FORM_TIME: &str = "%H:%M, %d/%m/%Y";

impl App {
    /// The consent form of `id` as HTML, audited as `consent.print`.
    pub fn consent_form_html(&self, by: &Principal, id: ApplicantId) -> Result<String, AppError> {
        let a = self.applicant(by, id)?;
        let (c, clerk) = self.store.read(|c| {
            Ok((
                people::valid_consent(c, id.0, PURPOSE)?,
                match by.user_id() {
                    Some(u) => crate::store::admin::display_name(c, u)?,
                    None => None,
                },
            ))
        })?;
        let id_number = self.id_number_of(&a)?;
        let last4 = last_digits(&id_number, 4);
        let clerk = clerk.unwrap_or_else(|| by.name.clone());
        let blank = "……………………………";
        let (state, text, method, at, recorded_by, version, record, sha) = match &c {
            Some(c) => (
                "",
                if c.text_version == self.consent.version {
                    self.consent.body.clone()
                } else {
                    format!(
                        "(Văn bản phiên bản {} — sha256 {})",
                        c.text_version, c.text_sha256
                    )
                },
                if crate::consent::Method::parse(&c.method).ok()
                    == Some(crate::consent::Method::Signature)
                {
                    "Chữ ký / signature"
                } else {
                    "Đánh dấu / tick"
                },
                vn_format(c.granted_at, FORM_TIME),
                c.granted_by.clone(),
                c.text_version.clone(),
                format!("consent #{}", c.id),
                c.text_sha256.clone(),
            ),
            None => (
                "Bản để ký — cán bộ ghi nhận sự đồng ý sau khi người đồng ý ký. \
                 (To be signed before the consent is recorded.)",
                self.consent.body.clone(),
                "Chữ ký / signature",
                format!(
                    "{blank} (in lúc {})",
                    vn_format(crate::store::now(), FORM_TIME)
                ),
                clerk,
                self.consent.version.clone(),
                "chưa ghi nhận / not yet recorded".to_string(),
                self.consent.sha256.clone(),
            ),
        };
        self.audit(
            by,
            Action::ConsentPrint,
            &id.subject(),
            json!({"consent": c.as_ref().map(|c| c.id), "before_recording": c.is_none()}),
        )?;
        super::html::render(&super::html::ConsentForm {
            office: &self.config.office.name,
            state,
            text: &text,
            name: &a.full_name,
            id_last4: last4,
            purpose: PURPOSE,
            method,
            granted_at: &at,
            clerk: &recorded_by,
            version: &version,
            record: &record,
            sha256: &sha,
        })
    }

    /// The receipt of dossier `code` as HTML, audited as `receipt.print`. The clerk who
    /// received it signs it, by the name on their account.
    pub fn receipt_html(&self, by: &Principal, code: &str) -> Result<String, AppError> {
        let d = self.dossier(by, code)?;
        let (a, clerk) = self.store.read(|c| {
            Ok((
                people::applicant(c, d.applicant_id)?,
                match d.created_by {
                    Some(u) => crate::store::admin::display_name(c, u)?,
                    None => None,
                },
            ))
        })?;
        let a = a.ok_or_else(|| AppError::NotFound(format!("applicant {}", d.applicant_id)))?;
        let clerk = clerk.unwrap_or_else(|| by.name.clone());
        let token = self.lookup_token(&d)?;
        let url = self.lookup_url(&d.code, &token);
        let qr = qr_png_data_uri(&url)?;
        // The receiving office's name, address and place of return.
        let o = self.office(d.office_id)?;
        self.audit(by, Action::ReceiptPrint, &d.code, json!({}))?;
        super::html::render(&super::html::Receipt {
            office: &o.name,
            address: &o.address,
            code: &d.code,
            applicant: &a.full_name,
            procedure: &d.procedure,
            documents: &d.documents,
            received: vn_format(d.received_at, RECEIPT_TIME),
            due: vn_format(d.due_at, RECEIPT_DATE),
            place: &o.return_place,
            clerk: &clerk,
            qr: &qr,
            url: &url,
        })
    }
}
