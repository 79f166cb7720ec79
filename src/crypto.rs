//! Keys and sealing. The deployment key (data dir, 0600, created on first start, never in
//! the database or the repository) encrypts ID numbers and receipt tokens and wraps each
//! applicant's own data key. Applicant keys live beside the database, never inside it nor
//! in its backups: files in the data directory, or the deployment's key database
//! (`database.keys_url`) when several servers share one PostgreSQL. Destroying an
//! applicant's key is the purge: every copy of that person's templates (database, WAL,
//! backups) becomes unreadable.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is damaged (wrong length)")]
    BadKeyFile(PathBuf),
    #[error("decryption failed: wrong key or tampered data")]
    Decrypt,
    #[error("no data key for applicant {0}: their biometric data was purged")]
    Purged(i64),
    #[error("the system random generator failed: {0}")]
    Random(String),
    #[error("key database: {0}")]
    KeyDb(#[from] crate::store::StoreError),
}

/// 32 random bytes.
pub fn random_key() -> Result<[u8; 32], CryptoError> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(k)
}

/// A random token of 128 bits, URL-safe base64 without padding (22 characters).
pub fn random_token() -> Result<String, CryptoError> {
    use base64::Engine;
    let mut t = [0u8; 16];
    getrandom::fill(&mut t).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t))
}

/// SHA-256 in hex: how tokens and session ids are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Encrypts with AES-256-GCM; output = nonce (12) ‖ ciphertext ‖ tag. `aad` binds the
/// ciphertext to its place (e.g. "template:42"), so rows cannot be swapped.
pub fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)?;
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(12);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Decrypt)
}

/// The deployment's keys and the applicant key store.
pub struct Keys {
    master: [u8; 32],
    id_hash_key: [u8; 32],
    vault: Vault,
    /// `<data dir>/keys/applicants/`, where key files are (or were, before a key database).
    files: PathBuf,
}

/// Where applicants' wrapped data keys are kept.
enum Vault {
    /// One file per applicant in `Keys::files` (one server).
    Files,
    /// The key database shared by the deployment's servers.
    Database(crate::store::keydb::KeyDb),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CryptoError + '_ {
    move |source| CryptoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `path` atomically with mode 0600.
fn write_private(path: &Path, data: &[u8]) -> Result<(), CryptoError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new();
        f.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
        let mut f = f.open(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl Keys {
    /// Loads `<data_dir>/keys/deployment.key`, creating it (0600) on first start.
    pub fn open_or_create(data_dir: &Path) -> Result<Self, CryptoError> {
        let dir = data_dir.join("keys");
        let store_dir = dir.join("applicants");
        std::fs::create_dir_all(&store_dir).map_err(io(&store_dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join("deployment.key");
        let master = if path.exists() {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| CryptoError::BadKeyFile(path.clone()))?
        } else {
            let k = random_key()?;
            write_private(&path, &k)?;
            tracing::info!(path = %path.display(), "created the deployment key");
            k
        };
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&master).map_err(|_| CryptoError::Decrypt)?;
        mac.update(b"hoso id-number hash v1");
        let id_hash_key: [u8; 32] = mac.finalize().into_bytes().into();
        Ok(Self {
            master,
            id_hash_key,
            vault: Vault::Files,
            files: store_dir,
        })
    }

    /// Keeps applicants' keys in the key database from now on (instead of files).
    pub fn with_key_database(mut self, db: crate::store::keydb::KeyDb) -> Self {
        self.vault = Vault::Database(db);
        self
    }

    /// Moves key files left from before the key database into it (each file removed once
    /// its key is stored; a key the database already holds wins). Returns how many.
    pub fn move_files_to_key_database(&self) -> Result<usize, CryptoError> {
        let Vault::Database(db) = &self.vault else {
            return Ok(0);
        };
        let entries = match std::fs::read_dir(&self.files) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&self.files)(e)),
        };
        let mut moved = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(applicant) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let wrapped = std::fs::read(&path).map_err(io(&path))?;
            // Only a key that opens under this deployment key is moved.
            self.unwrap(applicant, &wrapped)?;
            db.put_if_absent(applicant, &wrapped)?;
            std::fs::remove_file(&path).map_err(io(&path))?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Whether applicants' keys live in a key database.
    pub fn in_key_database(&self) -> bool {
        matches!(self.vault, Vault::Database(_))
    }

