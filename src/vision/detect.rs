//! Face detection with MTCNN (P-Net → R-Net → O-Net) on ONNX Runtime, following the
//! reference implementation the shipped weights were trained with: RGB input scaled to
//! [-1, 1], images transposed (H↔W) before every network, an image pyramid with factor
//! 0.709, and NMS 0.5/0.7 (union) then 0.7 (min). See models/README.md.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
use ort::value::TensorRef;

use super::boxes::{fix, nms, patch, regress, square, Cand, Overlap};
use super::manifest::{Colour, Detector as DetectorSpec};
use super::runtime::SessionPool;
use super::VisionError;

/// One detected face, in the pixel coordinates of the image it was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// x1, y1, x2, y2.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corner (as seen in the image).
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }
    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
    pub fn centre(&self) -> [f32; 2] {
        [
            (self.bbox[0] + self.bbox[2]) / 2.0,
            (self.bbox[1] + self.bbox[3]) / 2.0,
        ]
    }
    /// Distance between the eye centres in pixels.
    pub fn inter_eye(&self) -> f32 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        ((r[0] - l[0]).powi(2) + (r[1] - l[1]).powi(2)).sqrt()
    }
}

/// The three MTCNN networks and their settings.
pub struct Detector {
    pnet: SessionPool,
    rnet: SessionPool,
    onet: SessionPool,
    thresholds: [f64; 3],
    factor: f64,
    mean: [f32; 3],
    scale: f32,
    bgr: bool,
}

pub const PNET_IN: &str = "input_1";
pub const RNET_IN: &str = "input_2";
pub const ONET_IN: &str = "input_3";

impl Detector {
    pub fn new(
        spec: &DetectorSpec,
        pnet: SessionPool,
        rnet: SessionPool,
        onet: SessionPool,
    ) -> Self {
        Self {
            pnet,
            rnet,
            onet,
            thresholds: spec.thresholds.map(f64::from),
            factor: f64::from(spec.scale_factor),
            mean: spec.normalisation.mean,
            scale: spec.normalisation.scale,
            bgr: spec.colour == Colour::Bgr,
        }
    }

    /// Finds every face at least `min_face` pixels tall, best score first.
    pub fn detect(&self, img: &RgbImage, min_face: f32) -> Result<Vec<Face>, VisionError> {
        self.detect_with(img, min_face, None)
    }

    /// The full detection with, when `merge` is given, R-Net's boxes merged at that overlap
    /// before O-Net (the kiosk's 0.3: one box per face, as O-Net costs ~0.65 ms a box and
    /// R-Net leaves several around each face at its usual 0.7).
    fn detect_with(
        &self,
        img: &RgbImage,
        min_face: f32,
        merge: Option<f64>,
    ) -> Result<Vec<Face>, VisionError> {
        let (w, h) = img.dimensions();
        if w < 12 || h < 12 {
            return Ok(Vec::new());
        }
        let mut resizer = Resizer::new();
        let mut cands = self.stage1(img, min_face.max(12.0), &mut resizer)?;
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        if merge.is_some() {
            // P-Net leaves a box per pyramid level around a face: R-Net needs one of each
            // neighbouring pair (it regresses the box itself).
            cands = nms(&cands, KIOSK_STAGE1_MERGE, Overlap::Union);
        }
        let mut cands = self.stage2(img, cands, &mut resizer)?;
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(m) = merge {
            cands = nms(&cands, m, Overlap::Union);
        }
        let cands = self.stage3(img, cands, &mut resizer)?;
        Ok(cands.into_iter().map(to_face).collect())
    }

