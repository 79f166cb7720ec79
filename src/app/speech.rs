//! What a kiosk may have read aloud: the greeting, and the phrases of the results it was
//! shown in the last minutes (each dossier's procedure, status, due date and next step, as
//! the page reads them: `KioskDossier::say`). Anything else is refused before the speech
//! engine runs, so a kiosk token cannot make the server synthesise, hold or cache text of
//! its own choosing.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::kiosk::KioskResult;
use super::{lock, App, AppError};
use crate::auth::Principal;
use crate::speech::{Lang, Speech};

/// Results remembered per kiosk.
const KEPT: usize = 4;
/// How long a shown result may be read.
const FRESH: Duration = Duration::from_secs(15 * 60);

/// The phrases each kiosk was shown lately.
#[derive(Default)]
pub struct Speakable {
    by_kiosk: HashMap<i64, VecDeque<(Instant, Vec<(Lang, String)>)>>,
}

impl Speakable {
    /// Remembers the phrases of a result shown on kiosk `device`.
    pub fn allow(&mut self, device: i64, phrases: Vec<(Lang, String)>, now: Instant) {
        let kept = self.by_kiosk.entry(device).or_default();
        kept.retain(|(t, _)| now.duration_since(*t) < FRESH);
        if kept.len() >= KEPT {
            kept.pop_front();
        }
        kept.push_back((now, phrases));
    }

    /// Whether kiosk `device` was lately shown `phrase` (normalised) in `lang`.
    pub fn may(&self, device: i64, lang: Lang, phrase: &str, now: Instant) -> bool {
        self.by_kiosk.get(&device).is_some_and(|kept| {
            kept.iter()
                .filter(|(t, _)| now.duration_since(*t) < FRESH)
                .any(|(_, ps)| ps.iter().any(|(l, p)| *l == lang && p == phrase))
        })
    }
}

impl App {
    /// Lets kiosk `device` have the phrases of `result` read aloud.
    pub(crate) fn shown(&self, device: &Principal, result: Option<&KioskResult>) {
        let Some(r) = result else { return };
        let phrases = r
            .dossiers
            .iter()
            .flat_map(|d| {
                let vi = d.say.iter().map(|p| (Lang::Vi, p));
                vi.chain(d.say_en.iter().map(|p| (Lang::En, p)))
            })
            .filter_map(|(l, p)| Speech::normalise(p).map(|p| (l, p)))
            .collect();
        lock(&self.speakable).allow(device.id, phrases, Instant::now());
    }

    /// WAV audio of `text` for kiosk `device`: the greeting or a phrase of a result it was
    /// shown; anything else is refused (422 `not_speakable`).
    pub fn speak(
        &self,
        device: &Principal,
        lang: Lang,
        text: &str,
    ) -> Result<Arc<Vec<u8>>, AppError> {
        let phrase = Speech::normalise(text)
            .ok_or_else(|| AppError::Invalid(crate::speech::SpeechError::BadPhrase.to_string()))?;
        let greeting = format!("{}.", self.strings.get(lang == Lang::En, "kiosk.greeting"));
        let allowed = phrase == greeting
            || lock(&self.speakable).may(device.id, lang, &phrase, Instant::now());
        if !allowed {
            return Err(AppError::Unprocessable {
                code: "not_speakable",
                message: "only the phrases of a result shown on this kiosk are read aloud".into(),
            });
        }
        Ok(self.speech.say(lang, &phrase, device.id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kiosk_may_read_what_it_was_shown_lately() {
        let mut s = Speakable::default();
        let t = Instant::now();
        s.allow(1, vec![(Lang::Vi, "Đang giải quyết.".into())], t);
        assert!(s.may(1, Lang::Vi, "Đang giải quyết.", t));
        assert!(!s.may(1, Lang::En, "Đang giải quyết.", t), "per language");
        assert!(!s.may(2, Lang::Vi, "Đang giải quyết.", t), "per kiosk");
        assert!(!s.may(1, Lang::Vi, "Đang giải quyết.", t + FRESH));
        for i in 0..KEPT {
            s.allow(1, vec![(Lang::Vi, format!("p{i}"))], t);
        }
        assert!(!s.may(1, Lang::Vi, "Đang giải quyết.", t), "the oldest is forgotten");
        assert!(s.may(1, Lang::Vi, &format!("p{}", KEPT - 1), t));
    }
}
