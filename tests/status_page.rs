//! The receipt QR's link opened on a citizen's phone: a public page for that one dossier
//! (masked name, status, appointment, what to do next), an explanatory page for a wrong
//! link, and growing delays for someone guessing links.

mod common;

use common::Office;
use serde_json::json;

const CODE: &str = "000.00.17.H29-261120-0007";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// (status, content type, body) of a GET.
fn get(url: &str) -> (u16, String, String, Option<String>) {
    let mut r = agent().get(url).call().unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (
        r.status().as_u16(),
        ct,
        r.body_mut().read_to_string().unwrap(),
        retry,
    )
}

#[test]
fn the_receipt_link_opens_a_public_page_for_that_dossier_only() {
    let office = Office::start();
    let id = common::consented_applicant(&office.clerk, "Nguyễn Văn Thành", "001099050001");
    let (s, v) = office.clerk.post(
        "/api/v1/dossiers",
        json!({"code": CODE, "applicant_id": id, "procedure": "Cấp giấy phép xây dựng",
               "received_at": "2026-11-20 09:00", "due_at": "2026-12-04"}),
    );
    assert_eq!(s, 201, "{v}");
    let link = v["lookup_url"].as_str().unwrap();
    let path = &link[link.find("/tra-cuu").unwrap()..];
    let url = format!("{}{path}", office.server.base);
    let (s, ct, page, _) = get(&url);
    assert_eq!(s, 200, "{page}");
    assert!(ct.starts_with("text/html"), "{ct}");
    for shown in [
        CODE,
        "Cấp giấy phép xây dựng",
        "Việc cần làm",
        "20/11/2026",
        "04/12/2026",
    ] {
        assert!(page.contains(shown), "{shown} missing");
    }
    assert!(page.contains("Nguyễn V."), "masked name");
    assert!(
        !page.contains("Thành") && !page.contains("001099050001"),
        "too much shown"
    );
    // A wrong token (or a code that does not go with it) finds nothing, in words.
    let wrong = url.replace("&t=", "&t=x");
    let (s, ct, page, _) = get(&wrong);
    assert_eq!(s, 404);
    assert!(ct.starts_with("text/html") && page.contains("Không tìm thấy hồ sơ"));
    let other_code = url.replace(CODE, "000.00.17.H29-261120-0008");
    assert_eq!(get(&other_code).0, 404);
    // Guessing: after 10 misses from one address, each try must wait, and is told how long.
    let mut throttled = None;
    for i in 0..15 {
        let (s, _, _, retry) = get(&url.replace("&t=", &format!("&t=guess{i}")));
        if s == 429 {
            throttled = retry;
            break;
        }
        assert_eq!(s, 404);
    }
    assert!(throttled.is_some(), "no delay after repeated misses");
}
