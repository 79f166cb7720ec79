//! A counting gate for blocking work: at most `max` holders at once, the others wait in
//! turn, first come first served (a plain condition variable lets a late comer overtake,
//! and one kiosk's frame could then wait for many others'). Bounds the memory of
//! concurrent image decodes, and keeps kiosk frames from sharing the cores so finely that
//! every one of them finishes late.

use std::sync::{Condvar, Mutex};

/// A fair counting semaphore for blocking threads.
pub struct Gate {
    max: u64,
    /// Tickets handed out, and places given back.
    counts: Mutex<(u64, u64)>,
    freed: Condvar,
}

/// A place held in a gate, given back when dropped.
pub struct Entered<'a>(&'a Gate);

impl Gate {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1) as u64,
            counts: Mutex::new((0, 0)),
            freed: Condvar::new(),
        }
    }

    /// One place per core of this machine.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Waits for a free place, after everyone who came before, and holds it.
    pub fn enter(&self) -> Entered<'_> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = c.0;
        c.0 += 1;
        // Tickets enter in order: ticket t is in once t - (places given back) < max.
        while ticket >= c.1 + self.max {
            c = self.freed.wait(c).unwrap_or_else(|p| p.into_inner());
        }
        Entered(self)
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let mut c = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.1 += 1;
        self.0.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_max_inside() {
        let gate = Gate::new(2);
        let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _g = gate.enter();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn waiters_enter_in_the_order_they_came() {
        let gate = Gate::new(1);
        let order = std::sync::Mutex::new(Vec::new());
        let first = gate.enter();
        std::thread::scope(|s| {
            for k in 0..4 {
                let (gate, order) = (&gate, &order);
                s.spawn(move || {
                    let _g = gate.enter();
                    order.lock().unwrap().push(k);
                });
                // Each waiter has taken its ticket before the next one comes.
                while gate.counts.lock().unwrap().0 < k + 2 {
                    std::thread::yield_now();
                }
            }
            drop(first);
        });
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }
}
