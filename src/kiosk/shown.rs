//! The results each kiosk showed lately, as the kiosk's later requests may use them: the
//! phrases that may be read aloud (`KioskDossier::say`) and one service rating per result.
//! A kiosk token can therefore neither have text of its own choosing synthesised, nor rate
//! without a visit.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::speech::Lang;

/// Results remembered per kiosk.
const KEPT: usize = 4;
/// How long a shown result may be read and rated.
pub const FRESH: Duration = Duration::from_secs(15 * 60);

struct Result {
    at: Instant,
    phrases: Vec<(Lang, String)>,
    rated: bool,
}

/// The results each kiosk showed lately.
#[derive(Default)]
pub struct Shown {
    by_kiosk: HashMap<i64, VecDeque<Result>>,
}

impl Shown {
    /// Remembers a result shown on kiosk `device`, with its phrases (normalised).
    pub fn add(&mut self, device: i64, phrases: Vec<(Lang, String)>, now: Instant) {
        let kept = self.by_kiosk.entry(device).or_default();
        kept.retain(|r| now.duration_since(r.at) < FRESH);
        // The same result again (the same receipt looked up twice): one visit, one rating.
        if let Some(same) = kept.iter_mut().find(|r| r.phrases == phrases) {
            same.at = now;
            return;
        }
        if kept.len() >= KEPT {
            kept.pop_front();
        }
        kept.push_back(Result {
            at: now,
            phrases,
            rated: false,
        });
    }

    /// Whether kiosk `device` lately showed `phrase` (normalised) in `lang`.
    pub fn may_read(&self, device: i64, lang: Lang, phrase: &str, now: Instant) -> bool {
        self.fresh(device, now)
            .any(|r| r.phrases.iter().any(|(l, p)| *l == lang && p == phrase))
    }

    /// Spends the rating of the latest unrated result of kiosk `device`; false when every
    /// result it showed lately was rated already.
    pub fn rate(&mut self, device: i64, now: Instant) -> bool {
        let Some(kept) = self.by_kiosk.get_mut(&device) else {
            return false;
        };
        match kept
            .iter_mut()
            .rev()
            .find(|r| !r.rated && now.duration_since(r.at) < FRESH)
        {
            Some(r) => {
                r.rated = true;
                true
            }
            None => false,
        }
    }

    fn fresh(&self, device: i64, now: Instant) -> impl Iterator<Item = &Result> {
        self.by_kiosk
            .get(&device)
            .into_iter()
            .flatten()
            .filter(move |r| now.duration_since(r.at) < FRESH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kiosk_may_read_what_it_showed_lately() {
        let mut s = Shown::default();
        let t = Instant::now();
        s.add(1, vec![(Lang::Vi, "Đang giải quyết.".into())], t);
        assert!(s.may_read(1, Lang::Vi, "Đang giải quyết.", t));
        assert!(
            !s.may_read(1, Lang::En, "Đang giải quyết.", t),
            "per language"
        );
        assert!(!s.may_read(2, Lang::Vi, "Đang giải quyết.", t), "per kiosk");
        assert!(!s.may_read(1, Lang::Vi, "Đang giải quyết.", t + FRESH));
        for i in 0..KEPT {
            s.add(1, vec![(Lang::Vi, format!("p{i}"))], t);
        }
        assert!(
            !s.may_read(1, Lang::Vi, "Đang giải quyết.", t),
            "the oldest is forgotten"
        );
        assert!(s.may_read(1, Lang::Vi, &format!("p{}", KEPT - 1), t));
    }

    #[test]
    fn one_rating_per_result_shown() {
        let mut s = Shown::default();
        let t = Instant::now();
        let result = |p: &str| vec![(Lang::Vi, p.to_string())];
        assert!(!s.rate(1, t), "no visit, no rating");
        s.add(1, result("a"), t);
        assert!(s.rate(1, t));
        assert!(!s.rate(1, t), "once");
        s.add(1, result("a"), t);
        assert!(!s.rate(1, t), "the same result again is the same visit");
        s.add(1, result("b"), t);
        assert!(!s.rate(2, t), "per kiosk");
        assert!(!s.rate(1, t + FRESH), "not long after");
        assert!(s.rate(1, t));
    }
}
