//! Face embedders: align each face to the model's template, run the network on the whole
//! batch at once, and L2-normalise the outputs so that cosine similarity is a dot product.

use fast_image_resize::Resizer;
use image::RgbImage;

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
    flip: bool,
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
            flip: spec.flip,
            pool,
        }
    }

    /// Values in one chip (size × size × 3).
    pub fn chip_len(&self) -> usize {
        self.fmt.len()
    }

    /// Chips the network sees per face (2 with flip augmentation; `probe` frames of the
    /// kiosk skip the mirror image: the visit averages several frames instead).
    fn views(&self, probe: bool) -> usize {
        if self.flip && !probe {
            2
        } else {
            1
        }
    }

    /// Fills `input` with the aligned chips of `faces` (and their mirror images when the
    /// model uses flip augmentation and this is not a kiosk probe).
    pub fn prepare(
        &self,
        img: &RgbImage,
        faces: &[[[f32; 2]; 5]],
        probe: bool,
        resizer: &mut Resizer,
        input: &mut Vec<f32>,
    ) {
        let per = self.fmt.len();
        let views = self.views(probe);
        input.clear();
        input.resize(per * faces.len() * views, 0.0);
        for (lm, chunk) in faces.iter().zip(input.chunks_exact_mut(per * views)) {
            let (first, rest) = chunk.split_at_mut(per);
            chip_into(img, lm, &self.template, &self.fmt, resizer, first);
            if views == 2 {
                mirror(first, rest, self.fmt.size, self.fmt.layout);
            }
        }
    }

    /// Runs the network on prepared chips and appends `faces × dims` normalised values to `out`.
    pub fn run(
        &self,
        input: &[f32],
        faces: usize,
        probe: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), VisionError> {
        if faces == 0 {
            return Ok(());
        }
        let n = self.fmt.size;
        let views = self.views(probe);
        let batch = faces * views;
        let shape = match self.fmt.layout {
            Layout::Nchw => [batch, 3, n, n],
            Layout::Nhwc => [batch, n, n, 3],
        };
        let (name, dims) = (&self.name, self.dims);
        self.pool
            .run_f32(&self.input, shape, input, &self.output, |data| {
                if data.len() != batch * dims {
                    return Err(VisionError::Internal(format!(
                        "{name}: output has {} values, expected {}",
                        data.len(),
                        batch * dims
                    )));
                }
                for v in data.chunks_exact(dims * views) {
                    let start = out.len();
                    out.extend_from_slice(&v[..dims]);
                    for view in v[dims..].chunks_exact(dims) {
                        normalise(&mut out[start..]);
                        let mut m = view.to_vec();
                        normalise(&mut m);
                        out[start..].iter_mut().zip(&m).for_each(|(a, b)| *a += b);
                    }
                    normalise(&mut out[start..]);
                }
                Ok(())
            })??;
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

/// Writes the left-right mirror image of chip `src` into `dst`.
fn mirror(src: &[f32], dst: &mut [f32], n: usize, layout: Layout) {
    match layout {
        Layout::Nchw => {
            for (s, d) in src.chunks_exact(n).zip(dst.chunks_exact_mut(n)) {
                d.iter_mut().zip(s.iter().rev()).for_each(|(a, b)| *a = *b);
            }
        }
        Layout::Nhwc => {
            for (s, d) in src.chunks_exact(n * 3).zip(dst.chunks_exact_mut(n * 3)) {
                for x in 0..n {
                    d[x * 3..x * 3 + 3].copy_from_slice(&s[(n - 1 - x) * 3..(n - x) * 3]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_flips_rows_in_both_layouts() {
        // 2×2 chip, NCHW: channel planes [a b; c d] → [b a; d c].
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut dst = vec![0.0; 12];
        mirror(&src, &mut dst, 2, Layout::Nchw);
        assert_eq!(&dst[..4], &[1.0, 0.0, 3.0, 2.0]);
        mirror(&src, &mut dst, 2, Layout::Nhwc);
        assert_eq!(&dst[..6], &[3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);
    }
}
