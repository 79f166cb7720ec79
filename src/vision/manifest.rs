//! The model manifest (`models/manifest.toml`): which files make up the face engine, their
//! hashes and provenance, how each model wants its input, and the calibrated operating
//! points. A deployment swaps a model by editing this file, not the code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read model manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model manifest {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot read model file {path}: {source}")]
    ReadModel {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "model file {path} does not match the manifest: sha256 {actual}, expected {expected}. \
         Restore the file from the repository or rebuild it (models/convert/build_models.sh)"
    )]
    Hash {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot write model manifest {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A model file with its expected hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub file: String,
    pub sha256: String,
}

/// Colour order a network expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Rgb,
    Bgr,
}

/// Tensor layout of an image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// `value = (pixel - mean[c]) * scale`, per channel in the network's colour order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Normalisation {
    pub mean: [f32; 3],
    pub scale: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detector {
    pub name: String,
    pub source: String,
    pub licence: String,
    pub colour: Colour,
    pub normalisation: Normalisation,
    /// Score thresholds of the three stages.
    pub thresholds: [f32; 3],
    /// Pyramid factor between scales.
    pub scale_factor: f32,
    pub pnet: ModelFile,
    pub rnet: ModelFile,
    pub onet: ModelFile,
}

/// Similarity statistics of one scorer measured on labelled data by `hoso eval --calibrate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean and standard deviation of impostor scores (used for z-normalisation).
    pub impostor_mean: f32,
    pub impostor_std: f32,
    /// Threshold at FAR = 1e-3 on the calibration set.
    pub threshold_far_1e3: f32,
    /// Threshold the kiosk accepts a 1:N match at (chosen for FPIR <= 1e-3).
    pub threshold: f32,
    /// Minimum lead of the best identity over the second.
    pub margin: f32,
    /// What data and protocol produced these numbers.
    pub measured_on: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Embedder {
    pub name: String,
    pub source: String,
    pub licence: String,
    pub model: ModelFile,
    pub input: String,
    pub output: String,
    pub layout: Layout,
    /// Square chip side in pixels.
    pub size: u32,
    pub colour: Colour,
    pub normalisation: Normalisation,
    /// Where the 5 landmarks (left eye, right eye, nose, left and right mouth corner, as seen
    /// in the image) go in the chip, in chip pixels.
    pub template: [[f32; 2]; 5],
    pub dims: usize,
    /// Always "cosine" on L2-normalised embeddings for now.
    pub metric: String,
    /// Also embed the mirrored chip and average the two (test-time augmentation).
    #[serde(default)]
    pub flip: bool,
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// A passive presentation-attack model: one face chip in, the probability it is live out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PadModel {
    pub name: String,
    pub source: String,
    pub licence: String,
    pub model: ModelFile,
    pub input: String,
    pub output: String,
    pub layout: Layout,
    pub size: u32,
    pub colour: Colour,
    pub normalisation: Normalisation,
    /// Where the 5 landmarks go in the chip: how much of the face and its surroundings the
    /// model sees.
    pub template: [[f32; 2]; 5],
    /// Values the model outputs per face, and which of them is "live".
    pub outputs: usize,
    pub live_index: usize,
    /// The chosen output is the probability of an attack: live = 1 - output.
    #[serde(default)]
    pub invert: bool,
}

