//! `GET /.well-known/jwks.json`: the public keys of the app's access tokens and of the
//! provider's ID tokens (EC P-256 for ES256, RSA for RS256 and PS256), so portals and
//! tests can verify them.

use actix_web::{HttpResponse, get, web};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::state::AppState;

use super::access::{published_keys, published_rsa_keys};
use super::keys::Jwks;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_jwks);
}

/// A JWK Set (RFC 7517 section 5).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwkSet {
    /// RSA keys (RS256, PS256 ID tokens) first, then EC P-256 keys (ES256 ID tokens and
    /// every access token of the app); each with `kid`, `use: sig` and `alg`.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

crate::http::openapi::api_errors!(JwksErrors, crate::http::openapi::Body::None, {});

/// The JWKS endpoint's part of the contract (the app may verify its access tokens).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_jwks))]
pub struct JwksApi;

/// The active key and retired keys not yet past `retire_after` (RFC 7517 section 5).
#[utoipa::path(
    tag = "keys",
    responses(
        (status = 200, description = "The published signing keys; `Cache-Control: public, max-age=300`.", body = JwkSet),
        JwksErrors,
    ),
)]
#[get("/.well-known/jwks.json")]
async fn get_jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now().naive_utc();
    let (ec, rsa) = state
        .db
        .run(move |conn| {
            Ok(published_keys(conn, now)
                .and_then(|ec| published_rsa_keys(conn, now).map(|rsa| (ec, rsa))))
        })
        .await?
        .map_err(ApiError::internal)?;
    let mut keys: Vec<serde_json::Value> = Jwks::from_keys(&ec)
        .keys
        .iter()
        .filter_map(|entry| serde_json::to_value(entry).ok())
        .collect();
    // RS256 first: the algorithm a portal that registered nothing verifies.
    keys.splice(
        0..0,
        rsa.iter()
            .map(|key| serde_json::Value::Object(key.jwks_entry())),
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(JwkSet { keys }))
}
