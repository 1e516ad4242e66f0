//! Browser sessions: a random token in an HttpOnly cookie, only its SHA-256 in the
//! database, idle and absolute timeouts, a fresh id at every sign-in, and a
//! synchronizer CSRF token for every state-changing form.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDateTime};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::db::{DbConnection, StoreError};

use super::store::{self, BrowserSession};

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 hex of a token: what the database keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The cookie's name: `__Host-` prefixed when served over https (bound to this host,
/// Secure, Path=/), plain on the demo's http.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if is_secure(settings) {
        "__Host-dl_session"
    } else {
        "dl_session"
    }
}

fn is_secure(settings: &Settings) -> bool {
    settings.server.public_url.scheme() == "https"
}

pub fn session_cookie(settings: &Settings, token: String) -> Cookie<'static> {
    Cookie::build(cookie_name(settings), token)
        .path("/")
        .http_only(true)
        .secure(is_secure(settings))
        .same_site(SameSite::Lax)
        .finish()
}

pub fn removal_cookie(settings: &Settings) -> Cookie<'static> {
    let mut cookie = session_cookie(settings, String::new());
    cookie.set_max_age(CookieDuration::ZERO);
    cookie
}

/// The session token the browser sent, if any (bounded so junk is not hashed).
pub fn token_from_request(req: &HttpRequest, settings: &Settings) -> Option<String> {
    req.cookie(cookie_name(settings))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// What a new session starts with.
pub struct SessionData {
    pub account_id: Option<String>,
    pub eaccess_sub: Option<String>,
    pub auth_time: Option<NaiveDateTime>,
    pub acr: Option<String>,
    pub product_kind: Option<String>,
    pub product_serial: Option<String>,
    pub id_token_hint: Option<String>,
    pub pending_registration: Option<String>,
}

impl SessionData {
    pub fn anonymous() -> Self {
        Self {
            account_id: None,
            eaccess_sub: None,
            auth_time: None,
            acr: None,
            product_kind: None,
            product_serial: None,
            id_token_hint: None,
            pending_registration: None,
        }
    }
}

/// Creates a session; returns the token for the cookie. Callers delete the previous
/// session in the same transaction when signing in (session fixation).
pub fn create(
    conn: &mut DbConnection,
    settings: &Settings,
    data: SessionData,
    now: NaiveDateTime,
) -> Result<String, StoreError> {
    let token = random_token();
    let session = BrowserSession {
        id_hash: hash_token(&token),
        account_id: data.account_id,
        csrf_token: random_token(),
        eaccess_sub: data.eaccess_sub,
        auth_time: data.auth_time,
        acr: data.acr,
        product_kind: data.product_kind,
        product_serial: data.product_serial,
        id_token_hint: data.id_token_hint,
        pending_registration: data.pending_registration,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::hours(settings.portal.session_absolute_hours),
        reauth_at: None,
    };
    store::insert_session(conn, &session)?;
    Ok(token)
}

/// Loads a live session: not past its absolute expiry, not idle too long. Activity moves
/// the idle clock (written at most once a minute to spare the database).
pub fn load(
    conn: &mut DbConnection,
    settings: &Settings,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<BrowserSession>, StoreError> {
    let id_hash = hash_token(token);
    let Some(session) = store::find_session(conn, &id_hash, now)? else {
        return Ok(None);
    };
    if session.last_seen_at + Duration::minutes(settings.portal.session_idle_minutes) <= now {
        store::delete_session(conn, &id_hash)?;
        return Ok(None);
    }
    if now - session.last_seen_at >= Duration::minutes(1) {
        store::touch_session(conn, &id_hash, now)?;
    }
    Ok(Some(session))
}

/// Constant-time check of a form's CSRF token against the session's.
pub fn csrf_matches(session: &BrowserSession, submitted: &str) -> bool {
    session
        .csrf_token
        .as_bytes()
        .ct_eq(submitted.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed_differently() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
