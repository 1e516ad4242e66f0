//! `GET|POST /oidc/userinfo` (OpenID Connect Core section 5.3, bearer per RFC 6750).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;

use super::endpoint::{
    bearer_challenge, bearer_error, form_params, issuer, live_access_token, no_store,
};
use super::tokens as ptokens;

pub(super) async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let token = match header {
        Some(t) => t,
        None if req.method() == actix_web::http::Method::POST => form_params(&req, &body)
            .ok()
            .and_then(|f| f.get("access_token").cloned())
            .ok_or_else(|| bearer_challenge("Send the access token as a Bearer token."))?,
        None => return Err(bearer_challenge("Send the access token as a Bearer token.")),
    };
    let audience = ptokens::userinfo_audience(&issuer(&state));
    let (_, grant) = live_access_token(&state, &token, &[&audience])
        .await?
        .ok_or_else(|| {
            bearer_error("The access token is not valid, has expired or was revoked.")
        })?;
    let account_id = grant.account_id.clone();
    let account = state
        .db
        .run(move |conn| crate::accounts::store::find_account(conn, &account_id))
        .await?
        .ok_or_else(|| bearer_error("The account no longer exists."))?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(ptokens::subject(&grant)));
    ptokens::user_claims(&grant, &account, &mut claims);
    Ok(no_store(HttpResponse::Ok().json(Value::Object(claims))))
}
