//! Restore safety, end to end: `hoso restore` refuses to run under a live server (and the
//! server keeps every acknowledged write), and restoring a backup taken before a consent
//! withdrawal, a kiosk token revocation and a password change keeps all three in force — the
//! kiosk does not recognise the person, the token is refused, the old password fails — with
//! the restore itself in the audit log and the chain intact.

mod common;

use common::{cli, cli_result, decide, Client, Office, Server, PASSWORD};
use serde_json::json;

#[test]
fn restore_is_refused_under_a_running_server_and_keeps_later_removals() {
    sqlite_only!("hoso backup and restore copy the SQLite file");
    let faces = faces_or_skip!();
    let mut o = Office::start_with(common::RECOGNITION_ONLY);
    let data = o.server.dir.clone();
    let conf = data.join("config.toml");
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let id = common::consented_applicant(&o.clerk, "Đỗ Thị Hạnh", "001099000777");
    let p = faces.join("deepface_p01");
    common::enrol_faces(&o.clerk, id, &[p.join("img1.jpg"), p.join("img2.jpg")]);
    common::open_dossier(
        &o.clerk,
        id,
        "000.00.17.H29-261130-0001",
        "Cấp bản sao trích lục hộ tịch",
        "2026-11-30T08:00:00+07:00",
        "2026-12-05T17:00:00+07:00",
    );
    let probe = std::fs::read(p.join("img5.jpg")).unwrap();
    assert_eq!(decide(&k, "before", &probe)["state"], "matched");

    let tmp = tempfile::tempdir().unwrap();
    let bak = tmp.path().join("office.hosobak");
    cli(&data, &["backup", "--to", bak.to_str().unwrap()], "");
    // One second later than the backup's last entry, as in any real office.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // After the backup: withdrawal at the desk, the kiosk token revoked, the clerk's
    // password changed by the admin.
    let (s, v) = o.clerk.delete(&format!("/api/v1/applicants/{id}/consent"));
    assert_eq!(s, 200, "{v}");
    let kiosk_id = common::admin_id(&o.admin, "devices", "name", "Sảnh 1");
    assert_eq!(
        o.admin
            .delete(&format!("/api/v1/admin/devices/{kiosk_id}"))
            .0,
        200
    );
    let clerk_id = common::admin_id(&o.admin, "users", "username", "clerk1");
    let new_password = "mật-khẩu-mới-2026";
    let (s, v) = o.admin.post(
        &format!("/api/v1/admin/users/{clerk_id}"),
        json!({"password": new_password}),
    );
    assert_eq!(s, 200, "{v}");

    // Under the running server the restore is refused, naming it, and changes nothing.
    let (ok, _, err) = cli_result(
        &data,
        &["restore", "--from", bak.to_str().unwrap(), "--force"],
    );
    assert!(!ok, "restore under a running server must fail");
    assert!(err.contains("is running on"), "{err}");
    let (s, v) = o.admin.get(&format!("/api/v1/applicants/{id}"));
    assert_eq!(s, 200, "{v}");
    assert!(v["consent"].is_null(), "the withdrawal stands: {v}");

    // Stopped, the restore runs and re-applies all three.
    o.server.kill9();
    let out = cli(
        &data,
        &["restore", "--from", bak.to_str().unwrap(), "--force"],
        "",
    );
    assert!(out.contains("1 purge(s)/withdrawal(s)"), "{out}");
    assert!(out.contains("1 token revocation(s)"), "{out}");
    assert!(out.contains("1 password change(s)"), "{out}");
    assert!(out.contains("audit log intact"), "{out}");

    let server = Server::start_at(&data, &["--config", conf.to_str().unwrap()]);
    let base = &server.base;
    // The old password fails; the new one works.
    let (s, _) = Client::new(base).post(
        "/api/v1/auth/login",
        json!({"username": "clerk1", "password": PASSWORD}),
    );
    assert_eq!(s, 401, "the old password");
    let clerk = Client::login(base, "clerk1", new_password);
    // The revoked token is refused.
    let k = Client::with_bearer(base, &o.kiosk_token);
    assert_eq!(k.get("/api/v1/kiosk/setup").0, 401);
    // The withdrawn person has no consent and no template, and no kiosk recognises her.
    let (_, v) = clerk.get(&format!("/api/v1/applicants/{id}"));
    assert!(v["consent"].is_null(), "{v}");
    assert_eq!(v["templates"], 0, "{v}");
    let admin = Client::login(base, "admin1", PASSWORD);
    let (s, t) = admin.post(
        "/api/v1/admin/devices",
        json!({"name": "Sảnh 2", "role": "kiosk"}),
    );
    assert_eq!(s, 201, "{t}");
    let k2 = Client::with_bearer(base, t["token"].as_str().unwrap());
    assert_ne!(decide(&k2, "after", &probe)["state"], "matched");
    // The restore is in the audit log, and the chain is intact.
    let (_, log) = admin.get("/api/v1/admin/audit?action=backup.restore");
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["subject"], "office.hosobak");
    let detail: serde_json::Value =
        serde_json::from_str(entries[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["reapplied"]["purges"], 1, "{detail}");
    assert!(cli(&data, &["audit", "verify"], "").contains("intact"));
}
