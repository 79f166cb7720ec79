//! Read-aloud as a use case: a kiosk may have read only the greeting and the phrases of a
//! result it showed lately (`kiosk::shown`), at a reading pace (a budget per kiosk); the
//! engine's own limits are in `speech`.

use std::sync::Arc;
use std::time::Instant;

use super::kiosk::KioskResult;
use super::{lock, App, AppError};
use crate::auth::Principal;
use crate::speech::{Lang, Speech};

impl App {
    /// Remembers a result shown on kiosk `device`: its phrases may be read aloud, and it
    /// may be rated once.
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
        lock(&self.shown).add(device.id, phrases, Instant::now());
    }

    /// WAV audio of `text` for kiosk `device`: the greeting or a phrase of a result it was
    /// shown; anything else is refused (422 `not_speakable`).
    pub fn speak(
        &self,
        device: &Principal,
        lang: Lang,
        text: &str,
    ) -> Result<Arc<Vec<u8>>, AppError> {
        if let Err(wait) = lock(&self.speech_budget).take(device.id, Instant::now()) {
            return Err(AppError::Throttled(wait.as_secs().max(1)));
        }
        // Spaces alone or control characters: the shape the API allows, nothing to read.
        let phrase = Speech::normalise(text).ok_or_else(|| {
            AppError::unusable(Some("text"), crate::speech::SpeechError::BadPhrase)
        })?;
        let greeting = format!("{}.", self.strings.get(lang == Lang::En, "kiosk.greeting"));
        let allowed = phrase == greeting
            || lock(&self.shown).may_read(device.id, lang, &phrase, Instant::now());
        if !allowed {
            return Err(AppError::Unprocessable {
                code: "not_speakable",
                message: "only the phrases of a result shown on this kiosk are read aloud".into(),
            });
        }
        Ok(self.speech.say(lang, &phrase, device.id)?)
    }
}
