//! The `hoso` command line: serve, eval, bench and face comparison. Errors end here as
//! one clear message and a non-zero exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use hoso::auth::Role;
use hoso::config::Config;
use hoso::score;
use hoso::vision::{decode, FaceEngine};

#[derive(Parser)]
#[command(
    name = "hoso",
    version,
    about = "Hồ Sơ — dossier-status kiosk with face recognition"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (overrides the config).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Recognition profile from models/manifest.toml: fr_feature (default) or open-weights
    /// (overrides vision.profile).
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on (overrides the config).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Demo mode: a local data directory and sample data.
        #[arg(long)]
        demo: bool,
        /// Also serve HTTPS for LAN clients on this address (overrides tls.listen).
        #[arg(long)]
        tls_listen: Option<std::net::SocketAddr>,
        /// Capture frames on the server from this camera (index or /dev/videoN); the kiosk
        /// page then shows the decisions (open it with #camera=server).
        #[arg(long, requires = "camera_kiosk")]
        camera: Option<String>,
        /// The kiosk device (its name on the admin page) whose page shows the server
        /// camera's decisions; no other kiosk receives them.
        #[arg(long)]
        camera_kiosk: Option<String>,
    },
    /// Measure every scorer on a labelled face folder (<identity>/<image>).
    Eval {
        #[arg(long)]
        faces: PathBuf,
        /// Enrolment images per identity in the 1:N protocol.
        #[arg(long, default_value_t = 2)]
        enrol: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Write the measured operating points into the model manifest.
        #[arg(long)]
        calibrate: bool,
        /// Replay the photos as kiosk visits through the frames use case (visit-level
        /// FNIR/FPIR, frames and time to a decision); with --calibrate, set the visit
        /// threshold.
        #[arg(long)]
        kiosk: bool,
        /// Frames per visit (--kiosk).
        #[arg(long, default_value_t = 12)]
        frames: usize,
        /// Seed of the visits' jitter (--kiosk).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Measure presentation-attack detection: bona fide = identity folders, attacks =
    /// `_spoof/<identity>/` (APCER per species, BPCER, EER; ISO/IEC 30107-3 terms).
    EvalPad {
        #[arg(long)]
        faces: PathBuf,
        #[arg(long)]
        json: bool,
        /// Also list every presentation's scores.
        #[arg(long)]
        verbose: bool,
        /// Write the passive check's operating point (reject, accept) into the manifest.
        #[arg(long)]
        calibrate: bool,
    },
    /// Benchmark the pipeline stages and the gallery search.
    Bench {
        #[arg(long)]
        json: bool,
        /// A photo with one face (default: the first NUAA live frame in $HOSO_TEST_FACES or ../shared/faces).
        #[arg(long)]
        image: Option<PathBuf>,
        /// Number of timed frames per stage.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        /// Largest synthetic gallery to search (templates).
        #[arg(long, default_value_t = 1_000_000)]
        max_gallery: usize,
    },
    /// Face utilities.
    Faces {
        #[command(subcommand)]
        cmd: FacesCmd,
    },
    /// Accounts and device tokens.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Import dossier status events from CSV (code,status,at[,note,agency,new_due_at]):
    /// all rows or none; rows already imported are skipped.
    ImportStatus { file: PathBuf },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// An encrypted, consistent copy of the database (SQLite online backup, AES-256-GCM
    /// with a key derived from the deployment key). Applicant keys are never part of a
    /// backup. Without --to: <backup_dir>/hoso-<UTC time>.hosobak, pruned by retention.
    Backup {
        #[arg(long)]
        to: Option<PathBuf>,
        /// After a backup into the backup folder, keep only the newest N there.
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Prepare the data directory: the deployment key, the database, and the self-signed
    /// certificate when tls.listen is set. Idempotent (the package runs it on install).
    Init,
    /// Restore a backup into the data directory (stop the service first). Needs the same
    /// deployment key (<data_dir>/keys/deployment.key).
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
    /// Run the retention job: purge the face data of people whose dossiers are all closed
    /// for longer than the grace period, and prune old backups.
    Purge {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Pretend it is this time (RFC 3339 or "YYYY-MM-DD HH:MM" Vietnam time).
        #[arg(long)]
        now: Option<String>,
        /// Purge this applicant now, whatever their dossiers (an admin purge).
        #[arg(long)]
        applicant: Option<i64>,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create a clerk or admin account; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        role: String,
        #[arg(long)]
        username: String,
    },
    /// Issue a kiosk or integration device token (printed once).
    IssueToken {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain; names the first bad entry.
    Verify,
}

#[derive(Subcommand)]
enum FacesCmd {
    /// Compare the main faces of two photos with every scorer.
    Compare { a: PathBuf, b: PathBuf },
}

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core) and
/// keeps what each arena once held; frames run on short-lived threads, so cap the arenas
/// at one per core: peak RSS stays lower at no measurable cost. And glibc raises its mmap
/// threshold after large frees (up to 32 MiB), after which decoded images live in the
/// arenas and are never given back: a fixed 2 MiB threshold returns every image buffer
/// to the system when it is freed.
fn limit_malloc_arenas() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, cores.clamp(1, 8) as libc::c_int);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 2 << 20);
    }
}

