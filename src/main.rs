//! The `hoso` command line: serve, eval, bench and face comparison. Errors end here as
//! one clear message and a non-zero exit code.

mod cmd;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use hoso::config::Config;

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
    /// PostgreSQL database shared by the deployment's servers, postgres://user@host:port/db
    /// (overrides database.url; without it: SQLite in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// The key database for applicants' data keys, postgres://user@host:port/keys_db: a
    /// database of its own, never the main one (overrides database.keys_url; without it:
    /// key files in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    keys_database: Option<String>,
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
    Eval(cmd::measure::EvalArgs),
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
    /// Create or upgrade the database schema (SQLite or --database) and exit; servers
    /// starting together on one PostgreSQL database migrate it once.
    Migrate,
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
        /// The office's code (a clerk's is required when there are several offices); an
        /// admin without one acts for every office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Issue a kiosk or integration device token (printed once).
    IssueToken {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// The office's code (a kiosk's is required when there are several offices); an
        /// integration token without one serves every office.
        #[arg(long)]
        office: Option<String>,
    },
    /// Create an office (a tenant: its clerks, kiosks, dossiers and statistics).
    CreateOffice {
        /// A short unique code, e.g. "phuong-ben-thanh".
        #[arg(long)]
        code: String,
        /// The name printed on receipts.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        address: String,
        /// Where results are returned (printed on receipts).
        #[arg(long, default_value = "")]
        return_place: String,
        /// The start of this office's dossier codes (the kiosk keypad's prefix).
        #[arg(long, default_value = "")]
        code_prefix: String,
    },
    /// List the offices.
    Offices,
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
    /// Write the chips one network sees for every face photo of a labelled folder, as raw
    /// little-endian f32 in the network's input layout: an embedder's aligned chips (and
    /// their mirror images), or a liveness model's crops of the live photos and of the
    /// `_spoof/` attacks. The calibration input of models/convert/quantize_int8.py.
    /// Nothing is kept of them.
    Chips {
        /// A labelled face folder (`<identity>/<image>`).
        #[arg(long)]
        faces: PathBuf,
        /// The embedder or passive liveness model (manifest name) whose chips to write.
        #[arg(long, default_value = "fr_feature")]
        embedder: String,
        /// Output file (raw f32).
        #[arg(long)]
        out: PathBuf,
    },
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
    if let Some(u) = &cli.database {
        c.database.url = Some(u.clone());
    }
    if let Some(u) = &cli.keys_database {
        c.database.keys_url = Some(u.clone());
    }
    Ok(c)
}

fn faces(config: &Config, sub: FacesCmd) -> Result<()> {
    match sub {
        FacesCmd::Compare { a, b } => cmd::measure::compare(config, &a, &b),
        FacesCmd::Chips {
            faces,
            embedder,
            out,
        } => cmd::measure::chips(config, &faces, &embedder, &out),
    }
}

fn admin(config: Config, sub: AdminCmd) -> Result<()> {
    match sub {
        AdminCmd::CreateUser {
            role,
            username,
            office,
        } => cmd::data::create_user(config, &role, &username, office.as_deref()),
        AdminCmd::IssueToken { role, name, office } => {
            cmd::data::issue_token(config, &role, &name, office.as_deref())
        }
        AdminCmd::CreateOffice {
            code,
            name,
            address,
            return_place,
            code_prefix,
        } => cmd::data::create_office(
            config,
            hoso::app::offices::OfficeInput {
                code,
                name,
                address,
                return_place,
                code_prefix,
            },
        ),
        AdminCmd::Offices => cmd::data::list_offices(config),
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = load_config(&cli)?;
    match cli.cmd {
        Cmd::Serve {
            listen,
            demo,
            tls_listen,
            camera,
            camera_kiosk,
        } => cmd::serve::serve(
            config,
            cmd::serve::ServeArgs {
                listen,
                demo,
                tls_listen,
                camera,
                camera_kiosk,
                data_dir_given: cli.data_dir.is_some(),
            },
        ),
        Cmd::Eval(a) => cmd::measure::eval(&config, a),
        Cmd::EvalPad {
            faces,
            json,
            verbose,
            calibrate,
        } => cmd::measure::eval_pad(&config, &faces, json, verbose, calibrate),
        Cmd::Bench {
            json,
            image,
            iterations,
            max_gallery,
        } => cmd::measure::bench(&config, json, image, iterations, max_gallery),
        Cmd::Faces { cmd: sub } => faces(&config, sub),
        Cmd::Admin { cmd: sub } => admin(config, sub),
        Cmd::ImportStatus { file } => cmd::data::import_status(config, &file),
        Cmd::Audit {
            cmd: AuditCmd::Verify,
        } => cmd::data::audit_verify(&config),
        Cmd::Init => cmd::data::init(&config),
        Cmd::Migrate => cmd::data::migrate(&config),
        Cmd::Backup { to, keep } => cmd::data::backup(&config, to, keep),
        Cmd::Restore { from, force } => cmd::data::restore(&config, &from, force),
        Cmd::Purge {
            dry_run,
            now,
            applicant,
        } => cmd::data::purge(config, dry_run, now, applicant),
    }
}
