//! The protected-resource side of the device API: an access token in
//! `Authorization: DPoP <token>` plus a proof by the bound key with `ath` (RFC 9449
//! section 7), and a fresh look at the device row on every request, so that locking,
//! unlinking or a revocation refuses existing tokens at once.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use chrono::Utc;

use crate::db::{DbConnection, StoreError};
use crate::http::ApiError;
use crate::state::AppState;
use crate::tokens::access::published_keys;
use crate::tokens::guard::{self, ProofRequirements, invalid_token, no_credentials};
use crate::tokens::{AccessClaims, AccessTokenError, JwtError};

use super::store::{self, DeviceRow};

/// A request from an unlocked, still active device.
#[derive(Debug)]
pub struct AuthorizedDevice {
    pub claims: AccessClaims,
    pub device: DeviceRow,
}

/// The token of `Authorization: DPoP <token>` (RFC 9449 section 7.1).
fn dpop_token(req: &HttpRequest) -> Result<String, ApiError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    // No credentials, or another scheme: a challenge without `error` (RFC 6750 section 3.1).
    let value = values
        .next()
        .ok_or_else(|| no_credentials(crate::i18n::t("api-auth-use-dpop")))?;
    if values.next().is_some() {
        return Err(invalid_token(crate::i18n::t("api-auth-one-header")));
    }
    let value = value
        .to_str()
        .map_err(|_| invalid_token(crate::i18n::t("api-auth-unreadable")))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("DPoP") {
        return Err(no_credentials(crate::i18n::t("api-auth-bound-token")));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid_token(crate::i18n::t("api-auth-empty")));
    }
    Ok(token.to_owned())
}

/// Checks token, proof and device; the proof's `jti` is recorded (single use).
pub async fn authorize(state: &AppState, req: &HttpRequest) -> Result<AuthorizedDevice, ApiError> {
    authorize_with(state, req, |_, _| Ok(()))
        .await
        .map(|(device, ())| device)
}

/// [`authorize`], then `then` with the current device, all in one database hop: the
/// `jti` is recorded, the device row re-read, and `then` runs only for a token that is
/// still current.
pub async fn authorize_with<F, R>(
    state: &AppState,
    req: &HttpRequest,
    then: F,
) -> Result<(AuthorizedDevice, R), ApiError>
where
    F: FnOnce(&mut DbConnection, &DeviceRow) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    let token = dpop_token(req)?;
    let now = Utc::now();
    let mut verified = state
        .tokens
        .verify(&token, &state.tokens.cached_keys(), now);
    if verified == Err(AccessTokenError::Jwt(JwtError::UnknownKey)) {
        // Signed by a key another instance made after this one started (or a retired one).
        let naive = now.naive_utc();
        let keys = state
            .db
            .run(move |conn| Ok(published_keys(conn, naive)))
            .await?
            .map_err(ApiError::internal)?;
        verified = state.tokens.verify(&token, &keys, now);
    }
    let claims = verified.map_err(|e| invalid_token(e.to_string()))?;
    let checked = guard::check_request(
        state,
        req,
        ProofRequirements {
            access_token: Some(&token),
            expected_jkt: Some(&claims.jkt),
            at_resource: true,
            ..ProofRequirements::default()
        },
    )?;
    state
        .db
        .run(move |conn| {
            if let Err(replayed) = checked.remember(conn)? {
                return Ok(Err(replayed));
            }
            let device = store::find_device(conn, &claims.device_id)?;
            let device = match device {
                Some(device) if is_current(&device, &claims) => device,
                _ => return Ok(Err(revoked())),
            };
            let extra = then(conn, &device)?;
            Ok(Ok((AuthorizedDevice { claims, device }, extra)))
        })
        .await?
}

/// Whether the device row still backs the token: active, same key, account and token
/// generation (a lock, unlink or withdrawal bumps or changes one of them).
fn is_current(device: &DeviceRow, claims: &AccessClaims) -> bool {
    device.status == "active"
        && device.jkt == claims.jkt.as_str()
        && device.account_id == claims.account_id
        && device.token_generation == claims.generation
}

fn revoked() -> ApiError {
    invalid_token(crate::i18n::t("api-token-revoked"))
}
