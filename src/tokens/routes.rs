//! `GET /.well-known/jwks.json`: the public keys of the app's access tokens, so portals
//! and tests can verify them.

use actix_web::{HttpResponse, get, web};
use chrono::Utc;

use crate::http::ApiError;
use crate::state::AppState;

use super::access::published_keys;
use super::keys::Jwks;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_jwks);
}

/// The active key and retired keys not yet past `retire_after` (RFC 7517 section 5).
#[get("/.well-known/jwks.json")]
async fn get_jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now().naive_utc();
    let keys = state
        .db
        .run(move |conn| Ok(published_keys(conn, now)))
        .await?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(Jwks::from_keys(&keys)))
}
