//! Encrypted backups: a consistent SQLite copy (online backup API) encrypted in 1 MiB
//! chunks with AES-256-GCM in the STREAM construction (each chunk authenticated, order and
//! truncation detected), a key derived from the deployment key, and the restore. Applicant
//! keys are never part of a backup, so a purge also makes older backups' templates
//! unreadable. Files are written beside their destination and renamed when complete.

use crate::store::audit::Action;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use aead::stream::{DecryptorBE32, EncryptorBE32};
use aead::{KeyInit, Payload};
use aes_gcm::Aes256Gcm;

use crate::store::{Store, StoreError};

const MAGIC: &[u8; 8] = b"HOSOBAK1";
const CHUNK: usize = 1 << 20;
const TAG: usize = 16;
/// STREAM-BE32 nonce prefix for a 96-bit nonce.
const PREFIX: usize = 7;
/// Backups the retention job may prune are named `hoso-YYYYmmddTHHMMSSZ.hosobak`.
pub const EXTENSION: &str = "hosobak";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} is not a Hồ Sơ backup")]
    NotABackup(PathBuf),
    #[error("{0} cannot be decrypted: wrong deployment key, or the file is damaged or cut short")]
    Decrypt(PathBuf),
    #[error("the restored database fails its integrity check: {0}")]
    Integrity(String),
    #[error("the system random generator failed")]
    Random,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes a file when dropped unless disarmed (partial outputs after an error).
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The default file name for a backup taken at `now` (unix seconds).
pub fn file_name(now: i64) -> String {
    let t = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    format!("hoso-{}.{EXTENSION}", t.format("%Y%m%dT%H%M%SZ"))
}

/// The time in a default backup file name.
pub fn time_of(name: &str) -> Option<i64> {
    let stamp = name
        .strip_prefix("hoso-")?
        .strip_suffix(&format!(".{EXTENSION}"))?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Writes an encrypted backup of `store` to `dest`. `scratch` is a private directory for
/// the plaintext copy (the data directory), removed before returning. Returns the size.
/// The backup use case (the admin page and `hoso backup`): an encrypted copy at `dest`,
/// audited as `backup.create` by `actor`. Returns its size in bytes.
pub fn create_audited(
    store: &Store,
    keys: &crate::crypto::Keys,
    data_dir: &Path,
    dest: &Path,
    actor: &str,
) -> Result<u64, BackupError> {
    let bytes = create(store, &keys.backup_key(), data_dir, dest)?;
    let name = dest.file_name().map_or_else(
        || dest.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    store.audited(actor, crate::store::now(), |tx| {
        tx.record(
            Action::BackupCreate,
            &name,
            serde_json::json!({"bytes": bytes}),
        )
    })?;
    Ok(bytes)
}

pub fn create(
    store: &Store,
    key: &[u8; 32],
    scratch: &Path,
    dest: &Path,
) -> Result<u64, BackupError> {
    let plain = scratch.join(format!(".backup-{}.sqlite3", std::process::id()));
    let _plain_guard = Partial(Some(plain.clone()));
    store.backup_to(&plain)?;
    let partial = dest.with_extension("partial");
    let mut guard = Partial(Some(partial.clone()));
    let size = encrypt_file(key, &plain, &partial)?;
    std::fs::rename(&partial, dest).map_err(io(dest))?;
    guard.0 = None;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(size)
}

fn read_full(r: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<usize, BackupError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(path)(e)),
        }
    }
    Ok(n)
}

fn encrypt_file(key: &[u8; 32], src: &Path, dest: &Path) -> Result<u64, BackupError> {
    let mut prefix = [0u8; PREFIX];
    getrandom::fill(&mut prefix).map_err(|_| BackupError::Random)?;
    let mut header = Vec::with_capacity(MAGIC.len() + PREFIX);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&prefix);
    let mut enc = EncryptorBE32::from_aead(Aes256Gcm::new(key.into()), (&prefix).into());
    let mut input = BufReader::new(File::open(src).map_err(io(src))?);
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    let file = f.open(dest).map_err(io(dest))?;
    let mut out = BufWriter::new(file);
    out.write_all(&header).map_err(io(dest))?;
    // Read one chunk ahead: the last chunk is sealed as last (truncation is detected).
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut n = read_full(&mut input, &mut cur, src)?;
    let mut total = header.len() as u64;
    loop {
        let m = if n == CHUNK {
            read_full(&mut input, &mut next, src)?
        } else {
            0
        };
        let payload = Payload {
            msg: &cur[..n],
            aad: &header,
        };
        let seal_err = |_| BackupError::Decrypt(dest.to_path_buf());
        if m == 0 {
            let ct = enc.encrypt_last(payload).map_err(seal_err)?;
            out.write_all(&ct).map_err(io(dest))?;
            total += ct.len() as u64;
            break;
        }
        let ct = enc.encrypt_next(payload).map_err(seal_err)?;
        out.write_all(&ct).map_err(io(dest))?;
        total += ct.len() as u64;
        std::mem::swap(&mut cur, &mut next);
        n = m;
    }
    let file = out.into_inner().map_err(|e| io(dest)(e.into_error()))?;
    file.sync_all().map_err(io(dest))?;
    Ok(total)
}

