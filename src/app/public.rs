//! The public status page a citizen's phone opens from the receipt's QR code: one dossier,
//! found by its code and 128-bit lookup token, with no sign-in and the same minimal data
//! the kiosk shows (masked name). Wrong codes or tokens are counted per client address
//! and answered with growing delays; a right one is always answered.

use std::net::IpAddr;
use std::time::Instant;

use super::kiosk::KioskResult;
use super::{lock, App, AppError};
use crate::crypto::sha256_hex;
use crate::store::dossiers as sql;

impl App {
    /// The dossier behind a receipt's lookup URL, as the kiosk would show it.
    pub fn public_status(
        &self,
        client: IpAddr,
        code: &str,
        token: &str,
    ) -> Result<KioskResult, AppError> {
        let now = Instant::now();
        let found = (token.len() <= 64 && code.len() <= 64)
            .then(|| {
                self.store
                    .read(|c| sql::dossier_by_token_hash(c, &sha256_hex(token.as_bytes())))
            })
            .transpose()?
            .flatten()
            .filter(|d| d.code == code);
        // A right code and token are always served, even from an address that is being
        // slowed down (many citizens share one address behind a carrier's NAT); the token's
        // 128 bits, not the delay, keep it from being guessed.
        let Some(d) = found else {
            let mut misses = lock(&self.public_misses);
            let wait = misses.wait_ms(&client, now);
            if wait > 0 {
                return Err(AppError::Throttled(wait.div_ceil(1000)));
            }
            misses.fail(&client, now);
            return Err(AppError::NotFound("dossier".into()));
        };
        self.one_dossier_result(&d)
    }
}
