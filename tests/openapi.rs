//! The integration API's OpenAPI document: served without a token, every documented
//! operation exists on the running server with the documented answers, and the documented
//! examples are accepted as they stand (a vendor copying them gets what the document says).

mod common;

use common::{consented_applicant, open_dossier, Client, Office};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const CODE: &str = "000.00.17.H29-261110-0002";

/// The schema a `$ref` points to.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => v,
    }
}

/// Fails unless every `required` property of the schema is present in `value`, and every
/// present documented property has the documented JSON type (one level, plus arrays' items).
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(
            value.get(r).is_some(),
            "{at}: required {r} missing in {value}"
        );
    }
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        let Some(v) = value.get(name) else { continue };
        let prop = resolve(doc, prop);
        let types: Vec<&str> = match &prop["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        assert!(
            ok,
            "{at}.{name}: {actual} where the document says {types:?}"
        );
        if let (Value::Array(items), Some(item)) = (v, prop.get("items")) {
            for (i, x) in items.iter().enumerate() {
                conforms(doc, item, x, &format!("{at}.{name}[{i}]"));
            }
        } else if actual == "object" {
            conforms(doc, prop, v, &format!("{at}.{name}"));
        }
    }
}

/// The schema of `path`'s `method` answer with `status`.
fn answer<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let r = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(r.is_object(), "{method} {path}: {status} not documented");
    &r["content"]["application/json"]["schema"]
}

