//! Kiosk visits made from labelled photos: each photo is placed in a 640×480 camera frame
//! and repeated as several frames with small seeded jitter (position, scale, brightness,
//! JPEG quality), the way a person standing still in front of the kiosk looks to it.

use std::io::Cursor;

use image::{imageops, Rgb, RgbImage};
use rand::{Rng, SeedableRng};

pub const FRAME_W: u32 = 640;
pub const FRAME_H: u32 = 480;

/// One visit's frames, reproducible from `seed`. Like a person, the visit comes closer
/// when asked (`approach`): the view zooms in on the face.
pub struct Visit {
    photo: RgbImage,
    /// Photo pixels → frame pixels when the whole photo fits the frame.
    fit: f32,
    zoom: f32,
    focus: [f32; 2],
    rng: rand::rngs::StdRng,
}

impl Visit {
    pub fn new(photo: &RgbImage, seed: u64) -> Self {
        let (w, h) = (photo.width() as f32, photo.height() as f32);
        Self {
            fit: (FRAME_W as f32 / w).min(FRAME_H as f32 / h),
            photo: photo.clone(),
            zoom: 1.0,
            focus: [w / 2.0, h / 2.0],
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    /// The person steps closer, towards the face at `centre` (photo pixels) whose height is
    /// `face_h` photo pixels: about a third more each time, until the face is ~240 px tall.
    pub fn approach(&mut self, centre: [f32; 2], face_h: f32) {
        let max = (240.0 / (face_h * self.fit).max(1.0)).max(1.0);
        self.zoom = (self.zoom * 1.35).min(max);
        self.focus = centre;
    }

    /// The next frame as JPEG bytes: scale ±5 %, shift ±3 % of the frame, brightness ±12 %,
    /// JPEG quality 70–95; the first frame is the photo as it is (quality 90).
    pub fn next_frame(&mut self, first: bool) -> Vec<u8> {
        let r = &mut self.rng;
        let (jitter, dx, dy, gain, q) = if first {
            (1.0, 0.0, 0.0, 1.0, 90u8)
        } else {
            (
                r.random_range(0.95f32..1.05),
                r.random_range(-0.03f32..0.03),
                r.random_range(-0.03f32..0.03),
                r.random_range(0.88f32..1.12),
                r.random_range(70u8..=95),
            )
        };
        let s = self.fit * self.zoom * jitter;
        let (fw, fh) = (FRAME_W as f32, FRAME_H as f32);
        // Frame point (u, v) shows photo point focus + (u - centre of the frame) / s.
        let (cu, cv) = (fw / 2.0 + dx * fw, fh / 2.0 + dy * fh);
        let (pw, ph) = (self.photo.width() as f32, self.photo.height() as f32);
        let x0 = (self.focus[0] - cu / s).max(0.0);
        let y0 = (self.focus[1] - cv / s).max(0.0);
        let x1 = (self.focus[0] + (fw - cu) / s).min(pw);
        let y1 = (self.focus[1] + (fh - cv) / s).min(ph);
        let mut frame = RgbImage::from_pixel(FRAME_W, FRAME_H, Rgb([120, 120, 120]));
        if x1 - x0 >= 1.0 && y1 - y0 >= 1.0 {
            let region = imageops::crop_imm(
                &self.photo,
                x0 as u32,
                y0 as u32,
                (x1 - x0) as u32,
                (y1 - y0) as u32,
            )
            .to_image();
            let (w, h) = (
                (((x1 - x0) * s) as u32).clamp(1, 4 * FRAME_W),
                (((y1 - y0) * s) as u32).clamp(1, 4 * FRAME_H),
            );
            let img = imageops::resize(&region, w, h, imageops::FilterType::Triangle);
            let u = cu + (x0 - self.focus[0]) * s;
            let v = cv + (y0 - self.focus[1]) * s;
            imageops::overlay(&mut frame, &img, u as i64, v as i64);
        }
        if gain != 1.0 {
            frame.pixels_mut().for_each(|p| {
                p.0.iter_mut()
                    .for_each(|c| *c = (*c as f32 * gain).min(255.0) as u8)
            });
        }
        let mut out = Vec::new();
        // Encoding an in-memory RGB frame cannot fail.
        let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), q)
            .encode_image(&frame);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_640x480_jpegs_and_reproducible() {
        let photo = RgbImage::from_fn(200, 300, |x, y| Rgb([x as u8, y as u8, 90]));
        let mut a = Visit::new(&photo, 7);
        let mut b = Visit::new(&photo, 7);
        let fa: Vec<_> = (0..3).map(|i| a.next_frame(i == 0)).collect();
        let fb: Vec<_> = (0..3).map(|i| b.next_frame(i == 0)).collect();
        assert_eq!(fa, fb);
        assert_ne!(fa[1], fa[2]);
        let img = image::load_from_memory(&fa[1]).unwrap();
        assert_eq!((img.width(), img.height()), (640, 480));
    }
}
