//! Receipt QR codes seen by the kiosk camera: finds and decodes them in a frame and
//! extracts the dossier code and lookup token from the lookup URL.

use image::RgbImage;

/// (dossier code, token) from a lookup URL `…/tra-cuu?ma=<code>&t=<token>`.
pub fn parse_lookup_url(text: &str) -> Option<(String, String)> {
    let query = text.split_once("/tra-cuu?")?.1;
    let (mut code, mut token) = (None, None);
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some(("ma", v)) => code = Some(v.to_string()),
            Some(("t", v)) => token = Some(v.to_string()),
            _ => {}
        }
    }
    Some((code?, token?))
}

/// What the camera showed of a receipt QR code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    /// (dossier code, token) of a readable lookup QR code.
    pub found: Option<(String, String)>,
    /// Width in pixels of a QR code seen but not read (to tell the person what to do).
    pub seen_px: Option<u32>,
}

/// A QR code narrower than this in the frame is asked to come closer.
pub const CLOSER_PX: u32 = 140;

/// How hard to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Every frame of a visit (the n-th of its page session): the frame as it is, the patch
    /// that looks like a code enlarged once (2×, 3× or 4×, in turn from frame to frame, so a
    /// code the decoder misses at one scale is read at the next within a second), and the
    /// enlarged centre only when a code was seen.
    Quick(u32),
    /// The citizen chose the QR fallback: every pass on every frame.
    Hard,
}

/// How many times the located patch is enlarged, tried in turn: the decoder reads some
/// codes of 2–3 px a module at one scale and not another.
const ENLARGE: [u32; 3] = [2, 3, 4];
/// The enlarged patch's longest side at most (a bigger code needs no enlarging).
const ENLARGED_MAX: u32 = 800;

/// Looks for a receipt QR code, trying harder than one pass: the frame as it is, its
/// contrast stretched and binarised (Otsu), the patch that looks like a code (wherever it
/// is held) enlarged, then the centre (where the guide asks people to hold the receipt)
/// upscaled 2×, as it is, binarised and sharpened. Stops at the first readable lookup code.
pub fn scan(img: &RgbImage, effort: Effort) -> Scan {
    let mut grey: Option<image::GrayImage> = None;
    let mut centre: Option<image::GrayImage> = None;
    let mut seen: Option<u32> = None;
    let patch = locate(img);
    for pass in Pass::ALL {
        let wanted = match (effort, pass) {
            (Effort::Hard, _) | (Effort::Quick(_), Pass::AsIs) => true,
            (Effort::Quick(n), Pass::Located(k)) => ENLARGE[n as usize % ENLARGE.len()] == k,
            (Effort::Quick(_), Pass::Centre) => seen.is_some(),
            _ => false,
        };
        if !wanted {
            continue;
        }
        // The decoder binarises its own buffer in place; each pass fills that buffer
        // straight from the frame (or the enlarged centre) through a pixel map, so no pass
        // copies an image just to hand it over.
        let (found, width) = match pass {
            Pass::AsIs => attempt(img.width(), img.height(), 1, |x, y| {
                luma(img.get_pixel(x, y).0)
            }),
            Pass::Binarised => {
                let g = grey.get_or_insert_with(|| image::imageops::grayscale(img));
                let before = histogram(g);
                let map = stretch_map(&before);
                let mut hist = [0u64; 256];
                for (v, &n) in before.iter().enumerate() {
                    hist[usize::from(map[v])] += n;
                }
                let t = otsu_threshold(&hist);
                attempt(g.width(), g.height(), 1, |x, y| {
                    black_white(map[usize::from(g.get_pixel(x, y).0[0])], t)
                })
            }
            Pass::Located(k) => match patch.filter(|p| p.2.max(p.3) * k <= ENLARGED_MAX) {
                Some(p) => {
                    let e = enlarged(img, p, k);
                    attempt(e.width(), e.height(), k, |x, y| e.get_pixel(x, y).0[0])
                }
                None => (None, None),
            },
            _ => {
                let c: &image::GrayImage = match &centre {
                    Some(c) => c,
                    None => {
                        let g = grey.get_or_insert_with(|| image::imageops::grayscale(img));
                        centre.insert(centre_2x(g))
                    }
                };
                let (w, h) = c.dimensions();
                match pass {
                    Pass::CentreBinarised => {
                        let t = otsu_threshold(&histogram(c));
                        attempt(w, h, 2, |x, y| black_white(c.get_pixel(x, y).0[0], t))
                    }
                    Pass::CentreSharpened => {
                        let s = image::imageops::unsharpen(c, 1.5, 8);
                        attempt(w, h, 2, |x, y| s.get_pixel(x, y).0[0])
                    }
                    _ => attempt(w, h, 2, |x, y| c.get_pixel(x, y).0[0]),
                }
            }
        };
        seen = seen.max(width);
        if let Some(found) = found {
            return Scan {
                found: Some(found),
                seen_px: None,
            };
        }
    }
    Scan {
        found: None,
        seen_px: seen,
    }
}