#[test]
fn the_openapi_document_matches_the_running_server() {
    let o = Office::start();
    let (s, doc) = Client::new(&o.server.base).get("/api/v1/openapi.json");
    assert_eq!(s, 200, "{doc}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert!(doc["info"]["title"].as_str().unwrap().contains("Hồ Sơ"));

    // The document and the router hold the same routes and methods: every `/api/v1` path of
    // the route table (with `/healthz` and `/metrics`) is documented, nothing else is; a
    // documented method is answered (without credentials: 401 when it needs some), any
    // other is 405.
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routed: BTreeSet<&str> = hoso::api::routes::ROUTES
        .iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/api/v1/") || *p == "/healthz" || *p == "/metrics")
        .collect();
    assert_eq!(documented, routed, "documented routes against the router's");
    assert!(routed.len() >= 50, "{routed:?}");
    let anon = Client::new(&o.server.base);
    for path in &routed {
        let ops = doc["paths"][*path].as_object().unwrap();
        let concrete = path
            .replace("{code}", CODE)
            .replace("{id}", "1")
            .replace("{other}", "2")
            .replace("{step}", "acknowledge");
        for method in ["get", "post", "put", "delete"] {
            let (s, body) = match method {
                "get" if path.ends_with("/events") => continue, // streams: tested in desk tests
                "get" => anon.get(&concrete),
                "post" => anon.post_raw(&concrete, "application/json", b"{}"),
                "put" => anon.put_json(&concrete, json!({})),
                _ => anon.delete(&concrete),
            };
            match ops.get(method) {
                None => assert_eq!(s, 405, "{method} {path} is not documented: {body}"),
                Some(op) => {
                    assert!(
                        s != 405 && s != 404 || path == &"/api/v1/demo",
                        "{method} {path}: {s} {body}"
                    );
                    let public = op["security"]
                        .as_array()
                        .is_none_or(|s| s.iter().all(|r| r == &json!({})));
                    // (A required query parameter is read before the credentials: 400.)
                    let required_query = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| p["in"] == "query" && p["required"] == true)
                    });
                    if !public && method == "get" && !required_query {
                        assert_eq!(s, 401, "{method} {path}: {body}");
                        conforms(&doc, answer(&doc, path, method, 401), &body, path);
                    }
                }
            }
        }
    }

    // A dossier, then the vendor's calls with an integration token, checked against the
    // document's schemas; the documented example event is recorded as it stands.
    let id = consented_applicant(&o.clerk, "Trần Thị Thu Hà", "001090012345");
    open_dossier(
        &o.clerk,
        id,
        CODE,
        "Cấp giấy phép xây dựng",
        "2026-11-10 09:00",
        "2026-12-10",
    );
    let vendor = Client::with_bearer(&o.server.base, &o.integration_token);
    let events = "/api/v1/dossiers/{code}/events";
    let example = doc["components"]["schemas"]["EventInput"]["example"].clone();
    assert!(example.is_object(), "EventInput has an example");
    let url = format!("/api/v1/dossiers/{CODE}/events");
    let (s, v) = vendor.post(&url, example.clone());
    assert_eq!(s, 201, "{v}");
    conforms(&doc, answer(&doc, events, "post", 201), &v, "event");
    let (s, v) = vendor.post(&url, example);
    assert_eq!((s, v["recorded"].as_bool()), (200, Some(false)), "{v}");
    conforms(&doc, answer(&doc, events, "post", 200), &v, "repeat");
    let (s, v) = vendor.post(&url, json!({"status": 42, "at": "2026-11-30 10:00"}));
    assert_eq!(s, 400, "{v}");
    conforms(&doc, answer(&doc, events, "post", 400), &v, "bad event");

    let (s, v) = vendor.get(&format!("/api/v1/dossiers/{CODE}"));
    assert_eq!(s, 200, "{v}");
    conforms(
        &doc,
        answer(&doc, "/api/v1/dossiers/{code}", "get", 200),
        &v,
        "dossier",
    );
    assert_eq!(v["status"], 4, "{v}");
    assert!(
        v.get("full_name").is_none() && !v.to_string().contains("Trần"),
        "{v}"
    );
    let (s, v) = vendor.get("/api/v1/dossiers/000.00.17.H29-261110-9999");
    assert_eq!(s, 404, "{v}");
    conforms(
        &doc,
        answer(&doc, "/api/v1/dossiers/{code}", "get", 404),
        &v,
        "missing",
    );

    // CSV: the documented example (its one row is the event recorded above: skipped), a
    // new row, then a file with a bad row (nothing recorded, the bad line named).
    let csv_path = "/api/v1/dossiers/events.csv";
    let body = &doc["paths"][csv_path]["post"]["requestBody"]["content"]["text/csv"];
    let sample = body["example"].as_str().expect("CSV example");
    assert!(sample.contains(CODE), "{sample}");
    let (s, v) = vendor.post_raw(csv_path, "text/csv", sample.as_bytes());
    assert_eq!(
        (s, v["applied"].as_u64(), v["already_present"].as_u64()),
        (200, Some(0), Some(1)),
        "{v}"
    );
    conforms(&doc, answer(&doc, csv_path, "post", 200), &v, "import");
    let row = format!("code,status,at\n{CODE},5,2026-11-30 11:00\n");
    let (s, v) = vendor.post_raw(csv_path, "text/csv", row.as_bytes());
    assert_eq!((s, v["applied"].as_u64()), (200, Some(1)), "{v}");
    let bad = format!("code,status,at\n{CODE},4,2026-11-30 12:00\n{CODE},42,2026-11-30 12:30\n");
    let (s, v) = vendor.post_raw(csv_path, "text/csv", bad.as_bytes());
    assert_eq!(s, 422, "{v}");
    conforms(&doc, answer(&doc, csv_path, "post", 422), &v, "rejected");
    assert_eq!(v["rows"][0]["line"], 3, "{v}");
    assert_eq!(
        o.clerk.get(&format!("/api/v1/dossiers/{CODE}")).1["status"],
        5
    );

    // A kiosk's token is not an integration token.
    let kiosk = Client::with_bearer(&o.server.base, &o.kiosk_token);
    assert_eq!(
        kiosk.post_raw(csv_path, "text/csv", sample.as_bytes()).0,
        403
    );
    assert_eq!(kiosk.get(&format!("/api/v1/dossiers/{CODE}")).0, 403);
}

/// `/api/docs` in headless Chromium: the vendored Swagger UI shows every documented
/// operation, loads nothing from outside the server and breaks no page policy.
#[test]
fn the_reference_page_shows_every_operation() {
    if !common::browser::tooling() {
        return;
    }
    let o = Office::start();
    let (_, doc) = Client::new(&o.server.base).get("/api/v1/openapi.json");
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    let art = common::browser::artifacts();
    let (ok, out) = common::browser::node(
        "api_docs.mjs",
        &[
            o.server.base.as_str(),
            art.to_str().unwrap(),
            &operations.to_string(),
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("OK api docs {operations} operations")),
        "{out}"
    );
}