    /// Loads the deployment key of an existing data directory (never creates one): for
    /// commands that must not invent a new key, such as `audit verify` and `restore`.
    pub fn open_existing(data_dir: &Path) -> Result<Self, CryptoError> {
        let path = data_dir.join("keys").join("deployment.key");
        if !path.exists() {
            return Err(CryptoError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no deployment key: is this a Hồ Sơ data directory?",
                ),
            });
        }
        Self::open_or_create(data_dir)
    }

    /// A sub-key for one purpose, derived from the deployment key (HMAC-SHA256 of a label).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.master).expect("HMAC takes any key size");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key that chains the audit log: without it nobody can rewrite the chain.
    pub fn audit_key(&self) -> [u8; 32] {
        self.derive("hoso audit chain v1")
    }

    /// The key that encrypts backup files.
    pub fn backup_key(&self) -> [u8; 32] {
        self.derive("hoso backup v1")
    }

    /// Keyed hash of an ID number: lookups without storing it in clear, and unlinkable
    /// across deployments.
    pub fn id_hash(&self, id_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.id_hash_key)
            .expect("HMAC takes any key size");
        mac.update(id_number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts a field with the deployment key.
    pub fn seal_field(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        seal(&self.master, plaintext, aad.as_bytes())
    }

    pub fn open_field(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        open(&self.master, sealed, aad.as_bytes())
    }

    fn wrap_aad(applicant: i64) -> String {
        format!("applicant-key:{applicant}")
    }

    fn unwrap(&self, applicant: i64, wrapped: &[u8]) -> Result<[u8; 32], CryptoError> {
        let k = open(&self.master, wrapped, Self::wrap_aad(applicant).as_bytes())?;
        <[u8; 32]>::try_from(k.as_slice()).map_err(|_| CryptoError::Decrypt)
    }

    /// The applicant's data key, created (and stored wrapped) if it does not exist yet.
    /// Servers creating one person's key at once end up with the same key.
    pub fn applicant_key(&self, applicant: i64) -> Result<[u8; 32], CryptoError> {
        match self.existing_applicant_key(applicant) {
            Ok(k) => Ok(k),
            Err(CryptoError::Purged(_)) => {
                let k = random_key()?;
                let wrapped = seal(&self.master, &k, Self::wrap_aad(applicant).as_bytes())?;
                match &self.vault {
                    Vault::Files => {
                        write_private(&key_path(&self.files, applicant), &wrapped)?;
                        Ok(k)
                    }
                    Vault::Database(db) => {
                        let stored = db.put_if_absent(applicant, &wrapped)?;
                        self.unwrap(applicant, &stored)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The applicant's data key if it exists.
    pub fn existing_applicant_key(&self, applicant: i64) -> Result<[u8; 32], CryptoError> {
        let wrapped = match &self.vault {
            Vault::Files => {
                let path = key_path(&self.files, applicant);
                match std::fs::read(&path) {
                    Ok(w) => w,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(CryptoError::Purged(applicant))
                    }
                    Err(e) => return Err(io(&path)(e)),
                }
            }
            Vault::Database(db) => db.get(applicant)?.ok_or(CryptoError::Purged(applicant))?,
        };
        self.unwrap(applicant, &wrapped)
    }

    /// The existing data keys of `applicants` (one round trip to a key database); the
    /// purged and the damaged are left out.
    pub fn existing_applicant_keys(
        &self,
        applicants: &[i64],
    ) -> Result<HashMap<i64, [u8; 32]>, CryptoError> {
        match &self.vault {
            Vault::Files => Ok(applicants
                .iter()
                .filter_map(|&a| Some((a, self.existing_applicant_key(a).ok()?)))
                .collect()),
            Vault::Database(db) => Ok(db
                .get_many(applicants)?
                .into_iter()
                .filter_map(|(a, w)| Some((a, self.unwrap(a, &w).ok()?)))
                .collect()),
        }
    }

    /// Destroys the applicant's key (a file is overwritten, synced and unlinked; a key
    /// database row is deleted and its table vacuumed). Idempotent.
    pub fn destroy_applicant_key(&self, applicant: i64) -> Result<bool, CryptoError> {
        if let Vault::Database(db) = &self.vault {
            return Ok(db.delete(applicant)?);
        }
        let path = key_path(&self.files, applicant);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len() as usize,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&path)(e)),
        };
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            f.write_all(&vec![0u8; len]).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
        }
        std::fs::remove_file(&path).map_err(io(&path))?;
        if let Ok(d) = std::fs::File::open(&self.files) {
            let _ = d.sync_all();
        }
        Ok(true)
    }
}

fn key_path(dir: &Path, applicant: i64) -> PathBuf {
    dir.join(format!("{applicant}.key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let k = random_key().unwrap();
        let s = seal(&k, b"secret", b"a").unwrap();
        assert_eq!(open(&k, &s, b"a").unwrap(), b"secret");
        assert!(open(&k, &s, b"b").is_err());
        assert!(open(&random_key().unwrap(), &s, b"a").is_err());
    }

    #[test]
    fn applicant_keys_are_created_kept_and_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open_or_create(dir.path()).unwrap();
        let k1 = keys.applicant_key(7).unwrap();
        assert_eq!(keys.applicant_key(7).unwrap(), k1);
        // Reopening reads the same deployment key.
        let again = Keys::open_or_create(dir.path()).unwrap();
        assert_eq!(again.existing_applicant_key(7).unwrap(), k1);
        assert_eq!(keys.id_hash("001099012345"), again.id_hash("001099012345"));
        assert!(keys.destroy_applicant_key(7).unwrap());
        assert!(matches!(
            keys.existing_applicant_key(7),
            Err(CryptoError::Purged(7))
        ));
        assert!(!keys.destroy_applicant_key(7).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join("keys/deployment.key")).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn tokens_are_128_bit() {
        let t = random_token().unwrap();
        assert_eq!(t.len(), 22);
        assert_ne!(t, random_token().unwrap());
    }
}
