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
    /// ONNX Runtime graph optimisation level for this model: "basic", "extended" or
    /// "all" (the default). Measured per model: `fr_feature` runs ~3× slower at "all" on
    /// Intel CPUs with AVX-512, where the NCHWc layout rewrite does not pay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimisation: Option<String>,
    /// A faster int8 (QDQ) build of the same network, made by models/convert/
    /// quantize_int8.py. Its embeddings live in the same space as the fp32 model's
    /// (templates stay valid; the template fingerprint is the fp32 file's), so it is a
    /// choice of speed, taken when `vision.precision` is "int8" (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8: Option<Int8File>,
}

/// The int8 build of a model: its file, hash, optimisation level and how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Int8File {
    pub file: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimisation: Option<String>,
    pub source: String,
    /// What `hoso eval` measured with it, against fp32.
    #[serde(default)]
    pub measured: String,
}

impl ModelFile {
    /// The file to run at `precision`: the int8 build when asked for and present.
    pub fn at(&self, precision: Precision) -> ModelFile {
        match (&self.int8, precision) {
            (Some(q), Precision::Int8) => ModelFile {
                file: q.file.clone(),
                sha256: q.sha256.clone(),
                optimisation: q.optimisation.clone(),
                int8: None,
            },
            _ => ModelFile {
                int8: None,
                ..self.clone()
            },
        }
    }
}

/// Which build of the networks runs: int8 where the manifest has one (faster, same
/// template space), or always the original fp32.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    Int8,
    Fp32,
}

impl Precision {
    /// The setting's spelling ("int8", "fp32").
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int8 => "int8",
            Precision::Fp32 => "fp32",
        }
    }
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

/// How a passive model's input is cut from the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crop {
    /// A similarity warp of the landmarks onto `template` (black outside the image).
    #[default]
    Template,
    /// The detector box × `box_scale` about its centre, shifted (not padded) to stay inside
    /// the image and clamped to it, then resized: what MiniFASNet-style models expect.
    Box,
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
    /// How the model's input is cut from the frame.
    #[serde(default)]
    pub crop: Crop,
    /// `crop = "template"`: where the 5 landmarks go in the chip (how much of the face and
    /// its surroundings the model sees).
    #[serde(default)]
    pub template: [[f32; 2]; 5],
    /// `crop = "box"`: the detector's box is scaled by this about its centre.
    #[serde(default)]
    pub box_scale: f32,
    /// Values the model outputs per face, and which of them is "live".
    pub outputs: usize,
    pub live_index: usize,
    /// The chosen output is the probability of an attack: live = 1 - output.
    #[serde(default)]
    pub invert: bool,
}

/// The kiosk's passive liveness operating point, measured by `hoso eval-pad --calibrate`.
/// It is applied to a visit's good frames, never to one frame alone (README: “Kiosk decisions”).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LivenessPoint {
    /// The passive model the kiosk uses (a `[[pad]]` name), or "none".
    pub passive: String,
    /// Attack evidence: a visit whose median frame score is below this is refused.
    pub reject: f32,
    /// Every good frame of the visit at or above this (and at least `min_frames` of them):
    /// live without a challenge. Anything between: the head-turn challenge.
    pub accept: f32,
    /// Good frames a visit needs before the passive check may decide.
    #[serde(default = "default_min_frames")]
    pub min_frames: usize,
    pub measured_on: String,
}

fn default_min_frames() -> usize {
    3
}

/// A recognition profile: which embedders make the templates and how the kiosk scores them.
/// A deployment chooses one (`vision.profile`); templates of other profiles are not used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Embedder names, in template order.
    pub embedders: Vec<String>,
    pub scorer: Scorer,
    /// The kiosk's per-visit operating point, written by `hoso eval --kiosk --calibrate`.
    #[serde(default)]
    pub visit: Option<VisitPoint>,
}

/// The kiosk's visit-level decision (README: “Kiosk decisions”): the running mean of a visit's probe
/// embeddings is searched; `matched` as soon as it clears `threshold` and leads the runner-up
/// by `margin` after at least `min_frames` good frames; `no_match` after `no_match_frames`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VisitPoint {
    pub threshold: f32,
    pub margin: f32,
    pub min_frames: usize,
    pub no_match_frames: usize,
    pub measured_on: String,
    /// The visit FPIR the kiosk keeps to whatever its number of people (default 1e-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_fpir: Option<f64>,
    /// The impostor tail of a visit against one person, fitted on distractors by `hoso eval
    /// --distractors … --calibrate`: with it the thresholds follow the kiosk's scope size
    /// (`kiosk::scale`); without it `threshold` is used as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<TailPoint>,
    /// The same tail fitted on the int8 build's embeddings (its impostor scores have a
    /// heavier tail than fp32's). A kiosk scoring with int8 uses it; without it, `tail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_tail: Option<TailPoint>,
}

