//! Purging biometric data and the retention job. A purge — on withdrawal, by an admin, on
//! a data-subject request, or by retention when all of a person's dossiers are closed plus
//! the grace period — takes the person out of the running gallery, destroys their data
//! key (every stored copy of their templates, backups included, becomes unreadable),
//! deletes the template rows, ends the consent, checkpoints the WAL, and is audited. The
//! retention job also prunes backups older than the grace period. Time is a parameter, so
//! tests (and `hoso purge --now`) can move the clock.

use crate::store::audit::Action;
use serde::Serialize;

use crate::auth::Principal;
use serde_json::json;

use super::{App, AppError};
use crate::applicant::{masked_name, ApplicantId};
use crate::consent::PURPOSE;
use crate::store::{admin, people};

/// The actor name of the server's periodic retention job.
pub const RETENTION_JOB: &str = "system:retention";

/// Why biometric data is purged (the audit entry's action and the consent's note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeReason {
    /// The person withdrew consent at the desk.
    Withdrawal,
    /// An admin purged the data.
    Admin,
    /// A data-subject request (withdrawal or deletion) was completed.
    Request,
    /// All dossiers closed and the grace period passed.
    Retention,
}

impl PurgeReason {
    fn action(self) -> Action {
        match self {
            PurgeReason::Withdrawal => Action::ConsentWithdraw,
            PurgeReason::Admin => Action::BiometricsPurge,
            PurgeReason::Request => Action::RequestPurge,
            PurgeReason::Retention => Action::RetentionPurge,
        }
    }
}

/// One person the retention job purges (or would purge).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionItem {
    pub applicant_id: ApplicantId,
    pub display_name: String,
    /// When the last dossier closed (None: the person never had a dossier).
    pub closed_at: Option<i64>,
    /// When the grace period ended.
    pub due_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionReport {
    pub now: i64,
    pub dry_run: bool,
    pub grace_days: u32,
    pub people: Vec<RetentionItem>,
    /// Backup files older than the grace period.
    pub backups: Vec<String>,
}

/// How long the gallery's change feed is kept.
const FEED_KEPT_S: i64 = 86_400;

impl App {
    /// Purges one applicant's biometric data (idempotent). Returns how many templates were
    /// deleted.
    pub fn purge(
        &self,
        by: &Principal,
        applicant_id: ApplicantId,
        reason: PurgeReason,
        note: &str,
        t: i64,
    ) -> Result<usize, AppError> {
        self.applicant(by, applicant_id)?;
        let _person = self.person_lock(applicant_id)?;
        // Out of every match at once, then the key: even if the write below fails (a full
        // disk), what remains can no longer be read.
        self.gallery.remove_identity(applicant_id.gallery_key());
        let key_destroyed = self.keys.destroy_applicant_key(applicant_id.0)?;
        // Recorded outside the database before the write below, so a restore of an older
        // backup re-applies it. A journal that cannot be written (a full disk) does not hold
        // the purge back: the face is already out of the gallery and its key destroyed.
        let entry = crate::journal::Entry::BiometricsPurged {
            applicant: applicant_id.0,
        };
        if let Err(e) = self.journal.append(t, entry) {
            tracing::error!(error = %e, applicant = applicant_id.0, "restore journal not written");
        }
        let consent_note = if note.is_empty() {
            format!("{reason:?}").to_lowercase()
        } else {
            note.to_string()
        };
        let n = self.store.audited(&by.actor, t, |tx| {
            let withdrawn = people::withdraw_consents(
                tx,
                applicant_id.0,
                PURPOSE,
                by.user_id(),
                &consent_note,
                t,
            )?;
            let n = people::purge_templates(tx, applicant_id.0, t)?;
            tx.record(
                reason.action(),
                &applicant_id.subject(),
                json!({"consents_ended": withdrawn, "templates_purged": n,
                        "key_destroyed": key_destroyed, "note": note}),
            )?;
            Ok(n)
        })?;
        self.store.checkpoint()?;
        // Re-read after the commit: a look at the feed begun before it cannot put the
        // person back. The purge is done either way; a failure here is caught up later.
        self.follow_after_commit("purge");
        self.dossiers_changed();
        Ok(n)
    }

    /// The grace period in days (the admin's setting, else the configuration).
    pub fn grace_days(&self) -> u32 {
        self.settings().retention_grace_days
    }

    /// Who (and which backups) retention removes at `now`; with `dry_run` nothing changes.
    pub fn retention_run(
        &self,
        by: &Principal,
        now: i64,
        dry_run: bool,
    ) -> Result<RetentionReport, AppError> {
        let grace_days = self.grace_days();
        let grace = i64::from(grace_days) * 86_400;
        let cands = self
            .store
            .read(|c| admin::retention_candidates(c, PURPOSE))?;
        let people: Vec<RetentionItem> = cands
            .into_iter()
            .filter_map(|c| {
                let due_at = c.closed_at.unwrap_or(c.created_at) + grace;
                (due_at <= now).then(|| RetentionItem {
                    applicant_id: ApplicantId(c.applicant_id),
                    display_name: masked_name(&c.full_name),
                    closed_at: c.closed_at,
                    due_at,
                })
            })
            .collect();
        let old_backups: Vec<_> = crate::backup::list(&self.config.backup_dir())
            .into_iter()
            .filter(|(_, at, _)| at + grace <= now)
            .collect();
        let backups = old_backups
            .iter()
            .filter_map(|(p, _, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if !dry_run {
            for p in &people {
                self.purge(
                    by,
                    p.applicant_id,
                    PurgeReason::Retention,
                    "all dossiers closed and the grace period passed",
                    now,
                )?;
            }
            for (path, _, _) in &old_backups {
                if let Err(e) = std::fs::remove_file(path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot prune backup");
                }
            }
            // The gallery's change feed keeps a day: a server away longer reloads at start.
            self.store
                .tx(|tx| crate::store::feed::prune(tx, now - FEED_KEPT_S))?;
        }
        let report = RetentionReport {
            now,
            dry_run,
            grace_days,
            people,
            backups,
        };
        // A preview changes nothing and writes nothing (a GET must not); the server's
        // periodic job logs only when it did something.
        let quiet = dry_run
            || (by.actor == RETENTION_JOB && report.people.is_empty() && report.backups.is_empty());
        if !quiet {
            self.audit(
                by,
                Action::RetentionRun,
                "",
                json!({"now": now, "grace_days": grace_days,
                    "applicants": report.people.iter().map(|p| p.applicant_id).collect::<Vec<_>>(),
                    "backups_pruned": report.backups}),
            )?;
        }
        Ok(report)
    }
}

/// A backup written by the admin page or the daily timer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupDone {
    pub file: String,
    pub bytes: u64,
}

impl App {
    /// Writes an encrypted backup into the backup folder now, and audits it.
    pub fn backup_now(&self, by: &Principal) -> Result<BackupDone, AppError> {
        let dir = self.config.backup_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            AppError::Internal(format!(
                "cannot create backup folder {}: {e}",
                dir.display()
            ))
        })?;
        let t = crate::store::now();
        let name = crate::backup::file_name(t);
        let dest = dir.join(&name);
        let bytes = crate::backup::create_audited(
            &self.store,
            &self.keys,
            &self.config.data_dir,
            &dest,
            &by.actor,
        )
        .map_err(|e| match e {
            crate::backup::BackupError::Store(s) => AppError::from(s),
            crate::backup::BackupError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                AppError::DiskFull
            }
            e => AppError::Internal(e.to_string()),
        })?;
        Ok(BackupDone { file: name, bytes })
    }
}
