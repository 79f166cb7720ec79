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
    #[error("TLS certificate or key {path} is unusable: {reason}")]
    Unusable { path: PathBuf, reason: String },
}

/// Installs the process-wide crypto provider (ring) once.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How long a self-signed certificate is valid, and how long before its end it is renewed
/// (on the next start).
pub const SELF_SIGNED_DAYS: u64 = 730;
const RENEW_DAYS_BEFORE: u64 = 30;

/// Whether our self-signed certificate was written long enough ago to be renewed.
fn near_expiry(cert: &Path) -> bool {
    let age = std::fs::metadata(cert)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or(0, |d| d.as_secs() / 86_400);
    age + RENEW_DAYS_BEFORE >= SELF_SIGNED_DAYS
}

/// The TLS acceptor for the HTTPS listener (HTTP/1.1; the certificate from [`cert_and_key`]).
pub fn acceptor(config: &Config) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    init_crypto();
    let (cert, key) = cert_and_key(config)?;
    let bad = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::pki_types::pem::Error| TlsError::Unusable {
            path,
            reason: e.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .map_err(bad(&cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad(&cert))?;
    let private = PrivateKeyDer::from_pem_file(&key).map_err(bad(&key))?;
    let mut server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Unusable {
            path: cert.clone(),
            reason: e.to_string(),
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server)))
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
    if cert.is_file() && key.is_file() && !near_expiry(&cert) {
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
    let gen = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(names).map_err(gen)?;
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = day(today - chrono::Days::new(1));
    params.not_after = day(today + chrono::Days::new(SELF_SIGNED_DAYS));
    let signing_key = rcgen::KeyPair::generate().map_err(gen)?;
    let signed = params.self_signed(&signing_key).map_err(gen)?;
    std::fs::write(&cert, signed.pem()).map_err(io(&cert))?;
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    use std::io::Write;
    f.open(&key)
        .and_then(|mut h| h.write_all(signing_key.serialize_pem().as_bytes()))
        .map_err(io(&key))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}
