//! Image decoding for untrusted uploads: the format is sniffed from the bytes (never the
//! file name), size limits are checked from the header before any pixel buffer is
//! allocated, and EXIF orientation is applied so the face is upright.

use std::io::Cursor;

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
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_side: 8192,
            max_pixels: 40_000_000,
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
    let mut io_limits = image::Limits::default();
    io_limits.max_image_width = Some(limits.max_side);
    io_limits.max_image_height = Some(limits.max_side);
    // RGBA8 or 16-bit PNG output buffers: allow up to 8 bytes a pixel, plus decoder overhead.
    io_limits.max_alloc = Some(limits.max_pixels * 8 + 64 * 1024 * 1024);
    decoder
        .set_limits(io_limits)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(match img {
        image::DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

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
