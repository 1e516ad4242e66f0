//! `GET|POST /oidc/userinfo` (OpenID Connect Core section 5.3, bearer per RFC 6750).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;
use crate::tokens::Jkt;
use crate::tokens::guard::{self, ProofRequirements};

use super::endpoint::{
    bearer_challenge, bearer_error, form_params, issuer, live_access_token, no_store,
};
use super::tokens as ptokens;

pub(super) async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, t)| (scheme.to_ascii_lowercase(), t.trim().to_owned()));
    let is_dpop = authorization
        .as_ref()
        .is_some_and(|(scheme, _)| scheme == "dpop");
    let header = authorization
        .filter(|(scheme, _)| scheme == "bearer" || scheme == "dpop")
        .map(|(_, t)| t);
    let token = match header {
        Some(t) => t,
        None if req.method() == actix_web::http::Method::POST => form_params(&req, &body)
            .ok()
            .and_then(|f| f.get("access_token").cloned())
            .ok_or_else(|| bearer_challenge("Send the access token as a Bearer token."))?,
        None => return Err(bearer_challenge("Send the access token as a Bearer token.")),
    };
    let audience = ptokens::userinfo_audience(&issuer(&state));
    let (access, grant) = live_access_token(&state, &token, &[&audience])
        .await?
        .ok_or_else(|| {
            bearer_error("The access token is not valid, has expired or was revoked.")
        })?;
    // RFC 9449 section 7: a bound token comes with the DPoP scheme and a proof by its
    // key over this request and this token (`ath`); never as a bearer token.
    let bound = access
        .claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        .and_then(|j| Jkt::try_from(j).ok());
    match (bound, is_dpop) {
        (Some(jkt), true) => {
            guard::verify_request(
                &state,
                &req,
                ProofRequirements {
                    access_token: Some(&token),
                    expected_jkt: Some(&jkt),
                    at_resource: true,
                    ..ProofRequirements::default()
                },
            )
            .await?;
        }
        (Some(_), false) => {
            return Err(guard::invalid_token(
                "This access token is bound to a DPoP key: send it with the DPoP scheme and a proof.",
            ));
        }
        (None, true) => {
            return Err(bearer_error(
                "This access token is a bearer token: send it with the Bearer scheme.",
            ));
        }
        (None, false) => {}
    }
    let account_id = grant.account_id.clone();
    let account = state
        .db
        .run(move |conn| crate::accounts::store::find_account(conn, &account_id))
        .await?
        .ok_or_else(|| bearer_error("The account no longer exists."))?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(ptokens::subject(&grant)));
    ptokens::user_claims(
        &grant,
        &account,
        ptokens::ClaimsTarget::Userinfo,
        &mut claims,
    );
    Ok(no_store(HttpResponse::Ok().json(Value::Object(claims))))
}
