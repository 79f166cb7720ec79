//! Configuration: one TOML file plus environment overrides (`HOSO_*`). Secrets never live
//! here; they are created in the data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::vision::{DecodeLimits, EngineOptions, QualityGate};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("environment variable {name}={value} is invalid: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the database, keys and backups.
    pub data_dir: PathBuf,
    /// Address the server listens on.
    pub listen: SocketAddr,
    pub models: ModelsConfig,
    pub vision: VisionConfig,
    pub office: OfficeConfig,
    pub tls: TlsConfig,
    pub retention: RetentionConfig,
    pub liveness: LivenessConfig,
    pub limits: LimitsConfig,
    pub kiosk: KioskConfig,
    pub database: DatabaseConfig,
}

/// Where the records live: the data directory's SQLite file (no `url`, one office) or a
/// PostgreSQL database shared by the deployment's servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user@host:port/dbname` (also `--database`); unset: SQLite.
    pub url: Option<String>,
    /// The key database (also `--keys-database`): applicants' data keys, shared by the
    /// deployment's servers; never the main database. Unset: key files in the data
    /// directory (then only one server may use the main database).
    pub keys_url: Option<String>,
    /// Connections each server keeps to PostgreSQL.
    pub pool_size: u32,
    /// Seconds between a server's checks of the gallery's change feed, in case a
    /// notification was lost (PostgreSQL; SQLite is checked every second).
    pub check_interval_s: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            keys_url: None,
            pool_size: 16,
            check_interval_s: 5,
        }
    }
}

/// The lobby kiosk's pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// Seconds without a touch before a kiosk screen asks "need more time?" (then 10 s
    /// more before it returns to the start and forgets everything).
    pub inactivity_seconds: u64,
    /// Whom a kiosk's face search covers: `office` — the applicants with an open dossier at
    /// the kiosk's office (a small gallery, fewer false matches); `province` — those with an
    /// open dossier at any office of the deployment.
    pub scope: KioskScope,
}

/// See [`KioskConfig::scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KioskScope {
    #[default]
    Office,
    Province,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            inactivity_seconds: 30,
            scope: KioskScope::Office,
        }
    }
}

/// What one client may take of the service: connections, time, sign-in attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Seconds a client has to send a request's headers (and to start its next request on
    /// a kept-alive connection; also the TLS handshake's limit).
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_seconds: u64,
    /// Seconds a response may wait for a client that does not read it (the connection is
    /// then closed).
    pub write_timeout_seconds: u64,
    /// Open connections in all (lowered to fit the process's open-file limit).
    pub max_connections: usize,
    /// Open connections per client address (0 = no cap; raise it behind a reverse proxy).
    pub max_connections_per_client: usize,
    /// Failed sign-ins per client address before each further attempt waits, doubling
    /// from one second up to `login_max_delay_seconds`.
    pub login_free_failures_per_client: u32,
    /// The same per username.
    pub login_free_failures_per_user: u32,
    pub login_max_delay_seconds: u64,
    /// Sign-ins waiting for a password-hashing slot (one slot per two cores); more are
    /// refused at once with 503.
    pub login_queue: usize,
    /// Reverse proxies (addresses or networks, e.g. "127.0.0.1/32") whose
    /// `X-Forwarded-For` names the client: sign-in lockouts and look-up limits then count
    /// the client, not the proxy. Empty: the connection's own address counts.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            write_timeout_seconds: 20,
            max_connections: 4096,
            max_connections_per_client: 64,
            login_free_failures_per_client: 10,
            login_free_failures_per_user: 5,
            login_max_delay_seconds: 900,
            login_queue: 16,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Presentation-attack defence at the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LivenessMode {
    /// A head-turn challenge before every face result.
    Active,
    /// The passive check alone, judged over the visit: confidently live → result, attack
    /// → refused, in doubt → the fallbacks (needs a passive model in the manifest, else it
    /// works as "active").
    Passive,
    /// The default: the passive check over the visit, and the head-turn challenge whenever
    /// it is not confident (every good frame, at least 3, confidently live).
    #[serde(rename = "passive+active")]
    PassiveActive,
    /// No defence (for tests of recognition alone; never in an office).
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    pub mode: LivenessMode,
    /// Head turns asked per challenge.
    pub steps: usize,
    /// Degrees of yaw a turn must reach, and under which the face is frontal again.
    pub turn_deg: f32,
    pub centre_deg: f32,
    /// Time limit of a challenge.
    pub seconds: u64,
    /// Fixed seed for the challenge order (tests); none = the OS's randomness.
    pub seed: Option<u64>,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            mode: LivenessMode::PassiveActive,
            steps: 2,
            turn_deg: 12.0,
            centre_deg: 8.0,
            seconds: 12,
            seed: None,
        }
    }
}

