//! The server-side camera (`hoso serve --camera <index|/dev/videoN>`): frames captured on
//! the server with nokhwa (V4L2) go through the same kiosk decision as browser frames, and
//! the decisions are pushed to the kiosk page as server-sent events. The browser camera
//! stays the default.

use std::sync::Arc;

use image::RgbImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::Camera;

use crate::app::App;
use crate::auth::Principal;

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("camera {spec:?} ({device}) cannot be opened: {reason}. Check that the camera is plugged in and that this user may read {device}")]
    Open {
        spec: String,
        device: String,
        reason: String,
    },
    #[error("camera {0:?} is not a camera index (0, 1, …) or a /dev/videoN path")]
    BadSpec(String),
}

/// `0` or `/dev/video0` → index 0.
pub fn parse_spec(spec: &str) -> Result<u32, CameraError> {
    let s = spec.trim();
    s.strip_prefix("/dev/video")
        .unwrap_or(s)
        .parse()
        .map_err(|_| CameraError::BadSpec(spec.to_string()))
}

/// The camera's index, if `spec` names a camera device that exists.
pub fn check(spec: &str) -> Result<u32, CameraError> {
    let index = parse_spec(spec)?;
    let device = format!("/dev/video{index}");
    if !std::path::Path::new(&device).exists() {
        return Err(CameraError::Open {
            spec: spec.to_string(),
            device,
            reason: "no such device".into(),
        });
    }
    Ok(index)
}

/// Opens the camera and starts its stream, or says clearly which device failed.
pub fn open(spec: &str) -> Result<Camera, CameraError> {
    let index = check(spec)?;
    let device = format!("/dev/video{index}");
    let err = |reason: String| CameraError::Open {
        spec: spec.to_string(),
        device: device.clone(),
        reason,
    };
    let requested =
        RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
    let mut cam =
        Camera::new(CameraIndex::Index(index), requested).map_err(|e| err(e.to_string()))?;
    cam.open_stream().map_err(|e| err(e.to_string()))?;
    Ok(cam)
}

/// One frame as RGB (MJPEG decoded with our JPEG decoder; raw formats by nokhwa).
fn grab(cam: &mut Camera) -> Option<RgbImage> {
    let frame = cam.frame().ok()?;
    if frame.source_frame_format() == FrameFormat::MJPEG {
        return image::load_from_memory(frame.buffer())
            .ok()
            .map(|i| i.to_rgb8());
    }
    let img = frame.decode_image::<RgbFormat>().ok()?;
    RgbImage::from_raw(img.width(), img.height(), img.into_raw())
}

/// Opens the camera on its own thread (a camera handle cannot move between threads) and
/// captures from then on; returns once the camera is open, or with the reason it is not.
pub fn start(
    app: Arc<App>,
    spec: &str,
    device: Principal,
) -> Result<std::thread::JoinHandle<()>, CameraError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spec_owned = spec.to_string();
    let handle = std::thread::Builder::new()
        .name("camera".into())
        .spawn(move || match open(&spec_owned) {
            Ok(cam) => {
                let _ = tx.send(Ok(()));
                run(app, cam, device);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| CameraError::Open {
            spec: spec.to_string(),
            device: spec.to_string(),
            reason: e.to_string(),
        })?;
    match rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(CameraError::Open {
            spec: spec.to_string(),
            device: spec.to_string(),
            reason: "camera thread ended".into(),
        }),
    }
}

/// Captures frames forever and publishes each decision as JSON to `device`'s page.
fn run(app: Arc<App>, mut cam: Camera, device: Principal) {
    let mut session = 0u64;
    let mut failures = 0u32;
    loop {
        let Some(img) = grab(&mut cam) else {
            failures += 1;
            app.kiosk_camera_error();
            if failures % 50 == 1 {
                tracing::warn!(failures, "camera frame failed");
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        };
        match app.kiosk_image(&device, &format!("camera-{session}"), &img) {
            Ok(reply) => {
                if matches!(
                    reply.state,
                    crate::kiosk::KioskState::Matched | crate::kiosk::KioskState::NoMatch
                ) {
                    session += 1;
                }
                if let Ok(json) = serde_json::to_string(&reply) {
                    let _ = app.events.send((device.id, json));
                }
            }
            Err(e) => tracing::warn!(error = %e, "camera frame not processed"),
        }
        // About five decisions a second, like the browser camera.
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(parse_spec("0").unwrap(), 0);
        assert_eq!(parse_spec("/dev/video2").unwrap(), 2);
        assert!(parse_spec("front door").is_err());
    }

    #[test]
    fn a_missing_camera_is_a_clear_error() {
        let e = open("/dev/video97")
            .err()
            .expect("no camera 97 here")
            .to_string();
        assert!(
            e.contains("/dev/video97") && e.contains("cannot be opened"),
            "{e}"
        );
    }
}
