//! Per-machine tuning of ONNX Runtime: which graph optimisation level runs each model
//! fastest on this CPU. No level is right everywhere (`fr_feature` is ~3× slower at "all"
//! on Intel CPUs with AVX-512, where the NCHWc rewrite does not pay; the dlib ResNet is
//! faster there). At start each model is timed under every level on a representative
//! input, the fastest kept, and the choice cached in a file keyed by CPU, ONNX Runtime
//! version and model hash, so that later starts read it instead of timing again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ort::environment::Environment;
use serde::{Deserialize, Serialize};

use super::runtime::{self, SessionPool, Shapes};

/// The levels tried, cheapest rewrite first (ties go to the earlier).
pub const LEVELS: [&str; 3] = ["basic", "extended", "all"];

/// How the level of each model is chosen (config `vision.optimisation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimisation {
    /// Time every level on this machine (once; cached) and keep the fastest.
    #[default]
    Auto,
    /// The level the manifest names per model (else "all").
    Manifest,
    /// One level for every model.
    Basic,
    Extended,
    All,
}

impl Optimisation {
    /// The forced level, if this setting is one.
    fn forced(self) -> Option<&'static str> {
        match self {
            Self::Basic => Some("basic"),
            Self::Extended => Some("extended"),
            Self::All => Some("all"),
            Self::Auto | Self::Manifest => None,
        }
    }
}

/// What was decided for one model, and on what evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    pub model: String,
    pub level: String,
    /// Median milliseconds of one run per level tried (empty when not timed).
    pub timings: BTreeMap<String, f64>,
    /// "timed", "cached", "manifest" or "forced".
    pub how: String,
}

/// The representative input one model is timed on.
pub struct Probe<'a> {
    pub input: &'a str,
    pub shape: [usize; 4],
}

/// The tuning cache: one entry per (CPU, ONNX Runtime, model hash).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    #[serde(default)]
    entries: BTreeMap<String, Choice>,
}

/// Chooses levels for the models of one engine, reading and writing the cache.
pub struct Tuner {
    mode: Optimisation,
    file: Option<PathBuf>,
    cache: Cache,
    cpu: String,
    dirty: bool,
    pub choices: Vec<Choice>,
}

impl Tuner {
    pub fn new(mode: Optimisation, file: Option<PathBuf>) -> Self {
        let cache = file
            .as_deref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default();
        Self {
            mode,
            file,
            cache,
            cpu: cpu_model(),
            dirty: false,
            choices: Vec::new(),
        }
    }

    /// The CPU this machine reports (model name and vector extensions).
    pub fn cpu(&self) -> &str {
        &self.cpu
    }

    /// The level to build `name`'s sessions at.
    pub fn level(
        &mut self,
        env: &Environment,
        name: &str,
        (bytes, sha256, manifest_level): (&[u8], &str, Option<&str>),
        shapes: Shapes,
        probe: &Probe<'_>,
    ) -> Result<String, runtime::RuntimeError> {
        let choice = match self.mode {
            Optimisation::Manifest => fixed(name, manifest_level.unwrap_or("all"), "manifest"),
            m if m.forced().is_some() => fixed(name, m.forced().unwrap_or("all"), "forced"),
            _ => {
                let key = format!(
                    "{} | ort {} | {name} {sha256}",
                    self.cpu,
                    runtime::ORT_LIB_NAME
                );
                match self.cache.entries.get(&key) {
                    Some(c) => Choice {
                        how: "cached".into(),
                        ..c.clone()
                    },
                    None => {
                        let c = time_levels(env, name, bytes, shapes, probe)?;
                        self.cache.entries.insert(key, c.clone());
                        self.dirty = true;
                        c
                    }
                }
            }
        };
        tracing::info!(
            model = name,
            level = %choice.level,
            how = %choice.how,
            timings_ms = ?choice.timings,
            "optimisation level"
        );
        let level = choice.level.clone();
        self.choices.push(choice);
        Ok(level)
    }

    /// Writes new timings to the cache file (atomically; a failure only costs a re-timing).
    pub fn save(&mut self) {
        let (Some(file), true) = (&self.file, self.dirty) else {
            return;
        };
        if let Err(e) = write_atomic(file, &self.cache) {
            tracing::warn!(file = %file.display(), error = %e, "cannot write the tuning cache");
        }
        self.dirty = false;
    }
}

