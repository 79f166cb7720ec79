//! The operator's commands on one office's data: accounts and device tokens, status
//! import, the audit check, init, backup, restore and purge — each calling the same use
//! cases as the HTTP API.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use hoso::auth::{Principal, Role};
use hoso::config::Config;

use super::open_app;

/// `hoso admin create-user`: the password comes from standard input.
pub fn create_user(config: Config, role: &str, username: &str, office: Option<&str>) -> Result<()> {
    let app = open_app(config)?;
    let role = Role::parse(role)
        .filter(|r| r.is_person())
        .context("--role must be clerk or admin")?;
    let mut pw = String::new();
    std::io::stdin()
        .read_line(&mut pw)
        .context("reading the password from standard input")?;
    let id = app.create_user(
        &Principal::operator("cli"),
        username,
        pw.trim_end_matches(['\n', '\r']),
        role,
        office,
    )?;
    println!("created {} {username} (id {id})", role.as_str());
    Ok(())
}

/// `hoso admin create-office`.
pub fn create_office(config: Config, o: hoso::app::offices::OfficeInput) -> Result<()> {
    let app = open_app(config)?;
    let id = app.create_office(&Principal::operator("cli"), &o)?;
    println!("created office {} (id {id})", o.code);
    Ok(())
}

/// `hoso admin offices`: code, id and name, one office per line.
pub fn list_offices(config: Config) -> Result<()> {
    let app = open_app(config)?;
    for o in app.offices(&Principal::operator("cli"))? {
        println!("{}\t{}\t{}", o.code, o.id, o.name);
    }
    Ok(())
}

/// `hoso admin issue-token`: the token on standard output; a kiosk's setup link on
/// standard error.
pub fn issue_token(config: Config, role: &str, name: &str, office: Option<&str>) -> Result<()> {
    let app = open_app(config)?;
    let role = Role::parse(role)
        .filter(|r| !r.is_person())
        .context("--role must be kiosk or integration")?;
    let (id, token) = app.issue_token(&Principal::operator("cli"), role, name, office)?;
    println!("{token}");
    if role == Role::Kiosk {
        let code = app.setup_code(id, &token)?;
        eprintln!(
            "setup link (one use, {} days): {}/kiosk/#pair={code}",
            hoso::app::pairing::SETUP_CODE_DAYS,
            app.config.office.public_url.trim_end_matches('/')
        );
    }
    Ok(())
}

/// `hoso import-status FILE`.
pub fn import_status(config: Config, file: &std::path::Path) -> Result<()> {
    let app = open_app(config)?;
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    match app.import_csv(&Principal::operator("cli:import"), &data) {
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
    Ok(())
}

/// `hoso audit verify`.
pub fn audit_verify(config: &Config) -> Result<()> {
    let (_, store) = hoso::boot::open(config, true)?;
    match store.verify_audit()? {
        None => println!("audit log intact"),
        Some(b) => bail!("audit log broken at entry {}: {}", b.entry, b.reason),
    }
    Ok(())
}

/// `hoso backup` and `restore` copy the SQLite file; a PostgreSQL database has its own tools.
fn refuse_on_postgres(config: &Config, what: &str) -> Result<()> {
    if config.database.url.is_some() {
        bail!(
            "hoso {what} copies the SQLite file; with a PostgreSQL database use pg_dump and \
             pg_restore (deploy/README.md)"
        );
    }
    Ok(())
}

/// `hoso migrate`: creates or upgrades the configured database's schema, then exits.
pub fn migrate(config: &Config) -> Result<()> {
    let (_, store) = hoso::boot::open(config, false)?;
    let what = match store.dialect() {
        hoso::store::Dialect::Postgres => "PostgreSQL database",
        hoso::store::Dialect::Sqlite => "SQLite database",
    };
    println!("{what} at schema version {}", hoso::store::schema_version());
    Ok(())
}

/// `hoso init`.
pub fn init(config: &Config) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    hoso::store::make_private(&config.data_dir, 0o700)
        .with_context(|| format!("securing {}", config.data_dir.display()))?;
    hoso::boot::open(config, false)?;
    println!("data directory ready: {}", config.data_dir.display());
    if config.tls.listen.is_some() {
        let (cert, _) = hoso::tls::cert_and_key(config)?;
        println!("TLS certificate: {}", cert.display());
    }
    Ok(())
}

/// `hoso backup`.
pub fn backup(config: &Config, to: Option<PathBuf>, keep: Option<usize>) -> Result<()> {
    refuse_on_postgres(config, "backup")?;
    let keys = hoso::boot::open_keys(config, true)?;
    let store = hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
    let dest = match to {
        Some(t) => t,
        None => {
            let dir = config.backup_dir();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join(hoso::backup::file_name(hoso::store::now()))
        }
    };
    let size = hoso::backup::create_audited(&store, &keys, &config.data_dir, &dest, "cli")?;
    if let Some(n) = keep {
        for old in hoso::backup::keep_newest(&config.backup_dir(), n.max(1)) {
            println!("pruned {}", old.display());
        }
    }
    println!(
        "encrypted backup written to {} ({size} bytes)",
        dest.display()
    );
    Ok(())
}

/// `hoso restore`: refused while a server runs on the data directory (its lock); after the
/// copy, every withdrawal, purge, token revocation and account change recorded after the
/// backup (the restore journal, kept outside the database) is applied again, sessions end,
/// and the restore is audited.
pub fn restore(config: &Config, from: &std::path::Path, force: bool) -> Result<()> {
    refuse_on_postgres(config, "restore")?;
    let _lock = hoso::lock::DataDirLock::acquire(&config.data_dir)?;
    let keys = hoso::boot::open_keys(config, true)?;
    if config.data_dir.join("hoso.sqlite3").exists() && !force {
        bail!(
            "{} already has a database; stop the service and pass --force to replace it",
            config.data_dir.display()
        );
    }
    hoso::backup::restore(&keys.backup_key(), from, &config.data_dir)?;
    let store = hoso::store::Store::open(&config.data_dir, keys.audit_key())?;
    let journal = hoso::journal::Journal::new(&config.data_dir);
    let name = from.file_name().map_or_else(
        || from.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let done = hoso::journal::reapply(&store, &journal, &name, hoso::store::now())?;
    store.checkpoint()?;
    let when = chrono::DateTime::from_timestamp(done.backup_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    println!(
        "restored {} (its last entry: {when}); re-applied since then: {} purge(s)/withdrawal(s), \
         {} token revocation(s), {} password change(s), {} account change(s); every session ended",
        from.display(),
        done.purges,
        done.revocations,
        done.password_changes,
        done.account_changes
    );
    match store.verify_audit()? {
        None => println!(
            "audit log intact up to the backup, then the restore entry; entries written after \
             {when} were on the replaced database"
        ),
        Some(b) => println!(
            "WARNING: audit log broken at entry {}: {}",
            b.entry, b.reason
        ),
    }
    Ok(())
}

/// `hoso purge`.
pub fn purge(
    config: Config,
    dry_run: bool,
    now: Option<String>,
    applicant: Option<i64>,
) -> Result<()> {
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
            &Principal::operator("cli"),
            hoso::applicant::ApplicantId(id),
            hoso::app::retention::PurgeReason::Admin,
            "hoso purge --applicant",
            t,
        )?;
        println!("purged applicant {id}: {n} template(s), key destroyed");
        return Ok(());
    }
    let r = app.retention_run(&Principal::operator("cli"), t, dry_run)?;
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
    Ok(())
}
