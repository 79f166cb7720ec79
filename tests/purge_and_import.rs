//! Withdrawal purges for real (no copy of the templates stays decryptable: database file,
//! WAL, or a backup taken before), and the CSV status import is all-or-nothing and
//! idempotent.

mod common;

use std::path::Path;

use common::{all_files, cli, contains, decrypts, sealed_templates, Client, Office};
use hoso::crypto::Keys;
use serde_json::json;

const CODE: &str = "000.00.17.H29-261120-0007";

#[test]
fn withdrawal_makes_every_copy_undecryptable() {
    sqlite_only!("the copies include a file backup of the SQLite database");
    let faces = faces_or_skip!();
    let o = Office::start();
    let c = &o.clerk;
    let data = o.server.dir.clone();
    let (_, v) = c.post(
        "/api/v1/applicants",
        json!({"full_name": "Vũ Thị Mai", "id_number": "001099012345"}),
    );
    let id = v["id"].as_i64().unwrap();
    let version = c.get("/api/v1/consent/text").1["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c.post(
            &format!("/api/v1/applicants/{id}/consent"),
            json!({"text_version": version, "method": "signature"})
        )
        .0,
        201
    );
    for f in ["img1.jpg", "img2.jpg", "img4.jpg"] {
        let img = std::fs::read(faces.join("deepface_p01").join(f)).unwrap();
        assert_eq!(
            c.post_raw(
                &format!("/api/v1/applicants/{id}/faces"),
                "image/jpeg",
                &img
            )
            .0,
            201
        );
    }
    let encrypted = data.join("before-withdrawal.hosobak");
    cli(&data, &["backup", "--to", encrypted.to_str().unwrap()], "");
    let keys = Keys::open_existing(&data).unwrap();
    let plain_dir = tempfile::tempdir().unwrap();
    let backup = plain_dir.path().join("before-withdrawal.sqlite3");
    hoso::backup::decrypt_file(&keys.backup_key(), &encrypted, &backup).unwrap();
    let before = sealed_templates(&backup, id);
    assert_eq!(before.len(), 3);
    assert!(
        before.iter().all(|s| decrypts(&keys, id, s)),
        "templates decrypt before withdrawal"
    );
    let key_file = data.join(format!("keys/applicants/{id}.key"));
    let wrapped = std::fs::read(&key_file).unwrap();

    let (s, v) = c.delete(&format!("/api/v1/applicants/{id}/consent"));
    assert_eq!((s, &v["templates_purged"]), (200, &json!(3)), "{v}");

    assert!(!key_file.exists(), "the applicant key is destroyed");
    let after = sealed_templates(&backup, id);
    assert_eq!(after, before, "the old backup still holds the ciphertexts…");
    assert!(
        after.iter().all(|s| !decrypts(&keys, id, s)),
        "…but nothing can decrypt them"
    );
    assert!(sealed_templates(&data.join("hoso.sqlite3"), id).is_empty());
    // No byte of the templates or of the wrapped key is left in the database, its WAL or
    // anywhere in the data directory (the backup there is encrypted).
    for (path, bytes) in all_files(&data) {
        assert!(!contains(&bytes, &wrapped), "wrapped key left in {path}");
        for s in &before {
            assert!(
                !contains(&bytes, &s[12..60]),
                "template ciphertext left in {path}"
            );
        }
    }
    // The record of consent and its withdrawal stays, provably.
    let (_, a) = c.get(&format!("/api/v1/applicants/{id}"));
    assert!(
        a["consent"].is_null() && a["biometrics_purged_at"].is_number(),
        "{a}"
    );
    assert!(a["consent_history"][0]["withdrawn_at"].is_number());
    assert_eq!(a["templates"], 0);
    let (s, v) = c.post_raw(
        &format!("/api/v1/applicants/{id}/faces"),
        "image/jpeg",
        &std::fs::read(faces.join("deepface_p01/img1.jpg")).unwrap(),
    );
    assert_eq!(s, 403, "no enrolment after withdrawal: {v}");
    let out = cli(&data, &["audit", "verify"], "");
    assert!(out.contains("intact"));
}

fn import(data: &Path, csv: &str) -> (bool, String, String) {
    let f = data.join("status.csv");
    std::fs::write(&f, csv).unwrap();
    let out = common::bin()
        .args([
            "import-status",
            f.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .args(common::db_args(data))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn csv_import_is_atomic_and_idempotent() {
    let o = Office::start();
    let c = &o.clerk;
    let data = o.server.dir.clone();
    let (_, v) = c.post(
        "/api/v1/applicants",
        json!({"full_name": "Hoàng Văn Nam", "id_number": "079203000123"}),
    );
    let id = v["id"].as_i64().unwrap();
    let new = json!({"code": CODE, "applicant_id": id, "procedure": "Chứng thực bản sao", "received_at": "2026-11-20 08:00", "due_at": "2026-11-27"});
    assert_eq!(c.post("/api/v1/dossiers", new).0, 201);
    let good = format!(
        "code,status,at,note,agency,new_due_at\n\
         {CODE},4,2026-11-21 08:00,,Phòng Tư pháp,\n\
         {CODE},5,2026-11-22 08:00,\"Cần bổ sung: bản sao CCCD\",,\n"
    );
    // One bad row: nothing is imported, and every bad line is named.
    let bad = format!("{good}{CODE},42,2026-11-23 08:00,,,\nnot-a-code,4,2026-11-23,,,\n");
    let (ok, _, err) = import(&data, &bad);
    assert!(!ok);
    assert!(
        err.contains("line 4") && err.contains("line 5") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(c.get(&format!("/api/v1/dossiers/{CODE}")).1["status"], 2);
    let (ok, out, err) = import(&data, &good);
    assert!(ok, "{err}");
    assert!(out.contains("imported 2"), "{out}");
    let (_, d) = c.get(&format!("/api/v1/dossiers/{CODE}"));
    assert_eq!(d["status"], 5);
    assert_eq!(d["timeline"][2]["note"], "Cần bổ sung: bản sao CCCD");
    let (ok, out, _) = import(&data, &good);
    assert!(
        ok && out.contains("imported 0") && out.contains("2 already present"),
        "{out}"
    );
    let (ok, _, err) = import(&data, "dossier;status\n1;2\n");
    assert!(!ok && err.contains("missing column"), "{err}");
    let i = Client::with_bearer(&o.server.base, &o.integration_token);
    assert_eq!(
        i.post(
            &format!("/api/v1/dossiers/{CODE}/events"),
            json!({"status": 4, "at": "2026-11-24 08:00"})
        )
        .0,
        201
    );
    // Supplement received on the 24th: the 7-day clock restarts.
    assert!(c.get(&format!("/api/v1/dossiers/{CODE}")).1["due_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-12-01"));
}
