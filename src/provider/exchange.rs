//! RFC 8693 token exchange for the mobile app: its device-bound access token (with a
//! DPoP proof by the same key) becomes a token for one configured portal API, still
//! bound to the device key (`cnf.jkt`).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use serde_json::json;

use super::store::{self, GrantRow};
use super::tokens as ptokens;
use crate::devices::step_up::{self, Operation, Unlock, Windows};
use crate::http::ApiError;
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};
use crate::tokens::{AccessTokenError, JwtError};

/// The grant type of RFC 8693 section 2.1.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Handles `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`.
pub(crate) async fn exchange(
    state: &AppState,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<HttpResponse, ApiError> {
    let subject = form
        .get("subject_token")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("invalid_request", "The subject_token is missing."))?;
    if form.get("subject_token_type").map(String::as_str) != Some(ACCESS_TOKEN_TYPE) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "The subject_token_type must be urn:ietf:params:oauth:token-type:access_token.",
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "Only access tokens can be requested.",
        ));
    }
    let audience = match (form.get("audience"), form.get("resource")) {
        (Some(a), None) | (None, Some(a)) => a.clone(),
        (Some(a), Some(r)) if a == r => a.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_target",
                "Name exactly one portal API with audience (or resource).",
            ));
        }
    };
    let client = state
        .settings
        .provider
        .clients
        .iter()
        .find(|c| c.audiences.contains(&audience))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_target",
                "This audience is not a configured portal API.",
            )
        })?
        .clone();
    let now = Utc::now();
    let mut verified = state
        .tokens
        .verify(&subject, &state.tokens.cached_keys(), now);
    if verified == Err(AccessTokenError::Jwt(JwtError::UnknownKey)) {
        let naive = now.naive_utc();
        let keys = state
            .db
            .run(move |conn| Ok(crate::tokens::access::published_keys(conn, naive)))
            .await?
            .map_err(ApiError::internal)?;
        verified = state.tokens.verify(&subject, &keys, now);
    }
    let claims = verified.map_err(|e| ApiError::bad_request("invalid_grant", e.to_string()))?;
    // The proof must come from the key the subject token is bound to. Proof errors are
    // 400 here, as at every token endpoint (RFC 9449 section 5, RFC 6749 section 5.2).
    guard::verify_request(
        state,
        req,
        ProofRequirements {
            expected_jkt: Some(&claims.jkt),
            ..ProofRequirements::default()
        },
    )
    .await
    .map_err(guard::at_token_endpoint)?;
    let device_id = claims.device_id.clone();
    let device = state
        .db
        .run(move |conn| crate::devices::store::find_device(conn, &device_id))
        .await?;
    let device = device
        .filter(|d| {
            d.status == "active"
                && d.jkt == claims.jkt.as_str()
                && d.account_id == claims.account_id
                && d.token_generation == claims.generation
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_grant",
                "The subject token is revoked: the device is locked or unlinked.",
            )
        })?;
    // The exchanged token asserts when the citizen unlocked the app: the subject
    // token's `auth_time` (the unlock behind its refresh-token family), not its `iat`
    // (which a mere refresh renews).
    let auth_time = claims
        .auth_time
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_grant",
                "The subject token does not say when the app was unlocked. Unlock the app again.",
            )
        })?;
    // The step-up policy: only a recent unlock may be exchanged (a refresh renews the
    // token, never the unlock). RFC 6749 section 5.2 leaves this `invalid_grant`; the
    // `reason` tells the app to unlock again.
    let unlock = Unlock {
        amr: &claims.amr,
        auth_time: claims.auth_time,
    };
    step_up::check(
        Operation::TokenExchange,
        Windows::of(&state.settings),
        unlock,
        now.naive_utc(),
    )
    .map_err(|_| {
        ApiError::bad_request("invalid_grant", step_up::unlock_required_message())
            .with_field("reason", "unlock_required")
    })?;
    let ttl = state.settings.provider.access_token_ttl_secs;
    let naive = now.naive_utc();
    let grant = GrantRow {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client.client_id.clone(),
        account_id: device.account_id.clone(),
        scope: "openid".to_owned(),
        auth_time,
        acr: super::rules::ACR_DEVICE.to_owned(),
        amr: json!(claims.amr).to_string(),
        device_id: Some(device.id.clone()),
        created_at: naive,
        expires_at: naive + Duration::seconds(ttl),
        revoked_at: None,
        session_id_hash: None,
        jkt: None,
        claims: None,
    };
    let stored = grant.clone();
    state
        .db
        .run(move |conn| store::insert_grant(conn, &stored))
        .await?;
    let token = ptokens::access_token(
        &state.tokens.signing_key(),
        state.tokens.issuer(),
        &grant,
        &audience,
        ptokens::Binding::Device(&ptokens::DeviceBinding {
            device_id: &device.id,
            jkt: claims.jkt.as_str(),
            generation: device.token_generation,
        }),
        ttl,
        now,
    )
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "DPoP",
        "expires_in": ttl,
        "audience": audience,
    })))
}
