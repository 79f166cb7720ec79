//! Failures counted per key (a client address, a username) with growing delays: after
//! `free` failures, each further attempt must wait twice as long as the last (one second,
//! two, four … up to a maximum) after the latest failure; a success clears the key. The
//! table is bounded: when full, keys whose wait is over go first, then the oldest.
//! Pure and clock-free (callers pass the time), so the rule is unit-tested.

use std::collections::HashMap;
use std::hash::Hash;

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
    /// Time of the latest failure, milliseconds.
    last_ms: u64,
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

    /// The delay after `failures` failures, milliseconds (0 while they are free).
    fn delay_ms(&self, failures: u32) -> u64 {
        if failures < self.rule.free.max(1) {
            return 0;
        }
        let doublings = (failures - self.rule.free.max(1)).min(30);
        (1000u64 << doublings).min(self.rule.max_delay_s.max(1) * 1000)
    }

    /// Milliseconds `key` must still wait before its next attempt (0 = may try now).
    pub fn wait_ms(&self, key: &K, now_ms: u64) -> u64 {
        self.entries.get(key).map_or(0, |e| {
            (e.last_ms + self.delay_ms(e.failures)).saturating_sub(now_ms)
        })
    }

    /// Counts a failure of `key`; returns its failures so far.
    pub fn fail(&mut self, key: &K, now_ms: u64) -> u32 {
        if !self.entries.contains_key(key) && self.entries.len() >= self.rule.capacity.max(1) {
            self.evict(now_ms);
        }
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last_ms: now_ms,
        });
        e.failures = e.failures.saturating_add(1);
        e.last_ms = now_ms;
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
    /// first; if none, the oldest key.
    fn evict(&mut self, now_ms: u64) {
        let idle = self.rule.max_delay_s.max(1) * 1000;
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now_ms.saturating_sub(e.last_ms) < idle);
        if self.entries.len() < before {
            return;
        }
        if let Some(oldest) = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.last_ms)
            .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(t.fail(&k, 0), i);
            assert_eq!(t.wait_ms(&k, 0), 0, "failure {i} is free");
        }
        t.fail(&k, 0);
        assert_eq!(t.wait_ms(&k, 0), 1000);
        assert_eq!(t.wait_ms(&k, 400), 600);
        t.fail(&k, 1000);
        assert_eq!(t.wait_ms(&k, 1000), 2000);
        for _ in 0..10 {
            t.fail(&k, 5000);
        }
        assert_eq!(t.wait_ms(&k, 5000), 8000, "capped");
        t.clear(&k);
        assert_eq!(t.wait_ms(&k, 5000), 0);
    }

    #[test]
    fn bounded_table_drops_idle_keys_first_then_the_oldest() {
        let mut t = Throttle::new(rule());
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            t.fail(&k.to_string(), i as u64 * 1000);
        }
        // Nothing idle for 8 s yet: the oldest ("a") goes.
        t.fail(&"d".to_string(), 3000);
        assert_eq!(t.len(), 3);
        assert_eq!(t.wait_ms(&"a".to_string(), 3000), 0);
        // Much later every key is idle: all go, the new one stays.
        t.fail(&"e".to_string(), 60_000);
        assert_eq!(t.len(), 1);
    }
}