/// The ways a frame is prepared for the decoder, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    AsIs,
    Binarised,
    /// The located patch enlarged this many times.
    Located(u32),
    Centre,
    CentreBinarised,
    CentreSharpened,
}

impl Pass {
    const ALL: [Pass; 8] = [
        Pass::AsIs,
        Pass::Binarised,
        Pass::Located(ENLARGE[0]),
        Pass::Located(ENLARGE[1]),
        Pass::Located(ENLARGE[2]),
        Pass::Centre,
        Pass::CentreBinarised,
        Pass::CentreSharpened,
    ];
}

/// One decoding pass over a `w`×`h` picture given by `pixel`: the lookup code read, and the
/// widest code seen (in the frame's pixels, the picture being `scale`× the frame).
fn attempt(
    w: u32,
    h: u32,
    scale: u32,
    pixel: impl Fn(u32, u32) -> u8,
) -> (Option<(String, String)>, Option<u32>) {
    let mut prep = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
        pixel(x as u32, y as u32)
    });
    let grids = prep.detect_grids();
    let width = grids
        .iter()
        .map(|g| {
            let xs = g.bounds.iter().map(|p| p.x);
            (xs.clone().max().unwrap_or(0) - xs.min().unwrap_or(0)).max(0) as u32 / scale
        })
        .max();
    let found = grids
        .into_iter()
        .filter_map(|g| g.decode().ok())
        .find_map(|(_, text)| parse_lookup_url(&text));
    (found, width)
}

/// Luminance with the same weights as `image`'s grayscale.
fn luma([r, g, b]: [u8; 3]) -> u8 {
    ((2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b)) / 10000) as u8
}

fn black_white(v: u8, threshold: u8) -> u8 {
    if v > threshold {
        255
    } else {
        0
    }
}

/// Decodes the first readable lookup QR code in the frame, trying hard.
pub fn find_lookup(img: &RgbImage) -> Option<(String, String)> {
    scan(img, Effort::Hard).found
}

/// Side of the square blocks the frame is cut into to find a QR code's texture.
const BLOCK: u32 = 16;
/// A grey-level step this large between neighbouring pixels is a module edge.
const EDGE: u8 = 40;
/// Edges (the lesser of the two ways, on the rows sampled) a block of a code has at least:
/// measured 40–80 for codes of 90–200 px over a face, 0–30 for most faces without one.
const MIN_EDGES: u32 = 32;