impl VisitPoint {
    /// The impostor tail fitted for the build that scores (`precision` as the engine runs
    /// it: int8 only where an embedder of the profile has an int8 file).
    pub fn tail_for(&self, precision: Precision) -> Option<&TailPoint> {
        match precision {
            Precision::Int8 => self.int8_tail.as_ref().or(self.tail.as_ref()),
            Precision::Fp32 => self.tail.as_ref(),
        }
    }

    /// Where `hoso eval --distractors --calibrate` writes the tail fitted at `precision`.
    pub fn tail_slot(&mut self, precision: Precision) -> &mut Option<TailPoint> {
        match precision {
            Precision::Int8 => &mut self.int8_tail,
            Precision::Fp32 => &mut self.tail,
        }
    }
}

/// A fitted impostor tail and where it was measured (three numbers: no template, no photo
/// of the distractor set is kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TailPoint {
    #[serde(flatten)]
    pub tail: crate::kiosk::scale::Tail,
    pub measured_on: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The profile used when the configuration names none.
    pub default_profile: String,
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub pad: Vec<PadModel>,
    #[serde(default)]
    pub liveness: Option<LivenessPoint>,
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    #[serde(skip)]
    pub dir: PathBuf,
    /// After `select`: the active profile's name and scorer (and `embedders` holds only its
    /// embedders).
    #[serde(skip)]
    pub profile: String,
    #[serde(skip)]
    pub scorer: Scorer,
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

    /// The manifest as one profile sees it: only its embedders, its scorer. `None` = the
    /// manifest's default profile.
    pub fn select(&self, profile: Option<&str>) -> Result<Manifest, ManifestError> {
        let name = profile.unwrap_or(&self.default_profile);
        let invalid = |reason: String| ManifestError::Invalid {
            path: self.dir.join(Self::FILE),
            reason,
        };
        let p = self.profile(name).ok_or_else(|| {
            invalid(format!(
                "no recognition profile {name:?} (known: {})",
                self.profiles
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut m = self.clone();
        m.embedders = p
            .embedders
            .iter()
            .map(|e| {
                self.embedders
                    .iter()
                    .find(|x| &x.name == e)
                    .cloned()
                    .ok_or_else(|| invalid(format!("profile {name}: unknown embedder {e}")))
            })
            .collect::<Result<_, _>>()?;
        m.profile = p.name.clone();
        m.scorer = p.scorer.clone();
        Ok(m)
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The active profile (after `select`).
    pub fn active(&self) -> Option<&Profile> {
        self.profile(&self.profile)
    }

    fn validate(&self) -> Result<(), String> {
        if self.embedders.is_empty() {
            return Err("no embedder".into());
        }
        if self.profile(&self.default_profile).is_none() {
            return Err(format!(
                "default_profile {} is not a profile",
                self.default_profile
            ));
        }
        for p in &self.profiles {
            if p.embedders.is_empty() {
                return Err(format!("profile {}: no embedder", p.name));
            }
            for e in &p.embedders {
                if !self.embedders.iter().any(|x| &x.name == e) {
                    return Err(format!("profile {}: unknown embedder {e}", p.name));
                }
            }
            if p.scorer.kiosk != "fused" && !p.embedders.contains(&p.scorer.kiosk) {
                return Err(format!(
                    "profile {}: scorer.kiosk names unknown scorer {}",
                    p.name, p.scorer.kiosk
                ));
            }
            if !matches!(p.scorer.combine.as_str(), "max" | "mean") {
                return Err(format!(
                    "profile {}: scorer.combine must be \"max\" or \"mean\"",
                    p.name
                ));
            }
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
        for p in &self.pad {
            if p.live_index >= p.outputs || p.size < 8 {
                return Err(format!(
                    "pad model {}: bad size, outputs or live_index",
                    p.name
                ));
            }
            if p.crop == Crop::Box && !(1.0..=5.0).contains(&p.box_scale) {
                return Err(format!("pad model {}: box_scale must be 1–5", p.name));
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

    /// Every int8 build named by the manifest, as model files (checked like the others).
    pub fn int8_files(&self) -> Vec<ModelFile> {
        self.files()
            .into_iter()
            .filter(|f| f.int8.is_some())
            .map(|f| f.at(Precision::Int8))
            .collect()
    }

    /// Writes the whole manifest back (used by `eval --calibrate`; git keeps the history).
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
        let header = "# Hồ Sơ model manifest. See models/README.md. The calibration tables are\n\
                      # written by `hoso eval --calibrate` and `hoso eval --kiosk --calibrate`.\n\n";
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, format!("{header}{text}")).map_err(werr)?;
        // Public data, read by the service user (the process's umask keeps keys private).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).map_err(werr)?;
        }
        std::fs::rename(&tmp, &path).map_err(werr)
    }
}