/// How long biometric data and backups are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a person's last dossier closed before their face data is purged, and the
    /// age at which backups are pruned (the admin page can change it).
    pub grace_days: u32,
    /// Minutes between runs of the retention job inside the server (0 = never; then run
    /// `hoso purge` from a timer).
    pub interval_minutes: u64,
    /// Where `hoso backup` writes when no --to is given; empty = <data_dir>/backups.
    pub backup_dir: Option<PathBuf>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            grace_days: 7,
            interval_minutes: 60,
            backup_dir: None,
        }
    }
}

/// HTTPS for LAN clients. Plain HTTP (`listen`) is for loopback only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Address of the HTTPS listener (e.g. 0.0.0.0:8443); none = no HTTPS.
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain and private key; none = a self-signed pair in <data_dir>/tls/.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Extra host names or IP addresses for the self-signed certificate.
    pub hostnames: Vec<String>,
}

/// The office: what receipts print and the rules it configures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfficeConfig {
    pub name: String,
    pub address: String,
    /// Where results are returned (printed on the receipt).
    pub return_place: String,
    /// Regular expression for dossier codes; a capture group, if any, holds YYMMDD.
    pub code_pattern: String,
    /// The start of this office's dossier codes, pre-filled on the kiosk keypad
    /// (e.g. "000.00.17.H29-"); empty = taken from the newest dossier's code.
    pub code_prefix: String,
    /// Base URL printed in receipt QR codes (the kiosk decodes it; it is never fetched).
    pub public_url: String,
    /// The office's own consent text (first line `version: …`); empty = the built-in text.
    pub consent_text: Option<PathBuf>,
    /// Hours a clerk/admin session lasts.
    pub session_hours: i64,
}

impl Default for OfficeConfig {
    fn default() -> Self {
        Self {
            name: "Bộ phận Tiếp nhận và Trả kết quả".into(),
            address: String::new(),
            return_place: "Bộ phận Tiếp nhận và Trả kết quả".into(),
            code_pattern: crate::dossier::DEFAULT_CODE_PATTERN.into(),
            code_prefix: String::new(),
            public_url: "https://hoso.local".into(),
            consent_text: None,
            session_hours: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Directory holding manifest.toml and the ONNX files. Empty = search the usual places.
    pub dir: Option<PathBuf>,
    /// Path of libonnxruntime.so.1.31.1. Empty = ORT_DYLIB_PATH, then the usual places.
    pub onnxruntime_library: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    /// Smallest face the kiosk looks for, pixels (a kiosk face is large: 80–100).
    pub min_face_px: f32,
    /// Smallest face looked for in enrolment photos and evaluations.
    pub enrol_min_face_px: f32,
    /// ONNX Runtime sessions per model and threads per session.
    pub sessions: usize,
    pub threads: usize,
    /// Run the embedders of a face concurrently (one thread each).
    pub parallel_embedders: bool,
    /// Recognition profile (manifest `[[profiles]]`): "fr_feature" (default) or
    /// "open-weights" (dlib + faceres). Templates of another profile are not used.
    pub profile: Option<String>,
    /// "int8": the int8 builds the manifest has (default; same templates, ~2.5× faster
    /// embedding), or "fp32" throughout.
    pub precision: crate::vision::Precision,
    /// ONNX Runtime graph optimisation per model: "auto" (timed on this CPU at the first
    /// start, cached in `tuning_file`), "manifest", or one of "basic", "extended", "all".
    pub optimisation: crate::vision::tune::Optimisation,
    /// The tuning cache; default `<data_dir>/tuning.toml` (env HOSO_TUNING_FILE).
    pub tuning_file: Option<PathBuf>,
    pub max_image_bytes: usize,
    pub max_image_side: u32,
    pub max_image_pixels: u64,
    /// Memory one image may take while it is decoded (all its buffers), in MiB.
    pub max_decode_mib: u64,
    /// Images are scaled down to at most this many pixels on their longer side right
    /// after decoding (the kiosk and enrolment never need more).
    pub working_side: u32,
    pub quality: QualityGate,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            models: ModelsConfig::default(),
            vision: VisionConfig::default(),
            office: OfficeConfig::default(),
            tls: TlsConfig::default(),
            retention: RetentionConfig::default(),
            liveness: LivenessConfig::default(),
            limits: LimitsConfig::default(),
            kiosk: KioskConfig::default(),
            database: DatabaseConfig::default(),
        }
    }
}

