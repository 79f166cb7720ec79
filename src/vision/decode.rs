//! Image decoding for untrusted uploads: the format is sniffed from the bytes (never the
//! file name), size limits and the memory every buffer will take are checked from the
//! header before any pixel buffer is allocated, at most one decode per core runs at a
//! time, EXIF orientation is applied so the face is upright, and the result is scaled down
//! to the working size at once (the full-size buffers are freed before any model runs).

use std::io::Cursor;

use std::sync::LazyLock;

use crate::gate::Gate;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{ImageDecoder, ImageReader, RgbImage};

/// Limits for one decoded image.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest accepted encoded size in bytes.
    pub max_bytes: usize,
    /// Largest accepted width or height.
    pub max_side: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Memory the decode may take: the decoder's output plus the RGB copy, if one is made.
    pub max_decoded_bytes: u64,
    /// Longest side of the returned image (larger images are scaled down).
    pub working_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_side: 8192,
            max_pixels: 40_000_000,
            max_decoded_bytes: 128 << 20,
            working_side: 1600,
        }
    }
}

/// Why an image was refused. Messages are meant for the person who sent it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty upload: no image data")]
    Empty,
    #[error("image file too large: {bytes} bytes (limit {limit})")]
    TooManyBytes { bytes: usize, limit: usize },
    #[error("not a supported image (JPEG, PNG or WebP expected)")]
    UnknownFormat,
    #[error("image dimensions {width}×{height} exceed the limit ({max_side} px per side, {max_pixels} pixels)")]
    TooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("image {width}×{height} would need {need_mib} MiB to decode (limit {limit_mib} MiB); send an 8-bit JPEG or a smaller image")]
    TooMuchMemory {
        width: u32,
        height: u32,
        need_mib: u64,
        limit_mib: u64,
    },
    #[error("image is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// Decodes JPEG, PNG or WebP bytes into an upright RGB image.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Jpeg) => {
            // The JPEG decoder fills a cut-off scan with grey instead of failing.
            if !jpeg_complete(bytes) {
                return Err(DecodeError::Corrupt(
                    "JPEG data ends before the end-of-image marker".into(),
                ));
            }
        }
        Some(image::ImageFormat::Png | image::ImageFormat::WebP) => {}
        _ => return Err(DecodeError::UnknownFormat),
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width == 0
        || height == 0
        || width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    let rgb8 = decoder.color_type() == image::ColorType::Rgb8;
    let need = decoder.total_bytes() + if rgb8 { 0 } else { pixels * 3 };
    if need > limits.max_decoded_bytes {
        return Err(DecodeError::TooMuchMemory {
            width,
            height,
            need_mib: need.div_ceil(1 << 20),
            limit_mib: limits.max_decoded_bytes >> 20,
        });
    }
    let mut io_limits = image::Limits::default();
    io_limits.max_image_width = Some(limits.max_side);
    io_limits.max_image_height = Some(limits.max_side);
    io_limits.max_alloc = Some(limits.max_decoded_bytes);
    decoder
        .set_limits(io_limits)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let _slot = DECODES.enter();
    let img = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let rgb = match img {
        image::DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    // Orientation last: rotating the scaled-down image costs a fraction.
    let mut dynamic = image::DynamicImage::ImageRgb8(shrink(rgb, limits.working_side)?);
    dynamic.apply_orientation(orientation);
    Ok(match dynamic {
        image::DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

/// `img` scaled down so its longer side is at most `side` (unchanged when it already is).
fn shrink(img: RgbImage, side: u32) -> Result<RgbImage, DecodeError> {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if side == 0 || long <= side {
        return Ok(img);
    }
    let scale = f64::from(side) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    let src = ImageRef::new(w, h, img.as_raw(), PixelType::U8x3)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let mut dst = Image::new(nw, nh, PixelType::U8x3);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        )
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    RgbImage::from_raw(nw, nh, dst.into_vec())
        .ok_or_else(|| DecodeError::Corrupt("resize produced a wrong buffer".into()))
}

/// At most one decode per core at a time: each may take up to `max_decoded_bytes`.
static DECODES: LazyLock<Gate> = LazyLock::new(Gate::per_core);

/// Whether a JPEG stream has an end-of-image marker after its last start-of-scan. Scan
/// data cannot contain FF D9 (0xFF is byte-stuffed), an EXIF thumbnail's markers come
/// before the main image's scans, and trailing vendor data after EOI is allowed.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(p) => bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_png_by_content() {
        let img = decode(&encode_png(7, 5), &DecodeLimits::default()).unwrap();
        assert_eq!(img.dimensions(), (7, 5));
        assert_eq!(img.get_pixel(3, 3).0, [10, 20, 30]);
    }

    #[test]
    fn refuses_garbage_and_empty() {
        let l = DecodeLimits::default();
        assert_eq!(decode(b"", &l), Err(DecodeError::Empty));
        assert_eq!(
            decode(b"hello, not an image", &l),
            Err(DecodeError::UnknownFormat)
        );
    }

    #[test]
    fn refuses_truncated() {
        let png = encode_png(64, 64);
        let err = decode(&png[..png.len() / 2], &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn refuses_truncated_jpeg() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 9]));
        let mut jpg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap();
        assert!(decode(&jpg, &DecodeLimits::default()).is_ok());
        let cut = decode(&jpg[..jpg.len() - 40], &DecodeLimits::default()).unwrap_err();
        assert!(matches!(cut, DecodeError::Corrupt(_)), "{cut:?}");
        // Vendor data after the end-of-image marker is fine.
        jpg.extend_from_slice(b"trailer");
        assert!(decode(&jpg, &DecodeLimits::default()).is_ok());
    }

    #[test]
    fn refuses_huge_header_before_allocating() {
        // A 30000×30000 PNG header (IHDR) with no pixel data: must be refused from the header.
        let mut png = encode_png(1, 1);
        // IHDR width/height live at bytes 16..24; patch them and fix the CRC.
        png[16..20].copy_from_slice(&30000u32.to_be_bytes());
        png[20..24].copy_from_slice(&30000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode(&png, &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 30000,
                    height: 30000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_deep_images_by_their_memory_and_shrinks_large_ones() {
        // 16-bit RGBA: 8 bytes a pixel from a tiny, highly compressed file.
        let deep = image::ImageBuffer::<image::Rgba<u16>, _>::new(4000, 4000);
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba16(deep)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert!(png.len() < 1_000_000, "{}", png.len());
        let err = decode(&png, &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooMuchMemory { need_mib: 168, .. }),
            "{err:?}"
        );
        let big = decode(&encode_png(3200, 1800), &DecodeLimits::default()).unwrap();
        assert_eq!(big.dimensions(), (1600, 900));
        assert_eq!(big.get_pixel(800, 450).0, [10, 20, 30]);
    }

    #[test]
    fn refuses_too_many_bytes() {
        let l = DecodeLimits {
            max_bytes: 10,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode(&encode_png(4, 4), &l),
            Err(DecodeError::TooManyBytes { .. })
        ));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
