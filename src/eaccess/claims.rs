//! From a validated eAccess ID token to the identity devicelink works with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::Nonce;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::accounts::{AuthProduct, ProductKind};
use crate::config::EaccessClaimNames;

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

/// An ID token whose signature, `iss`, `aud`, `exp`, `iat` and `nonce` openidconnect
/// has verified, with all of its claims for reading by name.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    pub sub: String,
    pub auth_time: Option<DateTime<Utc>>,
    pub acr: Option<String>,
    pub claims: Map<String, Value>,
    /// The compact JWS, kept only as `id_token_hint` for RP-initiated logout.
    pub raw: String,
}

/// Validates the ID token (signature, `iss`, `aud`, `exp`, `nonce`) with openidconnect
/// and returns its claims.
pub fn verify(
    verifier: &CoreIdTokenVerifier<'_>,
    id_token: &RawIdToken,
    nonce: &Nonce,
) -> Result<VerifiedIdToken, VerifyFailure> {
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
    let all: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|e| VerifyFailure::Invalid(format!("unreadable claims: {e}")))?;
    Ok(VerifiedIdToken {
        sub: claims.subject().as_str().to_owned(),
        auth_time: claims.auth_time(),
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        claims: all,
        raw,
    })
}

/// Whether the ID token lacks a claim devicelink reads, so that userinfo must be asked
/// (the ID token of a code flow may carry only `iss sub aud exp iat`, OIDC Core 5.4).
pub fn needs_userinfo(id_token: &VerifiedIdToken, names: &EaccessClaimNames) -> bool {
    lacks_required(id_token, names) || lacks(id_token, &names.email)
}

/// Whether the ID token lacks a claim without which there is no identity (the product,
/// its serial, the names); the e-mail is optional.
pub fn lacks_required(id_token: &VerifiedIdToken, names: &EaccessClaimNames) -> bool {
    [
        &names.product,
        &names.product_serial,
        &names.given_name,
        &names.family_name,
    ]
    .into_iter()
    .any(|name| lacks(id_token, name))
}

fn lacks(id_token: &VerifiedIdToken, name: &str) -> bool {
    !id_token.claims.get(name).is_some_and(is_present)
}

fn is_present(value: &Value) -> bool {
    !value.is_null()
}

/// Longest name or e-mail address accepted from eAccess.
const MAX_TEXT_CLAIM: usize = 256;

