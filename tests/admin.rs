//! The admin's guarantees, end to end against a live server: a purge is proven (no kiosk
//! match, no decryptable copy in the database, WAL or an earlier encrypted backup, and the
//! audit says who and when); retention purges exactly the right people when the clock
//! moves; `hoso audit verify` names the first edited, deleted or swapped entry; data-subject
//! requests carry their deadlines and export only that person's data; settings, accounts,
//! devices, metrics and backups behave.

mod common;

use chrono::{Duration, Utc};
use common::{
    all_files, cli, cli_result, contains, copy_dir, decide, decrypts, sealed_templates, Client,
    Office,
};
use hoso::crypto::Keys;
use serde_json::{json, Value};

fn rfc(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn dossier(c: &Client, seq: usize, applicant: i64, received: chrono::DateTime<Utc>) -> String {
    let code = format!("000.00.17.H29-261101-{seq:04}");
    let (s, v) = c.post(
        "/api/v1/dossiers",
        json!({"code": code, "applicant_id": applicant, "procedure": "Chứng thực bản sao",
               "received_at": rfc(received), "due_at": rfc(received + Duration::days(5))}),
    );
    assert_eq!(s, 201, "{v}");
    code
}

fn close(c: &Client, code: &str, at: chrono::DateTime<Utc>) {
    for (st, t) in [
        (4, at - Duration::hours(3)),
        (9, at - Duration::hours(2)),
        (10, at),
    ] {
        let (s, v) = c.post(
            &format!("/api/v1/dossiers/{code}/events"),
            json!({"status": st, "at": rfc(t)}),
        );
        assert_eq!(s, 201, "{v}");
    }
}

fn admin_user_id(o: &Office) -> i64 {
    common::admin_id(&o.admin, "users", "username", "admin1")
}

#[test]
fn admin_purge_is_proven_end_to_end() {
    sqlite_only!("the proof reads an encrypted file backup (hoso backup copies the SQLite file)");
    let faces = faces_or_skip!();
    let o = Office::start_with(common::RECOGNITION_ONLY);
    let (c, a) = (&o.clerk, &o.admin);
    let data = o.server.dir.clone();
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let id = common::consented_applicant(c, "Vũ Thị Mai", "001099012345");
    let p = faces.join("deepface_p01");
    common::enrol_faces(
        c,
        id,
        &[p.join("img1.jpg"), p.join("img2.jpg"), p.join("img4.jpg")],
    );
    dossier(c, 1, id, Utc::now() - Duration::days(1));
    let probe = std::fs::read(p.join("img5.jpg")).unwrap();
    // Positive control: the kiosk recognises her from a photo that was not enrolled.
    assert_eq!(decide(&k, "before", &probe)["state"], "matched");

    // Encrypted backups before the purge: one from the CLI, one from the admin page.
    let backup = data.join("before-purge.hosobak");
    cli(&data, &["backup", "--to", backup.to_str().unwrap()], "");
    let (s, b) = a.post("/api/v1/admin/backups", json!(null));
    assert_eq!(s, 201, "{b}");
    let keys = Keys::open_existing(&data).unwrap();
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = plain_dir.path().join("restored.sqlite3");
    hoso::backup::decrypt_file(&keys.backup_key(), &backup, &plain).unwrap();
    let before = sealed_templates(&plain, id);
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|s| decrypts(&keys, id, s)));
    let raw_backup = std::fs::read(&backup).unwrap();
    assert!(
        !contains(&raw_backup, "Vũ Thị Mai".as_bytes()),
        "the backup file is encrypted"
    );
    let key_file = data.join(format!("keys/applicants/{id}.key"));
    let wrapped = std::fs::read(&key_file).unwrap();

    let (s, v) = a.post(
        &format!("/api/v1/admin/applicants/{id}/purge"),
        json!({"note": "yêu cầu của công dân"}),
    );
    assert_eq!((s, &v["templates_purged"]), (200, &json!(3)), "{v}");
    let purged_at = Utc::now().timestamp();

    // No kiosk matches her any more, through the frames endpoint with her photo.
    assert_eq!(decide(&k, "after", &probe)["state"], "no_match");
    // The key is gone: the ciphertexts in the earlier backup cannot be decrypted…
    assert!(!key_file.exists());
    assert!(before.iter().all(|s| !decrypts(&keys, id, s)));
    for b in std::fs::read_dir(data.join("backups")).unwrap() {
        let p = b.unwrap().path();
        let out = plain_dir.path().join("page.sqlite3");
        hoso::backup::decrypt_file(&keys.backup_key(), &p, &out).unwrap();
        assert!(sealed_templates(&out, id)
            .iter()
            .all(|s| !decrypts(&keys, id, s)));
    }
    // …and neither the ciphertexts nor the wrapped key are anywhere in the data directory
    // (database, WAL, key store).
    assert!(sealed_templates(&data.join("hoso.sqlite3"), id).is_empty());
    for (path, bytes) in all_files(&data) {
        assert!(!contains(&bytes, &wrapped), "wrapped key left in {path}");
        for s in &before {
            assert!(!contains(&bytes, &s[12..60]), "ciphertext left in {path}");
        }
    }
    // The audit says who purged and when.
    let (_, log) = a.get("/api/v1/admin/audit?action=biometrics.purge");
    let e = &log[0];
    assert_eq!(e["actor"], format!("user:{}", admin_user_id(&o)), "{log}");
    assert_eq!(e["subject"], format!("applicant:{id}"));
    assert!((e["at"].as_i64().unwrap() - purged_at).abs() <= 5, "{e}");
    // The consent register shows the purge; the statistics count one match and one miss.
    let (_, reg) = a.get(&format!("/api/v1/admin/consents?q={id}"));
    assert!(
        reg[0]["withdrawn_at"].is_number() && reg[0]["templates"] == 0,
        "{reg}"
    );
    assert!(
        !reg.to_string().contains("Vũ Thị Mai"),
        "names are masked: {reg}"
    );
    let (_, st) = a.get("/api/v1/admin/stats?days=1");
    assert_eq!(
        (&st["totals"]["face"], &st["totals"]["unresolved"]),
        (&json!(1), &json!(1)),
        "{st}"
    );
    assert!(st["median_face_ms"].as_i64().unwrap() >= 0);
    assert!(cli(&data, &["audit", "verify"], "").contains("intact"));
}

