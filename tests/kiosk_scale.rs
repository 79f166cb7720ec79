//! The kiosk at a real office's size (README: “Kiosk decisions at scale”): over a thousand
//! East Asian adults from the distractor set enrolled through the intake API beside a few
//! dev-set people, then held-out distractors (never enrolled) played as visits through the
//! frames endpoint. No stranger is ever shown anyone's dossiers: not by face, and not
//! through the second step when they type digits no enrolled person has. The people
//! enrolled are found by face, or by the second step with their own ID digits. The admin
//! sees the scope, the threshold in use and the expected FPIR.

mod common;

use std::path::PathBuf;

use common::{Client, Office};
use hoso::eval::dataset::Dataset;
use hoso::eval::distractors;
use serde_json::json;

/// Distractors enrolled (the issue asks for ≥ 1 000) and held out as strangers.
const ENROLLED: usize = 1_000;
const STRANGERS: usize = 200;

/// Every enrolled ID number ends in 1–99, never "00": a stranger typing "00" fits nobody.
fn id_number(k: usize) -> String {
    format!("0790{:06}{:02}", k, 1 + k % 99)
}

/// A family name of its own for person `k` (the kiosk shows the family name in full and
/// only initials of the rest, so the shown name tells who was found).
fn full_name(k: usize) -> String {
    let mut family = String::from("H");
    let mut i = k;
    loop {
        family.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    format!("{family} Văn Thử")
}

fn first_photo(dir: &std::path::Path) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    v.sort();
    v.into_iter().next()
}

/// Registers, consents, enrols one photo and opens a dossier; false if the intake refused
/// the photo.
fn enrol(c: &Client, k: usize, photos: &[PathBuf], id_number: &str) -> Option<i64> {
    let id = common::consented_applicant(c, &full_name(k), id_number);
    let mut used = 0;
    for p in photos {
        let (s, _) = c.post_raw(
            &format!("/api/v1/applicants/{id}/faces"),
            "image/jpeg",
            &std::fs::read(p).unwrap(),
        );
        used += usize::from(s == 201);
    }
    if used == 0 {
        return None;
    }
    common::open_dossier(
        c,
        id,
        &format!("000.00.17.H29-2611{:02}-{:04}", 1 + k / 9000, 1 + k % 9000),
        "Chứng thực bản sao",
        "2026-11-20 08:00",
        "2026-12-30",
    );
    Some(id)
}