    /// Finds the face again near `last` (the previous frame's): R-Net on a few boxes around
    /// it (shifted and scaled), O-Net on R-Net's best, no pyramid. A kiosk face is large and moves
    /// little between frames, so this costs a fraction of a full detection. None when no
    /// box passes both stages with a face of at least `min_face` px.
    pub fn track(
        &self,
        img: &RgbImage,
        last: &Face,
        min_face: f32,
    ) -> Result<Option<Face>, VisionError> {
        let side = f64::from(last.width().max(last.height()));
        if side < 12.0 {
            return Ok(None);
        }
        let [cx, cy] = last.centre().map(f64::from);
        let mut cands = Vec::with_capacity(TRACK_BOXES.len());
        for (scale, dx, dy) in TRACK_BOXES {
            let w = side * scale;
            let (x1, y1) = (cx + dx * side - w / 2.0, cy + dy * side - w / 2.0);
            cands.push(Cand {
                x1: x1.trunc(),
                y1: y1.trunc(),
                x2: (x1 + w).trunc(),
                y2: (y1 + w).trunc(),
                score: 1.0,
                reg: [0.0; 4],
                lm: [0.0; 10],
            });
        }
        let mut resizer = Resizer::new();
        // O-Net costs ~0.65 ms a box against R-Net's ~0.12: only R-Net's best box goes on
        // (the others are the same face, a little off).
        let best = self
            .stage2(img, cands, &mut resizer)?
            .into_iter()
            .max_by(|a, b| a.score.total_cmp(&b.score));
        let Some(best) = best else {
            return Ok(None);
        };
        let found = self.stage3(img, vec![best], &mut resizer)?;
        Ok(found
            .into_iter()
            .map(to_face)
            .filter(|f| f.height() >= min_face)
            .max_by(|a, b| a.area().total_cmp(&b.area())))
    }

    /// Writes one normalised, transposed (x-major) patch into `out` (len side*side*3).
    fn put_transposed(&self, rgb: &[u8], side_w: usize, side_h: usize, out: &mut [f32]) {
        for y in 0..side_h {
            for x in 0..side_w {
                let s = (y * side_w + x) * 3;
                let d = (x * side_h + y) * 3;
                for c in 0..3 {
                    let sc = if self.bgr { 2 - c } else { c };
                    out[d + c] = (f32::from(rgb[s + sc]) - self.mean[c]) * self.scale;
                }
            }
        }
    }

