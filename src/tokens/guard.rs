//! The HTTP side of DPoP (RFC 9449): read the one `DPoP` header, verify the proof
//! against this request, and remember its `jti` in the database (shared by every
//! instance) so that a replayed proof is refused.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use chrono::Utc;
use diesel::prelude::*;

use crate::db::schema::dpop_jtis;
use crate::db::{DbConnection, StoreError};
use crate::http::ApiError;
use crate::state::AppState;

use super::dpop::{self, DpopError, IatWindow, NonceCheck, ProofExpectations, VerifiedProof};
use super::jwk::Jkt;

pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// What a request's proof must satisfy beyond the basics.
#[derive(Default)]
pub struct ProofRequirements<'a> {
    /// The access token the proof must be bound to (`ath`).
    pub access_token: Option<&'a str>,
    /// The key the request must be signed with (a link's or a device's).
    pub expected_jkt: Option<&'a Jkt>,
    /// Whether a fresh server nonce is required (RFC 9449 section 8).
    pub require_nonce: bool,
    /// Whether this is a protected resource: a proof that does not match the access
    /// token (`ath`) or its key (`jkt`) is then answered `invalid_token` (RFC 9449
    /// section 7.1).
    pub at_resource: bool,
}

/// The acceptance window of proofs from the settings.
pub fn iat_window(state: &AppState) -> IatWindow {
    IatWindow {
        past: chrono::TimeDelta::seconds(state.settings.dpop.iat_past_secs),
        future: chrono::TimeDelta::seconds(state.settings.dpop.iat_future_secs),
    }
}

/// The `ApiError` for a refused proof: 401 with `WWW-Authenticate: DPoP` and, when the
/// nonce is the problem, a fresh `DPoP-Nonce` to retry with.
pub fn proof_error(state: &AppState, err: DpopError) -> ApiError {
    let challenge = format!("DPoP error=\"{}\", algs=\"ES256\"", err.error());
    let mut api = ApiError::new(StatusCode::UNAUTHORIZED, err.error(), err.to_string())
        .with_field("reason", err.code());
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        api = api.with_header(WWW_AUTHENTICATE, value);
    }
    if matches!(err, DpopError::MissingNonce | DpopError::InvalidNonce) {
        api = with_fresh_nonce(state, api);
    }
    api
}

/// A proof error as a token endpoint answers it: 400 rather than 401 (RFC 9449 sections 5
/// and 8, RFC 6749 section 5.2), with the same code, `reason` and headers.
#[must_use]
pub fn at_token_endpoint(mut e: ApiError) -> ApiError {
    if e.status == StatusCode::UNAUTHORIZED {
        e.status = StatusCode::BAD_REQUEST;
    }
    e
}

/// 401 `invalid_token` with `WWW-Authenticate: DPoP error="invalid_token"` (RFC 9449
/// section 7.1): the access token is missing, expired, revoked, or not bound to the
/// proof's key.
pub fn invalid_token(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("DPoP error=\"invalid_token\", algs=\"ES256\""),
    )
}

/// 401 for a request that sent no credentials (or used another scheme): the challenge
/// names only the scheme, the realm and the algorithms, no `error` (RFC 6750 section
/// 3.1, RFC 9449 section 7.1). The body keeps the device API's envelope.
pub fn no_credentials(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("DPoP realm=\"devicelink\", algs=\"ES256\""),
    )
}

/// Adds a `DPoP-Nonce` header for the next request.
pub fn with_fresh_nonce(state: &AppState, api: ApiError) -> ApiError {
    match HeaderValue::from_str(&state.dpop_nonces.issue(Utc::now())) {
        Ok(value) => api.with_header(DPOP_NONCE, value),
        Err(_) => api,
    }
}

/// A proof that passed every check but replay: its `jti` still has to be recorded,
/// with [`CheckedProof::remember`], in the same database hop as the request's own work.
pub struct CheckedProof {
    pub proof: VerifiedProof,
    jti_key: String,
    jti_expires_at: chrono::NaiveDateTime,
}

impl CheckedProof {
    /// Records the `jti` (single use, shared by every instance); `Err(replayed())` when
    /// it was already there.
    pub fn remember(&self, conn: &mut DbConnection) -> Result<Result<(), ApiError>, StoreError> {
        Ok(if remember_jti(conn, &self.jti_key, self.jti_expires_at)? {
            Ok(())
        } else {
            Err(replayed())
        })
    }
}

/// 401 for a proof whose `jti` was seen before.
pub fn replayed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_dpop_proof",
        crate::i18n::t("api-dpop-replayed"),
    )
    .with_field("reason", "replayed_jti")
    .with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("DPoP error=\"invalid_dpop_proof\", algs=\"ES256\""),
    )
}

/// Checks the request's DPoP proof (RFC 9449 section 4.3) without touching the
/// database; the caller records the `jti` with [`CheckedProof::remember`].
pub fn check_request(
    state: &AppState,
    req: &HttpRequest,
    requirements: ProofRequirements<'_>,
) -> Result<CheckedProof, ApiError> {
    let values: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    let proof = dpop::single_proof(values).map_err(|e| proof_error(state, e))?;
    // The target URI is ours, as the public sees it, never the Host header's.
    let htu = state
        .settings
        .server
        .public_url
        .join(req.path())
        .map_err(|_| proof_error(state, DpopError::HtuMismatch))?;
    let window = iat_window(state);
    let mut expect = ProofExpectations::new(req.method().as_str(), &htu);
    expect.iat_window = window;
    expect.access_token = requirements.access_token;
    expect.expected_jkt = requirements.expected_jkt;
    if requirements.require_nonce {
        expect.nonce = NonceCheck::Server(&state.dpop_nonces);
    }
    let now = Utc::now();
    let verified = dpop::verify_proof(proof, &expect, now).map_err(|e| {
        if requirements.at_resource && matches!(e, DpopError::AthMismatch | DpopError::JktMismatch)
        {
            invalid_token(e.to_string()).with_field("reason", e.code())
        } else {
            proof_error(state, e)
        }
    })?;
    Ok(CheckedProof {
        jti_key: dpop::jti_key(&verified.jkt, &verified.jti),
        jti_expires_at: verified.jti_expires_at(window).naive_utc() + chrono::TimeDelta::seconds(5),
        proof: verified,
    })
}

/// Verifies the request's DPoP proof and records its `jti` (single use) in a database
/// hop of its own.
pub async fn verify_request(
    state: &AppState,
    req: &HttpRequest,
    requirements: ProofRequirements<'_>,
) -> Result<VerifiedProof, ApiError> {
    let checked = check_request(state, req, requirements)?;
    state
        .db
        .run(move |conn| Ok(checked.remember(conn)?.map(|()| checked.proof)))
        .await?
}

/// Stores a proof's `jti` hash; false when it was already there (a replay).
pub fn remember_jti(
    conn: &mut DbConnection,
    key: &str,
    expires_at: chrono::NaiveDateTime,
) -> Result<bool, StoreError> {
    match diesel::insert_into(dpop_jtis::table)
        .values((
            dpop_jtis::jti_hash.eq(key),
            dpop_jtis::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map_err(StoreError::from)
    {
        Ok(_) => Ok(true),
        Err(StoreError::UniqueViolation) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets proof ids whose proofs can no longer be accepted anyway.
pub fn purge_expired_jtis(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(dpop_jtis::table.filter(dpop_jtis::expires_at.le(now))).execute(conn)?)
}