fn main() {
    limit_malloc_arenas();
    // Files this process creates (database, WAL, backups, keys, certificates) are its own.
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,ort=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("hoso: error: {e:#}");
        std::process::exit(1);
    }
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut c = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    if let Some(p) = &cli.profile {
        c.vision.profile = Some(p.clone());
    }
    Ok(c)
}

fn load_engine(c: &Config) -> Result<FaceEngine> {
    let dir = c.models_dir();
    FaceEngine::load(&dir, &c.engine_options())
        .with_context(|| format!("loading the face engine from {}", dir.display()))
}

/// `hoso eval-pad`: per frame and per visit, the kiosk's policy, optional calibration.
fn eval_pad(
    config: &Config,
    faces: &Path,
    json: bool,
    verbose: bool,
    calibrate: bool,
) -> Result<()> {
    use hoso::config::LivenessMode;
    let engine = load_engine(config)?;
    let limits = config.decode_limits();
    let r = hoso::eval::pad::evaluate_pad(&engine, faces, config.vision.min_face_px, &limits)?;
    let visits = hoso::eval::pad_visits::evaluate(
        &engine,
        &r,
        faces,
        config.vision.enrol_min_face_px,
        &limits,
        engine.manifest.liveness.as_ref(),
        calibrate,
    )?;
    if calibrate {
        let v = visits
            .as_ref()
            .context("no passive model in the manifest to calibrate")?;
        let mut m = hoso::vision::Manifest::load(&engine.manifest.dir)?;
        m.liveness = Some(hoso::vision::manifest::LivenessPoint {
            passive: v.model.clone(),
            reject: v.reject,
            accept: v.accept,
            min_frames: v.min_frames,
            measured_on: format!(
                "{} (hoso eval-pad --calibrate: {} bona fide / {} attack visits of {} jittered frames)",
                faces.display(),
                r.bona_fide,
                r.attacks.values().sum::<usize>(),
                v.frames_per_visit
            ),
        });
        m.save()?;
        eprintln!(
            "calibrated: reject {:.4}, accept {:.3}, written to the manifest",
            v.reject, v.accept
        );
    }
    let l = &config.liveness;
    let passive = engine
        .manifest
        .liveness
        .as_ref()
        .map_or("none", |p| p.passive.as_str());
    let challenge = format!(
        "every recognised face must pass a challenge of {} random head turns (>= {} deg) within {} s before any dossier is shown",
        l.steps, l.turn_deg, l.seconds
    );
    let policy = format!(
        "kiosk policy: liveness.mode = {:?}, passive model = {passive}; {}",
        l.mode,
        match l.mode {
            LivenessMode::Off => "NO presentation-attack defence".to_string(),
            LivenessMode::Active => challenge,
            _ if passive == "none" => challenge,
            LivenessMode::Passive => "the passive check over the visit accepts or refuses; in doubt, the fallbacks".to_string(),
            LivenessMode::PassiveActive => format!(
                "the passive check over the visit accepts (every good frame confidently live) or refuses (clear attack); anything else gets the challenge of {} head turns",
                l.steps
            ),
        }
    );
    if json {
        let mut v = serde_json::to_value(&r)?;
        v["policy"] = serde_json::Value::String(policy);
        v["visits"] = serde_json::to_value(&visits)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", hoso::eval::pad::text(&r));
    if let Some(v) = &visits {
        print!("{}", hoso::eval::pad_visits::text(v));
    }
    println!("\n{policy}");
    if verbose {
        for p in &r.presentations {
            println!(
                "  {:<60} {:<9} yaw {:+6.1} pitch {:+6.1} {:?}",
                p.file, p.kind, p.yaw, p.pitch, p.scores
            );
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let mut config = load_config(&cli)?;
    match cli.cmd {
        Cmd::Serve {
            listen,
            demo,
            tls_listen,
            camera,
            camera_kiosk,
        } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if tls_listen.is_some() {
                config.tls.listen = tls_listen;
            }
            if demo && cli.data_dir.is_none() && std::env::var_os("HOSO_DATA_DIR").is_none() {
                config.data_dir = PathBuf::from("demo-data");
            }
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating data directory {}", config.data_dir.display())
            })?;
            let engine = load_engine(&config)?;
            let app = hoso::app::App::open(config, engine, demo)?;
            if demo {
                demo_accounts(&app)?;
            }
            let app = Arc::new(app);
            // A camera that cannot be opened stops the start, naming the device.
            if let (Some(spec), Some(name)) = (camera.as_deref(), camera_kiosk.as_deref()) {
                hoso::camera::check(spec)?;
                let device = app.kiosk_device(name)?;
                hoso::camera::start(app.clone(), spec, device)?;
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(hoso::server::serve(app))?;
        }
        Cmd::Eval {
            faces,
            enrol,
            json,
            calibrate,
            kiosk: true,
            frames,
            seed,
        } => {
            let engine = load_engine(&config)?;
            let opts = hoso::eval::kiosk::KioskEvalOptions {
                enrol: enrol.max(1),
                frames: frames.clamp(2, 100),
                seed,
                calibrate,
            };
            let r = hoso::eval::kiosk::evaluate_kiosk(&config, engine, &faces, &opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", hoso::eval::kiosk::text(&r));
            }
        }
        Cmd::Eval {
            faces,
            enrol,
            json,
            calibrate,
            ..
        } => {
            let engine = load_engine(&config)?;
            let opts = hoso::eval::EvalOptions {
                enrol: enrol.max(1),
                min_face: config.vision.enrol_min_face_px,
                limits: config.decode_limits(),
            };
            let (report, stats) = hoso::eval::evaluate(&engine, &faces, &opts, calibrate)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", hoso::eval::report::text(&report));
            }
            if calibrate {
                let m = hoso::eval::calibrate(&engine, &report, &stats, &faces)?;
                eprintln!(
                    "calibrated: kiosk scorer {}, combine {}, written to {}",
                    m.scorer.kiosk,
                    m.scorer.combine,
                    m.dir.join(hoso::vision::Manifest::FILE).display()
                );
            }
        }
        Cmd::EvalPad {
            faces,
            json,
            verbose,
            calibrate,
        } => eval_pad(&config, &faces, json, verbose, calibrate)?,
        Cmd::Bench {
            json,
            image,
            iterations,
            max_gallery,
        } => {
            let image = match image {
                Some(i) => i,
                None => default_bench_image()?,
            };
            let report = hoso::bench::run(&config, &image, iterations.max(5), max_gallery)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", hoso::bench::text(&report));
            }
        }
        Cmd::Faces {
            cmd: FacesCmd::Compare { a, b },
        } => compare(&config, &a, &b)?,
        Cmd::Admin { cmd } => {
            let app = open_app(config)?;
            match cmd {
                AdminCmd::CreateUser { role, username } => {
                    let role = Role::parse(&role)
                        .filter(|r| r.is_person())
                        .context("--role must be clerk or admin")?;
                    let mut pw = String::new();
                    std::io::stdin()
                        .read_line(&mut pw)
                        .context("reading the password from standard input")?;
                    let id =
                        app.create_user("cli", &username, pw.trim_end_matches(['\n', '\r']), role)?;
                    println!("created {} {username} (id {id})", role.as_str());
                }
                AdminCmd::IssueToken { role, name } => {
                    let role = Role::parse(&role)
                        .filter(|r| !r.is_person())
                        .context("--role must be kiosk or integration")?;
                    let (id, token) = app.issue_token("cli", role, &name)?;
                    println!("{token}");
                    if role == Role::Kiosk {
                        let code = app.setup_code(id, &token)?;
                        eprintln!(
                            "setup link (one use, {} days): {}/kiosk/#pair={code}",
                            hoso::app::pairing::SETUP_CODE_DAYS,
                            app.config.office.public_url.trim_end_matches('/')
                        );
                    }
                }
            }
        }
        Cmd::ImportStatus { file } => {
            let app = open_app(config)?;
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            match app.import_csv("cli:import", &data) {
                Ok((applied, dup)) => {
                    println!("imported {applied} event(s); {dup} already present")
                }
                Err(hoso::app::dossiers::ImportError::Rows(rows)) => {
                    for r in &rows {
                        eprintln!("line {}: {}", r.line, r.message);
                    }
                    bail!("{} row(s) have errors; nothing was imported", rows.len());
                }
                Err(e) => bail!("{e}"),
            }
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify,
        } => {
            let keys = hoso::crypto::Keys::open_existing(&config.data_dir)?;
            let store = hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
            match store.verify_audit()? {
                None => println!("audit log intact"),
                Some(b) => bail!("audit log broken at entry {}: {}", b.entry, b.reason),
            }
        }
        Cmd::Init => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating {}", config.data_dir.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("securing {}", config.data_dir.display()))?;
            }
            let keys = hoso::crypto::Keys::open_or_create(&config.data_dir)?;
            hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
            println!("data directory ready: {}", config.data_dir.display());
            if config.tls.listen.is_some() {
                let (cert, _) = hoso::tls::cert_and_key(&config)?;
                println!("TLS certificate: {}", cert.display());
            }
        }
        Cmd::Backup { to, keep } => {
            let keys = hoso::crypto::Keys::open_existing(&config.data_dir)?;
            let store = hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
            let dest = match to {
                Some(t) => t,
                None => {
                    let dir = config.backup_dir();
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    dir.join(hoso::backup::file_name(hoso::store::now()))
                }
            };
            let size = hoso::backup::create(&store, &keys.backup_key(), &config.data_dir, &dest)?;
            if let Some(n) = keep {
                for old in hoso::backup::keep_newest(&config.backup_dir(), n.max(1)) {
                    println!("pruned {}", old.display());
                }
            }
            let at = hoso::store::now();
            store.tx(|tx| {
                hoso::store::audit::append(
                    tx,
                    store.audit_key(),
                    &hoso::store::AuditEntry {
                        actor: "cli",
                        action: "backup.create",
                        subject: &dest.display().to_string(),
                        detail: serde_json::json!({"bytes": size}),
                    },
                    at,
                )
            })?;
            println!(
                "encrypted backup written to {} ({size} bytes)",
                dest.display()
            );
        }
        Cmd::Restore { from, force } => {
            let keys = hoso::crypto::Keys::open_existing(&config.data_dir)?;
            if config.data_dir.join("hoso.sqlite3").exists() && !force {
                bail!(
                    "{} already has a database; stop the service and pass --force to replace it",
                    config.data_dir.display()
                );
            }
            hoso::backup::restore(&keys.backup_key(), &from, &config.data_dir)?;
            let store = hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
            match store.verify_audit()? {
                None => println!("restored {}; audit log intact", from.display()),
                Some(b) => println!(
                    "restored {}; WARNING: audit log broken at entry {}: {}",
                    from.display(),
                    b.entry,
                    b.reason
                ),
            }
        }
        Cmd::Purge {
            dry_run,
            now,
            applicant,
        } => {
            let app = open_app(config)?;
            let t = match now.as_deref() {
                Some(s) => hoso::app::dossiers::parse_time(s)?.timestamp(),
                None => hoso::store::now(),
            };
            if let Some(id) = applicant {
                if dry_run {
                    bail!("--applicant purges at once; it has no --dry-run");
                }
                let n = app.purge(
                    "cli",
                    None,
                    id,
                    hoso::app::retention::PurgeReason::Admin,
                    "hoso purge --applicant",
                    t,
                )?;
                println!("purged applicant {id}: {n} template(s), key destroyed");
                return Ok(());
            }
            let r = app.retention_run("cli", t, dry_run)?;
            let verb = if dry_run { "would purge" } else { "purged" };
            println!(
                "retention (grace {} days) at {}: {verb} {} person(s), {} backup(s)",
                r.grace_days,
                chrono::DateTime::from_timestamp(t, 0)
                    .unwrap_or_default()
                    .to_rfc3339(),
                r.people.len(),
                r.backups.len()
            );
            for p in &r.people {
                println!(
                    "  applicant {} {}  last dossier closed {}",
                    p.applicant_id,
                    p.display_name,
                    p.closed_at
                        .and_then(|c| chrono::DateTime::from_timestamp(c, 0))
                        .map_or("never (no dossier)".to_string(), |c| c.to_rfc3339())
                );
            }
            for b in &r.backups {
                println!("  backup {b}");
            }
        }
    }
    Ok(())
}

