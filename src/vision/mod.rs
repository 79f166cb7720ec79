//! The face engine: decode → detect → align → quality → embed. Knows images, landmarks and
//! vectors, nothing of applicants or dossiers. Models come from the manifest in `models/`;
//! ONNX Runtime sessions are created once and shared by all requests.

pub mod align;
pub mod boxes;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod liveness;
pub mod manifest;
pub mod quality;
pub mod runtime;
pub mod tune;

use std::path::{Path, PathBuf};

use fast_image_resize::Resizer;
use image::RgbImage;

pub use decode::{decode, DecodeError, DecodeLimits};
pub use detect::Face;
pub use manifest::{Manifest, Precision};
pub use quality::{Quality, QualityGate};

/// Errors of the face engine.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error("face engine internal error: {0}")]
    Internal(String),
}

/// How many sessions and threads the engine uses.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Sessions per model (parallel requests on one model).
    pub sessions: usize,
    /// Intra-op threads per session. 1 is fastest here: ONNX Runtime's pools spin between
    /// runs, and five models with their own pools fight over two cores.
    pub threads: usize,
    /// Run the embedders of one face concurrently, one thread each.
    pub parallel_embedders: bool,
    /// Explicit ONNX Runtime library path (else ORT_DYLIB_PATH, else the usual places).
    pub onnxruntime_library: Option<PathBuf>,
    /// The recognition profile (manifest `[[profiles]]`); None = the manifest's default.
    pub profile: Option<String>,
    /// Run the int8 builds the manifest has (default), or fp32 throughout.
    pub precision: Precision,
    /// How each model's graph optimisation level is chosen.
    pub optimisation: tune::Optimisation,
    /// Where the timed choices are cached (None: timed at every start).
    pub tuning_file: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            // One session per core: frames of several kiosks run side by side.
            sessions: cores.clamp(1, 4),
            threads: 1,
            parallel_embedders: cores > 1,
            onnxruntime_library: None,
            profile: None,
            precision: Precision::default(),
            optimisation: tune::Optimisation::default(),
            tuning_file: None,
        }
    }
}

/// Where each embedder's part lives inside a template vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    pub offset: usize,
    pub dims: usize,
}

pub struct FaceEngine {
    pub manifest: Manifest,
    detector: detect::Detector,
    embedders: Vec<embed::Embedder>,
    pad: Vec<liveness::PadModel>,
    segments: Vec<Segment>,
    parallel: bool,
    precision: Precision,
    cpu: String,
    tuning: Vec<tune::Choice>,
}

impl FaceEngine {
    /// Loads ONNX Runtime, the detector, the chosen profile's embedders and the passive
    /// models named by `models_dir/manifest.toml`, checking hashes.
    pub fn load(models_dir: &Path, opts: &EngineOptions) -> Result<Self, VisionError> {
        let manifest = Manifest::load(models_dir)?.select(opts.profile.as_deref())?;
        let env = runtime::environment(opts.onnxruntime_library.as_deref())?;
        let mut l = Loader {
            manifest: &manifest,
            env: &env,
            tuner: tune::Tuner::new(opts.optimisation, opts.tuning_file.clone()),
            opts,
        };
        let detector = l.detector()?;
        let mut embedders = Vec::new();
        let mut segments = Vec::new();
        let mut offset = 0;
        for e in &manifest.embedders {
            let probe = tune::Probe {
                input: &e.input,
                shape: chip_shape(e.layout, e.size),
            };
            embedders.push(embed::Embedder::new(
                e,
                l.pool(&e.name, &e.model, runtime::Shapes::Fixed, probe)?,
            ));
            segments.push(Segment {
                name: e.name.clone(),
                offset,
                dims: e.dims,
            });
            offset += e.dims;
        }
        let mut pad = Vec::new();
        for p in &manifest.pad {
            let probe = tune::Probe {
                input: &p.input,
                shape: chip_shape(p.layout, p.size),
            };
            pad.push(liveness::PadModel::new(
                p,
                l.pool(&p.name, &p.model, runtime::Shapes::Fixed, probe)?,
            ));
        }
        let mut tuner = l.tuner;
        tuner.save();
        Ok(Self {
            detector,
            embedders,
            pad,
            segments,
            parallel: opts.parallel_embedders,
            precision: opts.precision,
            cpu: tuner.cpu().to_string(),
            tuning: std::mem::take(&mut tuner.choices),
            manifest,
        })
    }

    /// The CPU the engine was tuned on, and each model's chosen optimisation level with
    /// the timings behind it (start log, `hoso bench`).
    pub fn tuning(&self) -> (&str, &[tune::Choice]) {
        (&self.cpu, &self.tuning)
    }

