//! The kiosk's read-aloud, offline: short phrases spoken by `espeak-ng` (Debian's package,
//! with its Vietnamese voice) into WAV audio, cached in memory per (language, phrase) so a
//! status read to many citizens is synthesised once. Nothing is written to disk; at most
//! two syntheses run at once and each is killed after a few seconds.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest phrase accepted, characters.
pub const MAX_PHRASE: usize = 400;
/// Cached audio kept at most, bytes.
const CACHE_BYTES: usize = 48 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("phrase must be 1 to {MAX_PHRASE} characters")]
    BadPhrase,
    #[error("the speech engine (espeak-ng) is not installed")]
    NoEngine,
    #[error("speech synthesis failed: {0}")]
    Failed(String),
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

/// Speech synthesis with its cache.
pub struct Speech {
    command: String,
    cache: Mutex<Cache>,
    slots: (Mutex<usize>, std::sync::Condvar),
}

impl Speech {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
            cache: Mutex::default(),
            slots: (Mutex::new(0), std::sync::Condvar::new()),
        }
    }

    /// WAV audio of `phrase` in `lang` (from the cache when said before).
    pub fn say(&self, lang: Lang, phrase: &str) -> Result<Arc<Vec<u8>>, SpeechError> {
        let phrase = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
        let n = phrase.chars().count();
        if n == 0 || n > MAX_PHRASE || phrase.chars().any(char::is_control) {
            return Err(SpeechError::BadPhrase);
        }
        let key = (lang, phrase);
        if let Some(a) = self.cached(&key) {
            return Ok(a);
        }
        let audio = {
            let _slot = self.slot();
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

    /// Waits for one of two synthesis slots.
    fn slot(&self) -> SlotGuard<'_> {
        let (m, cv) = &self.slots;
        let mut busy = m.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= 2 {
            busy = cv.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        SlotGuard(self)
    }

    /// Runs the engine: the phrase goes in on stdin (never on the command line).
    fn synthesise(&self, lang: Lang, phrase: &str) -> Result<Vec<u8>, SpeechError> {
        let mut child = Command::new(&self.command)
            .args(["-v", lang.voice(), "-s", "150", "--stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
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
            std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
        });
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
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
        if audio.len() <= 44 || !audio.starts_with(b"RIFF") {
            return Err(SpeechError::Failed("no audio produced".into()));
        }
        Ok(audio)
    }
}

struct SlotGuard<'a>(&'a Speech);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let (m, cv) = &self.0.slots;
        *m.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
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
            .say(Lang::Vi, "Mời ông/bà đến quầy số 3 nhận kết quả.")
            .unwrap();
        assert!(a.starts_with(b"RIFF") && &a[8..12] == b"WAVE");
        // About a second or more of 22 kHz 16-bit audio.
        assert!(a.len() > 40_000, "{} bytes", a.len());
        let b = s
            .say(Lang::Vi, "Mời ông/bà   đến quầy số 3 nhận kết quả.")
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same phrase is synthesised once");
        let en = s.say(Lang::En, "Please come to counter 3.").unwrap();
        assert!(en.starts_with(b"RIFF") && !Arc::ptr_eq(&a, &en));
    }

    #[test]
    fn refuses_bad_phrases_and_a_missing_engine() {
        let s = Speech::new("espeak-ng");
        assert!(matches!(s.say(Lang::Vi, "  "), Err(SpeechError::BadPhrase)));
        assert!(matches!(
            s.say(Lang::Vi, &"a".repeat(MAX_PHRASE + 1)),
            Err(SpeechError::BadPhrase)
        ));
        let none = Speech::new("/nonexistent/espeak-ng");
        assert!(matches!(
            none.say(Lang::Vi, "xin chào"),
            Err(SpeechError::NoEngine)
        ));
    }
}
