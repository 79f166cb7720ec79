//! What servers of one deployment tell each other through PostgreSQL's `LISTEN/NOTIFY`:
//! the gallery's change feed (`feed::CHANNEL`, sent by the transaction that changed it) and
//! messages for the clerk desks (`DESK_CHANNEL`: a kiosk's call for staff, an answer). Each
//! server listens on one connection of its own (`hoso-listen` in `pg_stat_activity`),
//! opened again when it drops. Notifications are a prompt, never the only path: what was
//! sent while the connection was down is lost, so the gallery is also checked periodically.

use std::time::Duration;

use super::db::{Conn, Dialect};
use super::feed;
use super::StoreError;
use crate::p;

/// The desks' channel.
pub const DESK_CHANNEL: &str = "hoso_desk";

/// What the listener heard.
pub enum Heard<'a> {
    /// The connection is (again) listening: anything sent meanwhile was missed.
    Connected,
    /// Nothing for a while, or no connection: time for the periodic check.
    Quiet,
    /// The gallery changed (one call for a burst).
    Gallery,
    /// A message on the desks' channel.
    Desk(&'a str),
}

/// Sends `payload` on the desks' channel (PostgreSQL only; one SQLite server has nobody
/// to tell).
pub fn to_desks(c: &Conn, payload: &str) -> Result<(), StoreError> {
    if c.dialect() == Dialect::Postgres {
        c.query_row(
            "SELECT pg_notify(?1, ?2)",
            p![DESK_CHANNEL, payload],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

/// Listens until `heard` returns false: it is called for every event, with `Quiet` after
/// `quiet` without one and every `retry` while there is no connection.
pub fn listen(url: &str, quiet: Duration, retry: Duration, mut heard: impl FnMut(Heard) -> bool) {
    let config = match url.parse::<postgres::Config>() {
        Ok(mut c) => {
            c.application_name("hoso-listen");
            c.connect_timeout(Duration::from_secs(3));
            c
        }
        Err(e) => {
            tracing::error!(error = %e, "the listener cannot parse database.url");
            return;
        }
    };
    let subscribe = format!("LISTEN {}; LISTEN {DESK_CHANNEL}", feed::CHANNEL);
    loop {
        match config.connect(postgres::NoTls) {
            Ok(mut client) => match client.batch_execute(&subscribe) {
                Ok(()) => {
                    if !heard(Heard::Connected) {
                        return;
                    }
                    match follow(&mut client, quiet, &mut heard) {
                        Ok(()) => return,
                        Err(e) => tracing::warn!(error = %e, "listener connection lost"),
                    }
                }
                Err(e) => tracing::warn!(error = %super::pg::describe(&e), "LISTEN failed"),
            },
            Err(e) => tracing::warn!(error = %super::pg::describe(&e), "listener cannot connect"),
        }
        if !heard(Heard::Quiet) {
            return;
        }
        std::thread::sleep(retry);
    }
}

/// Waits for notifications on a listening client: Ok when `heard` asks to stop, the reason
/// when the connection is lost.
fn follow(
    client: &mut postgres::Client,
    quiet: Duration,
    heard: &mut impl FnMut(Heard) -> bool,
) -> Result<(), String> {
    use postgres::fallible_iterator::FallibleIterator;
    loop {
        let mut n = client.notifications();
        let mut got = Vec::new();
        let first = n
            .timeout_iter(quiet)
            .next()
            .map_err(|e| super::pg::describe(&e))?;
        if let Some(first) = first {
            got.push(first);
            while let Some(more) = n.iter().next().map_err(|e| super::pg::describe(&e))? {
                got.push(more);
            }
        }
        drop(n);
        if client.is_closed() {
            return Err("connection closed".into());
        }
        let mut events: Vec<Heard> = got
            .iter()
            .filter(|m| m.channel() == DESK_CHANNEL)
            .map(|m| Heard::Desk(m.payload()))
            .collect();
        if got.iter().any(|m| m.channel() == feed::CHANNEL) {
            events.push(Heard::Gallery);
        }
        if got.is_empty() {
            events.push(Heard::Quiet);
        }
        for e in events {
            if !heard(e) {
                return Ok(());
            }
        }
    }
}
