//! Demo mode's guide for a newcomer: a kiosk ready with a fresh demo token (the previous
//! demo token is revoked on each start), a few sample dossiers in different states (created
//! once), and the links to the clerk desk, admin desk and kiosk — printed at start and shown
//! on the start page (`GET /api/v1/demo`, demo mode only; the demo listens on loopback).

use chrono::{Duration, Local};
use serde::Serialize;

use super::dossiers::EventInput;
use super::{App, AppError};
use crate::auth::{Principal, Role};
use crate::dossier::Status;
use crate::store::dossiers as sql;

/// The demo kiosk's device name.
const KIOSK: &str = "Kiosk demo";
/// The demo accounts' password.
pub const PASSWORD: &str = "hoso-demo-2026";

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub code: String,
    /// The last 4 digits of the applicant's ID number (for the keypad).
    pub id_digits: String,
    pub status: String,
    /// The receipt QR's link (the public status page), a path on this server.
    pub status_page: String,
}

/// Paths on this server (the caller knows its address).
#[derive(Debug, Clone, Serialize)]
pub struct DemoGuide {
    pub clerk: String,
    pub admin: String,
    pub kiosk: String,
    pub accounts: Vec<(String, String)>,
    pub samples: Vec<Sample>,
}

impl App {
    /// Prepares the demo.
    pub fn demo_setup(&self) -> Result<DemoGuide, AppError> {
        let op = Principal::operator("demo");
        for d in self.list_devices(&op)? {
            if d.device.name == KIOSK && d.device.revoked_at.is_none() {
                self.revoke_device(&op, d.device.id)?;
            }
        }
        let (_, token) = self.issue_token(&op, Role::Kiosk, KIOSK, None)?;
        let samples = if self
            .store
            .read(|c| sql::newest_code(c, crate::store::offices::DEFAULT_OFFICE))?
            .is_none()
        {
            self.demo_samples(&op)?
        } else {
            Vec::new()
        };
        Ok(DemoGuide {
            clerk: "/clerk/".into(),
            admin: "/admin/".into(),
            kiosk: format!("/kiosk/#token={token}"),
            accounts: ["admin", "clerk"]
                .iter()
                .map(|u| (u.to_string(), PASSWORD.to_string()))
                .collect(),
            samples,
        })
    }

    /// Four applicants, one dossier each: received, supplement needed, ready to collect,
    /// overdue.
    fn demo_samples(&self, op: &Principal) -> Result<Vec<Sample>, AppError> {
        let today = Local::now().date_naive();
        let fmt = |d: chrono::NaiveDate, hm: &str| format!("{} {hm}", d.format("%Y-%m-%d"));
        let people = [
            ("Nguyễn Văn An", "001090000001", 3, 7, vec![]),
            (
                "Trần Thị Bình",
                "001190000002",
                6,
                5,
                vec![(5, "bản sao giấy khai sinh")],
            ),
            (
                "Lê Văn Cường",
                "001090000003",
                12,
                1,
                vec![(4, ""), (9, "")],
            ),
            ("Phạm Thị Dung", "001190000004", 20, -2, vec![(4, "")]),
        ];
        let mut out = Vec::new();
        for (n, (name, idn, ago, due_in, events)) in people.into_iter().enumerate() {
            let id = self.create_applicant(op, name, idn, None)?;
            let received = today - Duration::days(ago);
            let code = format!("000.00.17.H29-{}-{:04}", received.format("%y%m%d"), n + 1);
            let (code, token) = self.create_dossier(
                op,
                super::dossiers::NewDossierInput {
                    code: &code,
                    applicant_id: id,
                    procedure: "Đăng ký hộ kinh doanh",
                    received_at: &fmt(received, "08:30"),
                    due_at: &fmt(today + Duration::days(due_in), "17:00"),
                    documents: &[
                        "Giấy đề nghị đăng ký hộ kinh doanh".to_string(),
                        "Bản sao Căn cước công dân của chủ hộ".to_string(),
                    ],
                    office: None,
                },
            )?;
            let mut status = 2;
            for (i, (st, note)) in events.into_iter().enumerate() {
                let at = received + Duration::days(i as i64 + 1);
                let ev = EventInput {
                    status: st,
                    at: fmt(at.min(today), "09:00"),
                    note: (!note.is_empty()).then(|| note.to_string()),
                    agency: None,
                    new_due_at: None,
                };
                self.add_event(op, &code, &ev)?;
                status = st as u8;
            }
            out.push(Sample {
                status_page: format!("/tra-cuu?ma={code}&t={token}"),
                code,
                id_digits: idn[8..].to_string(),
                status: Status::stored(status).text_vi().to_string(),
            });
        }
        Ok(out)
    }
}
