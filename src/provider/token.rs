//! `POST /oidc/token`: the authorization code and refresh token grants (RFC 6749 sections 4.1.3 and 6).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::http::rate_limit;
use crate::http::{ApiError, RequestContext};
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};

use super::endpoint::{authenticated_client, form_params, issuer, no_store, now};
use super::service::{self, InvalidGrant, Redeemed};
use super::tokens::{self as ptokens, IdTokenInput};

pub(super) fn invalid_grant(e: InvalidGrant) -> ApiError {
    ApiError::bad_request("invalid_grant", e.0)
}

/// Counts one token-endpoint request in `bucket`: 429 with `Retry-After` beyond `limit`
/// a minute.
async fn count_token_request(state: &AppState, bucket: String, limit: u32) -> Result<(), ApiError> {
    let now = now();
    let retry = state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, limit, 60, now))
        .await?;
    retry.map_or(Ok(()), |secs| Err(rate_limit::too_many_requests(secs)))
}

pub(super) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.provider;
    // Every request counts against its network address (behind `server.trusted_proxies`
    // the forwarded one) before anything in it is believed.
    count_token_request(
        &state,
        format!("oidc_token:ip:{}", ctx.ip.as_deref().unwrap_or("-")),
        limits.token_requests_per_minute_per_address,
    )
    .await?;
    let form = form_params(&req, &body)?;
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    if grant_type == super::exchange::TOKEN_EXCHANGE {
        return super::exchange::exchange(&state, &req, &form)
            .await
            .map(no_store);
    }
    let client = authenticated_client(&state, &req, &form).await?;
    // Only a client that proved who it is spends its own budget: requests with a wrong
    // secret (anyone can name a client_id) count against their address alone.
    count_token_request(
        &state,
        format!("oidc_token:client:{}", client.client_id),
        limits.token_requests_per_minute_per_client,
    )
    .await?;
    // DPoP (RFC 9449 section 5): a proof binds the tokens to its key. Required of a
    // portal registered with `dpop_bound_access_tokens`; proof errors are 400 here.
    let jkt = if client.requires_dpop() || req.headers().contains_key("dpop") {
        let proof = guard::verify_request(&state, &req, ProofRequirements::default())
            .await
            .map_err(guard::at_token_endpoint)?;
        Some(proof.jkt.as_str().to_owned())
    } else {
        None
    };
    let now = now();
    let client_id = client.client_id.clone();
    let is_public = client.public;
    let bound_to = jkt.clone();
    let outcome = match grant_type.as_str() {
        "authorization_code" => {
            let code = form
                .get("code")
                .cloned()
                .filter(|c| c.len() <= 128)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "The code is missing."))?;
            let redirect_uri = form.get("redirect_uri").cloned();
            let verifier = form.get("code_verifier").cloned();
            if client.public && verifier.is_none() {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "A public client must send the code_verifier (PKCE).",
                ));
            }
            state
                .db
                .run(move |conn| {
                    service::redeem_code(
                        conn,
                        &code,
                        &client_id,
                        redirect_uri.as_deref(),
                        verifier.as_deref(),
                        jkt.as_deref(),
                        now,
                    )
                })
                .await?
        }
        "refresh_token" => {
            let token = form
                .get("refresh_token")
                .cloned()
                .filter(|c| c.len() <= 128)
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_request", "The refresh_token is missing.")
                })?;
            state
                .db
                .run(move |conn| {
                    let key = service::RefreshKey {
                        jkt: jkt.as_deref(),
                        is_public,
                    };
                    service::refresh(conn, &token, &client_id, key, now)
                })
                .await?
        }
        "" => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "The grant_type is missing.",
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "unsupported_grant_type",
                "Use authorization_code, refresh_token or token exchange.",
            ));
        }
    };
    let redeemed = outcome.map_err(invalid_grant)?;
    token_response(&state, &redeemed, bound_to.as_deref()).map(no_store)
}

/// The token response; with `jkt` the access token is DPoP-bound (`cnf.jkt`,
/// `token_type: DPoP`, RFC 9449 section 5 and 6).
fn token_response(
    state: &AppState,
    redeemed: &Redeemed,
    jkt: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let iss = issuer(state);
    let settings = &state.settings.provider;
    let key = state.tokens.signing_key();
    let now = Utc::now();
    let alg = settings
        .client(&redeemed.grant.client_id)
        .map(|c| c.id_token_signed_response_alg)
        .unwrap_or_default();
    let signer = ptokens::IdTokenSigner::for_alg(alg, &state.tokens).map_err(ApiError::internal)?;
    let id_token = ptokens::id_token(
        &signer,
        &IdTokenInput {
            issuer: &iss,
            grant: &redeemed.grant,
            account: &redeemed.account,
            nonce: redeemed.nonce.as_deref(),
            ttl_secs: settings.id_token_ttl_secs,
        },
        now,
    )
    .map_err(ApiError::internal)?;
    let access_token = ptokens::access_token(
        &key,
        &iss,
        &redeemed.grant,
        &ptokens::userinfo_audience(&iss),
        jkt.map_or(ptokens::Binding::None, ptokens::Binding::Dpop),
        settings.access_token_ttl_secs,
        now,
    )
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": settings.access_token_ttl_secs,
        "id_token": id_token,
        "refresh_token": redeemed.refresh_token,
        "scope": redeemed.grant.scope,
    })))
}