    /// Which build of the networks runs.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The build the templates are scored with: int8 only when asked for and an embedder
    /// of the profile has an int8 file (the impostor tail is fitted per build).
    pub fn scoring_precision(&self) -> Precision {
        let quantised = self.manifest.active().is_some_and(|p| {
            self.manifest
                .embedders
                .iter()
                .any(|e| p.embedders.contains(&e.name) && e.model.int8.is_some())
        });
        if self.precision == Precision::Int8 && quantised {
            Precision::Int8
        } else {
            Precision::Fp32
        }
    }

    /// The embedders' parts of a template, in manifest order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Length of a full template (all embedders concatenated).
    pub fn template_len(&self) -> usize {
        self.segments.iter().map(|s| s.dims).sum()
    }

    /// All faces at least `min_face` px tall, best detector score first.
    pub fn detect(&self, img: &RgbImage, min_face: f32) -> Result<Vec<Face>, VisionError> {
        self.detector.detect(img, min_face)
    }

    /// Kiosk detection within a visit: the last frame's face found again where it was
    /// (about a fifth of a full detection's cost), a full detection every few frames and
    /// whenever that fails. Enrolment and evaluation use `detect`.
    pub fn detect_tracked(
        &self,
        img: &RgbImage,
        min_face: f32,
        track: &mut detect::Track,
    ) -> Result<Vec<Face>, VisionError> {
        self.detector.detect_tracked(img, min_face, track)
    }

    /// Like `detect`, but when nothing is found tries again on the image framed by a grey
    /// border: a photo cropped tightly around the face (ID-card style, or a face chip) has
    /// no margin for the detector's windows. Coordinates stay those of `img`.
    pub fn detect_framed(&self, img: &RgbImage, min_face: f32) -> Result<Vec<Face>, VisionError> {
        let faces = self.detect(img, min_face)?;
        if !faces.is_empty() {
            return Ok(faces);
        }
        let pad = (img.width().max(img.height()) / 3).max(8);
        let mut framed = RgbImage::from_pixel(
            img.width() + 2 * pad,
            img.height() + 2 * pad,
            image::Rgb([127, 127, 127]),
        );
        image::imageops::replace(&mut framed, img, i64::from(pad), i64::from(pad));
        let p = pad as f32;
        Ok(self
            .detect(&framed, min_face)?
            .into_iter()
            .map(|mut f| {
                f.bbox = [f.bbox[0] - p, f.bbox[1] - p, f.bbox[2] - p, f.bbox[3] - p];
                f.landmarks.iter_mut().for_each(|l| {
                    l[0] -= p;
                    l[1] -= p;
                });
                f
            })
            .collect())
    }

    pub fn quality(&self, img: &RgbImage, face: &Face) -> Quality {
        quality::measure(img, face, &mut Resizer::new())
    }

    /// Embeds faces of one image with every embedder; returns one template (all segments,
    /// each L2-normalised) per face. Enrolment and evaluation templates.
    pub fn embed(&self, img: &RgbImage, faces: &[Face]) -> Result<Vec<Vec<f32>>, VisionError> {
        self.embed_with(img, faces, false)
    }

    /// Like `embed`, for a kiosk frame: without the mirror-image pass (the visit averages
    /// several frames, which does the same work the flip does for one photo).
    pub fn embed_probe(&self, img: &RgbImage, face: &Face) -> Result<Vec<f32>, VisionError> {
        self.embed_with(img, std::slice::from_ref(face), true)?
            .pop()
            .ok_or_else(|| VisionError::Internal("no embedding".into()))
    }

    fn embed_with(
        &self,
        img: &RgbImage,
        faces: &[Face],
        probe: bool,
    ) -> Result<Vec<Vec<f32>>, VisionError> {
        let lms: Vec<[[f32; 2]; 5]> = faces.iter().map(|f| f.landmarks).collect();
        let one = |e: &embed::Embedder| -> Result<Vec<f32>, VisionError> {
            let mut input = Vec::new();
            e.prepare(img, &lms, probe, &mut Resizer::new(), &mut input);
            let mut out = Vec::with_capacity(faces.len() * e.dims);
            e.run(&input, faces.len(), probe, &mut out)?;
            Ok(out)
        };
        let parts: Vec<Vec<f32>> =
            if self.parallel && self.embedders.len() > 1 {
                std::thread::scope(|s| {
                    let (first, rest) = self.embedders.split_at(1);
                    let handles: Vec<_> = rest.iter().map(|e| s.spawn(move || one(e))).collect();
                    let mut parts = vec![one(&first[0])?];
                    for h in handles {
                        parts.push(h.join().map_err(|_| {
                            VisionError::Internal("embedder thread panicked".into())
                        })??);
                    }
                    Ok::<_, VisionError>(parts)
                })?
            } else {
                self.embedders.iter().map(one).collect::<Result<_, _>>()?
            };
        let total = self.template_len();
        Ok((0..faces.len())
            .map(|i| {
                let mut t = Vec::with_capacity(total);
                for (p, s) in parts.iter().zip(&self.segments) {
                    t.extend_from_slice(&p[i * s.dims..(i + 1) * s.dims]);
                }
                t
            })
            .collect())
    }

