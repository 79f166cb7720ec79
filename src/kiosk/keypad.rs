//! The keypad fallback's guess limits (DESIGN §6), as pure rules over stored counters.
//! Wrong digits are counted per (kiosk, dossier code): 5 misses lock that code on that kiosk
//! for 15 minutes. A code locks on every kiosk only when 3 kiosks have missed it, so one
//! kiosk (or one token) cannot lock a citizen out of their own code elsewhere; only a correct
//! look-up of that code clears its counters. Misses are also counted per kiosk with growing
//! delays (after 8 free misses each try waits 1 s, 2 s, 4 s … up to a minute after the
//! kiosk's latest miss; nothing clears them but time), so one person's mistakes never lock
//! the kiosk for the next citizen and no interleaving raises the guess rate. Counters carry
//! wall-clock milliseconds so they survive a restart (`store::misses` keeps them).

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct KeypadRule {
    /// Misses of one code on one kiosk that lock it there.
    pub code_misses: u32,
    /// Kiosks that missed one code that lock it everywhere.
    pub kiosks_to_lock: u32,
    /// How long a locked code stays locked after its latest miss, ms.
    pub code_lock_ms: i64,
    /// Misses of one kiosk before delays start.
    pub kiosk_free: u32,
    /// The longest delay between a kiosk's tries, ms.
    pub kiosk_max_delay_ms: i64,
    /// A counter with no miss for this long is forgotten, ms.
    pub forget_ms: i64,
}

impl Default for KeypadRule {
    fn default() -> Self {
        Self {
            code_misses: 5,
            kiosks_to_lock: 3,
            code_lock_ms: 15 * 60_000,
            kiosk_free: 8,
            kiosk_max_delay_ms: 60_000,
            forget_ms: 15 * 60_000,
        }
    }
}

/// Misses of one key (a dossier code or a kiosk) and the time of the latest, Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Misses {
    pub count: u32,
    pub last_ms: i64,
}

/// One dossier code's counters as one kiosk sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeMisses {
    /// This kiosk's misses of the code.
    pub here: Misses,
    /// How many kiosks missed the code (and when the latest miss was).
    pub kiosks: Misses,
}

/// The stored counters' keys of dossier `code` as kiosk `kiosk` misses it: (this kiosk's
/// misses of the code, the kiosks' count). `store::misses::of_code` reads both families.
pub fn code_keys(code: &str, kiosk: i64) -> (String, String) {
    let kiosks = kiosks_key(code);
    (format!("{kiosks}@kiosk:{kiosk}"), kiosks)
}

/// The key of how many kiosks missed dossier `code`; each kiosk's own counter of the code
/// is this key followed by `@kiosk:<id>`.
pub fn kiosks_key(code: &str) -> String {
    format!("code:{code}")
}

/// Why a try is refused before the digits are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The dossier code is locked for this many more ms.
    CodeLocked(i64),
    /// This kiosk must wait this many more ms.
    KioskWait(i64),
}

impl KeypadRule {
    /// The counter as it stands at `now` (forgotten when stale).
    pub fn current(&self, m: Option<Misses>, now: i64) -> Misses {
        m.filter(|m| now - m.last_ms < self.forget_ms.max(self.code_lock_ms))
            .unwrap_or_default()
    }

    /// A code's counters as they stand at `now`.
    pub fn current_code(
        &self,
        here: Option<Misses>,
        kiosks: Option<Misses>,
        now: i64,
    ) -> CodeMisses {
        CodeMisses {
            here: self.current(here, now),
            kiosks: self.current(kiosks, now),
        }
    }

    /// Whether a try with this code's and this kiosk's counters may go ahead at `now`.
    pub fn check(&self, code: CodeMisses, kiosk: Misses, now: i64) -> Result<(), Refusal> {
        for (m, locks_at) in [
            (code.here, self.code_misses),
            (code.kiosks, self.kiosks_to_lock),
        ] {
            if m.count >= locks_at {
                let left = m.last_ms + self.code_lock_ms - now;
                if left > 0 {
                    return Err(Refusal::CodeLocked(left));
                }
            }
        }
        let left = kiosk.last_ms + self.kiosk_delay(kiosk.count) - now;
        if left > 0 {
            return Err(Refusal::KioskWait(left));
        }
        Ok(())
    }

    /// The wait after a kiosk's `count` misses (zero while they are free).
    pub fn kiosk_delay(&self, count: u32) -> i64 {
        if count < self.kiosk_free.max(1) {
            return 0;
        }
        let doublings = (count - self.kiosk_free.max(1)).min(30);
        (1000i64 << doublings).min(self.kiosk_max_delay_ms.max(1000))
    }

    /// A counter after one more miss at `now`. A code whose lock ran out starts again.
    pub fn missed(&self, m: Misses, now: i64) -> Misses {
        let count = if m.count >= self.code_misses && now - m.last_ms >= self.code_lock_ms {
            0
        } else {
            m.count
        };
        Misses {
            count: count.saturating_add(1),
            last_ms: now,
        }
    }
}

impl KeypadRule {
    /// A code's counters after one more miss by this kiosk at `now` (the kiosks' count grows
    /// with a kiosk's first miss of the code).
    pub fn code_missed(&self, c: CodeMisses, now: i64) -> CodeMisses {
        let kiosks = if c.here.count == 0 {
            Misses {
                count: c.kiosks.count.saturating_add(1),
                last_ms: now,
            }
        } else {
            Misses {
                count: c.kiosks.count,
                last_ms: now,
            }
        };
        CodeMisses {
            here: self.missed(c.here, now),
            kiosks,
        }
    }
}