    fn stage1(
        &self,
        img: &RgbImage,
        min_face: f32,
        resizer: &mut Resizer,
    ) -> Result<Vec<Cand>, VisionError> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let m = 12.0 / f64::from(min_face);
        let mut min_layer = w.min(h) as f64 * m;
        let mut scales = Vec::new();
        let mut k = 0;
        while min_layer >= 12.0 {
            scales.push(m * self.factor.powi(k));
            min_layer *= self.factor;
            k += 1;
        }
        let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3)
            .map_err(|e| VisionError::Internal(e.to_string()))?;
        let mut all = Vec::new();
        let mut input = Vec::new();
        for scale in scales {
            let ws = (w as f64 * scale).ceil() as usize;
            let hs = (h as f64 * scale).ceil() as usize;
            let mut dst = Image::new(ws as u32, hs as u32, PixelType::U8x3);
            resizer
                .resize(&src, &mut dst, &area_options(w, ws))
                .map_err(|e| VisionError::Internal(e.to_string()))?;
            input.clear();
            input.resize(ws * hs * 3, 0.0);
            self.put_transposed(dst.buffer(), ws, hs, &mut input);
            let mut sess = self.pnet.get();
            let t = TensorRef::from_array_view(([1usize, ws, hs, 3], &input[..]))
                .map_err(|e| self.pnet.run_error(e))?;
            let out = sess
                .run(ort::inputs![PNET_IN => t])
                .map_err(|e| self.pnet.run_error(e))?;
            let (rshape, reg) = out["conv2d_4"]
                .try_extract_tensor::<f32>()
                .map_err(|e| self.pnet.run_error(e))?;
            let (_, prob) = out["softmax"]
                .try_extract_tensor::<f32>()
                .map_err(|e| self.pnet.run_error(e))?;
            // Map dims [1, A, B, .]: A runs along x (the transposed width), B along y.
            let (a_n, b_n) = (rshape[1] as usize, rshape[2] as usize);
            let mut level = Vec::new();
            for a in 0..a_n {
                for b in 0..b_n {
                    let i = a * b_n + b;
                    let score = f64::from(prob[i * 2 + 1]);
                    if score < self.thresholds[0] {
                        continue;
                    }
                    let (xa, yb) = (a as f64, b as f64);
                    level.push(Cand {
                        x1: ((2.0 * xa + 1.0) / scale).trunc(),
                        y1: ((2.0 * yb + 1.0) / scale).trunc(),
                        x2: ((2.0 * xa + 12.0) / scale).trunc(),
                        y2: ((2.0 * yb + 12.0) / scale).trunc(),
                        score,
                        reg: std::array::from_fn(|k| f64::from(reg[i * 4 + k])),
                        lm: [0.0; 10],
                    });
                }
            }
            all.extend(nms(&level, 0.5, Overlap::Union));
        }
        let mut kept = nms(&all, 0.7, Overlap::Union);
        for c in &mut kept {
            // Stage-1 regression uses the exclusive box size.
            let (bw, bh) = (c.x2 - c.x1, c.y2 - c.y1);
            c.x1 += c.reg[0] * bw;
            c.y1 += c.reg[1] * bh;
            c.x2 += c.reg[2] * bw;
            c.y2 += c.reg[3] * bh;
            square(c);
            fix(c);
        }
        Ok(kept)
    }

    /// Crops every candidate (zero-padded at the border), resizes to side×side and writes
    /// them transposed into one batch. Candidates with no visible part are dropped.
    fn batch(
        &self,
        img: &RgbImage,
        cands: &mut Vec<Cand>,
        side: usize,
        resizer: &mut Resizer,
    ) -> Result<Vec<f32>, VisionError> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        cands.retain(|c| patch(c, w, h).is_some());
        let mut input = vec![0.0f32; cands.len() * side * side * 3];
        let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3)
            .map_err(|e| VisionError::Internal(e.to_string()))?;
        let mut dst = Image::new(side as u32, side as u32, PixelType::U8x3);
        let mut tmp_buf = Vec::new();
        for (n, c) in cands.iter().enumerate() {
            let Some(p) = patch(c, w, h) else { continue };
            if p.dx == 0 && p.dy == 0 && p.sw == p.w && p.sh == p.h {
                let opts = area_options(p.w, side).crop(
                    p.sx as f64,
                    p.sy as f64,
                    p.sw as f64,
                    p.sh as f64,
                );
                resizer
                    .resize(&src, &mut dst, &opts)
                    .map_err(|e| VisionError::Internal(e.to_string()))?;
            } else {
                tmp_buf.clear();
                tmp_buf.resize(p.w * p.h * 3, 0u8);
                let raw = img.as_raw();
                for row in 0..p.sh {
                    let s = ((p.sy + row) * w + p.sx) * 3;
                    let d = ((p.dy + row) * p.w + p.dx) * 3;
                    tmp_buf[d..d + p.sw * 3].copy_from_slice(&raw[s..s + p.sw * 3]);
                }
                let tmp = ImageRef::new(p.w as u32, p.h as u32, &tmp_buf, PixelType::U8x3)
                    .map_err(|e| VisionError::Internal(e.to_string()))?;
                resizer
                    .resize(&tmp, &mut dst, &area_options(p.w, side))
                    .map_err(|e| VisionError::Internal(e.to_string()))?;
            }
            let off = n * side * side * 3;
            self.put_transposed(
                dst.buffer(),
                side,
                side,
                &mut input[off..off + side * side * 3],
            );
        }
        Ok(input)
    }

    fn stage2(
        &self,
        img: &RgbImage,
        mut cands: Vec<Cand>,
        resizer: &mut Resizer,
    ) -> Result<Vec<Cand>, VisionError> {
        let input = self.batch(img, &mut cands, 24, resizer)?;
        if cands.is_empty() {
            return Ok(cands);
        }
        let mut sess = self.rnet.get();
        let t = TensorRef::from_array_view(([cands.len(), 24, 24, 3], &input[..]))
            .map_err(|e| self.rnet.run_error(e))?;
        let out = sess
            .run(ort::inputs![RNET_IN => t])
            .map_err(|e| self.rnet.run_error(e))?;
        let (_, reg) = out["dense_2"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.rnet.run_error(e))?;
        let (_, prob) = out["softmax_1"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.rnet.run_error(e))?;
        let mut pass = Vec::new();
        for (n, c) in cands.iter().enumerate() {
            let score = f64::from(prob[n * 2 + 1]);
            if score > self.thresholds[1] {
                pass.push(Cand {
                    score,
                    reg: std::array::from_fn(|k| f64::from(reg[n * 4 + k])),
                    ..*c
                });
            }
        }
        let mut kept = nms(&pass, 0.7, Overlap::Union);
        for c in &mut kept {
            regress(c);
            square(c);
        }
        Ok(kept)
    }

    fn stage3(
        &self,
        img: &RgbImage,
        mut cands: Vec<Cand>,
        resizer: &mut Resizer,
    ) -> Result<Vec<Cand>, VisionError> {
        cands.iter_mut().for_each(fix);
        let input = self.batch(img, &mut cands, 48, resizer)?;
        if cands.is_empty() {
            return Ok(cands);
        }
        let mut sess = self.onet.get();
        let t = TensorRef::from_array_view(([cands.len(), 48, 48, 3], &input[..]))
            .map_err(|e| self.onet.run_error(e))?;
        let out = sess
            .run(ort::inputs![ONET_IN => t])
            .map_err(|e| self.onet.run_error(e))?;
        let (_, reg) = out["dense_5"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.onet.run_error(e))?;
        let (_, lms) = out["dense_6"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.onet.run_error(e))?;
        let (_, prob) = out["softmax_2"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.onet.run_error(e))?;
        let mut pass = Vec::new();
        for (n, c) in cands.iter().enumerate() {
            let score = f64::from(prob[n * 2 + 1]);
            if score <= self.thresholds[2] {
                continue;
            }
            let bw = c.x2 - c.x1 + 1.0;
            let bh = c.y2 - c.y1 + 1.0;
            let mut lm = [0.0; 10];
            for k in 0..5 {
                lm[k] = bw * f64::from(lms[n * 10 + k]) + c.x1 - 1.0;
                lm[5 + k] = bh * f64::from(lms[n * 10 + 5 + k]) + c.y1 - 1.0;
            }
            let mut d = Cand {
                score,
                reg: std::array::from_fn(|k| f64::from(reg[n * 4 + k])),
                lm,
                ..*c
            };
            regress(&mut d);
            pass.push(d);
        }
        Ok(nms(&pass, 0.7, Overlap::Min))
    }
}

