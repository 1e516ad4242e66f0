//! The userinfo request (OIDC Core section 5.3) after the code exchange, when the ID
//! token does not carry every claim devicelink reads.
//!
//! openidconnect's own userinfo request verifies a signed response with RS256 only and
//! offers no way to widen that, so the request is made here and a signed (JWT) answer
//! is verified with `jsonwebtoken` against the provider's JWKS, with the algorithms its
//! discovery lists. The `sub` comparison with the ID token is
//! [`super::claims::identity`]'s (one place, unit-tested).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{EaccessError, EaccessMetadata, error_chain};

/// Largest userinfo response read.
const MAX_USERINFO_BYTES: usize = 64 * 1024;

/// Asks userinfo with the access token of the code exchange and returns its claims.
/// A JSON answer is taken as it is (TLS authenticates it); a JWT answer must verify.
pub async fn fetch(
    http: &reqwest::Client,
    metadata: &EaccessMetadata,
    client_id: &str,
    access_token: &str,
) -> Result<Map<String, Value>, EaccessError> {
    let endpoint = metadata.userinfo_endpoint().ok_or_else(|| {
        EaccessError::InvalidIdToken(
            "the ID token lacks claims and eAccess offers no userinfo endpoint".into(),
        )
    })?;
    let mut response = http
        .get(endpoint.url().clone())
        .bearer_auth(access_token)
        .header("Accept", "application/json, application/jwt")
        .send()
        .await
        .map_err(|e| EaccessError::Unavailable(format!("userinfo: {}", error_chain(&e))))?;
    let status = response.status();
    if !status.is_success() {
        return Err(if status.is_server_error() {
            EaccessError::Unavailable(format!("userinfo answered {status}"))
        } else {
            EaccessError::TokenRefused(format!("userinfo answered {status}"))
        });
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| EaccessError::Unavailable(format!("userinfo: {}", error_chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_USERINFO_BYTES {
            return Err(EaccessError::InvalidResponse(
                "the userinfo response is too large".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    match content_type.as_str() {
        "application/json" => serde_json::from_slice::<Map<String, Value>>(&body).map_err(|e| {
            EaccessError::InvalidResponse(format!(
                "the userinfo response is not a JSON object: {e}"
            ))
        }),
        "application/jwt" => {
            let token = std::str::from_utf8(&body)
                .map_err(|_| EaccessError::InvalidResponse("the userinfo JWT is not text".into()))?
                .trim();
            verify_signed(token, metadata, client_id)
        }
        other => Err(EaccessError::InvalidResponse(format!(
            "the userinfo response has the content type `{other}`"
        ))),
    }
}

/// The algorithms a signed userinfo response may use: those eAccess lists for userinfo
/// (else for ID tokens) that are asymmetric. Never `none`, never an HMAC keyed with the
/// client secret.
fn allowed_algorithms(metadata: &EaccessMetadata) -> Vec<Algorithm> {
    let listed = metadata
        .userinfo_signing_alg_values_supported()
        .filter(|algs| !algs.is_empty())
        .unwrap_or_else(|| metadata.id_token_signing_alg_values_supported());
    listed
        .iter()
        .filter_map(|alg| {
            let name = serde_json::to_value(alg).ok()?;
            asymmetric_algorithm(name.as_str()?)
        })
        .collect()
}

/// The asymmetric JWS algorithms (RFC 7518 section 3.1, RFC 8037) by their `alg` name.
pub fn asymmetric_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// OIDC Core 5.3.2: a signed userinfo response is a JWT by eAccess (`iss`) for this
/// client (`aud`), signed with one of eAccess's published keys.
fn verify_signed(
    token: &str,
    metadata: &EaccessMetadata,
    client_id: &str,
) -> Result<Map<String, Value>, EaccessError> {
    let refuse = |why: String| EaccessError::InvalidResponse(format!("signed userinfo: {why}"));
    let header = jsonwebtoken::decode_header(token).map_err(|e| refuse(e.to_string()))?;
    if !allowed_algorithms(metadata).contains(&header.alg) {
        return Err(refuse(format!(
            "the algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwks: JwkSet = serde_json::to_value(metadata.jwks())
        .and_then(serde_json::from_value)
        .map_err(|e| refuse(format!("eAccess's JWKS is unreadable: {e}")))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        // Without a `kid` the key must be the only one of that kind.
        None => match jwks.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    }
    .ok_or_else(|| refuse("no published key matches its `kid`".into()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| refuse(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    validation.set_issuer(&[metadata.issuer().as_str()]);
    validation.set_audience(&[client_id]);
    validation.validate_exp = true;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| refuse(e.to_string()))
}