#[test]
fn retention_purges_exactly_the_right_people_when_the_clock_moves() {
    let faces = faces_or_skip!();
    let o = Office::start();
    let c = &o.clerk;
    let data = o.server.dir.clone();
    let now = Utc::now();
    let person = |n: &str, cccd: &str| common::consented_applicant(c, n, cccd);
    // A: the only dossier closed 10 days ago → due 3 days ago.
    let a = person("Nguyễn Văn An", "001099000001");
    common::enrol_faces(c, a, &[faces.join("deepface_p01/img1.jpg")]);
    let code = dossier(c, 1, a, now - Duration::days(30));
    close(c, &code, now - Duration::days(10));
    // B: closed 3 days ago → due in 4 days.
    let b = person("Trần Thị Bình", "001099000002");
    let code = dossier(c, 2, b, now - Duration::days(30));
    close(c, &code, now - Duration::days(3));
    // C: one dossier closed long ago, one still open → never.
    let cc = person("Lê Văn Chi", "001099000003");
    let code = dossier(c, 3, cc, now - Duration::days(60));
    close(c, &code, now - Duration::days(50));
    dossier(c, 4, cc, now - Duration::days(2));
    // D: an open dossier → never.
    let d = person("Phạm Thị Dung", "001099000004");
    dossier(c, 5, d, now - Duration::days(40));
    // E: consented today, no dossier → due in 7 days.
    let e = person("Hoàng Văn Em", "001099000005");
    // F: refused consent; closed dossier → nothing to purge.
    let (_, v) = c.post(
        "/api/v1/applicants",
        json!({"full_name": "Đặng Thị Phượng", "id_number": "001099000006"}),
    );
    let f = v["id"].as_i64().unwrap();
    let code = dossier(c, 6, f, now - Duration::days(30));
    close(c, &code, now - Duration::days(20));

    let listed = |at: chrono::DateTime<Utc>| -> Vec<i64> {
        let out = cli(&data, &["purge", "--dry-run", "--now", &rfc(at)], "");
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("applicant "))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(listed(now), vec![a], "today");
    assert_eq!(listed(now + Duration::days(5)), vec![a, b], "in 5 days");
    assert_eq!(listed(now + Duration::days(8)), vec![a, b, e], "in 8 days");
    // A dry run changed nothing.
    assert!(data.join(format!("keys/applicants/{a}.key")).exists());

    // Old backups go too: one older than the grace period, one recent.
    let dir = data.join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join(hoso::backup::file_name(
        (now - Duration::days(9)).timestamp(),
    ));
    let recent = dir.join(hoso::backup::file_name(
        (now - Duration::days(1)).timestamp(),
    ));
    std::fs::write(&old, b"old").unwrap();
    std::fs::write(&recent, b"recent").unwrap();

    let out = cli(
        &data,
        &["purge", "--now", &rfc(now + Duration::days(5))],
        "",
    );
    assert!(out.contains("purged 2 person(s), 1 backup(s)"), "{out}");
    assert!(!old.exists() && recent.exists());
    assert!(!data.join(format!("keys/applicants/{a}.key")).exists());
    let (_, reg) = o.admin.get("/api/v1/admin/consents?limit=100");
    let state = |id: i64| -> (bool, bool) {
        let r = reg
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["applicant_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {reg}"));
        (
            r["withdrawn_at"].is_number(),
            r["biometrics_purged_at"].is_number(),
        )
    };
    assert_eq!(state(a), (true, true));
    assert_eq!(state(b), (true, true));
    for other in [cc, d, e] {
        assert_eq!(state(other), (false, false), "applicant {other} untouched");
    }
    assert_eq!(state(f), (false, false));
    let (_, log) = o.admin.get("/api/v1/admin/audit?action=retention.");
    let purged: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "retention.purge")
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        purged,
        [format!("applicant:{b}"), format!("applicant:{a}")],
        "{log}"
    );
    // Nobody is left to purge at that time.
    assert!(listed(now + Duration::days(5)).is_empty());
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    sqlite_only!("the tampering edits the SQLite file");
    let mut o = Office::start();
    for n in 0..4 {
        common::consented_applicant(&o.clerk, "Bùi Thị Hoa", &format!("00109900010{n}"));
    }
    let (_, log) = o.admin.get("/api/v1/admin/audit?limit=1000");
    let last = log[0]["id"].as_i64().unwrap();
    assert!(last >= 10, "{log}");
    let (_, v) = o.admin.get("/api/v1/admin/audit/verify");
    assert_eq!(v["intact"], true, "{v}");
    let data = o.server.dir.clone();
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    o.server.kill9(); // the files stay until `o` is dropped
    copy_dir(&data, &live);
    assert!(cli(&live, &["audit", "verify"], "").contains("intact"));

    let foreign_key = [9u8; 32];
    let cases: Vec<(&str, String, i64)> = vec![
        (
            "edit",
            "UPDATE audit SET detail = '{\"forged\":1}' WHERE id = 5".into(),
            5,
        ),
        (
            "edit actor",
            "UPDATE audit SET actor = 'user:99' WHERE id = 7".into(),
            7,
        ),
        ("delete", "DELETE FROM audit WHERE id = 6".into(), 6),
        (
            "delete the last",
            format!("DELETE FROM audit WHERE id = {last}"),
            last,
        ),
        (
            "swap",
            "UPDATE audit SET at = (SELECT at FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 actor = (SELECT actor FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 action = (SELECT action FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 subject = (SELECT subject FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 detail = (SELECT detail FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 prev_hash = (SELECT prev_hash FROM audit a2 WHERE a2.id = 3 + 4 - audit.id),
                 hash = (SELECT hash FROM audit a2 WHERE a2.id = 3 + 4 - audit.id)
             WHERE id IN (3, 4)"
                .into(),
            3,
        ),
        ("re-chained without the key", String::new(), 4),
    ];
    for (what, sql, entry) in cases {
        let dir = tmp.path().join(what.replace(' ', "-"));
        copy_dir(&live, &dir);
        let db = rusqlite::Connection::open(dir.join("hoso.sqlite3")).unwrap();
        if sql.is_empty() {
            // An attacker edits entry 4 and recomputes every hash after it, but without the
            // deployment key.
            db.execute("UPDATE audit SET subject = 'forged' WHERE id = 4", [])
                .unwrap();
            let mut prev: String = db
                .query_row("SELECT hash FROM audit WHERE id = 3", [], |r| r.get(0))
                .unwrap();
            for id in 4..=last {
                let rec = db
                    .query_row(
                        "SELECT id, at, actor, action, subject, detail FROM audit WHERE id = ?1",
                        [id],
                        |r| {
                            Ok(hoso::store::AuditRecord {
                                id: r.get(0)?,
                                at: r.get(1)?,
                                actor: r.get(2)?,
                                action: r.get(3)?,
                                subject: r.get(4)?,
                                detail: r.get(5)?,
                            })
                        },
                    )
                    .unwrap();
                let h = hoso::store::audit::row_hash(&foreign_key, &prev, &rec);
                db.execute(
                    "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
                    rusqlite::params![prev, h, id],
                )
                .unwrap();
                prev = h;
            }
            db.execute("UPDATE audit_head SET hash = ?1", [&prev])
                .unwrap();
        } else {
            db.execute_batch(&sql).unwrap();
        }
        drop(db);
        let (ok, out, err) = cli_result(&dir, &["audit", "verify"]);
        assert!(!ok, "{what}: verify passed: {out}");
        assert!(
            err.contains(&format!("broken at entry {entry}:")),
            "{what}: expected entry {entry}: {err}"
        );
    }
}