/// Decrypts `src` (a backup) into `dest` (a SQLite file), checking every chunk.
pub fn decrypt_file(key: &[u8; 32], src: &Path, dest: &Path) -> Result<(), BackupError> {
    let mut input = BufReader::new(File::open(src).map_err(io(src))?);
    let mut header = [0u8; 8 + PREFIX];
    if read_full(&mut input, &mut header, src)? != header.len() || &header[..8] != MAGIC {
        return Err(BackupError::NotABackup(src.to_path_buf()));
    }
    let prefix: [u8; PREFIX] = header[8..].try_into().unwrap_or_default();
    let mut dec = DecryptorBE32::from_aead(Aes256Gcm::new(key.into()), (&prefix).into());
    let mut out = BufWriter::new(File::create(dest).map_err(io(dest))?);
    let bad = || BackupError::Decrypt(src.to_path_buf());
    let mut cur = vec![0u8; CHUNK + TAG];
    let mut next = vec![0u8; CHUNK + TAG];
    let mut n = read_full(&mut input, &mut cur, src)?;
    loop {
        let m = if n == CHUNK + TAG {
            read_full(&mut input, &mut next, src)?
        } else {
            0
        };
        let payload = Payload {
            msg: &cur[..n],
            aad: &header,
        };
        if m == 0 {
            let pt = dec.decrypt_last(payload).map_err(|_| bad())?;
            out.write_all(&pt).map_err(io(dest))?;
            break;
        }
        let pt = dec.decrypt_next(payload).map_err(|_| bad())?;
        out.write_all(&pt).map_err(io(dest))?;
        std::mem::swap(&mut cur, &mut next);
        n = m;
    }
    let file = out.into_inner().map_err(|e| io(dest)(e.into_error()))?;
    file.sync_all().map_err(io(dest))?;
    Ok(())
}

/// Restores a backup into `data_dir` (the service must be stopped): decrypts beside the
/// database, checks SQLite integrity, then replaces the database and its WAL.
pub fn restore(key: &[u8; 32], src: &Path, data_dir: &Path) -> Result<(), BackupError> {
    let db = data_dir.join("hoso.sqlite3");
    let tmp = data_dir.join("hoso.sqlite3.restoring");
    let mut guard = Partial(Some(tmp.clone()));
    decrypt_file(key, src, &tmp)?;
    let check =
        crate::store::integrity_of(&tmp).map_err(|e| BackupError::Integrity(e.to_string()))?;
    if check != "ok" {
        return Err(BackupError::Integrity(check));
    }
    for ext in ["sqlite3-wal", "sqlite3-shm"] {
        let p = db.with_extension(ext);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    std::fs::rename(&tmp, &db).map_err(io(&db))?;
    guard.0 = None;
    Ok(())
}

/// Backups in `dir` (default names only) with their times, oldest first.
pub fn list(dir: &Path) -> Vec<(PathBuf, i64, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let t = time_of(&name)?;
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            Some((e.path(), t, len))
        })
        .collect();
    out.sort_by_key(|(_, t, _)| *t);
    out
}

/// Deletes all but the newest `n` backups in `dir` (default names only); returns them.
pub fn keep_newest(dir: &Path, n: usize) -> Vec<PathBuf> {
    let all = list(dir);
    let excess = all.len().saturating_sub(n);
    all.into_iter()
        .take(excess)
        .filter_map(|(p, _, _)| std::fs::remove_file(&p).ok().map(|_| p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) {
        let dir = tempfile::tempdir().unwrap();
        let (src, enc, dec) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let key = [7u8; 32];
        encrypt_file(&key, &src, &enc).unwrap();
        decrypt_file(&key, &enc, &dec).unwrap();
        assert_eq!(std::fs::read(&dec).unwrap(), data, "len {len}");
        // Wrong key, a flipped byte and a cut file are all refused.
        assert!(decrypt_file(&[8u8; 32], &enc, &dec).is_err());
        let mut bytes = std::fs::read(&enc).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&enc, &bytes).unwrap();
        assert!(matches!(
            decrypt_file(&key, &enc, &dec),
            Err(BackupError::Decrypt(_))
        ));
        if len > CHUNK {
            bytes[last] ^= 1;
            bytes.truncate(8 + PREFIX + CHUNK + TAG);
            std::fs::write(&enc, &bytes).unwrap();
            assert!(
                decrypt_file(&key, &enc, &dec).is_err(),
                "cut at a chunk edge"
            );
        }
    }

    #[test]
    fn encrypts_and_detects_tampering_at_every_size() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5] {
            roundtrip(len);
        }
    }

    #[test]
    fn names_carry_their_time() {
        let t = 1_790_000_000;
        assert_eq!(time_of(&file_name(t)), Some(t));
        assert_eq!(time_of("other.hosobak"), None);
    }
}
