//! The kiosk's read-aloud, offline: short phrases spoken by `espeak-ng` (Debian's package,
//! with its Vietnamese voice) into WAV audio, cached in memory per (language, phrase) so a
//! status read to many citizens is synthesised once. Nothing is written to disk. Synthesis
//! is bounded below the frame path's share of the CPU: one process at a time, at low
//! priority (`nice`), one request in flight per kiosk, a short queue, and each engine run
//! killed after a few seconds or a minute of audio; a request beyond that is refused at once
//! ([`SpeechError::Busy`], answered 503 with Retry-After). Which phrases a kiosk may have
//! read is decided by the caller (`app::speech`): only those of a result it was shown.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Longest phrase accepted, characters.
pub const MAX_PHRASE: usize = 400;
/// Cached audio kept at most, bytes.
const CACHE_BYTES: usize = 48 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);
/// Syntheses run at once (each takes most of a core while it runs).
const AT_ONCE: usize = 1;
/// Requests waiting for the engine at most; more are refused at once.
const QUEUE: usize = 4;
/// How long a request waits for the engine before it is refused.
const WAIT: Duration = Duration::from_secs(3);
/// The longest audio made: one minute of 16-bit mono at 22 050 Hz.
const MAX_AUDIO_BYTES: u64 = 60 * 44_100 + 44;
/// The engine's scheduling priority (`nice`): kiosk frames go first.
const NICE: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("phrase must be 1 to {MAX_PHRASE} characters")]
    BadPhrase,
    #[error("the speech engine (espeak-ng) is not installed")]
    NoEngine,
    #[error("speech synthesis failed: {0}")]
    Failed(String),
    #[error("the speech engine is busy; try again shortly")]
    Busy,
}

/// A language the kiosk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    fn voice(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en-gb",
        }
    }
}

type Key = (Lang, String);

#[derive(Default)]
struct Cache {
    map: HashMap<Key, Arc<Vec<u8>>>,
    order: VecDeque<Key>,
    bytes: usize,
}

/// Who holds or waits for the engine.
#[derive(Default)]
struct Slots {
    running: usize,
    waiting: usize,
    /// Kiosks with a request running or waiting.
    callers: HashSet<i64>,
}

/// Speech synthesis with its cache.
pub struct Speech {
    command: String,
    cache: Mutex<Cache>,
    slots: (Mutex<Slots>, Condvar),
}

impl Speech {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
            cache: Mutex::default(),
            slots: (Mutex::default(), Condvar::new()),
        }
    }

    /// The phrase as it is cached and checked: words separated by single spaces; None when
    /// empty, too long or holding control characters.
    pub fn normalise(phrase: &str) -> Option<String> {
        let phrase = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
        let n = phrase.chars().count();
        (n > 0 && n <= MAX_PHRASE && !phrase.chars().any(char::is_control)).then_some(phrase)
    }

    /// WAV audio of `phrase` in `lang` for kiosk `caller` (from the cache when said before).
    pub fn say(&self, lang: Lang, phrase: &str, caller: i64) -> Result<Arc<Vec<u8>>, SpeechError> {
        let phrase = Self::normalise(phrase).ok_or(SpeechError::BadPhrase)?;
        let key = (lang, phrase);
        if let Some(a) = self.cached(&key) {
            return Ok(a);
        }
        let audio = {
            let _slot = self.slot(caller)?;
            // Another kiosk may have asked for the same phrase meanwhile.
            if let Some(a) = self.cached(&key) {
                return Ok(a);
            }
            self.synthesise(lang, &key.1)?
        };
        let audio = Arc::new(audio);
        self.keep(key, audio.clone());
        Ok(audio)
    }

    fn cached(&self, key: &Key) -> Option<Arc<Vec<u8>>> {
        let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.map.get(key).cloned()
    }

    fn keep(&self, key: Key, audio: Arc<Vec<u8>>) {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.map.contains_key(&key) {
            return;
        }
        c.bytes += audio.len();
        c.order.push_back(key.clone());
        c.map.insert(key, audio);
        while c.bytes > CACHE_BYTES {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some(a) = c.map.remove(&old) {
                c.bytes -= a.len();
            }
        }
    }

    /// Waits (briefly) for the engine: refused at once when `caller` already has a request
    /// running or waiting, or the queue is full; refused after [`WAIT`].
    fn slot(&self, caller: i64) -> Result<SlotGuard<'_>, SpeechError> {
        let (m, cv) = &self.slots;
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        if s.callers.contains(&caller) || s.waiting >= QUEUE {
            return Err(SpeechError::Busy);
        }
        s.callers.insert(caller);
        s.waiting += 1;
        let until = Instant::now() + WAIT;
        while s.running >= AT_ONCE {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                s.waiting -= 1;
                s.callers.remove(&caller);
                return Err(SpeechError::Busy);
            }
            s = cv
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        s.waiting -= 1;
        s.running += 1;
        Ok(SlotGuard(self, caller))
    }

    /// Runs the engine: the phrase goes in on stdin (never on the command line).
    fn synthesise(&self, lang: Lang, phrase: &str) -> Result<Vec<u8>, SpeechError> {
        let mut cmd = Command::new(&self.command);
        cmd.args(["-v", lang.voice(), "-s", "150", "--stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // SAFETY: `nice` is async-signal-safe and touches only the child's own priority.
        unsafe {
            cmd.pre_exec(|| {
                libc::nice(NICE);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SpeechError::NoEngine,
            _ => SpeechError::Failed(e.to_string()),
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(phrase.as_bytes())
                .map_err(|e| SpeechError::Failed(e.to_string()))?;
        }
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| SpeechError::Failed("no output".into()))?;
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            (&mut stdout)
                .take(MAX_AUDIO_BYTES + 1)
                .read_to_end(&mut buf)
                .map(|_| buf)
        });
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if reader.is_finished() => {
                    // All the audio we take has been read: stop the engine if it goes on.
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) if started.elapsed() > TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SpeechError::Failed("timed out".into()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(SpeechError::Failed(e.to_string())),
            }
        }
        let audio = reader
            .join()
            .map_err(|_| SpeechError::Failed("reader panicked".into()))?
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        if audio.len() as u64 > MAX_AUDIO_BYTES {
            return Err(SpeechError::Failed("more than a minute of audio".into()));
        }
        if audio.len() <= 44 || !audio.starts_with(b"RIFF") {
            return Err(SpeechError::Failed("no audio produced".into()));
        }
        Ok(audio)
    }
}