#[test]
fn data_subject_requests_have_deadlines_and_export_only_that_person() {
    let o = Office::start();
    let (c, a) = (&o.clerk, &o.admin);
    let p1 = common::consented_applicant(c, "Ngô Thị Thu", "001099000201");
    let p2 = common::consented_applicant(c, "Đinh Văn Tùng", "001099000202");
    let code1 = dossier(c, 21, p1, Utc::now() - Duration::days(2));
    let code2 = dossier(c, 22, p2, Utc::now() - Duration::days(2));
    // Errors first: nothing is logged for them.
    for (body, status) in [
        (json!({"applicant_id": p1, "kind": "gossip"}), 400),
        (json!({"id_number": "001099999999", "kind": "access"}), 404),
        (json!({"kind": "access"}), 422),
        (
            json!({"applicant_id": p1, "kind": "access", "extra": 1}),
            400,
        ),
        (json!({"applicant_id": 424242, "kind": "access"}), 404),
    ] {
        let (s, v) = a.post("/api/v1/admin/requests", body.clone());
        assert_eq!(s, status, "{body}: {v}");
    }
    // Received on a Friday afternoon: acknowledge by Tuesday, complete within 15 days.
    let (s, r) = a.post(
        "/api/v1/admin/requests",
        json!({"id_number": "001099000201", "kind": "access", "channel": "letter",
               "received_at": "2026-11-20T15:00:00+07:00"}),
    );
    assert_eq!(s, 201, "{r}");
    let rid = r["id"].as_i64().unwrap();
    let ts = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    assert_eq!(r["ack_due_at"], ts("2026-11-24T23:59:59+07:00"));
    assert_eq!(r["due_at"], ts("2026-12-05T23:59:59+07:00"));
    assert_eq!(
        (r["applicant_id"].as_i64(), r["status"].as_str()),
        (Some(p1), Some("received"))
    );

    let (s, html) = a.get(&format!("/api/v1/admin/requests/{rid}/export"));
    assert_eq!(s, 200);
    let html = html.as_str().unwrap();
    for want in [
        "Ngô Thị Thu",
        "001099000201",
        code1.as_str(),
        "consent.grant",
    ] {
        assert!(html.contains(want), "export lacks {want}");
    }
    for other in ["Đinh Văn Tùng", "001099000202", code2.as_str()] {
        assert!(
            !html.contains(other),
            "export shows another person's {other}"
        );
    }
    assert_eq!(
        c.get(&format!("/api/v1/admin/requests/{rid}/export")).0,
        403,
        "clerks cannot export"
    );
    let step = |id: i64, s: &str, note: &str| {
        a.post(
            &format!("/api/v1/admin/requests/{id}/{s}"),
            json!({"note": note}),
        )
    };
    assert_eq!(step(rid, "acknowledge", "").1["status"], "acknowledged");
    assert_eq!(step(rid, "acknowledge", "").0, 409);
    assert_eq!(step(rid, "reject", "").0, 422, "a rejection says why");
    assert_eq!(step(rid, "explode", "").0, 400);
    assert_eq!(
        step(rid, "complete", "in ra và giao tận tay").1["status"],
        "completed"
    );
    assert_eq!(step(rid, "complete", "").0, 409);

    // A deletion request, completed, purges the person's face data.
    let (_, r2) = a.post(
        "/api/v1/admin/requests",
        json!({"applicant_id": p2, "kind": "deletion"}),
    );
    let r2 = r2["id"].as_i64().unwrap();
    let (s, v) = step(r2, "complete", "");
    assert_eq!((s, v["status"].as_str()), (200, Some("completed")), "{v}");
    let (_, reg) = a.get(&format!("/api/v1/admin/consents?q={p2}"));
    assert!(reg[0]["withdrawn_at"].is_number() && reg[0]["biometrics_purged_at"].is_number());
    let (_, list) = a.get("/api/v1/admin/requests");
    assert_eq!(list.as_array().unwrap().len(), 2);
    let actions = common::audit_actions(a, &format!("subject=applicant:{p2}"));
    assert!(
        actions.iter().any(|a| a == "request.purge")
            && actions.iter().any(|a| a == "request.create"),
        "{actions:?}"
    );
}

