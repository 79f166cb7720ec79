//! Face alignment: the least-squares similarity transform (rotation, uniform scale,
//! translation; no reflection) from the 5 detected landmarks to a model's template, and a
//! bilinear warp that writes the chip straight into the model's input tensor. Large faces
//! are shrunk with a box filter first so that the chip is not aliased.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

use super::manifest::{Colour, Layout, Normalisation};

/// `dst = [a -b; b a] · src + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares fit (Umeyama without reflection) of `src` points onto `dst` points.
    pub fn estimate(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Self {
        let n = src.len() as f64;
        let mean = |p: &[[f32; 2]; 5]| {
            let (sx, sy) = p.iter().fold((0.0f64, 0.0f64), |(x, y), q| {
                (x + f64::from(q[0]), y + f64::from(q[1]))
            });
            (sx / n, sy / n)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy) = (f64::from(s[0]) - msx, f64::from(s[1]) - msy);
            let (dx, dy) = (f64::from(d[0]) - mdx, f64::from(d[1]) - mdy);
            dot += sx * dx + sy * dy;
            cross += sx * dy - sy * dx;
            norm += sx * sx + sy * sy;
        }
        if norm <= f64::EPSILON {
            return Self {
                a: 1.0,
                b: 0.0,
                tx: (mdx - msx) as f32,
                ty: (mdy - msy) as f32,
            };
        }
        let a = dot / norm;
        let b = cross / norm;
        Self {
            a: a as f32,
            b: b as f32,
            tx: (mdx - (a * msx - b * msy)) as f32,
            ty: (mdy - (b * msx + a * msy)) as f32,
        }
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    /// The uniform scale factor.
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    pub fn inverse(&self) -> Self {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        }
    }
}

/// How a model wants its chip written.
#[derive(Debug, Clone, Copy)]
pub struct ChipFormat {
    pub size: usize,
    pub layout: Layout,
    pub colour: Colour,
    pub mean: [f32; 3],
    pub scale: f32,
}

impl ChipFormat {
    pub fn new(size: u32, layout: Layout, colour: Colour, n: &Normalisation) -> Self {
        Self {
            size: size as usize,
            layout,
            colour,
            mean: n.mean,
            scale: n.scale,
        }
    }

    pub fn len(&self) -> usize {
        self.size * self.size * 3
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// A source image and the transform from chip pixels to its pixels.
struct Source<'a> {
    raw: &'a [u8],
    w: usize,
    h: usize,
    to_src: Similarity,
}

/// Warps the face with `landmarks` onto `template` (a chip of `size` px) and calls
/// `put(x, y, rgb)` for every chip pixel.
pub fn warp<F: FnMut(usize, usize, [f32; 3])>(
    img: &RgbImage,
    landmarks: &[[f32; 2]; 5],
    template: &[[f32; 2]; 5],
    size: usize,
    resizer: &mut Resizer,
    mut put: F,
) {
    let fwd = Similarity::estimate(landmarks, template);
    let mut to_src = fwd.inverse();
    let step = to_src.scale(); // source pixels per chip pixel
    let small;
    let src = if step > 1.5 {
        // Shrink the face region first so every chip pixel averages its whole footprint.
        let [x0, y0, x1, y1] = footprint(&to_src, size, img);
        let (rw, rh) = (x1 - x0, y1 - y0);
        let sw = (rw / step).ceil().max(1.0) as u32;
        let sh = (rh / step).ceil().max(1.0) as u32;
        let shrunk = (rw >= 2.0 && rh >= 2.0)
            .then(|| {
                let srcimg =
                    ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3).ok()?;
                let mut dst = Image::new(sw, sh, PixelType::U8x3);
                let opts = ResizeOptions::new()
                    .resize_alg(ResizeAlg::Convolution(FilterType::Box))
                    .crop(f64::from(x0), f64::from(y0), f64::from(rw), f64::from(rh));
                resizer.resize(&srcimg, &mut dst, &opts).ok()?;
                Some(dst)
            })
            .flatten();
        match shrunk {
            Some(dst) => {
                let (fx, fy) = (sw as f32 / rw, sh as f32 / rh);
                // chip → full image → shrunk region (pixel centres kept aligned).
                let f = (fx + fy) / 2.0;
                to_src = Similarity {
                    a: to_src.a * f,
                    b: to_src.b * f,
                    tx: (to_src.tx - x0 + 0.5) * f - 0.5,
                    ty: (to_src.ty - y0 + 0.5) * f - 0.5,
                };
                small = dst;
                Source {
                    raw: small.buffer(),
                    w: sw as usize,
                    h: sh as usize,
                    to_src,
                }
            }
            None => Source {
                raw: img.as_raw(),
                w: img.width() as usize,
                h: img.height() as usize,
                to_src,
            },
        }
    } else {
        Source {
            raw: img.as_raw(),
            w: img.width() as usize,
            h: img.height() as usize,
            to_src,
        }
    };
    sample_all(&src, size, &mut put);
}

