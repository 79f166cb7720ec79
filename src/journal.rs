//! The restore journal: every withdrawal and purge, device token revocation and account
//! change (password, activation), kept **outside the database** in
//! `<data_dir>/restore-journal.jsonl` (JSON lines, owner-only), so that restoring an older
//! backup cannot bring back what was taken away after it was made. Each entry is written and
//! synced *before* its change is committed: an entry whose change then failed is re-applied
//! too, which errs on the side of removal. [`reapply`] replays, in order, the entries newer
//! than the restored database, inside one audited transaction.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::audit::Action;
use crate::store::{admin, people, Store, StoreError};

/// One change a restore must not undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// Consent ended and templates deleted (withdrawal, admin purge, request, retention).
    BiometricsPurged { applicant: i64 },
    /// A kiosk device token revoked.
    DeviceRevoked { device: i64 },
    /// An account's password replaced (the new hash, never the password).
    PasswordChanged { user: i64, hash: String },
    /// An account activated or deactivated.
    AccountActive { user: i64, active: bool },
}

#[derive(Serialize, Deserialize)]
struct Line {
    at: i64,
    #[serde(flatten)]
    entry: Entry,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("restore journal {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("restore journal {path}, line {line}: {reason}")]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The journal file of a data directory.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    append: Mutex<()>,
}

impl Journal {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("restore-journal.jsonl"),
            append: Mutex::new(()),
        }
    }

    fn io(&self, source: std::io::Error) -> JournalError {
        JournalError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends one entry and syncs it to disk.
    pub fn append(&self, at: i64, entry: Entry) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(&Line { at, entry }).unwrap_or_default();
        line.push(b'\n');
        let _one = self.append.lock().unwrap_or_else(|p| p.into_inner());
        let mut o = std::fs::OpenOptions::new();
        o.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&self.path).map_err(|e| self.io(e))?;
        f.write_all(&line).map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))
    }

    /// Entries recorded at or after `since`, oldest first. A missing journal is empty; a
    /// line cut short by a crash at the very end is ignored, any other bad line refused.
    pub fn since(&self, since: i64) -> Result<Vec<(i64, Entry)>, JournalError> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        let lines: Vec<String> = std::io::BufReader::new(f)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(e))?;
        let mut out = Vec::new();
        for (i, text) in lines.iter().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(text) {
                Ok(l) if l.at >= since => out.push((l.at, l.entry)),
                Ok(_) => {}
                Err(_) if i + 1 == lines.len() => {}
                Err(e) => {
                    return Err(JournalError::Damaged {
                        path: self.path.clone(),
                        line: i + 1,
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// What a restore re-applied.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Reapplied {
    /// When the restored database's last audit entry was written (the backup's time).
    pub backup_at: i64,
    pub purges: usize,
    pub revocations: usize,
    pub password_changes: usize,
    pub account_changes: usize,
}

/// Replays the journal's entries newer than the restored database into it, ends every
/// session (sign in again), and audits the restore as `backup.restore` — all in one
/// transaction.
pub fn reapply(
    store: &Store,
    journal: &Journal,
    from: &str,
    at: i64,
) -> Result<Reapplied, RestoreError> {
    let backup_at = store.read(crate::store::audit::last_at)?.unwrap_or(0);
    let entries = journal.since(backup_at)?;
    let mut done = Reapplied {
        backup_at,
        ..Reapplied::default()
    };
    store.audited_with("restore", at, |tx| {
        for (when, e) in &entries {
            match e {
                Entry::BiometricsPurged { applicant } => {
                    let note = "rút đồng ý/xoá sau bản sao lưu (áp dụng lại khi khôi phục)";
                    people::withdraw_consents(
                        tx,
                        *applicant,
                        crate::consent::PURPOSE,
                        None,
                        note,
                        *when,
                    )?;
                    people::purge_templates(tx, *applicant, *when)?;
                    done.purges += 1;
                }
                Entry::DeviceRevoked { device } => {
                    admin::revoke_device(tx, *device, *when)?;
                    done.revocations += 1;
                }
                Entry::PasswordChanged { user, hash } => {
                    admin::set_password(tx, *user, hash)?;
                    done.password_changes += 1;
                }
                Entry::AccountActive { user, active } => {
                    admin::set_user_active(tx, *user, *active)?;
                    done.account_changes += 1;
                }
            }
        }
        crate::store::users::end_all_sessions(tx)?;
        tx.record(
            Action::BackupRestore,
            from,
            serde_json::json!({
                "backup_at": backup_at,
                "reapplied": {
                    "purges": done.purges, "revocations": done.revocations,
                    "password_changes": done.password_changes,
                    "account_changes": done.account_changes,
                },
                "note": "audit entries after backup_at were recorded on the replaced database",
            }),
        )?;
        Ok::<_, RestoreError>(())
    })?;
    Ok(done)
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_entries_in_order_and_filters_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        assert!(j.since(0).unwrap().is_empty());
        j.append(10, Entry::DeviceRevoked { device: 1 }).unwrap();
        j.append(20, Entry::BiometricsPurged { applicant: 7 })
            .unwrap();
        j.append(
            30,
            Entry::AccountActive {
                user: 2,
                active: false,
            },
        )
        .unwrap();
        let all = j.since(20).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], (20, Entry::BiometricsPurged { applicant: 7 }));
        // A line cut short at the end (a crash mid-write) is ignored; one in the middle is not.
        let path = dir.path().join("restore-journal.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"at\":40,\"kind\":\"dev");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(j.since(0).unwrap().len(), 3);
        text.push_str("\n{\"at\":50,\"kind\":\"device_revoked\",\"device\":3}\n");
        std::fs::write(&path, &text).unwrap();
        assert!(matches!(
            j.since(0),
            Err(JournalError::Damaged { line: 4, .. })
        ));
    }
}
