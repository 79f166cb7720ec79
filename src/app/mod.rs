//! The application: the store, keys, face engine and gallery wired together, and the use
//! cases the API and the CLI call (intake, dossiers, status events). Every use case that
//! changes data writes its audit entry in the same transaction.

pub mod admin;
pub mod apology;
pub mod confirm;
pub mod demo;
pub mod desk;
pub mod dossiers;
pub mod duplicate;
pub mod error;
pub mod fields;
pub mod follow;
pub mod forms;
pub mod help;
pub mod html;
pub mod intake;
pub mod keypad;
pub mod kiosk;
pub mod offices;
pub mod pairing;
pub mod public;
pub mod requests;
pub mod retention;
pub mod seed;
pub mod signin;
pub mod speech;
pub mod stats;
pub mod text;
pub mod unlock;
pub mod users;
pub mod visit;

use crate::kiosk::eligible::Eligible;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::applicant::ApplicantId;
use crate::config::Config;
use crate::consent::{ConsentText, PURPOSE};
use crate::crypto::Keys;
use crate::dossier::CodeFormat;
use crate::gallery::Gallery;
use crate::score::Scorer;
use crate::store::audit::Action;
use crate::store::{people, Store};
use crate::vision::FaceEngine;

pub use error::AppError;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub engine: FaceEngine,
    pub gallery: Gallery,
    pub consent: ConsentText,
    pub codes: CodeFormat,
    pub scorer: Scorer,
    /// Fingerprint of the embedding models: templates made by other models are not used.
    pub model_id: String,
    pub started: Instant,
    pub demo: bool,
    pub strings: kiosk::Strings,
    /// The kiosk's offline read-aloud (espeak-ng), cached per phrase.
    pub speech: crate::speech::Speech,
    /// The open event streams (desk calls, kiosk decisions), capped.
    pub streams: crate::streams::Streams,
    /// The results each kiosk showed lately (what it may have read aloud, and rate).
    shown: Mutex<crate::kiosk::shown::Shown>,
    /// Read-aloud requests each kiosk may still make (a result read phrase by phrase).
    speech_budget: Mutex<crate::kiosk::budget::Budget<i64>>,
    /// Keypad look-ups each kiosk may still make (a person's pace).
    lookup_budget: Mutex<crate::kiosk::budget::Budget<i64>>,
    /// (kiosk, dossier code, method) look-ups of the last ten minutes: repeats are folded
    /// into one.
    lookup_repeats: Mutex<crate::kiosk::budget::Repeats<(i64, String, crate::kiosk::LookupMethod)>>,
    /// Demo mode's guide (links, demo kiosk token, sample dossiers), for the start page.
    pub demo_guide: std::sync::OnceLock<demo::DemoGuide>,
    /// Where this server is actually served (set once listening): the demo's receipts point
    /// there rather than at the unconfigured default address.
    pub served_at: std::sync::OnceLock<String>,
    /// What a restore must re-apply (withdrawals, revocations, account changes).
    pub journal: crate::journal::Journal,
    sessions: Mutex<crate::kiosk::Sessions>,
    /// Keypad look-ups one at a time, so concurrent tries cannot outrun the miss counters.
    keypad_gate: Mutex<()>,
    /// Kiosk decisions since start, by state (no images, no identities).
    decisions: Mutex<HashMap<crate::kiosk::KioskState, u64>>,
    /// Decisions of the server-side camera, for the page of the kiosk device it serves
    /// (server-sent events): (device id, JSON).
    pub events: tokio::sync::broadcast::Sender<(i64, String)>,
    /// Kiosk "call staff" requests and their answers, for the clerk desks: (the kiosk's
    /// office, JSON).
    pub help_events: tokio::sync::broadcast::Sender<(Option<i64>, String)>,
    /// This process among the deployment's servers (a random name, for its own messages).
    pub(crate) instance: String,
    /// Per kiosk device: unix time of its last frame, and frames refused as unreadable.
    kiosk_health: Mutex<HashMap<String, (i64, u64)>>,
    /// Applicants with an open dossier, cached for the kiosk's hot path.
    /// The eligible set, when it was read and how long the read took.
    eligible: Mutex<Option<(Instant, std::sync::Arc<Eligible>, Duration)>>,
    /// Where this server is in the gallery's change feed (`follow`).
    feed: Mutex<follow::FeedMark>,
    /// The admin's settings (thresholds, retention), stored in the database.
    settings: std::sync::RwLock<admin::Settings>,
    /// Per kiosk page session: a visit left unresolved, which a QR or keypad look-up in the
    /// same session may still resolve.
    pending_visits: Mutex<HashMap<String, (i64, Instant)>>,
    /// Where challenge orders come from (seeded in tests).
    dice: Mutex<crate::kiosk::challenge::Dice>,
    /// Whether a background keeper refreshes the eligible set.
    keeper: std::sync::atomic::AtomicBool,
    /// An operating point replacing the calibrated one (evaluation only).
    visit_override: Mutex<Option<crate::kiosk::VisitRule>>,
    /// Limits on signing in (hashing slots, delays after failures).
    sign_in_guard: signin::SignInGuard,
    /// Wrong lookup codes or tokens on the public status page, per client address.
    public_misses: Mutex<crate::throttle::Throttle<std::net::IpAddr>>,
    /// Striped locks: enrolment and withdrawal/purge of one person never interleave.
    person_locks: Vec<Mutex<()>>,
}

