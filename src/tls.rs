//! HTTPS for LAN clients (browser cameras need a secure context): the configured
//! certificate, or a self-signed one generated on first start in `<data_dir>/tls/`.

use std::path::{Path, PathBuf};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("tls.cert and tls.key must be given together")]
    Half,
}

/// Installs the process-wide crypto provider (ring) once.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificate and key files to serve, generating a self-signed pair if none is set.
pub fn cert_and_key(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => return Ok((c.clone(), k.clone())),
        (None, None) => {}
        _ => return Err(TlsError::Half),
    }
    let dir = config.data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut names = vec!["localhost".to_string(), "hoso.local".to_string()];
    names.extend(config.tls.hostnames.iter().cloned());
    if let Some(addr) = config.tls.listen {
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
    }
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    std::fs::write(&cert, ck.cert.pem()).map_err(io(&cert))?;
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    use std::io::Write;
    f.open(&key)
        .and_then(|mut h| h.write_all(ck.signing_key.serialize_pem().as_bytes()))
        .map_err(io(&key))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}
