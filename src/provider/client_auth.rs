//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 section 2.3; OIDC Core section 9): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` (RFC 7523), and `none` for public clients.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::rules;
use crate::config::{ClientSettings, ProviderSettings};
use crate::http::ApiError;

/// The assertion type of RFC 7523 section 2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client presented itself.
#[derive(Debug)]
pub enum Presented {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    Assertion { id: Option<String>, jwt: String },
    None { id: String },
}

/// 401 `invalid_client` with a Basic challenge (RFC 6749 section 5.2).
pub fn invalid_client(description: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"devicelink\""),
    )
}

fn form_decode(part: &str) -> Option<String> {
    // RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic encoding.
    let with_spaces = part.replace('+', " ");
    url::form_urlencoded::parse(format!("x={with_spaces}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .filter(|_| part.len() <= 512)
}

/// Reads the one authentication method the request uses; two methods at once is an
/// `invalid_request` (RFC 6749 section 2.3).
pub(crate) fn presented(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<Presented, ApiError> {
    let basic = match req.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| invalid_client("The Authorization header is not valid."))?;
            let (scheme, rest) = value
                .split_once(' ')
                .ok_or_else(|| invalid_client("The Authorization header is not valid."))?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(invalid_client("Authenticate the client with HTTP Basic."));
            }
            let decoded = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_client("The Basic credentials are not valid."))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| invalid_client("The Basic credentials are not valid."))?;
            Some((
                form_decode(id).ok_or_else(|| invalid_client("The client id is not valid."))?,
                form_decode(secret)
                    .ok_or_else(|| invalid_client("The client secret is not valid."))?,
            ))
        }
    };
    let form_id = form.get("client_id").cloned();
    let form_secret = form.get("client_secret").cloned();
    let assertion = form.get("client_assertion").cloned();
    let several = [basic.is_some(), form_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|b| **b)
        .count()
        > 1;
    if several {
        return Err(ApiError::bad_request(
            "invalid_request",
            "Use exactly one client authentication method.",
        ));
    }
    if let Some((id, secret)) = basic {
        if form_id.as_ref().is_some_and(|f| *f != id) {
            return Err(invalid_client(
                "The client_id does not match the credentials.",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(secret) = form_secret {
        let id = form_id.ok_or_else(|| invalid_client("The client_id is missing."))?;
        return Ok(Presented::Post { id, secret });
    }
    if let Some(jwt) = assertion {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(invalid_client(
                "The client_assertion_type is not supported.",
            ));
        }
        return Ok(Presented::Assertion { id: form_id, jwt });
    }
    match form_id {
        Some(id) => Ok(Presented::None { id }),
        None => Err(invalid_client("Authenticate the client.")),
    }
}

/// A client assertion's `jti` to record as used, and until when.
pub struct AssertionJti {
    pub key: String,
    pub expires_at: chrono::NaiveDateTime,
}

/// Authenticates the presented client against the registered ones. For
/// `private_key_jwt` the caller records the returned `jti` (single use). `audiences`
/// lists the issuer first: it is the only `aud` a FAPI 2.0 portal's assertion may carry
/// (FAPI 2.0 Security Profile 5.3.2.1), the other entries are accepted from the rest.
pub fn authenticate<'a>(
    settings: &'a ProviderSettings,
    presented: &Presented,
    audiences: &[String],
) -> Result<(&'a ClientSettings, Option<AssertionJti>), ApiError> {
    let unknown = || invalid_client("The client is unknown or its authentication failed.");
    match presented {
        Presented::Basic { id, secret } | Presented::Post { id, secret } => {
            let client = settings.client(id).ok_or_else(unknown)?;
            let configured = client.secret.as_deref().ok_or_else(unknown)?;
            if !rules::secret_matches(configured, secret) {
                return Err(unknown());
            }
            Ok((client, None))
        }
        Presented::None { id } => {
            let client = settings.client(id).ok_or_else(unknown)?;
            if !client.public {
                return Err(invalid_client("This client must authenticate."));
            }
            Ok((client, None))
        }
        Presented::Assertion { id, jwt } => {
            let (client, jti) =
                verify_assertion(settings, id.as_deref(), jwt, audiences).map_err(|reason| {
                    tracing::info!(reason, "client assertion refused");
                    unknown()
                })?;
            Ok((client, Some(jti)))
        }
    }
}

fn verify_assertion<'a>(
    settings: &'a ProviderSettings,
    claimed_id: Option<&str>,
    jwt: &str,
    audiences: &[String],
) -> Result<(&'a ClientSettings, AssertionJti), &'static str> {
    if jwt.len() > 16 * 1024 {
        return Err("too large");
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "malformed header")?;
    if !matches!(
        header.alg,
        Algorithm::ES256 | Algorithm::RS256 | Algorithm::PS256
    ) {
        return Err("algorithm not allowed");
    }
    // The issuer names the client (RFC 7523 section 3); read it before verifying only to
    // choose the keys.
    let unverified: Map<String, Value> = {
        let payload = jwt.split('.').nth(1).ok_or("malformed")?;
        let bytes = crate::protocol::b64url_decode(payload).ok_or("malformed payload")?;
        serde_json::from_slice(&bytes).map_err(|_| "malformed payload")?
    };
    let iss = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or("no iss")?;
    if claimed_id.is_some_and(|id| id != iss) {
        return Err("client_id differs from iss");
    }
    let client = settings.client(iss).ok_or("unknown client")?;
    let keys = client.public_keys().ok_or("client has no jwks")?;
    let audiences = if client.fapi2 {
        &audiences[..audiences.len().min(1)]
    } else {
        audiences
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[iss]);
    validation.sub = Some(iss.to_owned());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let candidates = keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id.as_deref() == header.kid.as_deref());
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &validation) {
            let jti = data
                .claims
                .get("jti")
                .and_then(Value::as_str)
                .filter(|j| !j.is_empty() && j.len() <= 256)
                .ok_or("no jti")?;
            let exp = data
                .claims
                .get("exp")
                .and_then(Value::as_i64)
                .ok_or("no exp")?;
            let expires_at = chrono::DateTime::from_timestamp(exp + 60, 0)
                .ok_or("bad exp")?
                .naive_utc();
            let key = crate::web::session::hash_token(&format!(
                "client_assertion:{}:{jti}",
                client.client_id
            ));
            return Ok((client, AssertionJti { key, expires_at }));
        }
    }
    Err("no key verifies the assertion")
}