/// Templates read from the store at a time while the gallery loads.
const GALLERY_LOAD_PAGE: i64 = 4096;

/// Stripes of [`App::person_lock`].
const PERSON_LOCKS: usize = 64;

/// Keypad look-ups a kiosk may make at once, then one every `LOOKUP_EVERY_S` seconds: a
/// person types a code and four digits in no less than that.
const LOOKUP_BURST: u32 = 8;
const LOOKUP_EVERY_S: u64 = 5;
/// Read-aloud requests a kiosk may make at once, then one every `SPEECH_EVERY_MS`: a page
/// of results is a greeting and four phrases per dossier, each played before the next.
const SPEECH_BURST: u32 = 20;
const SPEECH_EVERY_MS: u64 = 250;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which embedders made a template: their names and a fingerprint of their model files'
/// sha256 and pre-processing (`fr_feature@1a2b…`, `dlib+faceres@…`). Templates made by
/// other models (another profile) are not comparable and are never loaded.
pub fn model_id(engine: &FaceEngine) -> String {
    let names: Vec<&str> = engine
        .manifest
        .embedders
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    format!("{}@{}", names.join("+"), model_hash(engine))
}

/// The fingerprint alone (how templates were labelled before profiles).
fn model_hash(engine: &FaceEngine) -> String {
    let mut h = Sha256::new();
    for e in &engine.manifest.embedders {
        h.update(e.model.sha256.as_bytes());
        h.update(format!("{:?}{:?}{}", e.template, e.normalisation.mean, e.flip).as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// Decrypts one template with its applicant's key.
fn open_template_with(key: &[u8; 32], applicant: ApplicantId, sealed: &[u8]) -> Option<Vec<f32>> {
    let bytes = crate::crypto::open(key, sealed, applicant.template_aad().as_bytes()).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

impl App {
    /// Opens the data directory (database, keys), loads the engine and fills the gallery
    /// with the decrypted templates of consented applicants.
    pub fn open(config: Config, engine: FaceEngine, demo: bool) -> Result<Self, AppError> {
        let (keys, store) = crate::boot::open_for_server(&config)?;
        let consent = ConsentText::load(config.office.consent_text.as_deref())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let codes = CodeFormat::new(&config.office.code_pattern)
            .map_err(|e| AppError::Internal(format!("office.code_pattern: {e}")))?;
        let scorer = crate::score::scorer(
            &engine.manifest,
            engine.segments(),
            &engine.manifest.scorer.kiosk,
        )
        .ok_or_else(|| AppError::Internal("the manifest's kiosk scorer is unknown".into()))?;
        let gallery = Gallery::new(engine.segments());
        let settings = admin::Settings::load(&store, &config)?;
        let dice = crate::kiosk::challenge::Dice::new(config.liveness.seed);
        let sign_in_guard = signin::SignInGuard::new(&config.limits);
        let journal = crate::journal::Journal::new(&config.data_dir);
        let app = Self {
            journal,
            model_id: model_id(&engine),
            config,
            store,
            keys,
            engine,
            gallery,
            consent,
            codes,
            scorer,
            started: Instant::now(),
            demo,
            strings: kiosk::Strings::load(),
            speech: crate::speech::Speech::new("espeak-ng"),
            streams: crate::streams::Streams::default(),
            shown: Mutex::default(),
            speech_budget: Mutex::new(crate::kiosk::budget::Budget::new(
                SPEECH_BURST,
                Duration::from_millis(SPEECH_EVERY_MS),
            )),
            lookup_budget: Mutex::new(crate::kiosk::budget::Budget::new(
                LOOKUP_BURST,
                Duration::from_secs(LOOKUP_EVERY_S),
            )),
            lookup_repeats: Mutex::new(crate::kiosk::budget::Repeats::new(Duration::from_secs(
                600,
            ))),
            demo_guide: std::sync::OnceLock::new(),
            served_at: std::sync::OnceLock::new(),
            sessions: Mutex::new(crate::kiosk::Sessions::new(Duration::from_secs(30), 1000)),
            keypad_gate: Mutex::new(()),
            sign_in_guard,
            public_misses: Mutex::new(crate::throttle::Throttle::new(crate::throttle::Rule {
                free: 10,
                max_delay_s: 900,
                capacity: 10_000,
            })),
            person_locks: (0..PERSON_LOCKS).map(|_| Mutex::new(())).collect(),
            decisions: Mutex::new(HashMap::new()),
            eligible: Mutex::new(None),
            feed: Mutex::new(follow::FeedMark::new(0)),
            settings: std::sync::RwLock::new(settings),
            pending_visits: Mutex::new(HashMap::new()),
            dice: Mutex::new(dice),
            visit_override: Mutex::new(None),
            keeper: std::sync::atomic::AtomicBool::new(false),
            kiosk_health: Mutex::new(HashMap::new()),
            events: tokio::sync::broadcast::channel(16).0,
            help_events: tokio::sync::broadcast::channel(64).0,
            instance: crate::crypto::random_token()?,
        };
        app.start()?;
        Ok(app)
    }

    /// What an opened application does once: legacy records brought up to date, the change
    /// feed's mark taken, then the gallery loaded.
    fn start(&self) -> Result<(), AppError> {
        self.bind_legacy_fields()?;
        self.hash_legacy_phones()?;
        // Changes of the last moments are applied again once loaded: a transaction that
        // took its id before the load began may commit after it.
        let start = crate::store::now() - 2;
        let mark = self
            .store
            .read(|c| crate::store::feed::start_mark(c, start))?;
        *lock(&self.feed) = follow::FeedMark::new(mark);
        self.load_gallery()?;
        Ok(())
    }

    fn load_gallery(&self) -> Result<(), AppError> {
        // Templates labelled with the bare fingerprint (before profiles) get the full label.
        let legacy = model_hash(&self.engine);
        self.store
            .tx(|tx| people::relabel_templates(tx, &legacy, &self.model_id))?;
        // A page of sealed templates at a time (a few MiB, not the whole table), each page
        // decrypted on every core.
        let started = Instant::now();
        self.store.read(people::analyze_for_gallery)?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (mut loaded, mut stale, mut unreadable, mut after) = (0, 0, 0, 0);
        loop {
            let rows = self
                .store
                .read(|c| people::consented_templates(c, PURPOSE, after, GALLERY_LOAD_PAGE))?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            self.gallery.reserve(rows.len());
            let per = rows.len().div_ceil(threads);
            let counts = std::thread::scope(|s| {
                let hs: Vec<_> = rows
                    .chunks(per)
                    .map(|chunk| s.spawn(|| self.load_templates(chunk)))
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(AppError::Internal(
                                "a gallery loading thread panicked".into(),
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, AppError>>()
            })?;
            for (l, s, u) in counts {
                (loaded, stale, unreadable) = (loaded + l, stale + s, unreadable + u);
            }
        }
        tracing::info!(
            loaded,
            stale,
            unreadable,
            model = %self.model_id,
            seconds = started.elapsed().as_secs_f64(),
            "gallery loaded"
        );
        Ok(())
    }

    /// Decrypts and adds templates to the gallery: (loaded, stale, unreadable). The keys
    /// of the chunk's applicants are fetched at once.
    /// A key database that cannot be read fails the load (a server never starts with a
    /// gallery silently missing people).
    fn load_templates(
        &self,
        rows: &[people::TemplateRow],
    ) -> Result<(usize, usize, usize), AppError> {
        let mut who: Vec<i64> = rows.iter().map(|t| t.applicant_id).collect();
        who.sort_unstable();
        who.dedup();
        let keys = self.keys.existing_applicant_keys(&who)?;
        let (mut loaded, mut stale, mut unreadable) = (0, 0, 0);
        for t in rows {
            if t.model != self.model_id {
                stale += 1;
                continue;
            }
            let who = ApplicantId(t.applicant_id);
            let v = keys
                .get(&t.applicant_id)
                .and_then(|k| open_template_with(k, who, &t.sealed));
            match v {
                Some(v) if self.gallery.add(who.gallery_key(), t.id as u64, &v) => loaded += 1,
                _ => unreadable += 1,
            }
        }
        Ok((loaded, stale, unreadable))
    }

    /// Decrypts one template (None when its key was destroyed or the data is damaged).
    pub fn open_template(&self, applicant: ApplicantId, sealed: &[u8]) -> Option<Vec<f32>> {
        let key = self.keys.existing_applicant_key(applicant.0).ok()?;
        open_template_with(&key, applicant, sealed)
    }

    pub(crate) fn sessions(&self) -> MutexGuard<'_, crate::kiosk::Sessions> {
        lock(&self.sessions)
    }

    /// One keypad look-up at a time, across every server of the deployment.
    pub(crate) fn keypad_gate(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, crate::store::locks::Held), AppError> {
        let local = lock(&self.keypad_gate);
        Ok((local, self.store.lock(crate::store::locks::KEYPAD)?))
    }

    pub(crate) fn dice(&self) -> MutexGuard<'_, crate::kiosk::challenge::Dice> {
        lock(&self.dice)
    }

    pub(crate) fn pending_visits(&self) -> MutexGuard<'_, HashMap<String, (i64, Instant)>> {
        lock(&self.pending_visits)
    }

    /// The admin's settings now.
    pub fn settings(&self) -> admin::Settings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn count(&self, s: crate::kiosk::KioskState) {
        *lock(&self.decisions).entry(s).or_default() += 1;
    }

    /// Applicants the kiosk may identify (consent is implied by the gallery). Cached: a
    /// background keeper (`keep_eligible`) refreshes it off the kiosk's hot path; without a
    /// keeper a request refreshes it when it is two seconds old. Dropped at once when this
    /// process changes a dossier; changes by another process (the CSV import, a purge from
    /// the CLI, another server) are seen within the keeper's period (`keeper_period`).
    pub fn eligible(&self) -> Result<std::sync::Arc<Eligible>, AppError> {
        let kept = self.keeper.load(std::sync::atomic::Ordering::Relaxed);
        if let Some((at, set, _)) = lock(&self.eligible).as_ref() {
            // With a keeper, a request never waits for the read the keeper is about to do.
            let fresh = if kept {
                KEEPER_PERIOD_MAX + Duration::from_secs(5)
            } else {
                Duration::from_secs(2)
            };
            if at.elapsed() < fresh {
                return Ok(set.clone());
            }
        }
        self.refresh_eligible()
    }

    /// Re-reads the eligible set (and on PostgreSQL the admin's settings, which another
    /// server may have changed), and follows the gallery's change feed when due.
    pub fn refresh_eligible(&self) -> Result<std::sync::Arc<Eligible>, AppError> {
        self.follow_if_due()?;
        if self.store.dialect() == crate::store::Dialect::Postgres {
            // An admin may have changed them on another server.
            let now = admin::Settings::load(&self.store, &self.config)?;
            *self.settings.write().unwrap_or_else(|p| p.into_inner()) = now;
        }
        let t0 = Instant::now();
        let set =
            std::sync::Arc::new(Eligible::new(self.store.read(|c| {
                crate::store::dossiers::applicants_with_open_dossiers(c, PURPOSE)
            })?));
        *lock(&self.eligible) = Some((Instant::now(), set.clone(), t0.elapsed()));
        Ok(set)
    }

    /// Starts the background keeper of the eligible set (the server and the benchmark): it
    /// follows the change feed every second and reads the set again once dropped or once
    /// its period is over (`keeper_period`).
    pub fn keep_eligible(app: &std::sync::Arc<App>) {
        app.keeper.store(true, std::sync::atomic::Ordering::Relaxed);
        App::listen_for_changes(app);
        let weak = std::sync::Arc::downgrade(app);
        std::thread::spawn(move || {
            background_priority();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(app) = weak.upgrade() else { return };
                let read = lock(&app.eligible)
                    .as_ref()
                    .map(|(at, _, took)| (at.elapsed(), keeper_period(*took)));
                let done = match read {
                    Some((age, period)) if age < period => app.follow_if_due(),
                    _ => app.refresh_eligible().map(|_| ()),
                };
                if let Err(e) = done {
                    tracing::warn!(error = %e, "refreshing the kiosk's eligible set");
                }
            }
        });
    }

    /// Forgets the cached eligible set (after a dossier changed).
    pub(crate) fn dossiers_changed(&self) {
        *lock(&self.eligible) = None;
    }

    /// Records a kiosk frame (and whether it was unreadable) for the health view.
    pub(crate) fn kiosk_seen(&self, device: &str, bad: bool) {
        let mut h = lock(&self.kiosk_health);
        let e = h.entry(device.to_string()).or_insert((0, 0));
        e.0 = crate::store::now();
        e.1 += u64::from(bad);
    }

    /// Records a failed capture of the server-side camera.
    pub(crate) fn kiosk_camera_error(&self) {
        self.kiosk_seen("server camera", true);
    }

    /// Per kiosk: last frame (unix time) and unreadable frames since start.
    pub fn kiosk_health(&self) -> HashMap<String, (i64, u64)> {
        lock(&self.kiosk_health).clone()
    }

    /// Kiosk decision counts since start.
    pub fn decision_counts(&self) -> HashMap<crate::kiosk::KioskState, u64> {
        lock(&self.decisions).clone()
    }

    /// Held while one applicant's biometric data changes (enrolment, withdrawal, purge):
    /// a withdrawal waits for an enrolment in progress, on this server or another, and
    /// then removes its template.
    pub(crate) fn person_lock(
        &self,
        applicant: ApplicantId,
    ) -> Result<(MutexGuard<'_, ()>, crate::store::locks::Held), AppError> {
        let local =
            lock(&self.person_locks[(applicant.gallery_key() % PERSON_LOCKS as u64) as usize]);
        let shared = self.store.lock(crate::store::locks::person(applicant.0))?;
        Ok((local, shared))
    }

    /// Appends an audit entry in its own transaction (for events with no other write).
    pub fn audit(
        &self,
        by: &crate::auth::Principal,
        action: Action,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let now = crate::store::now();
        self.store.audited(&by.actor, now, |tx| {
            tx.record(action, subject, detail)?;
            Ok(())
        })?;
        Ok(())
    }
}

/// The keeper's scheduling priority (`nice`, per thread on Linux): its periodic re-read of
/// the eligible set (0.1–0.5 s of a core at 100 000 open dossiers) yields the cores to
/// kiosk frames instead of slowing the frames that arrive meanwhile.
const KEEPER_NICE: libc::c_int = 10;

/// Lowers the calling thread's priority to [`KEEPER_NICE`] (best effort: a refusal leaves
/// it as it was).
fn background_priority() {
    // SAFETY: gettid(2) and setpriority(2) on the calling thread's own id touch no memory.
    let r = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, KEEPER_NICE)
    };
    if r != 0 {
        tracing::debug!("the eligible-set keeper keeps its priority");
    }
}

/// The keeper's shortest and longest period between two reads of the eligible set.
const KEEPER_PERIOD_MIN: Duration = Duration::from_secs(1);
const KEEPER_PERIOD_MAX: Duration = Duration::from_secs(10);

/// The keeper's period after a read that took `took`: twenty times as long, within 1–10 s.
/// A read costs a query over every open dossier (~0.1–0.5 s at 100 000 on a small server):
/// read every second, it would take a tenth to half a core from the kiosks' frames; this
/// way it never takes more than a twentieth, and a small office still sees another
/// process's change within the second.
fn keeper_period(took: Duration) -> Duration {
    (took * 20).clamp(KEEPER_PERIOD_MIN, KEEPER_PERIOD_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keeper_spends_at_most_a_twentieth_of_a_core() {
        assert_eq!(keeper_period(Duration::from_millis(2)), KEEPER_PERIOD_MIN);
        assert_eq!(
            keeper_period(Duration::from_millis(130)),
            Duration::from_millis(2600)
        );
        assert_eq!(keeper_period(Duration::from_secs(3)), KEEPER_PERIOD_MAX);
    }
}
