//! Face quality: size, inter-eye distance, pose (yaw, pitch, roll estimated from the five
//! landmarks), sharpness and exposure of the aligned face, and the gate that tells the
//! person what to change ("come closer", "look straight at the camera").

use fast_image_resize::Resizer;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::align::warp;
use super::detect::Face;

/// Side of the grey chip the sharpness and exposure are measured on.
const CHIP: usize = 64;
/// Mean-face landmark positions (eye centres, nose tip, mouth corners) in a 64 px chip:
/// dlib's mean face with 25 % padding, scaled from 150 px.
const TEMPLATE: [[f32; 2]; 5] = [
    [20.29, 19.88],
    [42.87, 19.88],
    [31.58, 32.67],
    [21.51, 43.96],
    [41.65, 43.96],
];

/// Measurements of one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quality {
    /// Shorter side of the face box, pixels.
    pub face_px: f32,
    /// Distance between the eye centres, pixels.
    pub inter_eye_px: f32,
    /// Estimated head turn, degrees; positive = the face turned toward the image's right.
    pub yaw_deg: f32,
    /// Estimated head nod, degrees; positive = looking down.
    pub pitch_deg: f32,
    /// Tilt of the eye line, degrees.
    pub roll_deg: f32,
    /// Variance of the Laplacian of the grey aligned face (higher = sharper).
    pub sharpness: f32,
    /// Mean grey level of the aligned face, 0–255.
    pub brightness: f32,
    /// Share of aligned-face pixels that are clipped dark (< 16) or bright (> 239).
    pub clipped: f32,
    /// Overall score 0–1 used to rank enrolment frames.
    pub score: f32,
}

/// What the person should do about a face that failed the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Issue {
    TooSmall,
    Turned,
    Blurred,
    TooDark,
    TooBright,
}

impl Issue {
    /// Stable reason code for APIs and locale lookups.
    pub fn code(self) -> &'static str {
        match self {
            Issue::TooSmall => "too_small",
            Issue::Turned => "turned",
            Issue::Blurred => "blurred",
            Issue::TooDark => "too_dark",
            Issue::TooBright => "too_bright",
        }
    }
}

/// Thresholds a face must meet (README: “Kiosk decisions”).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityGate {
    pub min_inter_eye_px: f32,
    pub max_yaw_deg: f32,
    pub max_pitch_deg: f32,
    pub min_sharpness: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
}

impl Default for QualityGate {
    fn default() -> Self {
        Self {
            min_inter_eye_px: 40.0,
            max_yaw_deg: 25.0,
            max_pitch_deg: 25.0,
            min_sharpness: 20.0,
            min_brightness: 45.0,
            max_brightness: 215.0,
        }
    }
}

impl QualityGate {
    /// The first problem found, in the order a person can best fix them.
    pub fn check(&self, q: &Quality) -> Option<Issue> {
        if q.inter_eye_px < self.min_inter_eye_px {
            Some(Issue::TooSmall)
        } else if q.yaw_deg.abs() > self.max_yaw_deg || q.pitch_deg.abs() > self.max_pitch_deg {
            Some(Issue::Turned)
        } else if q.brightness < self.min_brightness {
            Some(Issue::TooDark)
        } else if q.brightness > self.max_brightness {
            Some(Issue::TooBright)
        } else if q.sharpness < self.min_sharpness {
            Some(Issue::Blurred)
        } else {
            None
        }
    }
}

/// Pose from landmarks alone: (yaw, pitch, roll) in degrees.
pub fn pose(lm: &[[f32; 2]; 5]) -> (f32, f32, f32) {
    let [le, re, nose, ml, mr] = *lm;
    let roll = (re[1] - le[1]).atan2(re[0] - le[0]);
    let (c, s) = (roll.cos(), roll.sin());
    // Rotate into the frame where the eye line is horizontal.
    let rot = |p: [f32; 2]| [c * p[0] + s * p[1], -s * p[0] + c * p[1]];
    let (le, re, nose, ml, mr) = (rot(le), rot(re), rot(nose), rot(ml), rot(mr));
    let ied = (re[0] - le[0]).max(1e-3);
    let eye = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
    let mouth = [(ml[0] + mr[0]) / 2.0, (ml[1] + mr[1]) / 2.0];
    let axis_x = (eye[0] + mouth[0]) / 2.0;
    // The nose tip stands ~0.6 inter-eye distances in front of the eye–mouth plane.
    const DEPTH: f32 = 0.6;
    let yaw = ((nose[0] - axis_x) / ied / DEPTH).atan();
    let em = (mouth[1] - eye[1]).max(1e-3);
    let v = (nose[1] - eye[1]) / em;
    let pitch = ((v - 0.51) * em / ied / DEPTH).atan();
    (yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees())
}

