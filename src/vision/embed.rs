//! Face embedders: align each face to the model's template, run the network on the whole
//! batch at once, and L2-normalise the outputs so that cosine similarity is a dot product.

use fast_image_resize::Resizer;
use image::RgbImage;
use ort::value::TensorRef;

use super::align::{chip_into, ChipFormat};
use super::manifest::{Embedder as EmbedderSpec, Layout};
use super::runtime::SessionPool;
use super::VisionError;

/// One embedding network and its input format.
pub struct Embedder {
    pub name: String,
    pub dims: usize,
    fmt: ChipFormat,
    template: [[f32; 2]; 5],
    input: String,
    output: String,
    pool: SessionPool,
}

impl Embedder {
    pub fn new(spec: &EmbedderSpec, pool: SessionPool) -> Self {
        Self {
            name: spec.name.clone(),
            dims: spec.dims,
            fmt: ChipFormat::new(spec.size, spec.layout, spec.colour, &spec.normalisation),
            template: spec.template,
            input: spec.input.clone(),
            output: spec.output.clone(),
            pool,
        }
    }

    pub fn output_name(&self) -> &str {
        &self.output
    }

    /// Fills `input` (len = faces × chip) with the aligned chips of `faces`.
    pub fn prepare(
        &self,
        img: &RgbImage,
        faces: &[[[f32; 2]; 5]],
        resizer: &mut Resizer,
        input: &mut Vec<f32>,
    ) {
        let per = self.fmt.len();
        input.clear();
        input.resize(per * faces.len(), 0.0);
        for (lm, chunk) in faces.iter().zip(input.chunks_exact_mut(per)) {
            chip_into(img, lm, &self.template, &self.fmt, resizer, chunk);
        }
    }

    /// Runs the network on prepared chips and appends `faces × dims` normalised values to `out`.
    pub fn run(&self, input: &[f32], faces: usize, out: &mut Vec<f32>) -> Result<(), VisionError> {
        if faces == 0 {
            return Ok(());
        }
        let n = self.fmt.size;
        let shape = match self.fmt.layout {
            Layout::Nchw => [faces, 3, n, n],
            Layout::Nhwc => [faces, n, n, 3],
        };
        let mut sess = self.pool.get();
        let t = TensorRef::from_array_view((shape, input)).map_err(|e| self.pool.run_error(e))?;
        let res = sess
            .run(ort::inputs![self.input.as_str() => t])
            .map_err(|e| self.pool.run_error(e))?;
        let value = res.get(self.output.as_str()).ok_or_else(|| {
            VisionError::Internal(format!("{}: no output {}", self.name, self.output))
        })?;
        let (_, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| self.pool.run_error(e))?;
        if data.len() != faces * self.dims {
            return Err(VisionError::Internal(format!(
                "{}: output has {} values, expected {}",
                self.name,
                data.len(),
                faces * self.dims
            )));
        }
        for v in data.chunks_exact(self.dims) {
            let start = out.len();
            out.extend_from_slice(v);
            normalise(&mut out[start..]);
        }
        Ok(())
    }
}

/// Scales `v` to unit length (leaves an all-zero vector alone).
pub fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
