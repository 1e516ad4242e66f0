//! Token endpoint (RFC 6749 §4.1.3, §5) and userinfo (OIDC Core §5.3): client
//! authentication, code checks, PKCE, ID token claims.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys::SigningKeys;
use super::settings::{
    IdTokenClaims as ClaimsMode, MockClient, MockIdentity, MockIdpSettings, MockProduct,
};
use super::store::{self, AccessGrant, CodeGrant, RedeemError, RefusalConsequence, Store};

/// An RFC 6749 §5.2 error (or RFC 6750 §3.1 for userinfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// 400, or 401 for `invalid_client` / `invalid_token`; 500 for `server_error`.
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub(super) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(401, "invalid_client", description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", description)
    }
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(401, "invalid_token", description)
    }
    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(500, "server_error", description)
    }
}

/// The form parameters of a token request, each at most once (RFC 6749 §3.2).
#[derive(Debug, Default)]
pub struct TokenParams {
    values: std::collections::HashMap<String, String>,
}

impl TokenParams {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the body is not form-encoded"))?;
        let mut values = std::collections::HashMap::new();
        for (name, value) in pairs {
            if values.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            }
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded).
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let malformed = || OAuthError::invalid_client("malformed Basic authorization header");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "use client_secret_basic or client_secret_post",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok((
        form_urldecode(id).ok_or_else(malformed)?,
        form_urldecode(secret).ok_or_else(malformed)?,
    ))
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space).
fn form_urldecode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut input = value.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [input.next()?, input.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// Authenticate the client (RFC 6749 §2.3): exactly one method; public clients send only
/// `client_id`. Secrets are compared in constant time (hashed first, so lengths leak nothing).
pub fn authenticate_client<'c>(
    basic: Option<(String, String)>,
    params: &TokenParams,
    clients: &'c [MockClient],
) -> Result<&'c MockClient, OAuthError> {
    let (client_id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request("client_id does not match"));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = params
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client authentication is missing"))?;
            (id.to_owned(), secret.map(str::to_owned))
        }
    };
    let client = clients
        .iter()
        .find(|client| client.client_id == client_id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    match (&client.client_secret, secret) {
        (None, None) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this public client has no secret",
        )),
        (Some(_), None) => Err(OAuthError::invalid_client("client secret is missing")),
        (Some(expected), Some(given)) => {
            let expected = Sha256::digest(expected.as_bytes());
            let given = Sha256::digest(given.as_bytes());
            if bool::from(expected.ct_eq(&given)) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
    }
}

/// Why a code grant cannot be exchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeProblem {
    Reused,
    Expired,
    WrongClient,
    WrongRedirectUri,
    PkceMissing,
    PkceMismatch,
    PkceUnexpected,
}

impl CodeProblem {
    fn description(self) -> &'static str {
        match self {
            Self::Reused => "the code was already used; tokens issued for it are revoked",
            Self::Expired => "the code has expired",
            Self::WrongClient => "the code was issued to another client",
            Self::WrongRedirectUri => "redirect_uri differs from the authorization request",
            Self::PkceMissing => "code_verifier is missing",
            Self::PkceMismatch => "code_verifier does not match the code_challenge",
            Self::PkceUnexpected => "code_verifier sent but no code_challenge was",
        }
    }

    fn consequence(self) -> RefusalConsequence {
        match self {
            // RFC 6749 §4.1.2: SHOULD revoke all tokens previously issued for the code.
            Self::Reused => RefusalConsequence::RevokeTokens,
            // A failed proof burns the code, so the verifier cannot be guessed.
            Self::PkceMissing | Self::PkceMismatch | Self::PkceUnexpected => {
                RefusalConsequence::BurnCode
            }
            Self::Expired | Self::WrongClient | Self::WrongRedirectUri => RefusalConsequence::None,
        }
    }
}

/// May this client exchange this code now? (RFC 6749 §4.1.3, RFC 7636 §4.6)
pub fn check_code_grant(
    grant: &CodeGrant,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), CodeProblem> {
    if grant.is_redeemed() {
        return Err(CodeProblem::Reused);
    }
    if grant.expires_at <= now {
        return Err(CodeProblem::Expired);
    }
    if grant.client_id != client_id {
        return Err(CodeProblem::WrongClient);
    }
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(CodeProblem::WrongRedirectUri);
    }
    match (&grant.code_challenge, code_verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(CodeProblem::PkceUnexpected),
        (Some(_), None) => Err(CodeProblem::PkceMissing),
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if is_verifier(verifier) && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
            {
                Ok(())
            } else {
                Err(CodeProblem::PkceMismatch)
            }
        }
    }
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The identity and product claims, shared by the ID token and userinfo.
#[derive(Debug, Serialize)]
pub struct IdentityClaims<'a> {
    pub sub: &'a str,
    pub name: String,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub auth_time: i64,
    pub acr: &'static str,
    pub amr: &'static [&'static str],
    pub eaccess_product: &'static str,
    pub eaccess_product_serial: &'a str,
}

