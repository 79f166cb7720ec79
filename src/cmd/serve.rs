//! `hoso serve`: open the app (demo accounts in demo mode), the optional server camera,
//! and the HTTP/HTTPS service until a signal.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use hoso::auth::Role;
use hoso::config::Config;

use super::load_engine;

/// What `hoso serve` was asked for on its command line.
pub struct ServeArgs {
    pub listen: Option<std::net::SocketAddr>,
    pub demo: bool,
    pub tls_listen: Option<std::net::SocketAddr>,
    pub camera: Option<String>,
    pub camera_kiosk: Option<String>,
    /// Whether --data-dir was given (demo mode then keeps it).
    pub data_dir_given: bool,
}

pub fn serve(mut config: Config, args: ServeArgs) -> Result<()> {
    let ServeArgs {
        listen,
        demo,
        tls_listen,
        camera,
        camera_kiosk,
        data_dir_given,
    } = args;
    if let Some(l) = listen {
        config.listen = l;
    }
    if tls_listen.is_some() {
        config.tls.listen = tls_listen;
    }
    if demo && !data_dir_given && std::env::var_os("HOSO_DATA_DIR").is_none() {
        config.data_dir = PathBuf::from("demo-data");
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    // Held until the process ends: a restore refuses to run under this server.
    let _lock = hoso::lock::DataDirLock::acquire(&config.data_dir)?;
    let engine = load_engine(&config)?;
    let app = hoso::app::App::open(config, engine, demo)?;
    if demo {
        demo_accounts(&app)?;
        let guide = app.demo_setup()?;
        print_guide(&format!("http://{}", app.config.listen), &guide);
        let _ = app.demo_guide.set(guide);
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
    Ok(())
}

/// Demo mode: an admin and a clerk account, printed on start.
fn demo_accounts(app: &hoso::app::App) -> Result<()> {
    let op = hoso::auth::Principal::operator("demo");
    for (user, role, name) in [
        ("admin", Role::Admin, "Trần Văn Quản"),
        ("clerk", Role::Clerk, "Nguyễn Thị Lan"),
    ] {
        match app.create_user(&op, user, hoso::app::demo::PASSWORD, role, None) {
            Ok(id) => app.set_display_name(&op, id, Some(name))?,
            Err(hoso::app::AppError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What a newcomer opens first, on standard error (the first line of standard output stays
/// the listening address).
fn print_guide(base: &str, g: &hoso::app::demo::DemoGuide) {
    let pw = hoso::app::demo::PASSWORD;
    eprintln!("Hồ Sơ demo — open in a browser:");
    eprintln!("  start page   {base}/");
    eprintln!("  clerk desk   {base}{}   (clerk / {pw})", g.clerk);
    eprintln!("  admin desk   {base}{}   (admin / {pw})", g.admin);
    eprintln!("  lobby kiosk  {base}{}", g.kiosk);
    if !g.samples.is_empty() {
        eprintln!("  sample dossiers (kiosk keypad: code + last 4 ID digits; receipt link):");
    }
    for s in &g.samples {
        eprintln!(
            "    {}  {}  {}  {base}{}",
            s.code, s.id_digits, s.status, s.status_page
        );
    }
    eprintln!(
        "  enrol yourself at the clerk desk with your webcam, then stand in front of the kiosk."
    );
}