/// Opens the application (database, keys, models and gallery).
fn open_app(config: Config) -> Result<hoso::app::App> {
    let engine = load_engine(&config)?;
    Ok(hoso::app::App::open(config, engine, false)?)
}

/// Demo mode: an admin and a clerk account, printed on start.
fn demo_accounts(app: &hoso::app::App) -> Result<()> {
    for (user, role) in [("admin", Role::Admin), ("clerk", Role::Clerk)] {
        match app.create_user("demo", user, "hoso-demo-2026", role) {
            Ok(_) | Err(hoso::app::AppError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    eprintln!("demo accounts: admin / hoso-demo-2026 and clerk / hoso-demo-2026");
    Ok(())
}

fn default_bench_image() -> Result<PathBuf> {
    let root = std::env::var_os("HOSO_TEST_FACES")
        .map_or_else(|| PathBuf::from("../shared/faces"), PathBuf::from);
    let dir = root.join("nuaa_0001");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("no --image given and {} is not readable", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .context("no image in the default bench folder; pass --image")
}

fn compare(config: &Config, a: &Path, b: &Path) -> Result<()> {
    let engine = load_engine(config)?;
    let mut templates = Vec::new();
    for p in [a, b] {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let img = decode(&bytes, &config.decode_limits())
            .with_context(|| format!("decoding {}", p.display()))?;
        let faces = engine.detect_framed(&img, config.vision.enrol_min_face_px)?;
        let Some(face) = hoso::vision::primary_face(&faces, img.width(), img.height()) else {
            bail!("no face found in {}", p.display());
        };
        let q = engine.quality(&img, face);
        let issue = config.vision.quality.check(&q);
        println!(
            "{}: {} face(s); main face {:.0}×{:.0} px at ({:.0},{:.0}), score {:.3}\n  inter-eye {:.1} px, yaw {:+.1}°, pitch {:+.1}°, roll {:+.1}°, sharpness {:.1}, brightness {:.0}, quality {:.2}{}",
            p.display(),
            faces.len(),
            face.width(),
            face.height(),
            face.bbox[0],
            face.bbox[1],
            face.score,
            q.inter_eye_px,
            q.yaw_deg,
            q.pitch_deg,
            q.roll_deg,
            q.sharpness,
            q.brightness,
            q.score,
            issue.map(|i| format!(" — kiosk gate: {}", i.code())).unwrap_or_default()
        );
        templates.push(engine.embed(&img, std::slice::from_ref(face))?.remove(0));
    }
    for s in score::scorers(&engine.manifest, engine.segments(), None) {
        let v = s.score(engine.segments(), &templates[0], &templates[1]);
        let verdict = match s.threshold_far_1e3 {
            Some(t) if v >= t => format!("same person (≥ {t:.3} at FAR 1e-3)"),
            Some(t) => format!("different people (< {t:.3} at FAR 1e-3)"),
            None => "not calibrated (run `hoso eval --calibrate`)".to_string(),
        };
        println!("{:>8}: {v:.4}  {verdict}", s.name);
    }
    Ok(())
}