#[test]
fn settings_accounts_devices_metrics() {
    let o = Office::start();
    let (a, base) = (&o.admin, o.server.base.clone());
    let (s, v) = a.get("/api/v1/admin/settings");
    assert_eq!(s, 200);
    assert_eq!(
        (
            v["retention_grace_days"].as_u64(),
            v["off_calibration"].as_bool()
        ),
        (Some(7), Some(false)),
        "{v}"
    );
    let calibrated = v["calibrated_threshold"].as_f64().unwrap();
    let put = |body: Value| a.put_json("/api/v1/admin/settings", body);
    assert_eq!(
        put(json!({"retention_grace_days": 0, "kiosk_threshold": null, "kiosk_margin": null})).0,
        400
    );
    assert_eq!(
        put(json!({"retention_grace_days": 7, "kiosk_threshold": null, "kiosk_margin": -1.0})).0,
        400
    );
    // Thresholds within the calibrated band only (issue 23).
    for (t, m) in [
        (json!(-1.0), json!(null)),
        (json!(0.0), json!(null)),
        (json!(9.2e18), json!(null)),
        (json!(null), json!(0.0)),
        (json!(null), json!(1.8e19)),
    ] {
        let (s, v) =
            put(json!({"retention_grace_days": 7, "kiosk_threshold": t, "kiosk_margin": m}));
        assert_eq!(s, 400, "{t} {m}: {v}");
    }
    let (s, v) = put(
        json!({"retention_grace_days": 14, "kiosk_threshold": calibrated + 0.1, "kiosk_margin": null}),
    );
    assert_eq!(
        (s, v["off_calibration"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    let (_, log) = a.get("/api/v1/admin/audit?action=settings.change");
    assert_eq!(
        log[0]["actor"].as_str().map(|s| s.starts_with("user:")),
        Some(true)
    );
    assert_eq!(o.clerk.get("/api/v1/admin/settings").0, 403);

    // Accounts: create, lock (its session ends at once), never lock yourself.
    let (s, v) = a.post(
        "/api/v1/admin/users",
        json!({"username": "clerk2", "password": common::PASSWORD, "role": "clerk"}),
    );
    assert_eq!(s, 201, "{v}");
    let clerk2 = Client::login(&base, "clerk2", common::PASSWORD);
    assert_eq!(clerk2.get("/api/v1/consent/text").0, 200);
    let uid = v["id"].as_i64().unwrap();
    assert_eq!(
        a.post(
            &format!("/api/v1/admin/users/{uid}"),
            json!({"active": false})
        )
        .0,
        200
    );
    assert_eq!(clerk2.get("/api/v1/consent/text").0, 401);
    let (_, users) = a.get("/api/v1/admin/users");
    let me = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "admin1")
        .unwrap();
    assert_eq!(
        a.post(
            &format!("/api/v1/admin/users/{}", me["id"]),
            json!({"active": false})
        )
        .0,
        400
    );
    assert!(me["last_login_at"].is_number(), "{me}");

    // Devices: issue, use, revoke (refused at once).
    let (s, v) = a.post(
        "/api/v1/admin/devices",
        json!({"role": "kiosk", "name": "Sảnh 2"}),
    );
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let k2 = Client::with_bearer(&base, &token);
    assert_eq!(
        k2.post(
            "/api/v1/kiosk/lookup",
            json!({"code": "x", "id_digits": "1234"})
        )
        .0,
        404
    );
    assert_eq!(
        a.delete(&format!("/api/v1/admin/devices/{}", v["id"])).0,
        200
    );
    assert_eq!(
        k2.post(
            "/api/v1/kiosk/lookup",
            json!({"code": "x", "id_digits": "1234"})
        )
        .0,
        401
    );
    assert_eq!(
        a.delete(&format!("/api/v1/admin/devices/{}", v["id"])).0,
        404
    );
    let (_, devices) = a.get("/api/v1/admin/devices");
    assert!(devices
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "Sảnh 2" && d["revoked_at"].is_number()));
    assert!(
        !devices.to_string().contains(&token),
        "tokens are never shown again"
    );

    // Metrics for monitoring (integration token or admin), never for kiosks.
    let integ = Client::with_bearer(&base, &o.integration_token);
    let (s, m) = integ.get("/metrics");
    assert_eq!(s, 200);
    let m = m.as_str().unwrap();
    for want in [
        "hoso_gallery_templates",
        "hoso_kiosk_lookups_30d{method=\"face\"}",
        "hoso_dossiers{state=\"open_overdue\"}",
        "hoso_ratings_30d{score=\"5\"}",
    ] {
        assert!(m.contains(want), "metrics lack {want}:\n{m}");
    }
    assert_eq!(
        Client::with_bearer(&base, &o.kiosk_token).get("/metrics").0,
        403
    );
    assert_eq!(Client::new(&base).get("/metrics").0, 401);

    // Audit CSV export (and the export itself is audited).
    let (s, csv) = a.get("/api/v1/admin/audit?format=csv&action=token.");
    assert_eq!(s, 200);
    let csv = csv.as_str().unwrap();
    assert!(
        csv.starts_with("id,at,time,actor,action,subject,detail"),
        "{csv}"
    );
    assert!(csv.contains("token.revoke") && csv.contains("token.issue"));
    assert_eq!(
        a.get("/api/v1/admin/audit?action=audit.export").1[0]["action"],
        "audit.export"
    );
    // The admin page itself is served.
    let (s, page) = Client::new(&base).get("/admin/");
    assert!(s == 200 && page.as_str().unwrap().contains("admin.js"));
}

#[test]
fn backup_restores_and_refuses_damaged_files() {
    sqlite_only!("hoso backup and restore copy the SQLite file");
    let mut o = Office::start();
    let id = common::consented_applicant(&o.clerk, "Mai Văn Sơn", "001099000301");
    let data = o.server.dir.clone();
    let tmp = tempfile::tempdir().unwrap();
    let bak = tmp.path().join("office.hosobak");
    cli(&data, &["backup", "--to", bak.to_str().unwrap()], "");
    // A change after the backup, which the restore takes back.
    common::consented_applicant(&o.clerk, "Lý Thị Xuân", "001099000302");
    o.server.kill9();
    let (ok, _, err) = cli_result(&data, &["restore", "--from", bak.to_str().unwrap()]);
    assert!(!ok && err.contains("--force"), "{err}");
    let out = cli(
        &data,
        &["restore", "--from", bak.to_str().unwrap(), "--force"],
        "",
    );
    assert!(out.contains("audit log intact"), "{out}");
    let db = rusqlite::Connection::open(data.join("hoso.sqlite3")).unwrap();
    let names: Vec<i64> = db
        .prepare("SELECT id FROM applicants")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(names, vec![id]);
    drop(db);
    // A damaged backup is refused and the database is left as it was.
    let mut bytes = std::fs::read(&bak).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = tmp.path().join("damaged.hosobak");
    std::fs::write(&bad, &bytes).unwrap();
    let (ok, _, err) = cli_result(
        &data,
        &["restore", "--from", bad.to_str().unwrap(), "--force"],
    );
    assert!(!ok && err.contains("cannot be decrypted"), "{err}");
    let not = tmp.path().join("not.hosobak");
    std::fs::write(&not, b"hello").unwrap();
    let (ok, _, err) = cli_result(
        &data,
        &["restore", "--from", not.to_str().unwrap(), "--force"],
    );
    assert!(!ok && err.contains("not a Hồ Sơ backup"), "{err}");
    assert!(cli(&data, &["audit", "verify"], "").contains("intact"));
    assert!(!data.join("hoso.sqlite3.restoring").exists());
}
