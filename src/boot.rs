//! Start-up wiring: the deployment key and applicants' keys, then the store they seal, opened
//! from the configuration in that order — by the server (`App::open`) and by every command
//! that touches the data. The configuration itself stays plain data.

use crate::config::Config;
use crate::crypto::{CryptoError, Keys};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Keys(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// The deployment key of the data directory (created on first start unless `existing`),
/// with applicants' keys in the key database when `database.keys_url` names one.
pub fn open_keys(config: &Config, existing: bool) -> Result<Keys, CryptoError> {
    let keys = if existing {
        Keys::open_existing(&config.data_dir)?
    } else {
        Keys::open_or_create(&config.data_dir)?
    };
    match &config.database.keys_url {
        Some(url) => Ok(keys.with_key_database(crate::store::keydb::KeyDb::open(
            url,
            config.database.url.as_deref(),
            config.database.pool_size,
        )?)),
        None => Ok(keys),
    }
}

/// The configured store, its audit log chained with `keys`' audit key: PostgreSQL at
/// `database.url`, else SQLite in the data directory.
pub fn open_store(config: &Config, keys: &Keys) -> Result<Store, StoreError> {
    match &config.database.url {
        Some(url) => Store::open_postgres(url, config.database.pool_size, keys.audit_key()),
        None => Store::open(&config.data_dir, keys.audit_key()),
    }
}

/// Keys, then the store.
pub fn open(config: &Config, existing: bool) -> Result<(Keys, Store), BootError> {
    let keys = open_keys(config, existing)?;
    let store = open_store(config, &keys)?;
    Ok((keys, store))
}

/// A server's start: the data directory made (private to the service), the keys (applicants'
/// key files moved into the key database when one is configured), then the store.
pub fn open_for_server(config: &Config) -> Result<(Keys, Store), BootError> {
    let dir_error = |source| BootError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(dir_error)?;
    crate::store::make_private(&config.data_dir, 0o700).map_err(dir_error)?;
    let keys = open_keys(config, false)?;
    let moved = keys.move_files_to_key_database()?;
    if moved > 0 {
        tracing::info!(moved, "applicants' key files moved into the key database");
    }
    let store = open_store(config, &keys)?;
    Ok((keys, store))
}