impl<'a> IdentityClaims<'a> {
    pub fn new(
        identity: &'a MockIdentity,
        product: &'a MockProduct,
        auth_time: DateTime<Utc>,
    ) -> Self {
        Self {
            sub: &identity.sub,
            name: identity.name(),
            given_name: &identity.given_name,
            family_name: &identity.family_name,
            email: &identity.email,
            email_verified: true,
            auth_time: auth_time.timestamp(),
            acr: product.kind.loa().acr(),
            amr: product.kind.amr(),
            eaccess_product: product.kind.as_str(),
            eaccess_product_serial: &product.serial,
        }
    }
}

#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: String,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    at_hash: String,
    #[serde(flatten)]
    identity: IdentityClaims<'a>,
}

/// The successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub id_token: String,
    pub scope: String,
}

/// Exchange an authorization code for tokens.
pub fn exchange_code(
    settings: &MockIdpSettings,
    keys: &SigningKeys,
    store: &Store,
    basic: Option<(String, String)>,
    params: &TokenParams,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let client = authenticate_client(basic, params, &settings.clients)?;
    match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some("authorization_code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ));
        }
    }
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;

    let access_token = store::random_token();
    let access_lifetime = seconds(settings.access_token_lifetime_secs);
    let grant = store
        .redeem_code(
            code,
            &access_token,
            |grant| {
                check_code_grant(
                    grant,
                    &client.client_id,
                    params.get("redirect_uri"),
                    params.get("code_verifier"),
                    now,
                )?;
                Ok(AccessGrant {
                    client_id: grant.client_id.clone(),
                    identity_id: grant.identity_id.clone(),
                    product: grant.product.clone(),
                    auth_time: grant.auth_time,
                    expires_at: now + access_lifetime,
                })
            },
            |problem: &CodeProblem| problem.consequence(),
        )
        .map_err(|error| match error {
            RedeemError::NotFound => OAuthError::invalid_grant("unknown code"),
            RedeemError::Refused(problem) => {
                if problem == CodeProblem::Reused {
                    tracing::warn!(client_id = %client.client_id, "authorization code reused; its access token is revoked");
                }
                OAuthError::invalid_grant(problem.description())
            }
        })?;

    let identity = settings
        .identity(&grant.identity_id)
        .ok_or_else(|| OAuthError::server_error("the identity no longer exists"))?;
    let id_token = id_token(settings, keys, &grant, identity, &access_token, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: settings.access_token_lifetime_secs,
        id_token,
        scope: grant.scope,
    })
}

fn id_token(
    settings: &MockIdpSettings,
    keys: &SigningKeys,
    grant: &CodeGrant,
    identity: &MockIdentity,
    access_token: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let lifetime = seconds(settings.id_token_lifetime_secs);
    // Fault switch: the provider's clock is off.
    let now = now + Duration::seconds(settings.faults.id_token_clock_skew_secs);
    // Fault switch: a token that expired a minute ago.
    let (iat, exp) = if identity.expired_id_token {
        (
            now - lifetime - Duration::seconds(60),
            now - Duration::seconds(60),
        )
    } else {
        (now, now + lifetime)
    };
    let iss = if identity.wrong_issuer_id_token {
        "https://wrong-issuer.invalid".to_owned()
    } else {
        settings.issuer_id()
    };
    // OIDC Core §3.1.3.6: left half of the SHA-256 of the access token.
    let digest = Sha256::digest(access_token.as_bytes());
    if settings.id_token_claims == ClaimsMode::Minimal {
        // OIDC Core 2: the REQUIRED claims only; the rest is userinfo's.
        let mut claims = serde_json::json!({
            "iss": iss,
            "sub": identity.sub,
            "aud": grant.client_id,
            "exp": exp.timestamp(),
            "iat": iat.timestamp(),
        });
        if let Some(nonce) = grant.nonce.as_deref() {
            claims["nonce"] = serde_json::json!(if identity.wrong_nonce_id_token {
                "not-the-nonce-you-sent"
            } else {
                nonce
            });
        }
        if grant.auth_time_requested {
            claims["auth_time"] = serde_json::json!(grant.auth_time.timestamp());
        }
        return keys.sign(&claims).map_err(|error| {
            tracing::error!(error = %error, "cannot sign the ID token");
            OAuthError::server_error("cannot sign the ID token")
        });
    }
    let claims = IdTokenClaims {
        iss,
        aud: &grant.client_id,
        azp: &grant.client_id,
        iat: iat.timestamp(),
        exp: exp.timestamp(),
        nonce: if identity.wrong_nonce_id_token {
            grant.nonce.as_ref().map(|_| "not-the-nonce-you-sent")
        } else {
            grant.nonce.as_deref()
        },
        at_hash: URL_SAFE_NO_PAD.encode(&digest[..16]),
        identity: IdentityClaims::new(identity, &grant.product, grant.auth_time),
    };
    keys.sign(&claims).map_err(|error| {
        tracing::error!(error = %error, "cannot sign the ID token");
        OAuthError::server_error("cannot sign the ID token")
    })
}