/// The kiosk's passive liveness operating point, measured by `hoso eval-pad --calibrate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LivenessPoint {
    /// The passive model the kiosk uses (a `[[pad]]` name), or "none".
    pub passive: String,
    /// A passive score below this is an attack (no identification, no challenge).
    pub reject: f32,
    /// At or above this the face is taken as live without a challenge (in "passive" mode);
    /// between `reject` and `accept` the kiosk asks for a head-turn challenge.
    pub accept: f32,
    pub measured_on: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scorer {
    /// The scorer the kiosk decides with: an embedder name or "fused".
    pub kiosk: String,
    /// How several enrolment templates of one person are combined: "max" or "mean".
    pub combine: String,
    /// Calibration of the fused scorer (mean of z-normalised embedder scores).
    #[serde(default)]
    pub fused: Option<Calibration>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runtime {
    pub onnxruntime_version: String,
    pub onnxruntime_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub runtime: Runtime,
    pub detector: Detector,
    pub embedders: Vec<Embedder>,
    pub scorer: Scorer,
    #[serde(default)]
    pub pad: Vec<PadModel>,
    #[serde(default)]
    pub liveness: Option<LivenessPoint>,
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Manifest {
    pub const FILE: &'static str = "manifest.toml";

    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        let mut m: Manifest = toml::from_str(&text).map_err(|e| ManifestError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        m.dir = dir.to_path_buf();
        m.validate()
            .map_err(|reason| ManifestError::Invalid { path, reason })?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        if self.embedders.is_empty() {
            return Err("no embedder".into());
        }
        for e in &self.embedders {
            if e.name == "fused" {
                return Err("an embedder may not be called \"fused\"".into());
            }
            if e.metric != "cosine" {
                return Err(format!(
                    "embedder {}: unsupported metric {}",
                    e.name, e.metric
                ));
            }
            if e.size < 16 || e.dims == 0 {
                return Err(format!("embedder {}: bad size or dims", e.name));
            }
        }
        if self.scorer.kiosk != "fused"
            && !self.embedders.iter().any(|e| e.name == self.scorer.kiosk)
        {
            return Err(format!(
                "scorer.kiosk names unknown scorer {}",
                self.scorer.kiosk
            ));
        }
        for p in &self.pad {
            if p.live_index >= p.outputs || p.size < 8 {
                return Err(format!(
                    "pad model {}: bad size, outputs or live_index",
                    p.name
                ));
            }
        }
        if let Some(l) = &self.liveness {
            if l.passive != "none" && !self.pad.iter().any(|p| p.name == l.passive) {
                return Err(format!(
                    "liveness.passive names unknown model {}",
                    l.passive
                ));
            }
            if l.reject.is_nan() || l.accept.is_nan() || l.reject > l.accept {
                return Err("liveness.reject must not exceed liveness.accept".into());
            }
        }
        if !matches!(self.scorer.combine.as_str(), "max" | "mean") {
            return Err("scorer.combine must be \"max\" or \"mean\"".into());
        }
        Ok(())
    }

    /// Reads a model file and checks its hash against the manifest.
    pub fn read_verified(&self, f: &ModelFile) -> Result<Vec<u8>, ManifestError> {
        let path = self.dir.join(&f.file);
        let bytes = std::fs::read(&path).map_err(|source| ManifestError::ReadModel {
            path: path.clone(),
            source,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(&f.sha256) {
            return Err(ManifestError::Hash {
                path,
                expected: f.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Every model file named by the manifest.
    pub fn files(&self) -> Vec<&ModelFile> {
        let d = &self.detector;
        let mut v = vec![&d.pnet, &d.rnet, &d.onet];
        v.extend(self.embedders.iter().map(|e| &e.model));
        v.extend(self.pad.iter().map(|p| &p.model));
        v
    }

    /// Writes the manifest back (used by `eval --calibrate`), keeping a `.bak` of the old one.
    pub fn save(&self) -> Result<(), ManifestError> {
        let path = self.dir.join(Self::FILE);
        let werr = |source| ManifestError::Write {
            path: path.clone(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| ManifestError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let header = "# Hồ Sơ model manifest. See models/README.md. The [*.calibration] and\n\
                      # [scorer.fused] tables are written by `hoso eval --calibrate`.\n\n";
        if path.exists() {
            std::fs::copy(&path, path.with_extension("toml.bak")).map_err(werr)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, format!("{header}{text}")).map_err(werr)?;
        std::fs::rename(&tmp, &path).map_err(werr)
    }
}