/// The identity from a verified ID token and, when it was asked, the userinfo response.
///
/// OIDC Core 5.3.2: the userinfo `sub` must equal the ID token's, or the response is not
/// used at all. Where both carry a claim the ID token's value wins (it is signed and
/// bound to this sign-in by its nonce). `auth_time` is read from the ID token only: it
/// describes this authentication event, which userinfo does not.
pub fn identity(
    id_token: &VerifiedIdToken,
    userinfo: Option<&Map<String, Value>>,
    names: &EaccessClaimNames,
) -> Result<EaccessIdentity, VerifyFailure> {
    if let Some(info) = userinfo {
        if info.get("sub").and_then(Value::as_str) != Some(id_token.sub.as_str()) {
            return Err(VerifyFailure::Invalid(
                "the userinfo response belongs to another subject than the ID token".into(),
            ));
        }
    }
    let lookup = |name: &str| -> Option<&Value> {
        id_token
            .claims
            .get(name)
            .filter(|v| is_present(v))
            .or_else(|| {
                userinfo
                    .and_then(|info| info.get(name))
                    .filter(|v| is_present(v))
            })
    };
    let missing = |what: &str| VerifyFailure::Invalid(format!("the `{what}` claim is missing"));
    let invalid = |what: &str| VerifyFailure::Invalid(format!("the `{what}` claim is not valid"));
    let text = |name: &str, max: usize| -> Result<String, VerifyFailure> {
        let value = lookup(name).ok_or_else(|| missing(name))?;
        value
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= max)
            .map(str::to_owned)
            .ok_or_else(|| invalid(name))
    };
    let auth_time = id_token.auth_time.ok_or_else(|| {
        VerifyFailure::Invalid("the `auth_time` claim is missing from the ID token".into())
    })?;
    let product_kind = text(&names.product, 64)?;
    if product_kind.parse::<ProductKind>().is_err() {
        return Err(invalid(&names.product));
    }
    let product_serial = text(&names.product_serial, 128)?;
    let given_name = text(&names.given_name, MAX_TEXT_CLAIM)?;
    let family_name = text(&names.family_name, MAX_TEXT_CLAIM)?;
    // The e-mail is optional: the registration page asks for one when it is absent.
    let email = lookup(&names.email)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_TEXT_CLAIM)
        .map(str::to_owned);
    Ok(EaccessIdentity {
        sub: id_token.sub.clone(),
        given_name,
        family_name,
        email,
        auth_time,
        acr: id_token.acr.clone(),
        product_kind,
        product_serial,
        id_token: id_token.raw.clone(),
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

#[cfg(test)]
mod identity_tests {
    use super::*;
    use serde_json::json;

    fn names() -> EaccessClaimNames {
        EaccessClaimNames {
            product: "eaccess_product".into(),
            product_serial: "eaccess_product_serial".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            email: "email".into(),
        }
    }

    fn id_token(claims: Value) -> VerifiedIdToken {
        VerifiedIdToken {
            sub: "sub-1".into(),
            auth_time: DateTime::from_timestamp(1_700_000_000, 0),
            acr: None,
            claims: claims.as_object().unwrap().clone(),
            raw: "h.p.s".into(),
        }
    }

    fn full() -> Value {
        json!({"sub": "sub-1", "given_name": "Marie", "family_name": "Schmit",
               "email": "marie@example.lu", "eaccess_product": "luxtrust_mobile",
               "eaccess_product_serial": "LTM-1"})
    }

    #[test]
    fn a_full_id_token_needs_no_userinfo_and_gives_the_identity() {
        let token = id_token(full());
        assert!(!needs_userinfo(&token, &names()));
        let mut no_email = full();
        no_email.as_object_mut().unwrap().remove("email");
        let token_without_email = id_token(no_email);
        assert!(needs_userinfo(&token_without_email, &names()));
        assert!(
            !lacks_required(&token_without_email, &names()),
            "the e-mail is optional"
        );
        let who = identity(&token, None, &names()).unwrap();
        assert_eq!(
            (who.given_name.as_str(), who.product_serial.as_str()),
            ("Marie", "LTM-1")
        );
        assert_eq!(who.email.as_deref(), Some("marie@example.lu"));
    }

    #[test]
    fn a_minimal_id_token_is_completed_from_userinfo() {
        let token = id_token(json!({"sub": "sub-1"}));
        assert!(needs_userinfo(&token, &names()));
        assert_eq!(
            identity(&token, None, &names()).unwrap_err().to_string(),
            "the `eaccess_product` claim is missing"
        );
        let info = full();
        let who = identity(&token, info.as_object(), &names()).unwrap();
        assert_eq!(who.family_name, "Schmit");
        assert_eq!(who.product_kind, "luxtrust_mobile");
    }

    #[test]
    fn the_id_token_wins_over_userinfo_and_null_counts_as_absent() {
        let token = id_token(json!({"sub": "sub-1", "given_name": "Marie", "email": null}));
        let mut info = full();
        info["given_name"] = json!("Mallory");
        info["email"] = json!("from-userinfo@example.lu");
        let who = identity(&token, info.as_object(), &names()).unwrap();
        assert_eq!(who.given_name, "Marie");
        assert_eq!(who.email.as_deref(), Some("from-userinfo@example.lu"));
    }

    #[test]
    fn userinfo_of_another_subject_is_refused_whole() {
        let token = id_token(json!({"sub": "sub-1"}));
        for sub in [json!("sub-2"), json!(null), json!(1)] {
            let mut info = full();
            info["sub"] = sub;
            assert!(
                identity(&token, info.as_object(), &names())
                    .unwrap_err()
                    .to_string()
                    .contains("another subject")
            );
        }
    }

    #[test]
    fn auth_time_comes_from_the_id_token_only() {
        let mut token = id_token(full());
        token.auth_time = None;
        let mut info = full();
        info["auth_time"] = json!(1_700_000_000);
        assert!(
            identity(&token, info.as_object(), &names())
                .unwrap_err()
                .to_string()
                .contains("auth_time")
        );
    }

    #[test]
    fn configured_names_are_read_and_bad_values_refused() {
        let mut custom = names();
        custom.product = "urn:eaccess:authMethod".into();
        custom.given_name = "firstName".into();
        let token = id_token(json!({"sub": "sub-1", "urn:eaccess:authMethod": "eid_card",
            "eaccess_product_serial": "EID-9", "firstName": "Jean", "family_name": "Weber"}));
        let who = identity(&token, None, &custom).unwrap();
        assert_eq!(
            (who.product_kind.as_str(), who.given_name.as_str()),
            ("eid_card", "Jean")
        );
        for (claim, bad) in [
            ("urn:eaccess:authMethod", json!("smartcard")),
            ("eaccess_product_serial", json!("x".repeat(129))),
            ("firstName", json!("  ")),
            ("family_name", json!(42)),
        ] {
            let mut claims = token.claims.clone();
            claims.insert(claim.into(), bad);
            let bad_token = VerifiedIdToken {
                claims,
                ..token.clone()
            };
            assert!(
                identity(&bad_token, None, &custom)
                    .unwrap_err()
                    .to_string()
                    .contains("not valid"),
                "{claim}"
            );
        }
    }
}