impl Default for VisionConfig {
    fn default() -> Self {
        let l = DecodeLimits::default();
        let e = EngineOptions::default();
        Self {
            min_face_px: 80.0,
            enrol_min_face_px: 40.0,
            sessions: e.sessions,
            threads: e.threads,
            parallel_embedders: e.parallel_embedders,
            profile: None,
            precision: e.precision,
            optimisation: e.optimisation,
            tuning_file: None,
            max_image_bytes: l.max_bytes,
            max_image_side: l.max_side,
            max_image_pixels: l.max_pixels,
            max_decode_mib: l.max_decoded_bytes >> 20,
            working_side: l.working_side,
            quality: QualityGate::default(),
        }
    }
}

impl Config {
    /// Reads `path` (if given) and applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                    path: p.to_path_buf(),
                    reason: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("HOSO_DATA_DIR").filter(|v| !v.is_empty()) {
            self.data_dir = v.into();
        }
        if let Some(v) = get("HOSO_LISTEN").filter(|v| !v.is_empty()) {
            self.listen = v
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Env {
                    name: "HOSO_LISTEN",
                    value: v.clone(),
                    reason: e.to_string(),
                })?;
        }
        if let Some(v) = get("HOSO_MODELS_DIR").filter(|v| !v.is_empty()) {
            self.models.dir = Some(v.into());
        }
        if let Some(v) = get("HOSO_TUNING_FILE").filter(|v| !v.is_empty()) {
            self.vision.tuning_file = Some(v.into());
        }
        Ok(())
    }

    /// The models directory: configured, else `models/` next to the working directory or
    /// the repository the binary was built in, else the installed location.
    pub fn models_dir(&self) -> PathBuf {
        if let Some(d) = &self.models.dir {
            return d.clone();
        }
        let mut cands: Vec<PathBuf> = vec![PathBuf::from("models")];
        if let Ok(exe) = std::env::current_exe() {
            cands.extend(exe.ancestors().skip(1).take(4).map(|p| p.join("models")));
        }
        cands.push(PathBuf::from("/usr/share/hoso/models"));
        cands
            .into_iter()
            .find(|p| p.join(crate::vision::Manifest::FILE).is_file())
            .unwrap_or_else(|| PathBuf::from("models"))
    }

    /// The backup folder.
    pub fn backup_dir(&self) -> PathBuf {
        self.retention
            .backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    pub fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            sessions: self.vision.sessions,
            threads: self.vision.threads,
            parallel_embedders: self.vision.parallel_embedders,
            onnxruntime_library: self.models.onnxruntime_library.clone(),
            profile: self.vision.profile.clone(),
            precision: self.vision.precision,
            optimisation: self.vision.optimisation,
            tuning_file: Some(
                self.vision
                    .tuning_file
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("tuning.toml")),
            ),
        }
    }

    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_bytes: self.vision.max_image_bytes,
            max_side: self.vision.max_image_side,
            max_pixels: self.vision.max_image_pixels,
            max_decoded_bytes: self.vision.max_decode_mib << 20,
            working_side: self.vision.working_side,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_errors() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "HOSO_DATA_DIR" => Some("/tmp/x".into()),
            "HOSO_LISTEN" => Some("127.0.0.1:9999".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.listen.port(), 9999);
        let err = c
            .apply_env(|k| (k == "HOSO_LISTEN").then(|| "nope".into()))
            .unwrap_err();
        assert!(err.to_string().contains("HOSO_LISTEN"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let c: Config = toml::from_str("[vision]\nmin_face_px = 90\n").unwrap();
        assert_eq!(c.vision.min_face_px, 90.0);
    }
}
