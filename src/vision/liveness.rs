//! Passive presentation-attack detection: small networks that look at one face with some of
//! its surroundings (a landmark-aligned chip, or the detector box enlarged about its centre)
//! and say how likely it is a live face rather than a printed photo or a screen. Models,
//! crop geometry and the operating point come from the manifest (`[[pad]]`, `[liveness]`).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

use super::align::{chip_into, ChipFormat};
use super::detect::Face;
use super::manifest::{Colour, Crop, Layout, PadModel as PadSpec};
use super::runtime::SessionPool;
use super::VisionError;

/// The detector box scaled by `k` about its centre, shrunk when the image cannot hold it,
/// then shifted (never padded) to lie inside the `w`×`h` image: `[x0, y0, x1, y1]`.
pub fn box_crop(bbox: [f32; 4], w: u32, h: u32, k: f32) -> [f32; 4] {
    let (iw, ih) = ((w.max(2) - 1) as f32, (h.max(2) - 1) as f32);
    let (bw, bh) = ((bbox[2] - bbox[0]).max(1.0), (bbox[3] - bbox[1]).max(1.0));
    let k = k.min(ih / bh).min(iw / bw);
    let (nw, nh) = (bw * k, bh * k);
    let (cx, cy) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
    let shift = |lo: f32, hi: f32, max: f32| {
        let (mut lo, mut hi) = (lo, hi);
        if lo < 0.0 {
            hi -= lo;
            lo = 0.0;
        }
        if hi > max {
            lo -= hi - max;
            hi = max;
        }
        (lo.max(0.0), hi.min(max))
    };
    let (x0, x1) = shift(cx - nw / 2.0, cx + nw / 2.0, iw);
    let (y0, y1) = shift(cy - nh / 2.0, cy + nh / 2.0, ih);
    [x0, y0, x1, y1]
}

/// Cuts `rect` out of `img`, resizes it to the chip size and writes it in the model's
/// layout, colour order and normalisation.
fn box_chip_into(
    img: &RgbImage,
    rect: [f32; 4],
    fmt: &ChipFormat,
    resizer: &mut Resizer,
    out: &mut [f32],
) -> Result<(), VisionError> {
    let n = fmt.size;
    let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3)
        .map_err(|e| VisionError::Internal(format!("box crop: {e}")))?;
    let mut dst = Image::new(n as u32, n as u32, PixelType::U8x3);
    let (rw, rh) = (
        f64::from((rect[2] - rect[0]).max(1.0)),
        f64::from((rect[3] - rect[1]).max(1.0)),
    );
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(f64::from(rect[0]), f64::from(rect[1]), rw, rh);
    resizer
        .resize(&src, &mut dst, &opts)
        .map_err(|e| VisionError::Internal(format!("box crop: {e}")))?;
    let bgr = fmt.colour == Colour::Bgr;
    let (m, sc) = (fmt.mean, fmt.scale);
    for (i, p) in dst.buffer().chunks_exact(3).enumerate() {
        for c in 0..3 {
            let v = f32::from(if bgr { p[2 - c] } else { p[c] });
            let o = match fmt.layout {
                Layout::Nchw => c * n * n + i,
                Layout::Nhwc => i * 3 + c,
            };
            out[o] = (v - m[c]) * sc;
        }
    }
    Ok(())
}

pub struct PadModel {
    pub name: String,
    fmt: ChipFormat,
    crop: Crop,
    template: [[f32; 2]; 5],
    box_scale: f32,
    input: String,
    output: String,
    outputs: usize,
    live_index: usize,
    invert: bool,
    pool: SessionPool,
}

impl PadModel {
    pub fn new(spec: &PadSpec, pool: SessionPool) -> Self {
        Self {
            name: spec.name.clone(),
            fmt: ChipFormat::new(spec.size, spec.layout, spec.colour, &spec.normalisation),
            crop: spec.crop,
            template: spec.template,
            box_scale: spec.box_scale,
            input: spec.input.clone(),
            output: spec.output.clone(),
            outputs: spec.outputs,
            live_index: spec.live_index,
            invert: spec.invert,
            pool,
        }
    }

    /// The network's input for `face` in `img`, written into `chip` (the int8 calibration
    /// set is made of these: `hoso faces chips`).
    pub fn prepare(
        &self,
        img: &RgbImage,
        face: &Face,
        resizer: &mut Resizer,
        chip: &mut Vec<f32>,
    ) -> Result<(), VisionError> {
        chip.clear();
        chip.resize(self.fmt.len(), 0.0);
        match self.crop {
            Crop::Template => chip_into(
                img,
                &face.landmarks,
                &self.template,
                &self.fmt,
                resizer,
                chip,
            ),
            Crop::Box => {
                let rect = box_crop(face.bbox, img.width(), img.height(), self.box_scale);
                box_chip_into(img, rect, &self.fmt, resizer, chip)?;
            }
        }
        Ok(())
    }

    /// The probability (0–1) that `face` is live.
    pub fn score(
        &self,
        img: &RgbImage,
        face: &Face,
        resizer: &mut Resizer,
    ) -> Result<f32, VisionError> {
        let mut chip = Vec::new();
        self.prepare(img, face, resizer, &mut chip)?;
        let n = self.fmt.size;
        let shape = match self.fmt.layout {
            Layout::Nchw => [1, 3, n, n],
            Layout::Nhwc => [1, n, n, 3],
        };
        let (outputs, live) = (self.outputs, self.live_index);
        let v = self
            .pool
            .run_f32(&self.input, shape, &chip, &self.output, |d| {
                (d.len() == outputs).then(|| d[live])
            })?
            .ok_or_else(|| {
                VisionError::Internal(format!("{}: expected {outputs} outputs", self.name))
            })?;
        Ok(if self.invert { 1.0 - v } else { v })
    }
}

#[cfg(test)]
mod tests {
    use super::box_crop;

    #[test]
    fn box_crop_scales_shifts_and_shrinks() {
        // Room for the whole ×2.7 box: centred.
        let r = box_crop([300.0, 200.0, 340.0, 240.0], 640, 480, 2.7);
        assert_eq!(r, [266.0, 166.0, 374.0, 274.0]);
        // Near the left edge: shifted right, same size.
        let r = box_crop([0.0, 200.0, 40.0, 240.0], 640, 480, 2.7);
        assert!((r[0] - 0.0).abs() < 1e-4 && (r[2] - 108.0).abs() < 1e-4);
        // A close-up: the scale shrinks to what the image holds.
        let r = box_crop([120.0, 40.0, 520.0, 440.0], 640, 480, 2.7);
        assert!(r[0] >= 0.0 && r[1] >= 0.0 && r[2] <= 639.0 && r[3] <= 479.0);
        assert!((r[3] - r[1] - 479.0).abs() < 1e-3);
    }
}