/// Where in the frame a QR code most likely is: the largest connected patch of blocks
/// dense with edges both ways (a code's modules), widened by a margin for its quiet zone
/// and finder patterns. `(x, y, w, h)` in frame pixels; None when nothing looks like one.
/// Cheap (one pass over the frame's grey levels), so it runs on every frame.
pub fn locate(img: &RgbImage) -> Option<(u32, u32, u32, u32)> {
    let (w, h) = img.dimensions();
    let (bw, bh) = (w / BLOCK, h / BLOCK);
    if bw < 3 || bh < 3 {
        return None;
    }
    // Edges per block, horizontal and vertical, counted on every other row and column.
    let mut hor = vec![0u32; (bw * bh) as usize];
    let mut ver = vec![0u32; (bw * bh) as usize];
    let grey = |x: u32, y: u32| luma(img.get_pixel(x, y).0);
    for y in (0..bh * BLOCK - 1).step_by(2) {
        let mut left = grey(0, y);
        for x in 1..bw * BLOCK {
            let v = grey(x, y);
            let below = grey(x, y + 1);
            let b = ((y / BLOCK) * bw + x / BLOCK) as usize;
            hor[b] += u32::from(v.abs_diff(left) >= EDGE);
            ver[b] += u32::from(v.abs_diff(below) >= EDGE);
            left = v;
        }
    }
    let score: Vec<u32> = hor.iter().zip(&ver).map(|(&a, &b)| a.min(b)).collect();
    let (best, &top) = score.iter().enumerate().max_by_key(|(_, &s)| s)?;
    // A code 2–3 px a module has an edge every few pixels both ways (faces, hair and
    // clothes seldom do: 1 in 6 photos of the dev set has such a block).
    if top < MIN_EDGES {
        return None;
    }
    let keep = top / 3;
    let mut seen = vec![false; score.len()];
    let mut stack = vec![best];
    seen[best] = true;
    let (mut x0, mut y0, mut x1, mut y1) = (bw, bh, 0, 0);
    while let Some(b) = stack.pop() {
        let (bx, by) = (b as u32 % bw, b as u32 / bw);
        (x0, y0, x1, y1) = (x0.min(bx), y0.min(by), x1.max(bx), y1.max(by));
        let mut near = |nx: u32, ny: u32| {
            let n = (ny * bw + nx) as usize;
            if !seen[n] && score[n] >= keep {
                seen[n] = true;
                stack.push(n);
            }
        };
        if bx > 0 {
            near(bx - 1, by);
        }
        if bx + 1 < bw {
            near(bx + 1, by);
        }
        if by > 0 {
            near(bx, by - 1);
        }
        if by + 1 < bh {
            near(bx, by + 1);
        }
    }
    // A code held up to be read is at least 90 px wide.
    if x1 - x0 < 2 || y1 - y0 < 2 {
        return None;
    }
    // One block of margin all round, within the frame.
    let (x0, y0) = (x0.saturating_sub(1) * BLOCK, y0.saturating_sub(1) * BLOCK);
    let (x1, y1) = (((x1 + 2) * BLOCK).min(w), ((y1 + 2) * BLOCK).min(h));
    Some((x0, y0, x1 - x0, y1 - y0))
}

/// The located patch of the frame in grey, enlarged `k`×.
fn enlarged(img: &RgbImage, (x, y, w, h): (u32, u32, u32, u32), k: u32) -> image::GrayImage {
    let crop = image::GrayImage::from_fn(w, h, |i, j| {
        image::Luma([luma(img.get_pixel(x + i, y + j).0)])
    });
    image::imageops::resize(&crop, w * k, h * k, image::imageops::FilterType::Triangle)
}

/// The central half (each way) of the frame, upscaled 2×.
fn centre_2x(g: &image::GrayImage) -> image::GrayImage {
    let (w, h) = g.dimensions();
    let (cw, ch) = ((w / 2).max(1), (h / 2).max(1));
    let crop = image::imageops::crop_imm(g, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image();
    image::imageops::resize(&crop, cw * 2, ch * 2, image::imageops::FilterType::Triangle)
}

/// The grey-level map that stretches contrast to the full range (1st to 99th percentile).
fn stretch_map(hist: &[u64; 256]) -> [u8; 256] {
    let n: u64 = hist.iter().sum();
    let pick = |q: u64| {
        let mut acc = 0;
        hist.iter()
            .position(|&c| {
                acc += c;
                acc * 100 >= n * q
            })
            .unwrap_or(255) as i32
    };
    let (lo, hi) = (pick(1), pick(99).max(pick(1) + 1));
    std::array::from_fn(|v| ((v as i32 - lo) * 255 / (hi - lo)).clamp(0, 255) as u8)
}

/// Otsu's threshold of a grey-level histogram.
fn otsu_threshold(hist: &[u64; 256]) -> u8 {
    let total: u64 = hist.iter().sum();
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0, mut best, mut t) = (0u64, 0f64, -1f64, 128u8);
    for (i, &c) in hist.iter().enumerate() {
        w0 += c;
        if w0 == 0 || w0 == total {
            continue;
        }
        sum0 += i as f64 * c as f64;
        let (m0, m1) = (sum0 / w0 as f64, (sum - sum0) / (total - w0) as f64);
        let between = w0 as f64 * (total - w0) as f64 * (m0 - m1).powi(2);
        if between > best {
            best = between;
            t = i as u8;
        }
    }
    t
}

