//! Office statistics for the admin page and `/metrics` (Prometheus text format): kiosk
//! look-ups per day and how they were resolved (face, QR, keypad, unresolved), the median
//! time from first frame to result, satisfaction ratings, dossiers on time versus overdue,
//! and the gallery's size. Counts only — never who.

use std::time::Instant;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use super::{App, AppError};
use crate::auth::Principal;
use crate::consent::PURPOSE;
use crate::kiosk::LookupMethod;
use crate::store::{help, now, reports, requests, stats};

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub days: i64,
    pub per_day: Vec<stats::Day>,
    pub total: i64,
    /// Look-ups in the period by how they were resolved.
    pub totals: stats::Day,
    /// Shares of all look-ups in the period (0–1).
    pub share_face: f64,
    pub share_qr: f64,
    pub share_keypad: f64,
    pub share_unresolved: f64,
    /// Median milliseconds from the first frame to the result, face matches only.
    pub median_face_ms: Option<i64>,
    pub ratings: [i64; 5],
    pub rating_mean: Option<f64>,
    pub dossiers: stats::Timeliness,
    /// Finished on time ÷ finished (the office's ranking figure), if any finished.
    pub on_time_rate: Option<f64>,
    pub gallery_templates: usize,
    pub gallery_people: usize,
    pub consented_people: i64,
    pub enrolled_people: i64,
    pub open_requests: i64,
    pub late_requests: i64,
    /// Kiosk "call staff" requests in the period, and how many a clerk answered.
    pub help_calls: i64,
    pub help_answered: i64,
    /// The charts' data: look-ups per kiosk and day, finished dossiers per week, ratings
    /// per kiosk.
    pub per_kiosk_day: Vec<reports::KioskDay>,
    pub on_time_by_week: Vec<reports::Week>,
    pub kiosk_ratings: Vec<reports::KioskRatings>,
}

/// How long an unresolved visit may still be resolved by a fallback, seconds.
const PENDING_S: u64 = 120;

