//! Plumbing shared by the provider's JSON endpoints (token, userinfo, revocation,
//! introspection) and its pages: the issuer and endpoint URLs, form bodies, `no-store`,
//! client authentication at the token endpoint, bearer access tokens.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, Utc};

use crate::config::ClientSettings;
use crate::http::{ApiError, PageError};
use crate::state::AppState;
use crate::tokens::access::published_keys;
use crate::tokens::{JwtError, PublicKeyWithKid};

use super::client_auth;
use super::store;
use super::tokens as ptokens;

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub(super) fn issuer(state: &AppState) -> String {
    state.tokens.issuer().to_owned()
}

pub(super) fn endpoint(state: &AppState, path: &str) -> String {
    format!("{}{path}", issuer(state))
}

/// Parses an `application/x-www-form-urlencoded` body or query; a parameter sent twice
/// is refused (RFC 6749 section 3.1).
pub(super) fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if v.is_empty() {
            continue;
        }
        if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(format!(
                "the parameter `{}` is repeated",
                k.chars().take(40).collect::<String>()
            ));
        }
    }
    Ok(map)
}

pub(super) fn form_params(
    req: &HttpRequest,
    body: &[u8],
) -> Result<HashMap<String, String>, ApiError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::bad_request(
            "invalid_request",
            "Send the parameters as application/x-www-form-urlencoded.",
        ));
    }
    parse_params(body).map_err(|e| ApiError::bad_request("invalid_request", e))
}

pub(super) fn no_store(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(
        actix_web::http::header::PRAGMA,
        HeaderValue::from_static("no-cache"),
    );
    response
}

/// The page for a request the portal got wrong: the messages `title` and `message`, in the
/// citizen's language.
pub(super) fn client_page_error(title: &'static str, message: &'static str) -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_client_request",
        crate::i18n::t(title),
        crate::i18n::t(message),
    )
}

fn token_endpoint_audiences(state: &AppState) -> Vec<String> {
    // The issuer first: a FAPI 2.0 portal's assertions may name it alone
    // (`client_auth::authenticate`).
    vec![
        issuer(state),
        endpoint(state, "/oidc/token"),
        endpoint(state, "/oidc/par"),
    ]
}

/// Authenticates the client of a request to token, revocation or introspection.
pub(super) async fn authenticated_client(
    state: &AppState,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<ClientSettings, ApiError> {
    let presented = client_auth::presented(req, form)?;
    let audiences = token_endpoint_audiences(state);
    let (client, jti) =
        client_auth::authenticate(&state.settings.provider, &presented, &audiences)?;
    if let Some(jti) = jti {
        let fresh = state
            .db
            .run(move |conn| crate::tokens::guard::remember_jti(conn, &jti.key, jti.expires_at))
            .await?;
        if !fresh {
            return Err(client_auth::invalid_client(
                "This client assertion was already used; make a new one for every request.",
            ));
        }
    }
    Ok(client.clone())
}

pub(super) fn bearer_error(description: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    )
}

/// 401 for a request that sent no access token: `WWW-Authenticate` names the scheme and
/// realm only, no `error` (RFC 6750 section 3.1).
pub(super) fn bearer_challenge(description: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"devicelink\""),
    )
}

/// The keys to verify with: the cached ones, or the database's for an unknown `kid`.
pub(super) async fn verify_with_keys<T>(
    state: &AppState,
    check: impl Fn(&[PublicKeyWithKid]) -> Result<T, JwtErrorOr>,
) -> Result<Result<T, JwtErrorOr>, ApiError> {
    let first = check(&state.tokens.cached_keys());
    if !matches!(first, Err(JwtErrorOr::Jwt(JwtError::UnknownKey))) {
        return Ok(first);
    }
    let now = now();
    let keys = state
        .db
        .run(move |conn| Ok(published_keys(conn, now)))
        .await?
        .map_err(ApiError::internal)?;
    Ok(check(&keys))
}

/// Verifies an ID token devicelink signed (RS256 and PS256 with the RSA keys, ES256 with
/// the EC keys; the cached keys first, the database's for an unknown `kid`).
pub(super) async fn verify_id_token(
    state: &AppState,
    token: &str,
) -> Result<Result<serde_json::Map<String, serde_json::Value>, JwtError>, ApiError> {
    let typ = ptokens::ID_TOKEN_TYP;
    let first = crate::tokens::verify_rsa_jwt(token, &state.tokens.cached_rsa_keys(), typ);
    let rsa = match first {
        Err(JwtError::UnknownKey) => {
            let now = now();
            let keys = state
                .db
                .run(move |conn| Ok(crate::tokens::access::published_rsa_keys(conn, now)))
                .await?
                .map_err(ApiError::internal)?;
            crate::tokens::verify_rsa_jwt(token, &keys, typ)
        }
        other => other,
    };
    if rsa != Err(JwtError::UnsupportedAlgorithm) {
        return Ok(rsa);
    }
    Ok(verify_with_keys(state, |keys| {
        crate::tokens::verify_jwt(token, keys, typ).map_err(JwtErrorOr::Jwt)
    })
    .await?
    .map_err(|e| match e {
        JwtErrorOr::Jwt(j) => j,
        JwtErrorOr::Other => JwtError::Malformed,
    }))
}

/// A JWT error, or another reason a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JwtErrorOr {
    Jwt(JwtError),
    Other,
}

impl From<ptokens::ProviderTokenError> for JwtErrorOr {
    fn from(e: ptokens::ProviderTokenError) -> Self {
        match e {
            ptokens::ProviderTokenError::Jwt(j) => Self::Jwt(j),
            _ => Self::Other,
        }
    }
}

/// A live provider access token for `audiences`: its claims and grant.
pub(super) async fn live_access_token(
    state: &AppState,
    token: &str,
    audiences: &[&str],
) -> Result<Option<(ptokens::ProviderAccess, store::GrantRow)>, ApiError> {
    let iss = issuer(state);
    let now = now();
    let checked = verify_with_keys(state, |keys| {
        ptokens::verify_access_token(token, keys, &iss, audiences, now).map_err(JwtErrorOr::from)
    })
    .await?;
    let Ok(access) = checked else {
        return Ok(None);
    };
    let grant_id = access.grant_id.clone();
    let grant = state
        .db
        .run(move |conn| store::find_grant(conn, &grant_id))
        .await?;
    Ok(grant
        .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
        .map(|g| (access, g)))
}