    /// Every passive liveness model's score (0–1, higher = live) for one face.
    pub fn pad_scores(&self, img: &RgbImage, face: &Face) -> Result<Vec<(&str, f32)>, VisionError> {
        let mut r = Resizer::new();
        self.pad
            .iter()
            .map(|m| Ok((m.name.as_str(), m.score(img, face, &mut r)?)))
            .collect()
    }

    /// The kiosk's passive liveness score for one face (None when no passive model is set).
    pub fn passive_score(&self, img: &RgbImage, face: &Face) -> Result<Option<f32>, VisionError> {
        let Some(l) = &self.manifest.liveness else {
            return Ok(None);
        };
        match self.pad.iter().find(|m| m.name == l.passive) {
            Some(m) => Ok(Some(m.score(img, face, &mut Resizer::new())?)),
            None => Ok(None),
        }
    }

    /// Per-embedder stage access for benchmarks: chips for embedder `k`, then its run.
    pub fn embedder(&self, k: usize) -> Option<&embed::Embedder> {
        self.embedders.get(k)
    }

    /// The passive liveness model named `name`, if loaded.
    pub fn pad_model(&self, name: &str) -> Option<&liveness::PadModel> {
        self.pad.iter().find(|p| p.name == name)
    }
}

/// What loading the engine's models shares: the manifest, ONNX Runtime and the tuner that
/// times each model's optimisation levels on this CPU.
struct Loader<'a> {
    manifest: &'a Manifest,
    env: &'a ort::environment::Environment,
    tuner: tune::Tuner,
    opts: &'a EngineOptions,
}

impl Loader<'_> {
    /// The sessions of one model, at the precision asked for and the level tuned for it.
    fn pool(
        &mut self,
        name: &str,
        f: &manifest::ModelFile,
        shapes: runtime::Shapes,
        probe: tune::Probe<'_>,
    ) -> Result<runtime::SessionPool, VisionError> {
        let f = f.at(self.opts.precision);
        let bytes = self.manifest.read_verified(&f)?;
        let level = self.tuner.level(
            self.env,
            name,
            (&bytes, &f.sha256, f.optimisation.as_deref()),
            shapes,
            &probe,
        )?;
        Ok(runtime::SessionPool::new(
            self.env,
            name,
            &bytes,
            (self.opts.sessions, self.opts.threads),
            shapes,
            Some(&level),
        )?)
    }

    /// The detector's stages, timed on what a 640×480 kiosk frame gives them: a pyramid
    /// level of an 80 px face (transposed), a batch of candidates, the final few.
    fn detector(&mut self) -> Result<detect::Detector, VisionError> {
        let d = &self.manifest.detector;
        let stage = |input, shape| tune::Probe { input, shape };
        let pnet = self.pool(
            "mtcnn-pnet",
            &d.pnet,
            runtime::Shapes::Varying,
            stage(detect::PNET_IN, [1, 96, 72, 3]),
        )?;
        let rnet = self.pool(
            "mtcnn-rnet",
            &d.rnet,
            runtime::Shapes::Varying,
            stage(detect::RNET_IN, [16, 24, 24, 3]),
        )?;
        let onet = self.pool(
            "mtcnn-onet",
            &d.onet,
            runtime::Shapes::Varying,
            stage(detect::ONET_IN, [2, 48, 48, 3]),
        )?;
        Ok(detect::Detector::new(d, pnet, rnet, onet))
    }
}

/// A one-image chip tensor's shape.
fn chip_shape(layout: manifest::Layout, size: u32) -> [usize; 4] {
    let n = size as usize;
    match layout {
        manifest::Layout::Nchw => [1, 3, n, n],
        manifest::Layout::Nhwc => [1, n, n, 3],
    }
}

/// The face the kiosk should serve: the largest, with faces far from the centre weighed
/// down (README: “Kiosk decisions”).
pub fn primary_face(faces: &[Face], width: u32, height: u32) -> Option<&Face> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let diag = (cx * cx + cy * cy).sqrt().max(1.0);
    faces.iter().max_by(|a, b| {
        let w = |f: &Face| {
            let [x, y] = f.centre();
            let off = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() / diag;
            f.area() * (1.0 - 0.5 * off)
        };
        w(a).total_cmp(&w(b))
    })
}