/// Seconds to tell the citizen, rounded up.
pub fn seconds(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tries of one kiosk at `at` (ms) on codes: true = right digits.
    fn run(rule: &KeypadRule, tries: &[(i64, &str, bool)]) -> Vec<Result<bool, Refusal>> {
        run_kiosks(
            rule,
            &tries
                .iter()
                .map(|&(a, c, r)| (a, 1, c, r))
                .collect::<Vec<_>>(),
        )
    }

    /// Tries at `at` (ms) of kiosk `k` on codes: true = right digits.
    fn run_kiosks(
        rule: &KeypadRule,
        tries: &[(i64, i64, &str, bool)],
    ) -> Vec<Result<bool, Refusal>> {
        use std::collections::HashMap;
        let mut here = HashMap::<(i64, String), Misses>::new();
        let mut kiosks = HashMap::<String, Misses>::new();
        let mut kiosk = HashMap::<i64, Misses>::new();
        tries
            .iter()
            .map(|&(at, k, code, right)| {
                let key = (k, code.to_string());
                let c = rule.current_code(here.get(&key).copied(), kiosks.get(code).copied(), at);
                let km = rule.current(kiosk.get(&k).copied(), at);
                rule.check(c, km, at)?;
                if right {
                    here.remove(&key);
                    kiosks.remove(code);
                } else {
                    let after = rule.code_missed(c, at);
                    here.insert(key, after.here);
                    kiosks.insert(code.into(), after.kiosks);
                    kiosk.insert(k, rule.missed(km, at));
                }
                Ok(right)
            })
            .collect()
    }

    #[test]
    fn one_kiosk_cannot_lock_a_code_elsewhere_three_can() {
        let r = KeypadRule::default();
        // Kiosk 1 (another office's, a stolen token …) misses code A five times: locked there.
        let mut tries: Vec<_> = (0..5).map(|i| (i * 1000, 1, "A", false)).collect();
        tries.push((6_000, 1, "A", true));
        // The owner at kiosk 2 is served.
        tries.push((6_000, 2, "A", true));
        let out = run_kiosks(&r, &tries);
        assert!(matches!(out[5], Err(Refusal::CodeLocked(_))), "{out:?}");
        assert_eq!(out[6], Ok(true), "{out:?}");
        // Misses at three kiosks lock the code everywhere for 15 minutes.
        let tries = [
            (0, 1, "B", false),
            (1, 2, "B", false),
            (2, 3, "B", false),
            (3, 4, "B", true),
            (3 + 15 * 60_000, 4, "B", true),
        ];
        let out = run_kiosks(&r, &tries);
        assert!(matches!(out[3], Err(Refusal::CodeLocked(_))), "{out:?}");
        assert_eq!(out[4], Ok(true));
        // Two kiosks do not.
        let out = run_kiosks(
            &r,
            &[(0, 1, "C", false), (1, 2, "C", false), (2, 3, "C", true)],
        );
        assert_eq!(out[2], Ok(true));
    }

    #[test]
    fn five_misses_lock_the_code_not_the_kiosk() {
        let r = KeypadRule::default();
        let mut tries: Vec<_> = (0..5).map(|i| (i * 1000, "A", false)).collect();
        tries.push((10_000, "A", true));
        tries.push((10_000, "B", true));
        let out = run(&r, &tries);
        assert!(out[..5].iter().all(|o| o == &Ok(false)));
        assert!(matches!(out[5], Err(Refusal::CodeLocked(_))), "{out:?}");
        assert_eq!(out[6], Ok(true), "another citizen's code goes through");
        // After 15 minutes the code may be tried again.
        let later = run(
            &r,
            &[
                (0, "A", false),
                (1, "A", false),
                (2, "A", false),
                (3, "A", false),
                (4, "A", false),
                (4 + 15 * 60_000, "A", true),
            ],
        );
        assert_eq!(later[5], Ok(true));
    }

    #[test]
    fn interleaving_a_right_code_does_not_raise_the_guess_rate() {
        let r = KeypadRule::default();
        // An attacker who knows one code's digits alternates it with guesses, one try a
        // second for ten minutes.
        let tries: Vec<_> = (0..600)
            .map(|i| {
                let guess = i % 2 == 0;
                (i * 1000, if guess { "B" } else { "KNOWN" }, !guess)
            })
            .collect();
        let out = run(&r, &tries);
        let guesses = out.iter().filter(|o| **o == Ok(false)).count();
        assert!(guesses <= 5, "{guesses} guesses at code B in 10 minutes");
        // Guessing many codes: the kiosk's delays bound the rate (8 free, then 1, 2, 4 … 60 s).
        let many: Vec<_> = (0..600)
            .map(|i| {
                (
                    i * 1000,
                    ["C", "D", "E", "F", "G", "H"][i as usize % 6],
                    false,
                )
            })
            .collect();
        let n = run(&r, &many).iter().filter(|o| o.is_ok()).count();
        assert!(n <= 8 + 6 + 10, "{n} guesses in 10 minutes");
    }

    #[test]
    fn delays_grow_and_are_forgotten() {
        let r = KeypadRule::default();
        assert_eq!(r.kiosk_delay(7), 0);
        assert_eq!(r.kiosk_delay(8), 1000);
        assert_eq!(r.kiosk_delay(10), 4000);
        assert_eq!(r.kiosk_delay(40), 60_000);
        let m = Misses {
            count: 9,
            last_ms: 0,
        };
        assert_eq!(r.current(Some(m), 15 * 60_000), Misses::default());
        assert_eq!(r.current(Some(m), 1000), m);
        assert_eq!(seconds(1), 1);
        assert_eq!(seconds(60_000), 60);
    }
}
