//! Failures counted per key (a client address, a username) with growing delays: after
//! `free` failures, each further attempt must wait twice as long as the last (one second,
//! two, four … up to a maximum) after the latest failure; a success clears the key. The
//! table is bounded: when full, keys whose wait is over go first, then the oldest.
//! Callers pass the time, so the rule is unit-tested without waiting. The same rule applies
//! to counters kept in the database (`Rule::stored_wait_ms`, the sign-in's), which outlive
//! a restart and are shared by every server.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::kiosk::keypad::Misses;

/// The rule of one throttle.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Failures allowed before delays start.
    pub free: u32,
    /// The longest delay, seconds.
    pub max_delay_s: u64,
    /// Keys kept at most.
    pub capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// Time of the latest failure.
    last: Instant,
}

/// A stored counter idle this long is forgotten (at least the longest delay).
const FORGET_MS: i64 = 15 * 60_000;

impl Rule {
    /// The delay after `failures` failures, ms (zero while they are free).
    pub fn delay_ms(&self, failures: u32) -> i64 {
        if failures < self.free.max(1) {
            return 0;
        }
        let doublings = (failures - self.free.max(1)).min(30);
        (1000i64 << doublings).min(self.max_delay_ms())
    }

    fn max_delay_ms(&self) -> i64 {
        i64::try_from(self.max_delay_s.max(1)).unwrap_or(i64::MAX / 2000) * 1000
    }

    /// How long a stored counter idle for more is forgotten, ms.
    pub fn forget_ms(&self) -> i64 {
        FORGET_MS.max(self.max_delay_ms())
    }

    /// Ms the key of stored counter `m` must still wait at `now_ms` (0 = may try).
    pub fn stored_wait_ms(&self, m: Option<Misses>, now_ms: i64) -> i64 {
        m.filter(|m| now_ms - m.last_ms < self.forget_ms())
            .map_or(0, |m| (m.last_ms + self.delay_ms(m.count) - now_ms).max(0))
    }
}

/// Failure counts by key.
#[derive(Debug)]
pub struct Throttle<K> {
    rule: Rule,
    entries: HashMap<K, Entry>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    pub fn new(rule: Rule) -> Self {
        Self {
            rule,
            entries: HashMap::new(),
        }
    }

    /// The longest delay.
    fn max_delay(&self) -> Duration {
        Duration::from_secs(self.rule.max_delay_s.max(1))
    }

    /// The delay after `failures` failures (zero while they are free).
    fn delay(&self, failures: u32) -> Duration {
        Duration::from_millis(u64::try_from(self.rule.delay_ms(failures)).unwrap_or(0))
    }

    /// Milliseconds `key` must still wait at `now` before its next attempt (0 = may try).
    pub fn wait_ms(&self, key: &K, now: Instant) -> u64 {
        self.entries.get(key).map_or(0, |e| {
            let until = e.last + self.delay(e.failures);
            u64::try_from(until.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// Counts a failure of `key` at `now`; returns its failures so far.
    pub fn fail(&mut self, key: &K, now: Instant) -> u32 {
        if !self.entries.contains_key(key) && self.entries.len() >= self.rule.capacity.max(1) {
            self.evict(now);
        }
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last: now,
        });
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        e.failures
    }

    /// Clears `key` (a success).
    pub fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Frees room: keys whose wait is over and that are idle for the longest delay go
    /// first; if none, the key with the fewest failures (the oldest of those), so a flood
    /// of single failures from many keys cannot push out a key that is being slowed down.
    fn evict(&mut self, now: Instant) {
        let idle = self.max_delay();
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last) < idle);
        if self.entries.len() < before {
            return;
        }
        if let Some(oldest) = self
            .entries
            .iter()
            .min_by_key(|(_, e)| (e.failures, e.last))
            .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` milliseconds after a fixed start.
    fn at(ms: u64) -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    fn rule() -> Rule {
        Rule {
            free: 3,
            max_delay_s: 8,
            capacity: 3,
        }
    }

    #[test]
    fn free_failures_then_doubling_delays_up_to_the_maximum() {
        let mut t = Throttle::new(rule());
        let k = "a".to_string();
        for i in 1..=2 {
            assert_eq!(t.fail(&k, at(0)), i);
            assert_eq!(t.wait_ms(&k, at(0)), 0, "failure {i} is free");
        }
        t.fail(&k, at(0));
        assert_eq!(t.wait_ms(&k, at(0)), 1000);
        assert_eq!(t.wait_ms(&k, at(400)), 600);
        t.fail(&k, at(1000));
        assert_eq!(t.wait_ms(&k, at(1000)), 2000);
        for _ in 0..10 {
            t.fail(&k, at(5000));
        }
        assert_eq!(t.wait_ms(&k, at(5000)), 8000, "capped");
        t.clear(&k);
        assert_eq!(t.wait_ms(&k, at(5000)), 0);
    }

    #[test]
    fn bounded_table_drops_idle_keys_first_then_the_least_failed() {
        let mut t = Throttle::new(rule());
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            t.fail(&k.to_string(), at(i as u64 * 1000));
        }
        // Nothing idle for 8 s yet: the oldest of the least failed ("a") goes.
        t.fail(&"d".to_string(), at(3000));
        assert_eq!(t.len(), 3);
        assert_eq!(t.wait_ms(&"a".to_string(), at(3000)), 0);
        // A key being slowed down outlives a flood of single failures from other keys.
        for _ in 0..5 {
            t.fail(&"slow".to_string(), at(3000));
        }
        for i in 0..100 {
            t.fail(&format!("flood{i}"), at(3000));
        }
        assert!(t.wait_ms(&"slow".to_string(), at(3000)) > 0);
        // Much later every key is idle: all go, the new one stays.
        t.fail(&"e".to_string(), at(60_000));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn stored_counters_follow_the_same_rule_and_are_forgotten() {
        let r = rule();
        let m = |count, last_ms| Some(Misses { count, last_ms });
        assert_eq!(r.stored_wait_ms(None, 0), 0);
        assert_eq!(r.stored_wait_ms(m(r.free - 1, 1_000), 1_000), 0);
        assert_eq!(r.stored_wait_ms(m(r.free, 1_000), 1_000), 1_000);
        assert_eq!(r.stored_wait_ms(m(r.free + 1, 1_000), 1_500), 1_500);
        assert_eq!(r.stored_wait_ms(m(r.free + 40, 0), 0), r.max_delay_ms());
        assert_eq!(r.stored_wait_ms(m(r.free + 40, 0), r.forget_ms()), 0);
    }
}
