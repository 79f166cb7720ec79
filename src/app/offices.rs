//! Offices as tenants (DESIGN.md §9): creating them, which office a new account or device
//! belongs to, and the rule every read and write follows — a caller of an office sees and
//! changes that office's records only; a province-wide caller (office `None`) sees all.

use serde_json::json;

use super::{App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::{Principal, Role};
use crate::store::audit::Action;
use crate::store::offices::{self, NewOffice, OfficeRow, DEFAULT_OFFICE};
use crate::store::{now, people};

/// What a new office is given.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeInput {
    /// A short code: letters, digits, `-`, `_`, `.`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,40}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 300)]
    pub address: String,
    /// Where results are collected (printed on receipts).
    #[serde(default)]
    #[schema(max_length = 300)]
    pub return_place: String,
    /// What the kiosks' keypads fill in (`000.00.18.H29-`).
    #[serde(default)]
    #[schema(max_length = 40)]
    pub code_prefix: String,
}

impl App {
    /// The office as shown and printed: the default office's empty fields are the
    /// configured `[office]` ones; another office without a place of return names itself.
    pub fn office_view(&self, o: OfficeRow) -> OfficeRow {
        if o.id != DEFAULT_OFFICE {
            let return_place = if o.return_place.is_empty() {
                o.name.clone()
            } else {
                o.return_place
            };
            return OfficeRow { return_place, ..o };
        }
        let c = &self.config.office;
        let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
        OfficeRow {
            id: o.id,
            name: or(o.name, &c.name),
            address: or(o.address, &c.address),
            return_place: or(o.return_place, &c.return_place),
            code_prefix: or(o.code_prefix, &c.code_prefix),
            code: o.code,
        }
    }

    /// The offices `by` may see: their own, or every office for a province-wide caller.
    pub fn offices(&self, by: &Principal) -> Result<Vec<OfficeRow>, AppError> {
        let rows = self.store.read(|c| offices::list(c, by.office))?;
        Ok(rows.into_iter().map(|o| self.office_view(o)).collect())
    }

    /// One office, as shown and printed (the default office for an unknown id).
    pub fn office(&self, id: i64) -> Result<OfficeRow, AppError> {
        let row = self.store.read(|c| {
            Ok(match offices::by_id(c, id)? {
                Some(o) => Some(o),
                None => offices::by_id(c, DEFAULT_OFFICE)?,
            })
        })?;
        let row = row.ok_or_else(|| AppError::Internal("no default office".into()))?;
        Ok(self.office_view(row))
    }

    /// Creates an office (province-wide admins only; audited `office.create`).
    pub fn create_office(&self, by: &Principal, o: &OfficeInput) -> Result<i64, AppError> {
        province_only(by)?;
        let code = o.code.trim();
        if code.is_empty()
            || code.len() > 40
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(AppError::field(
                "code",
                "office code: 1–40 letters, digits, '-', '_' or '.'",
            ));
        }
        let name = &super::text::printable("name", &o.name, 200)?;
        let optional = |field, v: &str| {
            let v = v.trim();
            if v.is_empty() {
                Ok(String::new())
            } else {
                super::text::printable(field, v, 300)
            }
        };
        let (address, return_place, code_prefix) = (
            optional("address", &o.address)?,
            optional("return_place", &o.return_place)?,
            optional("code_prefix", &o.code_prefix)?,
        );
        if code_prefix.chars().count() > 40 {
            return Err(AppError::field(
                "code_prefix",
                "a code prefix has at most 40 characters",
            ));
        }
        let t = now();
        Ok(self.store.audited(&by.actor, t, |tx| {
            let id = offices::insert(
                tx,
                &NewOffice {
                    code,
                    name,
                    address: &address,
                    return_place: &return_place,
                    code_prefix: &code_prefix,
                },
                t,
            )?;
            tx.record(Action::OfficeCreate, code, json!({"id": id, "name": name}))?;
            Ok(id)
        })?)
    }

    /// The office a new account or device of `role` created by `by` belongs to. `requested`
    /// is an office code (None: the creator's office; for a province-wide creator, the
    /// default office when it is the only one). Admins and integration tokens may be
    /// province-wide (`requested = Some("")` or a province-wide creator's None); clerks and
    /// kiosks always belong to an office.
    pub fn office_for_new(
        &self,
        by: &Principal,
        role: Role,
        requested: Option<&str>,
    ) -> Result<Option<i64>, AppError> {
        let may_be_province = matches!(role, Role::Admin | Role::Integration);
        let wanted = match requested.map(str::trim) {
            Some("") => None,
            Some(code) => Some(
                self.store
                    .read(|c| offices::by_code(c, code))?
                    .ok_or_else(|| {
                        AppError::unusable(Some("office"), format!("no office with code {code:?}"))
                    })?
                    .id,
            ),
            None if by.office.is_some() => by.office,
            None if may_be_province => None,
            None => {
                let all = self.store.read(|c| offices::list(c, None))?;
                match all.as_slice() {
                    [only] => Some(only.id),
                    _ => {
                        return Err(AppError::unusable(
                            Some("office"),
                            "choose the office (this deployment has several)",
                        ))
                    }
                }
            }
        };
        if let Some(mine) = by.office {
            if wanted != Some(mine) {
                return Err(AppError::Forbidden(
                    "an office's admin creates accounts and devices of that office only".into(),
                ));
            }
        }
        if wanted.is_none() && !may_be_province {
            return Err(AppError::unusable(
                Some("office"),
                "a clerk or a kiosk belongs to one office",
            ));
        }
        Ok(wanted)
    }
}

impl App {
    /// Applicant `id` as `by` may see and change them: registered at `by`'s office, with a
    /// dossier there, or linked to it at its desk (any applicant, for a province-wide
    /// caller). Another office's citizen is "not found", as if they did not exist. Every use
    /// case that takes an applicant goes through here, whatever the caller's role.
    pub(crate) fn applicant(
        &self,
        by: &Principal,
        id: ApplicantId,
    ) -> Result<people::ApplicantRow, AppError> {
        self.store
            .read(|c| {
                Ok(match people::applicant(c, id.0)? {
                    Some(a) if offices::applicant_in(c, id.0, by.office)? => Some(a),
                    _ => None,
                })
            })?
            .ok_or_else(|| AppError::NotFound(format!("applicant {id}")))
    }

    /// A citizen of another office found by a clerk through the full ID number on their card
    /// (a procedure may be filed at any office of the province): from now on the citizen is
    /// the clerk's office's too. Audited `applicant.link` when the link is new.
    pub(crate) fn link_at_desk(&self, by: &Principal, id: ApplicantId) -> Result<(), AppError> {
        let Some(office) = by.office.filter(|_| by.role == Role::Clerk) else {
            return Ok(());
        };
        let t = now();
        self.store.audited(&by.actor, t, |tx| {
            if offices::link_applicant(tx, id.0, office, t)? {
                tx.record(
                    Action::ApplicantLink,
                    &id.subject(),
                    json!({"office": office}),
                )?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// Refuses a caller who acts for one office only.
pub fn province_only(by: &Principal) -> Result<(), AppError> {
    if by.is_province() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only a province-wide admin may do this".into(),
        ))
    }
}

/// Whether `by` may see a record of `office`.
pub fn sees(by: &Principal, office: i64) -> bool {
    by.office.is_none_or(|mine| mine == office)
}
