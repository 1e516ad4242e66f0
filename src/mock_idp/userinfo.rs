//! Userinfo (OIDC Core §5.3): the identity and product claims for an access token, as
//! JSON or, with `userinfo_signed`, as a signed JWT (§5.3.2).

use chrono::{DateTime, Utc};

use super::keys::SigningKeys;
use super::settings::MockIdpSettings;
use super::store::Store;
use super::token::{IdentityClaims, OAuthError};

/// A userinfo answer: JSON, or a signed JWT when `userinfo_signed` is on.
#[derive(Debug)]
pub enum UserinfoAnswer {
    Json(serde_json::Value),
    Jwt(String),
}

/// Userinfo (OIDC Core §5.3) for `Authorization: Bearer <token>`.
pub fn userinfo(
    settings: &MockIdpSettings,
    keys: &SigningKeys,
    store: &Store,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<UserinfoAnswer, OAuthError> {
    let token = authorization
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| OAuthError::new(401, "", "Bearer access token required"))?;
    let grant = store.find_access_token(token, now).ok_or_else(|| {
        OAuthError::invalid_token("the access token is unknown, expired or revoked")
    })?;
    let identity = settings
        .identity(&grant.identity_id)
        .ok_or_else(|| OAuthError::invalid_token("the identity no longer exists"))?;
    let mut claims = serde_json::to_value(IdentityClaims::new(
        identity,
        &grant.product,
        grant.auth_time,
    ))
    .map_err(|_| OAuthError::server_error("cannot encode the claims"))?;
    if !settings.userinfo_signed {
        return Ok(UserinfoAnswer::Json(claims));
    }
    // OIDC Core 5.3.2: a signed response carries `iss` and `aud`.
    claims["iss"] = serde_json::json!(settings.issuer_id());
    claims["aud"] = serde_json::json!(grant.client_id);
    keys.sign(&claims)
        .map(UserinfoAnswer::Jwt)
        .map_err(|error| {
            tracing::error!(error = %error, "cannot sign the userinfo response");
            OAuthError::server_error("cannot sign the userinfo response")
        })
}
