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

/// Decodes the first readable QR code in the frame that holds a lookup URL.
pub fn find_lookup(img: &RgbImage) -> Option<(String, String)> {
    let grey = image::imageops::grayscale(img);
    let mut prep = rqrr::PreparedImage::prepare(grey);
    prep.detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok())
        .find_map(|(_, text)| parse_lookup_url(&text))
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
}
