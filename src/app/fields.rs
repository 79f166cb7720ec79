//! Applicants' encrypted fields (ID and phone numbers): sealed under the deployment key
//! with the row's ID-number hash as associated data, so a ciphertext copied into another
//! row does not open. Rows sealed before this binding are re-sealed when the app opens.

use super::{App, AppError};
use crate::store::people::{self, ApplicantRow};

/// The associated data of `field` in the row with this ID-number hash.
pub(crate) fn aad(field: &str, id_number_hash: &str) -> String {
    format!("{field}:{id_number_hash}")
}

impl App {
    /// Seals an ID number and phone for the row with this ID-number hash.
    pub(crate) fn seal_applicant_fields(
        &self,
        id_number_hash: &str,
        id_number: &str,
        phone: Option<&str>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), AppError> {
        let id = self
            .keys
            .seal_field(id_number.as_bytes(), &aad("id_number", id_number_hash))?;
        let phone = phone
            .map(|p| {
                self.keys
                    .seal_field(p.as_bytes(), &aad("phone", id_number_hash))
            })
            .transpose()?;
        Ok((id, phone))
    }

    /// One sealed text field.
    pub(crate) fn open_text(&self, sealed: &[u8], aad: &str) -> Result<String, AppError> {
        String::from_utf8(self.keys.open_field(sealed, aad)?)
            .map_err(|_| AppError::Internal("a sealed field is not text".into()))
    }

    /// The applicant's ID number.
    pub(crate) fn id_number_of(&self, a: &ApplicantRow) -> Result<String, AppError> {
        self.open_text(&a.id_number_enc, &aad("id_number", &a.id_number_hash))
    }

    /// Whether the applicant's ID number ends with `digits` (false once purged): the keypad's
    /// and the second step's check.
    pub(crate) fn id_ends_with(
        &self,
        person: crate::applicant::ApplicantId,
        digits: &str,
    ) -> Result<bool, AppError> {
        let Some(a) = self
            .store
            .read(|c| crate::store::people::applicant(c, person.0))?
        else {
            return Ok(false);
        };
        Ok(self.id_number_of(&a)?.ends_with(digits))
    }

    /// The applicant's phone number, if any.
    pub(crate) fn phone_of(&self, a: &ApplicantRow) -> Result<Option<String>, AppError> {
        a.phone_enc
            .as_deref()
            .map(|p| self.open_text(p, &aad("phone", &a.id_number_hash)))
            .transpose()
    }

    /// Re-seals the fields of rows sealed before they were bound to their row.
    pub(crate) fn bind_legacy_fields(&self) -> Result<usize, AppError> {
        let rows = self.store.read(people::unbound_applicants)?;
        for a in &rows {
            let id = self.open_text(&a.id_number_enc, "id_number")?;
            let phone = a
                .phone_enc
                .as_deref()
                .map(|p| self.open_text(p, "phone"))
                .transpose()?;
            let (id_enc, phone_enc) =
                self.seal_applicant_fields(&a.id_number_hash, &id, phone.as_deref())?;
            self.store
                .tx(|tx| people::bind_fields(tx, a.id, &id_enc, phone_enc.as_deref()))?;
        }
        if !rows.is_empty() {
            tracing::info!(rows = rows.len(), "encrypted fields bound to their rows");
        }
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::aad;

    #[test]
    fn each_row_has_its_own_associated_data() {
        assert_ne!(aad("id_number", "h1"), aad("id_number", "h2"));
        assert_ne!(aad("id_number", "h1"), aad("phone", "h1"));
    }
}