struct SlotGuard<'a>(&'a Speech, i64);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let (m, cv) = &self.0.slots;
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        s.running -= 1;
        s.callers.remove(&self.1);
        cv.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Option<Speech> {
        let ok = Command::new("espeak-ng").arg("--version").output().is_ok();
        if !ok {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "espeak-ng missing under CI: run scripts/setup.sh"
            );
            eprintln!("SKIPPED: espeak-ng not installed (scripts/setup.sh installs it)");
        }
        ok.then(|| Speech::new("espeak-ng"))
    }

    #[test]
    fn speaks_vietnamese_and_caches_the_phrase() {
        let Some(s) = engine() else { return };
        let a = s
            .say(Lang::Vi, "Mời ông/bà đến quầy số 3 nhận kết quả.", 1)
            .unwrap();
        assert!(a.starts_with(b"RIFF") && &a[8..12] == b"WAVE");
        // About a second or more of 22 kHz 16-bit audio.
        assert!(a.len() > 40_000, "{} bytes", a.len());
        let b = s
            .say(Lang::Vi, "Mời ông/bà   đến quầy số 3 nhận kết quả.", 1)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same phrase is synthesised once");
        let en = s.say(Lang::En, "Please come to counter 3.", 1).unwrap();
        assert!(en.starts_with(b"RIFF") && !Arc::ptr_eq(&a, &en));
    }

    #[test]
    fn refuses_bad_phrases_and_a_missing_engine() {
        let s = Speech::new("espeak-ng");
        assert!(matches!(
            s.say(Lang::Vi, "  ", 1),
            Err(SpeechError::BadPhrase)
        ));
        assert!(matches!(
            s.say(Lang::Vi, &"a".repeat(MAX_PHRASE + 1), 1),
            Err(SpeechError::BadPhrase)
        ));
        let none = Speech::new("/nonexistent/espeak-ng");
        assert!(matches!(
            none.say(Lang::Vi, "xin chào", 1),
            Err(SpeechError::NoEngine)
        ));
    }

    #[test]
    fn one_request_per_kiosk_and_a_short_queue() {
        let Some(s) = engine() else { return };
        let s = Arc::new(s);
        // While kiosk 1 has a synthesis running, its second request is refused at once.
        let g = s.slot(1).unwrap();
        assert!(matches!(s.slot(1), Err(SpeechError::Busy)));
        // Others queue up to QUEUE, then are refused at once.
        let t = Instant::now();
        let waiters: Vec<_> = (0..QUEUE as i64)
            .map(|k| {
                let s = s.clone();
                std::thread::spawn(move || s.slot(10 + k).map(|_| ()).is_ok())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        assert!(matches!(s.slot(99), Err(SpeechError::Busy)));
        assert!(t.elapsed() < Duration::from_secs(1), "refused at once");
        drop(g);
        let served = waiters
            .into_iter()
            .map(|w| w.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(served, QUEUE, "the queue is served once the engine is free");
        assert!(s.slot(1).is_ok());
    }
}