fn fixed(name: &str, level: &str, how: &str) -> Choice {
    Choice {
        model: name.to_string(),
        level: level.to_string(),
        timings: BTreeMap::new(),
        how: how.to_string(),
    }
}

/// Times one single-threaded session per level on `probe` (2 warm-up runs, then the
/// median of 7) and picks the fastest; a level within 3 % of a cheaper one loses to it.
fn time_levels(
    env: &Environment,
    name: &str,
    bytes: &[u8],
    shapes: Shapes,
    probe: &Probe<'_>,
) -> Result<Choice, runtime::RuntimeError> {
    let len: usize = probe.shape.iter().product();
    // A smooth, image-like pattern in the networks' usual [-1, 1] range.
    let data: Vec<f32> = (0..len).map(|i| ((i % 97) as f32 / 48.0) - 1.0).collect();
    let mut timings = BTreeMap::new();
    let mut best: Option<(&str, f64)> = None;
    for level in LEVELS {
        let pool = SessionPool::new(env, name, bytes, (1, 1), shapes, Some(level))?;
        let mut ms = Vec::with_capacity(7);
        for k in 0..9 {
            let t = Instant::now();
            pool.run_any(probe.input, probe.shape, &data)?;
            if k >= 2 {
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        ms.sort_by(f64::total_cmp);
        let median = ms[ms.len() / 2];
        timings.insert(level.to_string(), (median * 1000.0).round() / 1000.0);
        if best.is_none_or(|(_, b)| median < b * 0.97) {
            best = Some((level, median));
        }
    }
    Ok(Choice {
        model: name.to_string(),
        level: best.map_or("all", |(l, _)| l).to_string(),
        timings,
        how: "timed".into(),
    })
}

fn write_atomic(file: &Path, cache: &Cache) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = toml::to_string(cache).map_err(std::io::Error::other)?;
    // Several processes may tune at once (tests); each writes its own temp file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

/// "Intel(R) Xeon(R) Processor [avx2 avx512f avx512_vnni]": the model name alone does
/// not tell one virtual CPU from another, the vector extensions do.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |k: &str| {
        info.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let name = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let flags = field("flags").unwrap_or_default();
    let ext: Vec<&str> = flags
        .split_whitespace()
        .filter(|f| {
            matches!(
                *f,
                "avx2" | "fma" | "avx512f" | "avx512_vnni" | "avx_vnni" | "amx_int8" | "amx_bf16"
            )
        })
        .collect();
    format!("{name} [{}]", ext.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting_from_the_config() {
        #[derive(Deserialize)]
        struct V {
            o: Optimisation,
        }
        let read = |s: &str| toml::from_str::<V>(&format!("o = \"{s}\"")).map(|v| v.o);
        assert_eq!(read("auto").unwrap(), Optimisation::Auto);
        assert_eq!(read("manifest").unwrap(), Optimisation::Manifest);
        assert_eq!(read("extended").unwrap().forced(), Some("extended"));
        assert!(read("fast").is_err());
    }

    #[test]
    fn the_cache_round_trips_and_a_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("hoso-tune-{}", std::process::id()));
        let file = dir.join("tuning.toml");
        let mut t = Tuner::new(Optimisation::Auto, Some(file.clone()));
        assert!(t.cache.entries.is_empty());
        t.cache.entries.insert(
            "cpu | ort | m abc".into(),
            Choice {
                model: "m".into(),
                level: "extended".into(),
                timings: [("basic".to_string(), 2.0), ("extended".to_string(), 1.0)].into(),
                how: "timed".into(),
            },
        );
        t.dirty = true;
        t.save();
        let again = Tuner::new(Optimisation::Auto, Some(file));
        assert_eq!(again.cache.entries.len(), 1);
        assert_eq!(again.cache.entries["cpu | ort | m abc"].level, "extended");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_cpu_names_its_extensions() {
        let c = cpu_model();
        assert!(c.contains('[') && c.ends_with(']'), "{c}");
    }
}
