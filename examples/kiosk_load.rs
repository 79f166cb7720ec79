//! A bounded load of kiosks on a running `hoso serve`, over HTTP on loopback: `--kiosks` kiosk
//! threads each play visits of a photo (640×480 JPEG frames with small jitter, a new visit
//! after each decision) for `--seconds`, and the frames/s, per-frame latency (p50, p95, max),
//! decisions and refused requests are printed. With no `--token` the demo kiosk's is taken
//! from `GET /api/v1/demo` (start the server with `--demo`).
//!
//!     cargo run --release -- serve --demo &
//!     cargo run --release --example kiosk_load -- --kiosks 4 --seconds 30

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The server (plain HTTP, e.g. loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// A kiosk device token; default: the demo kiosk's.
    #[arg(long)]
    token: Option<String>,
    #[arg(long, default_value_t = 4)]
    kiosks: usize,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The photo played as visits.
    #[arg(long, default_value = "../shared/faces/deepface_p01/img5.jpg")]
    image: std::path::PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    states: BTreeMap<String, u64>,
    refused: BTreeMap<u16, u64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let base = a.base.trim_end_matches('/').to_string();
    let token = match a.token.clone() {
        Some(t) => t,
        None => {
            let guide: serde_json::Value = agent
                .get(format!("{base}/api/v1/demo"))
                .call()?
                .body_mut()
                .read_json()?;
            let link = guide["kiosk"].as_str().unwrap_or_default();
            link.split("token=")
                .nth(1)
                .ok_or_else(|| anyhow::anyhow!("no --token and no demo kiosk at {base}"))?
                .to_string()
        }
    };
    let photo = hoso::vision::decode(
        &std::fs::read(&a.image)?,
        &hoso::vision::DecodeLimits::default(),
    )?;
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..a.kiosks)
            .map(|k| {
                let (agent, base, token, photo) = (&agent, &base, &token, &photo);
                s.spawn(move || {
                    let mut t = Tally::default();
                    let mut visit_no = 0u64;
                    while Instant::now() < deadline {
                        visit_no += 1;
                        let session = format!("load-{k}-{visit_no}");
                        let mut v = hoso::eval::visits::Visit::new(photo, visit_no * 31 + k as u64);
                        for i in 0..12 {
                            if Instant::now() >= deadline {
                                break;
                            }
                            let frame = v.next_frame(i == 0);
                            let sent = Instant::now();
                            let r = agent
                                .post(format!("{base}/api/v1/kiosk/frames"))
                                .header("Authorization", &format!("Bearer {token}"))
                                .header("X-Kiosk-Session", &session)
                                .content_type("image/jpeg")
                                .send(&frame[..]);
                            let ms = sent.elapsed().as_secs_f64() * 1e3;
                            let mut r = match r {
                                Ok(r) => r,
                                Err(_) => {
                                    *t.refused.entry(0).or_default() += 1;
                                    continue;
                                }
                            };
                            let status = r.status().as_u16();
                            if status != 200 {
                                *t.refused.entry(status).or_default() += 1;
                                continue;
                            }
                            t.latencies_ms.push(ms);
                            let body: serde_json::Value =
                                r.body_mut().read_json().unwrap_or_default();
                            let state = body["state"].as_str().unwrap_or("?").to_string();
                            let decided = matches!(
                                state.as_str(),
                                "matched" | "no_match" | "challenge" | "spoof_suspected"
                            );
                            *t.states.entry(state).or_default() += 1;
                            if decided {
                                break;
                            }
                        }
                    }
                    t
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let mut all = Tally::default();
    for t in tallies {
        all.latencies_ms.extend(t.latencies_ms);
        for (k, v) in t.states {
            *all.states.entry(k).or_default() += v;
        }
        for (k, v) in t.refused {
            *all.refused.entry(k).or_default() += v;
        }
    }
    all.latencies_ms.sort_by(f64::total_cmp);
    let l = &all.latencies_ms;
    let report = serde_json::json!({
        "base": base,
        "kiosks": a.kiosks,
        "seconds": wall,
        "frames": l.len(),
        "frames_per_s": l.len() as f64 / wall,
        "latency_ms": {"p50": percentile(l, 0.5), "p95": percentile(l, 0.95), "max": l.last()},
        "states": all.states,
        "refused": all.refused,
    });
    if a.json {
        println!("{report:#}");
    } else {
        println!(
            "{} kiosks for {:.0} s on {base}: {} frames, {:.1} frames/s; per frame p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; decisions {:?}; refused {:?}",
            a.kiosks,
            wall,
            l.len(),
            l.len() as f64 / wall,
            percentile(l, 0.5),
            percentile(l, 0.95),
            l.last().copied().unwrap_or(f64::NAN),
            all.states,
            all.refused
        );
    }
    Ok(())
}