/// The chip's footprint in the image (x0, y0, x1, y1), whole pixels, clipped to the image.
fn footprint(to_src: &Similarity, size: usize, img: &RgbImage) -> [f32; 4] {
    let n = size as f32;
    let corners = [[0.0, 0.0], [n, 0.0], [0.0, n], [n, n]].map(|p| to_src.apply(p));
    let (xs, ys) = (corners.map(|p| p[0]), corners.map(|p| p[1]));
    let min = |v: [f32; 4]| v.into_iter().fold(f32::MAX, f32::min);
    let max = |v: [f32; 4]| v.into_iter().fold(f32::MIN, f32::max);
    [
        min(xs).floor().max(0.0),
        min(ys).floor().max(0.0),
        max(xs).ceil().min(img.width() as f32),
        max(ys).ceil().min(img.height() as f32),
    ]
}

fn sample_all<F: FnMut(usize, usize, [f32; 3])>(s: &Source, size: usize, put: &mut F) {
    let t = s.to_src;
    let (w, h) = (s.w as isize, s.h as isize);
    for v in 0..size {
        for u in 0..size {
            let x = t.a * u as f32 - t.b * v as f32 + t.tx;
            let y = t.b * u as f32 + t.a * v as f32 + t.ty;
            let (xf, yf) = (x.floor(), y.floor());
            let (x0, y0) = (xf as isize, yf as isize);
            let (fx, fy) = (x - xf, y - yf);
            let mut acc = [0.0f32; 3];
            for (dy, wy) in [(0isize, 1.0 - fy), (1, fy)] {
                let yy = y0 + dy;
                if yy < 0 || yy >= h || wy == 0.0 {
                    continue;
                }
                for (dx, wx) in [(0isize, 1.0 - fx), (1, fx)] {
                    let xx = x0 + dx;
                    if xx < 0 || xx >= w || wx == 0.0 {
                        continue;
                    }
                    let i = ((yy * w + xx) * 3) as usize;
                    let wgt = wx * wy;
                    acc[0] += wgt * f32::from(s.raw[i]);
                    acc[1] += wgt * f32::from(s.raw[i + 1]);
                    acc[2] += wgt * f32::from(s.raw[i + 2]);
                }
            }
            put(u, v, acc);
        }
    }
}

/// Warps one face into `out` (len = fmt.len()) in the model's layout, colour order and
/// normalisation.
pub fn chip_into(
    img: &RgbImage,
    landmarks: &[[f32; 2]; 5],
    template: &[[f32; 2]; 5],
    fmt: &ChipFormat,
    resizer: &mut Resizer,
    out: &mut [f32],
) {
    let n = fmt.size;
    let bgr = fmt.colour == Colour::Bgr;
    let (m, sc) = (fmt.mean, fmt.scale);
    match fmt.layout {
        Layout::Nhwc => warp(img, landmarks, template, n, resizer, |x, y, p| {
            let o = (y * n + x) * 3;
            for c in 0..3 {
                let v = if bgr { p[2 - c] } else { p[c] };
                out[o + c] = (v - m[c]) * sc;
            }
        }),
        Layout::Nchw => warp(img, landmarks, template, n, resizer, |x, y, p| {
            let o = y * n + x;
            for c in 0..3 {
                let v = if bgr { p[2 - c] } else { p[c] };
                out[c * n * n + o] = (v - m[c]) * sc;
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: [[f32; 2]; 5] = [[30., 40.], [70., 40.], [50., 60.], [35., 80.], [65., 80.]];

    #[test]
    fn recovers_a_known_similarity() {
        let truth = Similarity {
            a: 0.8,
            b: 0.3,
            tx: 12.0,
            ty: -7.0,
        };
        let src = T.map(|p| truth.inverse().apply(p));
        let est = Similarity::estimate(&src, &T);
        for (x, y) in [
            (est.a, truth.a),
            (est.b, truth.b),
            (est.tx, truth.tx),
            (est.ty, truth.ty),
        ] {
            assert!((x - y).abs() < 1e-3, "{est:?} vs {truth:?}");
        }
        let back = est.inverse().apply(est.apply([3.0, 4.0]));
        assert!((back[0] - 3.0).abs() < 1e-4 && (back[1] - 4.0).abs() < 1e-4);
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let img = RgbImage::from_fn(100, 100, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut r = Resizer::new();
        let mut got = vec![[0.0f32; 3]; 100 * 100];
        warp(&img, &T, &T, 100, &mut r, |x, y, p| got[y * 100 + x] = p);
        assert_eq!(got[42 * 100 + 17], [17.0, 42.0, 7.0]);
    }

    #[test]
    fn shrinking_warp_averages() {
        // A fine checkerboard shrunk 4× must come out mid-grey, not aliased black/white.
        let img = RgbImage::from_fn(400, 400, |x, y| {
            let v = if (x + y) % 2 == 0 { 255 } else { 0 };
            image::Rgb([v, v, v])
        });
        let big = T.map(|p| [p[0] * 4.0, p[1] * 4.0]);
        let mut r = Resizer::new();
        let mut sum = 0.0;
        let mut worst = 0.0f32;
        warp(&img, &big, &T, 100, &mut r, |x, y, p| {
            if (10..90).contains(&x) && (10..90).contains(&y) {
                sum += p[0];
                worst = worst.max((p[0] - 127.5).abs());
            }
        });
        assert!((sum / 6400.0 - 127.5).abs() < 5.0);
        assert!(worst < 40.0, "aliasing: {worst}");
    }
}
