//! Following the gallery's change feed (`store::feed`): this server's gallery takes in the
//! enrolments, template deletions and purges made by any server of the deployment or by a
//! command-line run — at once on a PostgreSQL notification, and on a periodic check of the
//! feed (every second on SQLite, every `database.check_interval_s` on PostgreSQL) so a lost
//! notification delays a purge but never loses it. Each change names a person; the person's
//! templates are read again and replace what the gallery held, so a change applied twice or
//! late does no harm.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{lock, App, AppError, PURPOSE};
use crate::applicant::ApplicantId;
use crate::store::feed;
use crate::store::listen::{self, Heard};

/// How long a hole in the change ids is waited for: a transaction that took an id and has
/// not committed yet, or one that rolled back (then the id never comes).
const GAP_WAIT: Duration = Duration::from_secs(30);

/// Where a server is in the change feed.
pub(crate) struct FeedMark {
    /// Every change up to here is applied (or was a rolled-back id).
    low: i64,
    /// Changes above `low` already applied.
    seen: BTreeSet<i64>,
    /// Since when the change after `low` has been missing.
    gap_since: Option<Instant>,
    /// The last look at the feed.
    pub(crate) checked: Instant,
}

impl FeedMark {
    pub(crate) fn new(low: i64) -> Self {
        Self {
            low,
            seen: BTreeSet::new(),
            gap_since: None,
            checked: Instant::now(),
        }
    }

    /// Takes in the rows read after `low`; returns the people to read again.
    fn take(&mut self, rows: &[(i64, i64)], now: Instant) -> Vec<i64> {
        let mut who: Vec<i64> = rows
            .iter()
            .filter(|(id, _)| *id > self.low && self.seen.insert(*id))
            .map(|(_, a)| *a)
            .collect();
        who.sort_unstable();
        who.dedup();
        self.advance(now);
        who
    }

    fn advance(&mut self, now: Instant) {
        loop {
            while self.seen.remove(&(self.low + 1)) {
                self.low += 1;
            }
            let Some(&first) = self.seen.first() else {
                self.gap_since = None;
                return;
            };
            let since = *self.gap_since.get_or_insert(now);
            if now.duration_since(since) < GAP_WAIT {
                return;
            }
            // Waited long enough: the missing ids were rolled back.
            self.low = first - 1;
            self.gap_since = Some(now);
        }
    }
}

impl App {
    /// Reads the feed and re-reads every person changed since the last look; returns how
    /// many people were re-read. `why` names the trigger in the log.
    pub fn follow_changes(&self, why: &str) -> Result<usize, AppError> {
        let mut mark = lock(&self.feed);
        let rows = self.store.read(|c| feed::since(c, mark.low))?;
        let now = Instant::now();
        mark.checked = now;
        let who = mark.take(&rows, now);
        // Applied under the mark's lock: two re-reads of one person never land out of order.
        for &a in &who {
            self.reload_person(ApplicantId(a))?;
        }
        if !who.is_empty() {
            tracing::debug!(people = who.len(), why, "gallery changes applied");
        }
        Ok(who.len())
    }

    /// Follows the feed right after this server's own committed change. The change is
    /// stored whatever happens here, so a failure is only logged (the next check settles
    /// it); returns whether the feed was followed.
    pub(crate) fn follow_after_commit(&self, why: &str) -> bool {
        match self.follow_changes(why) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, why, "gallery feed after a commit");
                false
            }
        }
    }

    /// Follows the feed if the last look is older than the check interval.
    pub(crate) fn follow_if_due(&self) -> Result<(), AppError> {
        let every = match self.store.dialect() {
            crate::store::Dialect::Sqlite => Duration::from_secs(1),
            crate::store::Dialect::Postgres => {
                Duration::from_secs(self.config.database.check_interval_s.max(1))
            }
        };
        if lock(&self.feed).checked.elapsed() >= every {
            self.follow_changes("check")?;
        }
        Ok(())
    }

    /// Replaces the person's templates in the gallery with those the database holds now
    /// (none once consent ended or the key is gone).
    fn reload_person(&self, who: ApplicantId) -> Result<(), AppError> {
        let rows = self
            .store
            .read(|c| crate::store::people::templates_of(c, PURPOSE, who.0))?;
        let key = match rows.is_empty() {
            true => None,
            false => self.keys.existing_applicant_key(who.0).ok(),
        };
        let templates: Vec<(u64, Vec<f32>)> = rows
            .iter()
            .filter(|t| t.model == self.model_id)
            .filter_map(|t| {
                let v = super::open_template_with(key.as_ref()?, who, &t.sealed)?;
                Some((t.id as u64, v))
            })
            .collect();
        self.gallery.replace_identity(who.gallery_key(), &templates);
        Ok(())
    }

    /// On PostgreSQL: a thread listening to the other servers (`store::listen`) while the
    /// application lives: it follows the feed on each gallery notification, after every
    /// reconnection and on quiet, and passes other servers' desk messages to this server's
    /// desks.
    pub(crate) fn listen_for_changes(app: &Arc<App>) {
        let Some(url) = app.config.database.url.clone() else {
            return;
        };
        let every = Duration::from_secs(app.config.database.check_interval_s.max(1));
        let weak = Arc::downgrade(app);
        std::thread::spawn(move || {
            listen::listen(&url, every, every, |heard| {
                let Some(app) = weak.upgrade() else {
                    return false;
                };
                let why = match heard {
                    Heard::Connected => "connected",
                    Heard::Quiet => "check",
                    Heard::Gallery => "notification",
                    Heard::Desk(payload) => {
                        app.desk_message_heard(payload);
                        return true;
                    }
                };
                if let Err(e) = app.follow_changes(why) {
                    tracing::warn!(error = %e, "following the gallery's changes");
                }
                true
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_taken_once_in_any_order() {
        let t = Instant::now();
        let mut m = FeedMark::new(10);
        assert_eq!(m.take(&[(11, 1), (12, 2), (13, 1)], t), vec![1, 2]);
        assert_eq!((m.low, m.seen.len()), (13, 0));
        // Read again (the same rows): nothing new.
        assert!(m.take(&[(11, 1), (12, 2), (13, 1)], t).is_empty());
        // 14 is late (committed after 15): 15 is taken, the mark waits at 13 for 14.
        assert_eq!(m.take(&[(15, 5)], t), vec![5]);
        assert_eq!(m.low, 13);
        assert_eq!(m.take(&[(14, 4), (15, 5)], t), vec![4]);
        assert_eq!((m.low, m.seen.len()), (15, 0));
    }

    #[test]
    fn a_rolled_back_id_holds_the_mark_only_for_a_while() {
        let t = Instant::now();
        let mut m = FeedMark::new(0);
        assert_eq!(m.take(&[(2, 7)], t), vec![7]);
        assert_eq!(m.low, 0);
        assert!(m.take(&[(2, 7)], t + Duration::from_secs(10)).is_empty());
        assert_eq!(m.low, 0);
        m.take(&[(2, 7), (4, 8)], t + GAP_WAIT + Duration::from_secs(1));
        // The hole at 1 is given up after waiting; the one at 3 gets its own wait.
        assert_eq!(m.low, 2);
        m.take(&[(4, 8)], t + GAP_WAIT * 2 + Duration::from_secs(2));
        assert_eq!((m.low, m.seen.len()), (4, 0));
    }
}
