//! From a validated eAccess ID token to the identity devicelink works with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::Nonce;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier};
use serde::{Deserialize, Serialize};

use crate::accounts::{AuthProduct, ProductKind};

pub type RawIdToken = CoreIdToken;

/// Who signed in at eAccess, and with which product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EaccessIdentity {
    pub sub: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub acr: Option<String>,
    pub product_kind: String,
    pub product_serial: String,
    /// The raw ID token, kept only as `id_token_hint` for RP-initiated logout.
    #[serde(skip)]
    pub id_token: String,
}

impl EaccessIdentity {
    /// The product that authenticated the citizen.
    pub fn product(&self) -> Option<AuthProduct> {
        Some(AuthProduct {
            kind: self.product_kind.parse().ok()?,
            serial: self.product_serial.clone(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    #[error("the ID token is signed with a key that is not in the provider's JWKS")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
}

/// The eAccess-specific claims (documented in docs/mock-idp.md).
#[derive(Debug, Deserialize)]
struct ProductClaims {
    eaccess_product: Option<String>,
    eaccess_product_serial: Option<String>,
}

/// Validates the ID token (signature, `iss`, `aud`, `exp`, `nonce`) with openidconnect,
/// then reads the identity. `auth_time` and the product claims are required: without
/// them we could not tell how, or how recently, the citizen authenticated.
pub fn verify(
    verifier: &CoreIdTokenVerifier<'_>,
    id_token: &RawIdToken,
    nonce: &Nonce,
) -> Result<EaccessIdentity, VerifyFailure> {
    let claims = id_token.claims(verifier, nonce).map_err(|e| {
        let text = e.to_string();
        if text.contains("no matching key") || text.contains("No matching key") {
            VerifyFailure::UnknownKey
        } else {
            VerifyFailure::Invalid(text)
        }
    })?;
    let raw = id_token.to_string();
    // The signature over this exact compact JWS was verified just above, so its payload
    // can be read for the claims openidconnect's core types do not model.
    let payload = raw
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or_else(|| VerifyFailure::Invalid("malformed ID token".into()))?;
    let product: ProductClaims = serde_json::from_slice(&payload)
        .map_err(|e| VerifyFailure::Invalid(format!("unreadable claims: {e}")))?;

    let missing = |what: &str| VerifyFailure::Invalid(format!("the `{what}` claim is missing"));
    let auth_time = claims.auth_time().ok_or_else(|| missing("auth_time"))?;
    let product_kind = product
        .eaccess_product
        .filter(|k| k.parse::<ProductKind>().is_ok())
        .ok_or_else(|| missing("eaccess_product"))?;
    let product_serial = product
        .eaccess_product_serial
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or_else(|| missing("eaccess_product_serial"))?;
    let given_name = claims
        .given_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .ok_or_else(|| missing("given_name"))?;
    let family_name = claims
        .family_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .ok_or_else(|| missing("family_name"))?;
    Ok(EaccessIdentity {
        sub: claims.subject().as_str().to_owned(),
        given_name,
        family_name,
        email: claims.email().map(|e| e.as_str().to_owned()),
        auth_time,
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        product_kind,
        product_serial,
        id_token: raw,
    })
}

/// Whether an authentication that was to be forced (`prompt=login`, `max_age`; OIDC Core
/// section 3.1.2.1) really happened after the login started, give or take `skew`. An
/// eAccess that answers from an older session (because the parameter was stripped on
/// the way) does not count, however young that session is.
pub fn authenticated_since(
    auth_time: chrono::NaiveDateTime,
    login_started: chrono::NaiveDateTime,
    skew: chrono::TimeDelta,
) -> bool {
    auth_time >= login_started - skew
}

/// OIDC Core section 3.1.3.7 step 10: refuses an ID token issued more than `skew`
/// before or after `now` (the provider's clock may drift a little, not an hour).
pub fn check_issue_time(
    iat: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: chrono::TimeDelta,
) -> Result<(), String> {
    if iat > now + skew {
        return Err(format!(
            "the ID token was issued in the future ({iat}; our clock says {now})"
        ));
    }
    if iat < now - skew {
        return Err(format!(
            "the ID token was issued too long ago ({iat}; our clock says {now})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod issue_time_tests {
    use super::check_issue_time;
    use chrono::{TimeDelta, Utc};

    #[test]
    fn small_skew_passes_and_an_hour_does_not() {
        let now = Utc::now();
        let skew = TimeDelta::seconds(120);
        for off in [-119, -5, 0, 5, 119] {
            assert!(check_issue_time(now + TimeDelta::seconds(off), now, skew).is_ok());
        }
        for off in [-3600, -121, 121, 3600] {
            assert!(check_issue_time(now + TimeDelta::seconds(off), now, skew).is_err());
        }
    }
}

#[cfg(test)]
mod freshness_tests {
    use super::authenticated_since;
    use chrono::{DateTime, TimeDelta};

    #[test]
    fn a_forced_authentication_must_come_after_the_login_started() {
        let started = DateTime::from_timestamp(10_000, 0).unwrap().naive_utc();
        let skew = TimeDelta::seconds(120);
        assert!(authenticated_since(started, started, skew));
        assert!(authenticated_since(started - skew, started, skew));
        assert!(!authenticated_since(
            started - skew - TimeDelta::seconds(1),
            started,
            skew
        ));
    }
}