fn to_face(c: Cand) -> Face {
    Face {
        bbox: [c.x1 as f32, c.y1 as f32, c.x2 as f32, c.y2 as f32],
        score: c.score as f32,
        landmarks: std::array::from_fn(|k| [c.lm[k] as f32, c.lm[5 + k] as f32]),
    }
}

/// The boxes R-Net sees around the last face: (side scale, x shift, y shift), shifts in
/// sides. Covers a face that moved a tenth of its size or grew or shrank by a fifth.
const TRACK_BOXES: [(f64, f64, f64); 9] = [
    (1.0, 0.0, 0.0),
    (1.0, -0.12, 0.0),
    (1.0, 0.12, 0.0),
    (1.0, 0.0, -0.12),
    (1.0, 0.0, 0.12),
    (0.85, 0.0, 0.0),
    (1.2, 0.0, 0.0),
    (1.2, -0.1, -0.1),
    (1.2, 0.1, 0.1),
];

/// Where a kiosk visit's detection stands: the last face found, and frames since the last
/// full (pyramid) detection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Track {
    last: Option<Face>,
    since_full: u32,
}

impl Track {
    /// Whether the last frame had a face (the next one is looked for around it).
    pub fn following(&self) -> bool {
        self.last.is_some()
    }
}

/// The overlap at which the kiosk's full detection merges R-Net's boxes (see `detect_with`).
const KIOSK_MERGE: f64 = 0.3;
/// The overlap at which it merges P-Net's boxes before R-Net.
const KIOSK_STAGE1_MERGE: f64 = 0.5;

/// A full detection at least this often within a visit, to see a second face come in.
pub const FULL_EVERY: u32 = 8;

impl Track {
    /// Forgets the face (a new visit, or nobody there).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

impl Detector {
    /// Kiosk detection: the face found again around the last frame's (`track`) while one
    /// was found, the full pyramid (one O-Net box per face) every `FULL_EVERY` frames and
    /// whenever tracking fails.
    /// Returns what the full detection would list: every face, or the tracked one.
    pub fn detect_tracked(
        &self,
        img: &RgbImage,
        min_face: f32,
        track: &mut Track,
    ) -> Result<Vec<Face>, VisionError> {
        if let (Some(last), true) = (track.last, track.since_full + 1 < FULL_EVERY) {
            if let Some(f) = self.track(img, &last, min_face)? {
                track.last = Some(f);
                track.since_full += 1;
                return Ok(vec![f]);
            }
        }
        let faces = self.detect_with(img, min_face, Some(KIOSK_MERGE))?;
        track.last = super::primary_face(&faces, img.width(), img.height()).copied();
        track.since_full = 0;
        Ok(faces)
    }
}

/// Area-like resampling: a box filter when shrinking (OpenCV INTER_AREA), bilinear when
/// enlarging.
fn area_options(src: usize, dst: usize) -> ResizeOptions {
    let filter = if dst < src {
        FilterType::Box
    } else {
        FilterType::Bilinear
    };
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter))
}
