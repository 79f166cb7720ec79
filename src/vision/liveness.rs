//! Passive presentation-attack detection: small networks that look at one aligned face chip
//! (with some of its surroundings) and say how likely it is a live face rather than a
//! printed photo or a screen. Models, chip geometry and the operating point come from the
//! manifest (`[[pad]]`, `[liveness]`).

use fast_image_resize::Resizer;
use image::RgbImage;

use super::align::{chip_into, ChipFormat};
use super::manifest::{Layout, PadModel as PadSpec};
use super::runtime::SessionPool;
use super::VisionError;

pub struct PadModel {
    pub name: String,
    fmt: ChipFormat,
    template: [[f32; 2]; 5],
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
            template: spec.template,
            input: spec.input.clone(),
            output: spec.output.clone(),
            outputs: spec.outputs,
            live_index: spec.live_index,
            invert: spec.invert,
            pool,
        }
    }

    /// The probability (0–1) that the face with these landmarks is live.
    pub fn score(
        &self,
        img: &RgbImage,
        landmarks: &[[f32; 2]; 5],
        resizer: &mut Resizer,
    ) -> Result<f32, VisionError> {
        let mut chip = vec![0.0f32; self.fmt.len()];
        chip_into(
            img,
            landmarks,
            &self.template,
            &self.fmt,
            resizer,
            &mut chip,
        );
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