fn median(v: &[i64]) -> Option<i64> {
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

impl App {
    /// Records how a kiosk visit ended ("face", "qr", "keypad" or "none"). `visit` names
    /// the kiosk page's session: a visit left unresolved that a QR or keypad look-up in the
    /// same session resolves within two minutes counts once, as resolved by the fallback.
    pub(crate) fn record_lookup(
        &self,
        device_id: i64,
        visit: &str,
        method: LookupMethod,
        since_first_frame: Option<std::time::Duration>,
    ) -> Result<(), AppError> {
        let t = now();
        let pending = {
            let mut p = self.pending_visits();
            p.retain(|_, (_, at)| at.elapsed().as_secs() < PENDING_S);
            if method == LookupMethod::None {
                None
            } else {
                p.remove(visit)
            }
        };
        let ms = since_first_frame.map(|d| d.as_millis() as i64);
        match (method, pending) {
            (m, Some((row, first))) if m.is_fallback() => {
                let ms = Some(first.elapsed().as_millis() as i64);
                self.store
                    .tx(|tx| stats::resolve_lookup(tx, row, method.as_str(), ms))?;
            }
            _ => {
                let row = self.store.tx(|tx| {
                    stats::insert_lookup(
                        tx,
                        t,
                        (device_id > 0).then_some(device_id),
                        method.as_str(),
                        ms,
                    )
                })?;
                if method == LookupMethod::None && !visit.is_empty() {
                    let first = since_first_frame
                        .and_then(|d| Instant::now().checked_sub(d))
                        .unwrap_or_else(Instant::now);
                    self.pending_visits()
                        .insert(visit.to_string(), (row, first));
                }
            }
        }
        Ok(())
    }

    /// Look-ups per kiosk and day over the last `days` days, as CSV.
    pub fn stats_csv(&self, by: &Principal, days: i64) -> Result<Vec<u8>, AppError> {
        let from = now() - days.clamp(1, 366) * 86_400;
        let rows = self
            .store
            .read(|c| reports::lookups_per_kiosk_day(c, from, by.office))?;
        Ok(reports::kiosk_days_csv(&rows)?)
    }

    /// Statistics over the last `days` days, of `by`'s office (or every office).
    pub fn stats(&self, by: &Principal, days: i64) -> Result<Stats, AppError> {
        let scope = by.office;
        let days = days.clamp(1, 366);
        let t = now();
        let from = t - days * 86_400;
        // One read: every figure from the same moment.
        let (
            (per_day, face_ms, ratings, dossiers, (consented, enrolled), (open_r, late_r), help),
            (per_kiosk_day, on_time_by_week, kiosk_ratings),
        ) = self.store.read(|c| {
            Ok((
                (
                    stats::lookups_per_day(c, from, scope)?,
                    stats::latencies(c, from, LookupMethod::Face.as_str(), scope)?,
                    stats::ratings(c, from, scope)?,
                    stats::timeliness(c, t, scope)?,
                    stats::consented(c, PURPOSE, scope)?,
                    requests::open_counts(c, t, scope)?,
                    help::counts(c, from, scope)?,
                ),
                (
                    reports::lookups_per_kiosk_day(c, from, scope)?,
                    reports::on_time_by_week(c, from, scope)?,
                    reports::ratings_per_kiosk(c, from, scope)?,
                ),
            ))
        })?;
        let (help_calls, help_answered) = help;
        let sum = |f: fn(&stats::Day) -> i64| per_day.iter().map(f).sum::<i64>();
        let (face, qr, keypad, none) = (
            sum(|d| d.face),
            sum(|d| d.qr),
            sum(|d| d.keypad),
            sum(|d| d.unresolved),
        );
        let total = face + qr + keypad + none;
        let share = |n: i64| {
            if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            }
        };
        let n_ratings: i64 = ratings.iter().sum();
        let finished = dossiers.finished_on_time + dossiers.finished_late;
        Ok(Stats {
            days,
            total,
            totals: stats::Day {
                day: String::new(),
                face,
                qr,
                keypad,
                unresolved: none,
            },
            share_face: share(face),
            share_qr: share(qr),
            share_keypad: share(keypad),
            share_unresolved: share(none),
            per_day,
            median_face_ms: median(&face_ms),
            rating_mean: (n_ratings > 0).then(|| {
                ratings
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (i as i64 + 1) * n)
                    .sum::<i64>() as f64
                    / n_ratings as f64
            }),
            ratings,
            on_time_rate: (finished > 0)
                .then(|| dossiers.finished_on_time as f64 / finished as f64),
            dossiers,
            gallery_templates: self.gallery.len(),
            gallery_people: self.gallery.identities(),
            consented_people: consented,
            enrolled_people: enrolled,
            open_requests: open_r,
            late_requests: late_r,
            help_calls,
            help_answered,
            per_kiosk_day,
            on_time_by_week,
            kiosk_ratings,
        })
    }

    /// The statistics in the Prometheus text format (today and the last 30 days).
    pub fn metrics_text(&self) -> Result<String, AppError> {
        let s = self.stats(&Principal::operator("metrics"), 30)?;
        let mut reg = Registry::with_prefix("hoso");
        let lookups = Family::<Vec<(String, String)>, Gauge>::default();
        reg.register(
            "kiosk_lookups_30d",
            "Kiosk look-ups in the last 30 days by how they were resolved",
            lookups.clone(),
        );
        for (m, n) in [
            ("face", s.totals.face),
            ("qr", s.totals.qr),
            ("keypad", s.totals.keypad),
            ("none", s.totals.unresolved),
        ] {
            lookups
                .get_or_create(&vec![("method".into(), m.into())])
                .set(n);
        }
        let dossiers = Family::<Vec<(String, String)>, Gauge>::default();
        reg.register(
            "dossiers",
            "Dossiers by timeliness (finished on time or late, open on time or overdue)",
            dossiers.clone(),
        );
        for (k, n) in [
            ("finished_on_time", s.dossiers.finished_on_time),
            ("finished_late", s.dossiers.finished_late),
            ("open_on_time", s.dossiers.open_on_time),
            ("open_overdue", s.dossiers.open_overdue),
        ] {
            dossiers
                .get_or_create(&vec![("state".into(), k.into())])
                .set(n);
        }
        let ratings = Family::<Vec<(String, String)>, Gauge>::default();
        reg.register(
            "ratings_30d",
            "Service ratings in the last 30 days by score",
            ratings.clone(),
        );
        for (i, n) in s.ratings.iter().enumerate() {
            ratings
                .get_or_create(&vec![("score".into(), (i + 1).to_string())])
                .set(*n);
        }
        let gauge = |reg: &mut Registry, name: &str, help: &str, v: i64| {
            let g = Gauge::<i64>::default();
            g.set(v);
            reg.register(name, help, g);
        };
        gauge(
            &mut reg,
            "kiosk_face_median_ms_30d",
            "Median milliseconds from first frame to a face match, last 30 days",
            s.median_face_ms.unwrap_or(0),
        );
        gauge(
            &mut reg,
            "gallery_templates",
            "Face templates in the running gallery",
            s.gallery_templates as i64,
        );
        gauge(
            &mut reg,
            "gallery_people",
            "People in the running gallery",
            s.gallery_people as i64,
        );
        gauge(
            &mut reg,
            "consented_people",
            "People with a running consent to face lookup",
            s.consented_people,
        );
        gauge(
            &mut reg,
            "requests_open",
            "Open data-subject requests",
            s.open_requests,
        );
        gauge(
            &mut reg,
            "requests_late",
            "Open data-subject requests past a legal deadline",
            s.late_requests,
        );
        let mut out = String::new();
        encode(&mut out, &reg).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(super::median(&[]), None);
        assert_eq!(super::median(&[5]), Some(5));
        assert_eq!(super::median(&[1, 3, 10]), Some(3));
        assert_eq!(super::median(&[1, 3, 5, 10]), Some(4));
    }
}