/// Measures one detected face.
pub fn measure(img: &RgbImage, face: &Face, resizer: &mut Resizer) -> Quality {
    let (yaw, pitch, roll) = pose(&face.landmarks);
    let mut grey = [0.0f32; CHIP * CHIP];
    warp(img, &face.landmarks, &TEMPLATE, CHIP, resizer, |x, y, p| {
        grey[y * CHIP + x] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    });
    // Exposure and sharpness over the inner face (skip the border, which holds background).
    let (lo, hi) = (8, CHIP - 8);
    let (mut sum, mut clipped, mut n) = (0.0f32, 0u32, 0u32);
    let (mut lsum, mut lsq) = (0.0f64, 0.0f64);
    for y in lo..hi {
        for x in lo..hi {
            let g = grey[y * CHIP + x];
            sum += g;
            n += 1;
            if !(16.0..=239.0).contains(&g) {
                clipped += 1;
            }
            let lap = f64::from(
                grey[(y - 1) * CHIP + x]
                    + grey[(y + 1) * CHIP + x]
                    + grey[y * CHIP + x - 1]
                    + grey[y * CHIP + x + 1]
                    - 4.0 * g,
            );
            lsum += lap;
            lsq += lap * lap;
        }
    }
    let nf = f64::from(n);
    let sharpness = (lsq / nf - (lsum / nf).powi(2)) as f32;
    let brightness = sum / n as f32;
    let clipped = clipped as f32 / n as f32;
    let inter_eye = face.inter_eye();
    let size = face.width().min(face.height());
    // Rank: each factor saturates at a comfortable level.
    let score = (inter_eye / 60.0).min(1.0)
        * (1.0 - (yaw.abs().max(pitch.abs()) / 45.0).min(1.0))
        * (sharpness / 60.0).min(1.0)
        * (1.0 - ((brightness - 128.0).abs() / 128.0).min(1.0)).sqrt()
        * (1.0 - clipped);
    Quality {
        face_px: size,
        inter_eye_px: inter_eye,
        yaw_deg: yaw,
        pitch_deg: pitch,
        roll_deg: roll,
        sharpness,
        brightness,
        clipped,
        score: score.clamp(0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontal_template_has_no_pose() {
        let (yaw, pitch, roll) = pose(&TEMPLATE);
        assert!(
            yaw.abs() < 1.0 && pitch.abs() < 3.0 && roll.abs() < 0.1,
            "{yaw} {pitch} {roll}"
        );
    }

    #[test]
    fn nose_shift_reads_as_yaw_with_sign() {
        let mut lm = TEMPLATE;
        lm[2][0] += 8.0; // nose toward the image's right
        let (yaw, _, _) = pose(&lm);
        assert!(yaw > 25.0, "{yaw}");
        lm[2][0] -= 16.0;
        assert!(pose(&lm).0 < -25.0);
    }

    #[test]
    fn rolled_face_is_not_turned() {
        let a = 20f32.to_radians();
        let lm = TEMPLATE.map(|p| {
            [
                a.cos() * p[0] - a.sin() * p[1],
                a.sin() * p[0] + a.cos() * p[1],
            ]
        });
        let (yaw, pitch, roll) = pose(&lm);
        assert!(yaw.abs() < 1.0 && pitch.abs() < 3.0 && (roll - 20.0).abs() < 0.1);
    }

    #[test]
    fn gate_reports_the_first_problem() {
        let ok = Quality {
            face_px: 120.0,
            inter_eye_px: 60.0,
            yaw_deg: 0.0,
            pitch_deg: 0.0,
            roll_deg: 0.0,
            sharpness: 100.0,
            brightness: 120.0,
            clipped: 0.0,
            score: 1.0,
        };
        let g = QualityGate::default();
        assert_eq!(g.check(&ok), None);
        assert_eq!(
            g.check(&Quality {
                inter_eye_px: 20.0,
                ..ok
            }),
            Some(Issue::TooSmall)
        );
        assert_eq!(
            g.check(&Quality {
                yaw_deg: -40.0,
                ..ok
            }),
            Some(Issue::Turned)
        );
        assert_eq!(
            g.check(&Quality {
                brightness: 20.0,
                ..ok
            }),
            Some(Issue::TooDark)
        );
        assert_eq!(
            g.check(&Quality {
                sharpness: 2.0,
                ..ok
            }),
            Some(Issue::Blurred)
        );
    }
}