fn seconds(value: u64) -> Duration {
    Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_idp::products::ProductKind;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn grant(now: DateTime<Utc>, challenge: Option<&str>) -> CodeGrant {
        let request = crate::mock_idp::authorize::parse_request(
            &crate::mock_idp::authorize::AuthorizeParams::from_pairs(
                [
                    ("response_type", "code"),
                    ("client_id", "portal"),
                    ("redirect_uri", "https://rp.example/cb"),
                    ("scope", "openid"),
                ]
                .into_iter()
                .chain(challenge.map(|c| ("code_challenge", c)))
                .chain(challenge.map(|_| ("code_challenge_method", "S256")))
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            ),
            &[MockClient::confidential(
                "portal",
                "secret",
                vec![url::Url::parse("https://rp.example/cb").unwrap()],
            )],
        )
        .unwrap();
        let session = crate::mock_idp::authorize::SsoSession {
            identity_id: "marie".into(),
            product: MockProduct {
                kind: ProductKind::EidCard,
                serial: "1".into(),
            },
            auth_time: now,
        };
        CodeGrant::new(&request, &session, now + Duration::seconds(60))
    }

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        let now = Utc::now();
        let grant = grant(now, Some(CHALLENGE));
        let check = |verifier| {
            check_code_grant(
                &grant,
                "portal",
                Some("https://rp.example/cb"),
                verifier,
                now,
            )
        };
        assert_eq!(check(Some(VERIFIER)), Ok(()));
        let wrong = VERIFIER.replace('d', "e");
        assert_eq!(check(Some(&wrong)), Err(CodeProblem::PkceMismatch));
        assert_eq!(check(None), Err(CodeProblem::PkceMissing));
    }

    #[test]
    fn codes_are_bound_to_client_redirect_uri_and_lifetime() {
        let now = Utc::now();
        let grant = grant(now, None);
        let uri = Some("https://rp.example/cb");
        assert_eq!(
            check_code_grant(&grant, "other", uri, None, now),
            Err(CodeProblem::WrongClient)
        );
        assert_eq!(
            check_code_grant(&grant, "portal", None, None, now),
            Err(CodeProblem::WrongRedirectUri)
        );
        assert_eq!(
            check_code_grant(&grant, "portal", uri, None, now + Duration::seconds(60)),
            Err(CodeProblem::Expired)
        );
        assert_eq!(
            check_code_grant(&grant, "portal", uri, Some(VERIFIER), now),
            Err(CodeProblem::PkceUnexpected)
        );
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:p%3Ass+word"));
        assert_eq!(
            parse_basic(&header),
            Ok(("my client".to_owned(), "p:ss word".to_owned()))
        );
    }

    #[test]
    fn client_authentication_refuses_wrong_secrets_and_two_methods() {
        let clients = [MockClient::confidential("portal", "secret", vec![])];
        let params = |body: &str| TokenParams::parse(body.as_bytes()).unwrap();
        let basic = || Some(("portal".to_owned(), "secret".to_owned()));
        assert!(authenticate_client(basic(), &params(""), &clients).is_ok());
        assert!(
            authenticate_client(
                None,
                &params("client_id=portal&client_secret=secret"),
                &clients
            )
            .is_ok()
        );
        assert_eq!(
            authenticate_client(
                None,
                &params("client_id=portal&client_secret=nope"),
                &clients
            )
            .unwrap_err()
            .error,
            "invalid_client"
        );
        assert_eq!(
            authenticate_client(basic(), &params("client_secret=secret"), &clients)
                .unwrap_err()
                .error,
            "invalid_request"
        );
    }
}
