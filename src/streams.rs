//! Long-lived event streams (the clerk desk's calls for staff, a kiosk's server-camera
//! decisions) counted per caller, per office and in all, so one session cannot fill the
//! server's connections and memory with streams. A stream also ends after a while (the
//! browser's `EventSource` reconnects by itself), and one whose client stops reading is cut
//! by the listener's write timeout (`server::stall`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Open streams per caller (a user or a device): a desk in a few tabs.
pub const PER_CALLER: usize = 4;
/// Open streams per office.
pub const PER_OFFICE: usize = 64;
/// Open streams in all.
pub const TOTAL: usize = 1024;
/// Seconds a caller refused a stream is told to wait.
pub const RETRY_S: u64 = 60;
/// A stream ends after this long; the page reconnects.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
struct Counts {
    by_caller: HashMap<String, usize>,
    by_office: HashMap<Option<i64>, usize>,
    total: usize,
}

/// The open streams.
#[derive(Default, Clone)]
pub struct Streams(Arc<Mutex<Counts>>);

/// One open stream; uncounted when dropped (with the stream).
pub struct Slot {
    streams: Streams,
    caller: String,
    office: Option<i64>,
}

impl Streams {
    /// A slot for a stream of `caller` (an actor such as `user:3`) of `office`, or None
    /// when a cap is reached.
    pub fn open(&self, caller: &str, office: Option<i64>) -> Option<Slot> {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.by_caller.get(caller).copied().unwrap_or(0);
        let office_n = c.by_office.get(&office).copied().unwrap_or(0);
        if mine >= PER_CALLER || office_n >= PER_OFFICE || c.total >= TOTAL {
            return None;
        }
        *c.by_caller.entry(caller.to_string()).or_insert(0) += 1;
        *c.by_office.entry(office).or_insert(0) += 1;
        c.total += 1;
        Some(Slot {
            streams: self.clone(),
            caller: caller.to_string(),
            office,
        })
    }

    /// Streams open now.
    pub fn open_now(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.streams.0.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_caller.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_caller.remove(&self.caller);
            }
        }
        if let Some(n) = c.by_office.get_mut(&self.office) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_office.remove(&self.office);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_caller_and_office_and_freed_on_drop() {
        let s = Streams::default();
        let mine: Vec<_> = (0..PER_CALLER)
            .map(|_| s.open("user:1", Some(1)).unwrap())
            .collect();
        assert!(s.open("user:1", Some(1)).is_none(), "per caller");
        let others: Vec<_> = (0..PER_OFFICE - PER_CALLER)
            .map(|i| s.open(&format!("user:{}", 100 + i), Some(1)).unwrap())
            .collect();
        assert!(s.open("user:99", Some(1)).is_none(), "per office");
        assert!(s.open("user:99", Some(2)).is_some(), "another office");
        drop(mine);
        assert!(s.open("user:1", Some(1)).is_some());
        drop(others);
        assert_eq!(s.open_now(), 0);
    }
}
