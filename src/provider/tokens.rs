//! The tokens the provider signs (with the same keys as the device tokens): ID tokens
//! (OIDC Core section 2) and access tokens for portals (RFC 9068 shape), and the checks
//! of an access token presented at userinfo or introspection.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::GrantRow;
use crate::accounts::Account;
use crate::tokens::access::ACCESS_TOKEN_TYP;
use std::sync::Arc;

use crate::config::IdTokenAlg;
use crate::tokens::{
    JwtError, KeyError, PublicKeyWithKid, RsaAlg, RsaSigningKey, SigningKey, TokenIssuer,
    verify_jwt,
};

/// The `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

/// The `sub` a portal sees: the account id (a public subject, the same for every portal;
/// not the eAccess subject).
pub fn subject(grant: &GrantRow) -> &str {
    &grant.account_id
}

fn amr(grant: &GrantRow) -> Value {
    serde_json::from_str(&grant.amr).unwrap_or_else(|_| json!([]))
}

fn has_scope(grant: &GrantRow, scope: &str) -> bool {
    grant.scope.split(' ').any(|s| s == scope)
}

/// Where user claims go: the ID token or the userinfo response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsTarget {
    IdToken,
    Userinfo,
}

/// The profile and email claims the grant's scopes allow (OIDC Core section 5.4), plus
/// those the `claims` parameter asked for at `target` (section 5.5).
pub fn user_claims(
    grant: &GrantRow,
    account: &Account,
    target: ClaimsTarget,
    claims: &mut Map<String, Value>,
) {
    let requested = super::rules::RequestedClaims::from_stored(grant.claims.as_deref());
    let asked = match target {
        ClaimsTarget::IdToken => requested.id_token,
        ClaimsTarget::Userinfo => requested.userinfo,
    };
    let profile = has_scope(grant, "profile");
    let email = has_scope(grant, "email");
    let wanted = |name: &str, by_scope: bool| by_scope || asked.iter().any(|a| a == name);
    if wanted("name", profile) {
        claims.insert("name".into(), json!(account.display_name()));
    }
    if wanted("given_name", profile) {
        claims.insert("given_name".into(), json!(account.given_name));
    }
    if wanted("family_name", profile) {
        claims.insert("family_name".into(), json!(account.family_name));
    }
    if wanted("email", email) {
        claims.insert("email".into(), json!(account.email));
    }
    if wanted("email_verified", email) {
        // The address was confirmed by the citizen at registration, not by a mail loop.
        claims.insert("email_verified".into(), json!(false));
    }
}

/// What an ID token is issued for.
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub grant: &'a GrantRow,
    pub account: &'a Account,
    pub nonce: Option<&'a str>,
    pub ttl_secs: i64,
}

/// The key and algorithm a portal's ID tokens are signed with.
pub enum IdTokenSigner {
    Es256(Arc<SigningKey>),
    Rsa(Arc<RsaSigningKey>, RsaAlg),
}

impl IdTokenSigner {
    /// The signer for the algorithm the portal registered (RS256 unless it chose).
    pub fn for_alg(alg: IdTokenAlg, tokens: &TokenIssuer) -> Result<Self, KeyError> {
        Ok(match alg {
            IdTokenAlg::Es256 => Self::Es256(tokens.signing_key()),
            IdTokenAlg::Rs256 => Self::Rsa(tokens.rsa_key().ok_or(KeyError::Sign)?, RsaAlg::Rs256),
            IdTokenAlg::Ps256 => Self::Rsa(tokens.rsa_key().ok_or(KeyError::Sign)?, RsaAlg::Ps256),
        })
    }

    /// Signs `claims` as a JWT of type `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, KeyError> {
        match self {
            Self::Es256(key) => key.sign_jwt(typ, &Map::new(), claims),
            Self::Rsa(key, alg) => key.sign_jwt(*alg, typ, claims),
        }
    }
}

/// Signs an ID token: `iss`, `sub`, `aud`, `azp`, `exp`, `iat`, `auth_time`, `acr`,
/// `amr`, `sid` (the grant), `nonce` when the request had one, and user claims.
pub fn id_token(
    signer: &IdTokenSigner,
    input: &IdTokenInput<'_>,
    now: DateTime<Utc>,
) -> Result<String, KeyError> {
    let grant = input.grant;
    let iat = now.timestamp();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(subject(grant)));
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("azp".into(), json!(grant.client_id));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat + input.ttl_secs));
    claims.insert(
        "auth_time".into(),
        json!(grant.auth_time.and_utc().timestamp()),
    );
    claims.insert("acr".into(), json!(grant.acr));
    claims.insert("amr".into(), amr(grant));
    claims.insert("sid".into(), json!(grant.id));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    user_claims(grant, input.account, ClaimsTarget::IdToken, &mut claims);
    signer.sign(ID_TOKEN_TYP, &Value::Object(claims))
}

/// The audience of access tokens a portal presents at userinfo.
pub fn userinfo_audience(issuer: &str) -> String {
    format!("{issuer}/oidc/userinfo")
}

/// What an access token is bound to (RFC 9449 `cnf.jkt`).
#[derive(Clone, Copy)]
pub enum Binding<'a> {
    /// A bearer token.
    None,
    /// The app's device key (token exchange), with the device and its generation.
    Device(&'a DeviceBinding<'a>),
    /// The DPoP key of a portal's token request.
    Dpop(&'a str),
}

