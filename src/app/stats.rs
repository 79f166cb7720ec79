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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
        let totals = stats::Day {
            day: String::new(),
            face: per_day.iter().map(|d| d.face).sum(),
            qr: per_day.iter().map(|d| d.qr).sum(),
            keypad: per_day.iter().map(|d| d.keypad).sum(),
            unresolved: per_day.iter().map(|d| d.unresolved).sum(),
        };
        let total = totals.face + totals.qr + totals.keypad + totals.unresolved;
        let share = |n: i64| {
            if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            }
        };
        let finished = dossiers.finished_on_time + dossiers.finished_late;
        Ok(Stats {
            days,
            total,
            share_face: share(totals.face),
            share_qr: share(totals.qr),
            share_keypad: share(totals.keypad),
            share_unresolved: share(totals.unresolved),
            totals,
            per_day,
            median_face_ms: median(&face_ms),
            rating_mean: mean_rating(&ratings),
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
        families(&mut reg, &s);
        gauges(&mut reg, &s);
        let mut out = String::new();
        encode(&mut out, &reg).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(out)
    }
}

/// The labelled gauges of `/metrics`: look-ups by method, dossiers by timeliness,
/// ratings by score.
fn families(reg: &mut Registry, s: &Stats) {
    labelled(
        reg,
        (
            "kiosk_lookups_30d",
            "Kiosk look-ups in the last 30 days by how they were resolved",
        ),
        "method",
        &[
            ("face".into(), s.totals.face),
            ("qr".into(), s.totals.qr),
            ("keypad".into(), s.totals.keypad),
            ("none".into(), s.totals.unresolved),
        ],
    );
    labelled(
        reg,
        (
            "dossiers",
            "Dossiers by timeliness (finished on time or late, open on time or overdue)",
        ),
        "state",
        &[
            ("finished_on_time".into(), s.dossiers.finished_on_time),
            ("finished_late".into(), s.dossiers.finished_late),
            ("open_on_time".into(), s.dossiers.open_on_time),
            ("open_overdue".into(), s.dossiers.open_overdue),
        ],
    );
    let scores: Vec<(String, i64)> = s
        .ratings
        .iter()
        .enumerate()
        .map(|(i, n)| ((i + 1).to_string(), *n))
        .collect();
    labelled(
        reg,
        (
            "ratings_30d",
            "Service ratings in the last 30 days by score",
        ),
        "score",
        &scores,
    );
}

/// The plain gauges of `/metrics`.
fn gauges(reg: &mut Registry, s: &Stats) {
    for (name, help, v) in [
        (
            "kiosk_face_median_ms_30d",
            "Median milliseconds from first frame to a face match, last 30 days",
            s.median_face_ms.unwrap_or(0),
        ),
        (
            "gallery_templates",
            "Face templates in the running gallery",
            s.gallery_templates as i64,
        ),
        (
            "gallery_people",
            "People in the running gallery",
            s.gallery_people as i64,
        ),
        (
            "consented_people",
            "People with a running consent to face lookup",
            s.consented_people,
        ),
        (
            "requests_open",
            "Open data-subject requests",
            s.open_requests,
        ),
        (
            "requests_late",
            "Open data-subject requests past a legal deadline",
            s.late_requests,
        ),
    ] {
        let g = Gauge::<i64>::default();
        g.set(v);
        reg.register(name, help, g);
    }
}

/// The mean score of `ratings` (counts of 1…5), None without any.
fn mean_rating(ratings: &[i64]) -> Option<f64> {
    let n: i64 = ratings.iter().sum();
    (n > 0).then(|| {
        ratings
            .iter()
            .enumerate()
            .map(|(i, k)| (i as i64 + 1) * k)
            .sum::<i64>() as f64
            / n as f64
    })
}

/// A gauge family with one label, one value per label value.
fn labelled(reg: &mut Registry, (name, help): (&str, &str), label: &str, values: &[(String, i64)]) {
    let family = Family::<Vec<(String, String)>, Gauge>::default();
    reg.register(name, help, family.clone());
    for (v, n) in values {
        family
            .get_or_create(&vec![(label.to_string(), v.clone())])
            .set(*n);
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
