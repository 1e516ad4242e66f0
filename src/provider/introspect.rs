//! `POST /oidc/revoke` (RFC 7009) and `POST /oidc/introspect` (RFC 7662).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;

use super::client_auth;
use super::endpoint::{
    JwtErrorOr, authenticated_client, form_params, issuer, live_access_token, no_store, now,
    verify_with_keys,
};
use super::service;
use super::store;
use super::tokens as ptokens;

pub(super) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = form_params(&req, &body)?;
    let client = authenticated_client(&state, &req, &form).await?;
    let token = form
        .get("token")
        .cloned()
        .filter(|t| t.len() <= 16 * 1024)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "The token is missing."))?;
    let grant_id = grant_of_any_token(&state, &token).await?;
    if let Some((grant_id, grant_client)) = grant_id {
        // RFC 7009 section 2.1: only the client the token was issued to may revoke it;
        // for anyone else the answer is the same 200, and nothing changes.
        if grant_client == client.client_id {
            let now = now();
            state
                .db
                .run(move |conn| store::revoke_grant(conn, &grant_id, now))
                .await?;
        }
    }
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// The grant (id, client) a refresh or access token belongs to, if it is one of ours.
async fn grant_of_any_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(String, String)>, ApiError> {
    if token.len() <= 64 {
        let t = token.to_owned();
        let now = now();
        let found = state
            .db
            .run(move |conn| service::grant_of_refresh_token(conn, &t, now))
            .await?;
        return Ok(found.map(|(_, g)| (g.id, g.client_id)));
    }
    let iss = issuer(state);
    let now = now();
    let checked = verify_with_keys(state, |keys| {
        crate::tokens::verify_jwt(token, keys, crate::tokens::access::ACCESS_TOKEN_TYP)
            .map_err(JwtErrorOr::Jwt)
    })
    .await?;
    Ok(checked.ok().and_then(|claims| {
        let sid = claims.get("sid")?.as_str()?.to_owned();
        let client = claims.get("client_id")?.as_str()?.to_owned();
        (claims.get("iss")?.as_str()? == iss
            && claims.get("exp")?.as_i64()? > now.and_utc().timestamp())
        .then_some((sid, client))
    }))
}

pub(super) async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = form_params(&req, &body)?;
    let client = authenticated_client(&state, &req, &form).await?;
    if client.public {
        return Err(client_auth::invalid_client(
            "Public clients cannot introspect tokens.",
        ));
    }
    let token = form
        .get("token")
        .cloned()
        .filter(|t| t.len() <= 16 * 1024)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "The token is missing."))?;
    let inactive = || no_store(HttpResponse::Ok().json(json!({"active": false})));
    let now = now();
    if token.len() <= 64 {
        let t = token.clone();
        let found = state
            .db
            .run(move |conn| service::grant_of_refresh_token(conn, &t, now))
            .await?;
        return Ok(match found {
            Some((row, grant))
                if grant.revoked_at.is_none() && grant.client_id == client.client_id =>
            {
                // No `token_type`: RFC 7662 section 2.2 means the access token type of
                // RFC 6749 section 5.1, which a refresh token does not have.
                no_store(HttpResponse::Ok().json(json!({
                    "active": true,
                    "client_id": grant.client_id,
                    "sub": ptokens::subject(&grant),
                    "scope": grant.scope,
                    "iss": issuer(&state),
                    "exp": row.expires_at.and_utc().timestamp(),
                    "iat": row.created_at.and_utc().timestamp(),
                })))
            }
            _ => inactive(),
        });
    }
    let iss = issuer(&state);
    let mut audiences = vec![ptokens::userinfo_audience(&iss)];
    audiences.extend(client.audiences.iter().cloned());
    let audience_refs: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let Some((access, grant)) = live_access_token(&state, &token, &audience_refs).await? else {
        return Ok(inactive());
    };
    // A token exchanged by the app is visible to the portal whose API it is for.
    let is_for_client = grant.client_id == client.client_id
        || access
            .claims
            .get("aud")
            .and_then(Value::as_str)
            .is_some_and(|a| client.audiences.iter().any(|x| x == a));
    if !is_for_client {
        return Ok(inactive());
    }
    let mut body = access.claims.clone();
    body.insert("active".into(), json!(true));
    body.insert("token_type".into(), json!(token_type(&access.claims)));
    Ok(no_store(HttpResponse::Ok().json(Value::Object(body))))
}

/// The access token's type as it is used (RFC 7662 section 2.2, RFC 6749 section 5.1):
/// `DPoP` when it is bound to a key (`cnf.jkt`, RFC 9449 section 6), `Bearer` otherwise.
fn token_type(claims: &serde_json::Map<String, Value>) -> &'static str {
    let is_bound = claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        .is_some_and(|jkt| !jkt.is_empty());
    if is_bound { "DPoP" } else { "Bearer" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_token_bound_to_a_key_is_dpop_and_any_other_is_bearer() {
        assert_eq!(token_type(&claims(json!({"cnf": {"jkt": "abc"}}))), "DPoP");
        assert_eq!(token_type(&claims(json!({"sub": "x"}))), "Bearer");
        assert_eq!(
            token_type(&claims(json!({"cnf": {"x5t#S256": "abc"}}))),
            "Bearer"
        );
        assert_eq!(token_type(&claims(json!({"cnf": {"jkt": ""}}))), "Bearer");
    }
}
