//! Guarding the sign-in: at most one password hash per two cores at a time (Argon2 takes
//! 19 MiB and ~20 ms each), a short queue beyond which attempts are refused at once,
//! growing delays per client address and per username after repeated failures (counted in
//! the database: a restart does not reset them and every server sees them; a counter is
//! written only after a password was hashed, so at most a few a second), and failed
//! attempts audited by count (the 1st, 2nd, 4th, 8th … of a username), with the typed
//! username cut short — so a flood of sign-ins can take neither memory, CPU nor disk.

use crate::store::audit::Action;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::users::Login;
use super::{App, AppError};
use crate::config::LimitsConfig;
use crate::store::{misses, now_ms};
use crate::throttle::Rule;

/// How much of a typed username the audit log keeps.
pub const AUDITED_USERNAME_CHARS: usize = 64;

pub struct SignInGuard {
    hashing: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    by_client: Rule,
    by_user: Rule,
}

impl SignInGuard {
    pub fn new(l: &LimitsConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let rule = |free| Rule {
            free,
            max_delay_s: l.login_max_delay_seconds,
            capacity: 0,
        };
        Self {
            hashing: Arc::new(tokio::sync::Semaphore::new(cores.div_ceil(2))),
            waiting: AtomicUsize::new(0),
            queue: l.login_queue,
            by_client: rule(l.login_free_failures_per_client),
            by_user: rule(l.login_free_failures_per_user),
        }
    }
}

/// The stored counter key of a typed username: case-folded and cut short.
fn user_key(username: &str) -> String {
    let name: String = username
        .trim()
        .chars()
        .take(AUDITED_USERNAME_CHARS)
        .flat_map(char::to_lowercase)
        .collect();
    format!("login-user:{name}")
}

/// The stored counter key of a client address.
fn client_key(client: IpAddr) -> String {
    format!("login-client:{client}")
}

/// A typed username as the audit log shows it: at most 64 characters, control
/// characters replaced, and the original length when it was cut.
pub fn audited_username(username: &str) -> String {
    let n = username.chars().count();
    let shown: String = username
        .chars()
        .take(AUDITED_USERNAME_CHARS)
        .map(|c| if c.is_control() { '�' } else { c })
        .collect();
    if n > AUDITED_USERNAME_CHARS {
        format!("{shown}… ({n} characters)")
    } else {
        shown
    }
}

impl App {
    /// Signs a clerk or admin in from `client`, under the guard's limits.
    pub async fn sign_in(
        self: &Arc<Self>,
        client: IpAddr,
        username: String,
        password: String,
    ) -> Result<Login, AppError> {
        let g = &self.sign_in_guard;
        let (key, ckey) = (user_key(&username), client_key(client));
        let app = self.clone();
        let (k1, k2) = (key.clone(), ckey.clone());
        let (by_user, by_client) = tokio::task::spawn_blocking(move || {
            app.store
                .read(|c| Ok((misses::get(c, &k1)?, misses::get(c, &k2)?)))
        })
        .await
        .map_err(|e| AppError::Internal(format!("worker failed: {e}")))??;
        let t = now_ms();
        let wait = g
            .by_client
            .stored_wait_ms(by_client, t)
            .max(g.by_user.stored_wait_ms(by_user, t));
        if wait > 0 {
            return Err(AppError::Throttled(crate::kiosk::keypad::seconds(wait)));
        }
        if g.waiting.fetch_add(1, Ordering::SeqCst) >= g.queue {
            g.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::Busy);
        }
        let permit = g.hashing.clone().acquire_owned().await;
        g.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = permit.map_err(|_| AppError::Busy)?;
        let app = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            app.login(&username, &password).map_err(|e| (e, username))
        })
        .await
        .map_err(|e| AppError::Internal(format!("worker failed: {e}")))?;
        let app = self.clone();
        let forget = g.by_user.forget_ms().max(g.by_client.forget_ms());
        let counted = tokio::task::spawn_blocking(move || match result {
            Ok(l) => {
                app.store.tx(|tx| misses::clear(tx, &key))?;
                Ok(l)
            }
            Err((AppError::Unauthorized, username)) => {
                let t = now_ms();
                let n = app.store.tx(|tx| {
                    misses::prune(tx, t - forget)?;
                    misses::bump(tx, &ckey, t, t - forget)?;
                    Ok(misses::bump(tx, &key, t, t - forget)?.count)
                })?;
                if n.is_power_of_two() {
                    app.audit(
                        &crate::auth::Principal::anonymous(),
                        Action::LoginFailed,
                        &audited_username(&username),
                        json!({"failures": n, "client": client.to_string()}),
                    )?;
                }
                Err(AppError::Unauthorized)
            }
            Err((e, _)) => Err(e),
        })
        .await
        .map_err(|e| AppError::Internal(format!("worker failed: {e}")))?;
        counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_usernames_are_short_and_printable() {
        assert_eq!(audited_username("clerk.an"), "clerk.an");
        let long = "x".repeat(256 * 1024);
        let a = audited_username(&long);
        assert!(a.chars().count() < 100, "{}", a.len());
        assert!(a.ends_with("(262144 characters)"));
        assert_eq!(audited_username("a\nb"), "a�b");
        assert_eq!(user_key(" Clerk.AN "), "login-user:clerk.an");
    }
}