fn histogram(g: &image::GrayImage) -> [u64; 256] {
    let mut h = [0u64; 256];
    for p in g.pixels() {
        h[usize::from(p.0[0])] += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lookup_urls() {
        let (c, t) =
            parse_lookup_url("https://hoso.local/tra-cuu?ma=000.00.17.H29-261120-0001&t=abc")
                .unwrap();
        assert_eq!(
            (c.as_str(), t.as_str()),
            ("000.00.17.H29-261120-0001", "abc")
        );
        assert!(parse_lookup_url("https://example.com/?ma=x").is_none());
        assert!(parse_lookup_url("https://hoso.local/tra-cuu?ma=x").is_none());
    }

    #[test]
    fn finds_a_qr_code_in_a_frame() {
        let url =
            "https://hoso.local/tra-cuu?ma=000.00.17.H29-261120-0001&t=AAAAAAAAAAAAAAAAAAAAAA";
        let code = qrcode::QrCode::new(url.as_bytes()).unwrap();
        let qr = code
            .render::<image::Luma<u8>>()
            .module_dimensions(5, 5)
            .build();
        let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([90, 110, 130]));
        for (x, y, p) in qr.enumerate_pixels() {
            if x + 150 < 640 && y + 60 < 480 {
                frame.put_pixel(x + 150, y + 60, image::Rgb([p.0[0]; 3]));
            }
        }
        assert_eq!(find_lookup(&frame).unwrap().0, "000.00.17.H29-261120-0001");
        assert!(find_lookup(&RgbImage::new(64, 64)).is_none());
    }

    /// A camera frame of a receipt held at the centre: its QR code `width` px wide on white
    /// paper, printed grey on white, blurred by `blur` and JPEG-compressed.
    fn receipt_frame(width: u32, blur: f32) -> RgbImage {
        let url = "https://192.168.1.10:8443/tra-cuu?ma=000.00.17.H29-261120-0001&t=Q2hhbmdlTWVQbGVhc2UxMjM0";
        let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
            .unwrap();
        let qr = code
            .render::<image::Luma<u8>>()
            .module_dimensions(6, 6)
            .quiet_zone(false)
            .build();
        let side = width;
        let qr = image::imageops::resize(&qr, side, side, image::imageops::FilterType::Triangle);
        let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([110, 100, 90]));
        // The receipt: white paper around the code.
        let pad = (side / 3).min(240 - side / 2 - 1);
        let (x0, y0) = (320 - side / 2 - pad, 240 - side / 2 - pad);
        for y in y0..(y0 + side + 2 * pad).min(480) {
            for x in x0..(x0 + side + 2 * pad).min(640) {
                frame.put_pixel(x, y, image::Rgb([225, 222, 215]));
            }
        }
        for (x, y, p) in qr.enumerate_pixels() {
            let v = 30 + (p.0[0] as u32 * 195 / 255) as u8;
            frame.put_pixel(
                x + 320 - side / 2,
                y + 240 - side / 2,
                image::Rgb([v, v, v]),
            );
        }
        let frame = if blur > 0.0 {
            image::imageops::blur(&frame, blur)
        } else {
            frame
        };
        as_sent(frame)
    }

    #[test]
    fn reads_receipt_codes_100_to_300_px_wide_quickly() {
        for blur in [0.0f32, 0.8] {
            for w in (100..=300).step_by(20) {
                let f = receipt_frame(w, blur);
                let t = std::time::Instant::now();
                let s = scan(&f, Effort::Hard);
                let ms = t.elapsed().as_millis();
                assert!(s.found.is_some(), "QR {w} px wide, blur {blur}: not read");
                // The kiosk sends about 5 frames a second: one frame must do.
                assert!(ms < 1000, "QR {w} px: {ms} ms");
            }
        }
    }

    /// `frame` JPEG-compressed and decoded, as the kiosk page sends it.
    fn as_sent(frame: RgbImage) -> RgbImage {
        let mut jpg = Vec::new();
        image::DynamicImage::ImageRgb8(frame)
            .write_to(
                &mut std::io::Cursor::new(&mut jpg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        image::load_from_memory(&jpg).unwrap().to_rgb8()
    }

    /// Skin-toned shading with soft stripes (hair, clothes): edges, but not a code's.
    fn scene() -> RgbImage {
        RgbImage::from_fn(640, 480, |x, y| {
            let v = 120.0 + 50.0 * ((x as f32 / 23.0).sin() * (y as f32 / 31.0).cos());
            image::Rgb([v as u8, (v * 0.8) as u8, (v * 0.65) as u8])
        })
    }

    /// A receipt `width` px wide (its QR code with quiet zone, as printed) held up at
    /// (`cx`, `cy`) over a textured, face-like scene, JPEG-compressed as the kiosk sends it.
    fn held_receipt(width: u32, cx: u32, cy: u32) -> RgbImage {
        let url =
            "http://127.0.0.1:8080/tra-cuu?ma=000.00.17.H29-261120-0401&t=Q2hhbmdlTWVQbGVhc2UxMjM0";
        let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
            .unwrap();
        let qr = code
            .render::<image::Luma<u8>>()
            .module_dimensions(6, 6)
            .build();
        let qr = image::imageops::resize(&qr, width, width, image::imageops::FilterType::Triangle);
        let mut frame = scene();
        let paper = RgbImage::from_pixel(width + 80, width + 140, image::Rgb([235, 232, 225]));
        image::imageops::overlay(
            &mut frame,
            &paper,
            i64::from(cx) - i64::from(width + 80) / 2,
            i64::from(cy) - i64::from(width) / 2 - 30,
        );
        for (x, y, p) in qr.enumerate_pixels() {
            let v = p.0[0];
            let (fx, fy) = (cx - width / 2 + x, cy - width / 2 + y);
            if fx < 640 && fy < 480 {
                frame.put_pixel(fx, fy, image::Rgb([v, v, v]));
            }
        }
        as_sent(frame)
    }

    #[test]
    fn the_start_screen_reads_a_receipt_of_100_px_and_more_within_three_frames() {
        // The face path's frames scan quickly: the frame as it is and the located patch at
        // one enlargement, another each frame. Any receipt of 100–150 px, wherever it is
        // held, is read within three consecutive frames (0.6 s at 5 frames a second).
        for w in [100u32, 110, 120, 135, 150] {
            for (cx, cy) in [(320, 240), (320, 330), (200, 300), (460, 200)] {
                let f = held_receipt(w, cx, cy);
                assert!(locate(&f).is_some(), "{w} px at ({cx}, {cy}): not located");
                let read = (0..3).any(|n| scan(&f, Effort::Quick(n)).found.is_some());
                assert!(read, "{w} px at ({cx}, {cy}): not read in 3 frames");
            }
        }
    }

    #[test]
    fn a_scene_without_a_code_locates_nothing() {
        assert!(locate(&held_receipt(100, 320, 240)).is_some());
        assert_eq!(locate(&scene()), None);
    }

    #[test]
    fn a_small_code_is_seen_and_asked_closer() {
        // A code too small to read: seen (to say "closer") or read, never silently missed.
        let s = scan(&receipt_frame(60, 0.0), Effort::Hard);
        assert!(
            s.found.is_some() || s.seen_px.is_some_and(|w| w < CLOSER_PX),
            "{s:?}"
        );
        // Quick effort on a frame without any code: one pass.
        let blank = RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90]));
        assert_eq!(scan(&blank, Effort::Quick(0)), Scan::default());
    }
}