/// Plays a photo as a visit; when the kiosk asks the second step, answers `digits`.
/// Returns (shown someone's dossiers, asked, display name shown).
fn visit(
    k: &Client,
    session: &str,
    photo: &std::path::Path,
    seed: u64,
    digits: &str,
) -> (bool, bool, String) {
    let (v, _) = common::visit(k, session, photo, seed, 12);
    match v["state"].as_str() {
        Some("matched") => (
            true,
            false,
            v["result"]["display_name"]
                .as_str()
                .unwrap_or_default()
                .into(),
        ),
        Some("confirm") => {
            let (s, r) = k.post_raw_with(
                "/api/v1/kiosk/confirm",
                "application/json",
                json!({"id_digits": digits}).to_string().as_bytes(),
                &[("X-Kiosk-Session", session)],
            );
            assert_eq!(s, 200, "{r}");
            let shown = r["state"] == "matched";
            assert!(shown || r["state"] == "no_match", "{r}");
            assert_eq!(shown, r["result"].is_object(), "{r}");
            (
                shown,
                true,
                r["result"]["display_name"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            )
        }
        _ => (false, false, String::new()),
    }
}

#[test]
fn a_thousand_enrolled_strangers_are_never_shown_a_dossier() {
    let faces = faces_or_skip!();
    let Some(dir) = common::distractors_dir() else {
        return;
    };
    // The first folders of the set, near-duplicates dropped (the same person twice would
    // be "a stranger who looks like somebody" when it is that somebody).
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let photos: Vec<PathBuf> = folders
        .iter()
        .take(ENROLLED + STRANGERS + 150)
        .filter_map(|f| first_photo(f))
        .collect();
    let engine = common::engine();
    let limits = hoso::vision::DecodeLimits::default();
    let t = distractors::embed_all(engine, &photos, 40.0, &limits, 2).unwrap();
    let (photos, templates): (Vec<PathBuf>, Vec<Vec<f32>>) = photos
        .into_iter()
        .zip(t)
        .filter_map(|(p, t)| Some((p, t?)))
        .unzip();
    let keep = distractors::dedup(engine.segments(), &templates, distractors::NEAR_DUPLICATE);
    assert!(
        keep.len() >= ENROLLED + STRANGERS,
        "{} distractors left after deduplication",
        keep.len()
    );
    let (gallery, strangers) = keep.split_at(keep.len() - STRANGERS);

    let o = Office::start_with(common::RECOGNITION_ONLY);
    let c = &o.clerk;
    // Dev-set people: every third identity with 3+ photos, two enrolled, the rest probes.
    let data = Dataset::load(&faces).unwrap();
    let mut dev = Vec::new();
    for n in (0..data.identities.len()).filter(|n| n % 3 == 0) {
        let ps: Vec<PathBuf> = data
            .samples
            .iter()
            .filter(|s| s.identity == n)
            .map(|s| s.path.clone())
            .collect();
        if ps.len() < 3 {
            continue;
        }
        let idn = id_number(100_000 + n);
        if enrol(c, 100_000 + n, &ps[..2], &idn).is_some() {
            dev.push((full_name(100_000 + n), idn, ps[2..].to_vec()));
        }
    }
    // The distractors on two client threads (the server embeds each photo).
    let enrolled: usize = std::thread::scope(|s| {
        let half = gallery.len().div_ceil(2);
        let hs: Vec<_> = gallery
            .chunks(half)
            .enumerate()
            .map(|(part, idx)| {
                let photos = &photos;
                s.spawn(move || {
                    idx.iter()
                        .enumerate()
                        .filter(|(j, &i)| {
                            let k = part * half + j;
                            enrol(c, k, std::slice::from_ref(&photos[i]), &id_number(k)).is_some()
                        })
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(enrolled >= ENROLLED, "only {enrolled} distractors enrolled");

    // The admin sees the kiosk's scope, the threshold it derived and the expected FPIR.
    let (s, v) = o.admin.get("/api/v1/admin/settings");
    assert_eq!(s, 200, "{v}");
    let scale = &v["kiosk_scale"];
    let people = scale["people"].as_u64().unwrap() as usize;
    assert!(people >= enrolled + dev.len(), "{v}");
    let accept = scale["accept"].as_f64().unwrap();
    assert!(accept > v["calibrated_threshold"].as_f64().unwrap(), "{v}");
    assert!(scale["expected_fpir"].as_f64().unwrap() <= 1e-3, "{v}");
    eprintln!("kiosk at {people} people: {scale}");

    // Strangers: never shown a dossier, by face or by the second step.
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let (mut shown, mut asked) = (0, 0);
    for (n, &i) in strangers.iter().enumerate() {
        let (s, a, name) = visit(&k, &format!("stranger{n}"), &photos[i], n as u64, "00");
        if s {
            eprintln!("WRONG PERSON: {} shown {name}", photos[i].display());
        }
        shown += usize::from(s);
        asked += usize::from(a);
    }
    eprintln!(
        "{} strangers: {shown} shown a dossier, {asked} asked the ID digits",
        strangers.len()
    );
    assert_eq!(shown, 0, "strangers shown someone's dossiers");

    // The enrolled dev-set people: found by face or with their own digits, never as
    // somebody else.
    let (mut found, mut wrong, mut visits, mut by_step) = (0, 0, 0, 0);
    for (n, (name, idn, probes)) in dev.iter().enumerate() {
        for (j, p) in probes.iter().enumerate() {
            visits += 1;
            let digits = &idn[idn.len() - 2..];
            let (s, a, shown_name) = visit(&k, &format!("dev{n}-{j}"), p, j as u64, digits);
            if s {
                if shown_name == hoso::applicant::greeting_name(name) {
                    found += 1;
                    by_step += usize::from(a);
                } else {
                    wrong += 1;
                    eprintln!("WRONG PERSON: {} shown {shown_name}", p.display());
                }
            }
        }
    }
    eprintln!("dev-set visits: {found} of {visits} found ({by_step} through the second step), {wrong} wrong");
    assert_eq!(wrong, 0);
    assert!(
        found * 10 >= visits * 8,
        "only {found} of {visits} enrolled people's visits found"
    );
}
