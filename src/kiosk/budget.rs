//! Limits sized to a person at a kiosk: a budget of look-ups per kiosk (a few at once, then
//! one every few seconds), and repeated look-ups of the same dossier on the same kiosk folded
//! into one (audited and counted once in ten minutes), so a kiosk token cannot fill the
//! database, the audit log or the statistics with requests. Callers pass the time.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys kept at most by either table; beyond it the stale ones go, then all.
const CAPACITY: usize = 50_000;

/// A token bucket per key.
pub struct Budget<K> {
    burst: f64,
    every: Duration,
    map: HashMap<K, (f64, Instant)>,
}

impl<K: Hash + Eq> Budget<K> {
    /// `burst` requests at once, then one per `every`.
    pub fn new(burst: u32, every: Duration) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            every,
            map: HashMap::new(),
        }
    }

    /// Spends one request of `key`'s budget, or says how long to wait for the next.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        if self.map.len() >= CAPACITY {
            let (burst, every) = (self.burst, self.every);
            self.map
                .retain(|_, (_, t)| now.duration_since(*t) < every.mul_f64(burst));
            if self.map.len() >= CAPACITY {
                self.map.clear();
            }
        }
        let (burst, every) = (self.burst, self.every.as_secs_f64().max(1e-3));
        let (tokens, at) = self.map.entry(key).or_insert((burst, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() / every).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) * every))
        }
    }
}

/// Whether a key was seen within a window (the first sighting in a window counts).
pub struct Repeats<K> {
    window: Duration,
    map: HashMap<K, Instant>,
}

impl<K: Hash + Eq> Repeats<K> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            map: HashMap::new(),
        }
    }

    /// True the first time `key` is seen in the window (and the window starts again).
    pub fn first(&mut self, key: K, now: Instant) -> bool {
        let window = self.window;
        if self.map.len() >= CAPACITY {
            self.map.retain(|_, t| now.duration_since(*t) < window);
            if self.map.len() >= CAPACITY {
                self.map.clear();
            }
        }
        match self.map.get(&key) {
            // The window runs from the first sighting.
            Some(t) if now.duration_since(*t) < window => false,
            _ => {
                self.map.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_every_few_seconds() {
        let mut b = Budget::new(3, Duration::from_secs(5));
        let t = Instant::now();
        for _ in 0..3 {
            assert!(b.take(1, t).is_ok());
        }
        let wait = b.take(1, t).unwrap_err();
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
        assert!(b.take(2, t).is_ok(), "per key");
        assert!(b.take(1, t + Duration::from_secs(5)).is_ok());
        assert!(b.take(1, t + Duration::from_secs(6)).is_err());
        // 30 s at a request a second: the burst and one per 5 s.
        let mut b = Budget::new(3, Duration::from_secs(5));
        let ok = (0..30)
            .filter(|i| b.take(1, t + Duration::from_secs(*i)).is_ok())
            .count();
        assert!((8..=10).contains(&ok), "{ok}");
    }

    #[test]
    fn repeats_in_the_window_are_folded() {
        let mut r = Repeats::new(Duration::from_secs(600));
        let t = Instant::now();
        assert!(r.first((1, "A"), t));
        assert!(!r.first((1, "A"), t + Duration::from_secs(10)));
        assert!(r.first((2, "A"), t), "per kiosk");
        assert!(r.first((1, "A"), t + Duration::from_secs(700)));
    }
}
