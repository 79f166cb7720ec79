//! Setting up a kiosk without its token ever appearing on a command line: a kiosk device
//! comes with a one-time setup code (valid 7 days). The appliance opens
//! `/kiosk/#pair=<code>`; the page exchanges the code for the token once and keeps the
//! token in its own storage. The server keeps only the code's hash and the token sealed
//! under the code, so neither the database nor a spent code reveals the token.

use crate::store::audit::Action;
use serde_json::json;

use super::{App, AppError};
use crate::auth::{Principal, Role};
use crate::crypto::{self, random_token, sha256_hex};
use crate::store::{now, users};

/// How long a setup code can be used.
pub const SETUP_CODE_DAYS: i64 = 7;

/// The key a token is sealed under: derived from the setup code alone.
fn code_key(code: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::new()
        .chain_update(b"hoso kiosk pairing\0")
        .chain_update(code.as_bytes())
        .finalize()
        .into()
}

impl App {
    /// A new one-time setup code for `device_id`, whose token is `token`.
    pub fn setup_code(&self, device_id: i64, token: &str) -> Result<String, AppError> {
        let code = random_token()?;
        let sealed = crypto::seal(&code_key(&code), token.as_bytes(), b"kiosk-pairing")?;
        let expires = now() + SETUP_CODE_DAYS * 86_400;
        self.store.tx(|tx| {
            users::insert_pairing(
                tx,
                &sha256_hex(code.as_bytes()),
                device_id,
                &sealed,
                expires,
            )
        })?;
        Ok(code)
    }

    /// Spends a setup code: the device's token, once.
    pub fn pair(&self, code: &str) -> Result<String, AppError> {
        let refused = || AppError::Forbidden("setup code unknown, already used or expired".into());
        let code = code.trim();
        if code.is_empty() || code.len() > 64 {
            return Err(refused());
        }
        let t = now();
        let taken = self
            .store
            .tx(|tx| users::take_pairing(tx, &sha256_hex(code.as_bytes()), t))?;
        let (device, sealed) = taken.ok_or_else(refused)?;
        let token = crypto::open(&code_key(code), &sealed, b"kiosk-pairing")
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(refused)?;
        let paired = Principal::device(Role::Kiosk, device, String::new(), None);
        self.audit(&paired, Action::DevicePair, &paired.actor, json!({}))?;
        Ok(token)
    }
}