/// A device binding for exchanged tokens (RFC 9449 `cnf.jkt`).
pub struct DeviceBinding<'a> {
    pub device_id: &'a str,
    pub jkt: &'a str,
    pub generation: i32,
}

/// Signs an access token for `audience`, tied to the grant (`sid`), optionally bound to
/// a device key.
pub fn access_token(
    key: &SigningKey,
    issuer: &str,
    grant: &GrantRow,
    audience: &str,
    binding: Binding<'_>,
    ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<String, KeyError> {
    let iat = now.timestamp();
    let mut claims = json!({
        "iss": issuer,
        "sub": subject(grant),
        "aud": audience,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "sid": grant.id,
        "acr": grant.acr,
        "amr": amr(grant),
        "auth_time": grant.auth_time.and_utc().timestamp(),
        "iat": iat,
        "exp": iat + ttl_secs,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(map) = claims.as_object_mut() {
        match binding {
            Binding::None => {}
            Binding::Device(b) => {
                map.insert("cnf".into(), json!({"jkt": b.jkt}));
                map.insert("device_id".into(), json!(b.device_id));
                map.insert("gen".into(), json!(b.generation));
            }
            Binding::Dpop(jkt) => {
                map.insert("cnf".into(), json!({ "jkt": jkt }));
            }
        }
    }
    key.sign_jwt(ACCESS_TOKEN_TYP, &Map::new(), &claims)
}

/// The checked claims of a provider access token.
#[derive(Debug, Clone)]
pub struct ProviderAccess {
    pub grant_id: String,
    pub claims: Map<String, Value>,
}

/// Why a provider access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProviderTokenError {
    #[error("the access token is not valid: {0}")]
    Jwt(#[from] JwtError),
    #[error("the access token was not issued by this provider for this use")]
    WrongIssuerOrAudience,
    #[error("the access token has expired")]
    Expired,
}

/// Verifies a provider access token's signature, `iss`, `aud` (one of `audiences`)
/// and `exp`; the caller checks that its grant is still live.
pub fn verify_access_token(
    token: &str,
    keys: &[PublicKeyWithKid],
    issuer: &str,
    audiences: &[&str],
    now: NaiveDateTime,
) -> Result<ProviderAccess, ProviderTokenError> {
    let claims = verify_jwt(token, keys, ACCESS_TOKEN_TYP)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(issuer) || !text("aud").is_some_and(|a| audiences.contains(&a)) {
        return Err(ProviderTokenError::WrongIssuerOrAudience);
    }
    let grant_id = text("sid")
        .ok_or(ProviderTokenError::WrongIssuerOrAudience)?
        .to_owned();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now.and_utc().timestamp() {
        return Err(ProviderTokenError::Expired);
    }
    Ok(ProviderAccess { grant_id, claims })
}

/// Signs a logout token (Back-Channel Logout 1.0 section 2.4) for `client`: `typ`
/// `logout+jwt`, the claims of [`super::backchannel::logout_claims`]. The one place that
/// picks the key of logout tokens: the one the client's ID tokens are signed with
/// (section 2.4: "the same keys are used ... as are used for ID Tokens").
pub fn logout_token(
    tokens: &crate::tokens::TokenIssuer,
    client: &crate::config::ClientSettings,
    logout: &super::backchannel::Logout<'_>,
    now: DateTime<Utc>,
) -> Result<String, KeyError> {
    let claims = super::backchannel::logout_claims(
        tokens.issuer(),
        &client.client_id,
        logout,
        &uuid::Uuid::new_v4().to_string(),
        now,
    );
    // Signed like the portal's ID tokens: the algorithm it registered (RS256 by default).
    IdTokenSigner::for_alg(client.id_token_signed_response_alg, tokens)?
        .sign(super::backchannel::LOGOUT_TOKEN_TYP, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> GrantRow {
        let t = DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        GrantRow {
            id: "g1".into(),
            client_id: "portal".into(),
            account_id: "acc".into(),
            scope: "openid profile".into(),
            auth_time: t,
            acr: "urn:devicelink:acr:eaccess:eid_card".into(),
            amr: r#"["eaccess","eid_card"]"#.into(),
            device_id: None,
            created_at: t,
            expires_at: t,
            revoked_at: None,
            session_id_hash: None,
            jkt: None,
            claims: None,
        }
    }

    #[test]
    fn access_tokens_verify_only_for_their_audience_and_until_they_expire() {
        let key = SigningKey::generate().unwrap();
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let token = access_token(
            &key,
            "https://dl",
            &grant(),
            "https://dl/oidc/userinfo",
            Binding::None,
            60,
            now,
        )
        .unwrap();
        let keys = [key.public_key()];
        let ok = verify_access_token(
            &token,
            &keys,
            "https://dl",
            &["https://dl/oidc/userinfo"],
            now.naive_utc(),
        )
        .unwrap();
        assert_eq!(ok.grant_id, "g1");
        assert_eq!(
            verify_access_token(
                &token,
                &keys,
                "https://dl",
                &["https://api"],
                now.naive_utc()
            )
            .unwrap_err(),
            ProviderTokenError::WrongIssuerOrAudience
        );
        let later = (now + chrono::Duration::seconds(60)).naive_utc();
        assert_eq!(
            verify_access_token(
                &token,
                &keys,
                "https://dl",
                &["https://dl/oidc/userinfo"],
                later
            )
            .unwrap_err(),
            ProviderTokenError::Expired
        );
    }
}
