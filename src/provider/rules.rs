//! The provider's protocol decisions, pure and unit-tested: what an authorization
//! request asks for, whether the citizen's current authentication satisfies it, PKCE,
//! and the acr/amr values devicelink asserts.

use chrono::{Duration, NaiveDateTime};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::config::ClientSettings;
use crate::protocol;

/// `acr` of a sign-in at eAccess; the product follows after a colon.
pub const ACR_EACCESS: &str = "urn:devicelink:acr:eaccess";
/// `acr` of a sign-in approved in the linked mobile app (device key plus secret code or
/// biometrics).
pub const ACR_DEVICE: &str = "urn:devicelink:acr:device";

/// The `acr` values discovery advertises.
pub fn supported_acr_values() -> Vec<String> {
    let mut values = vec![ACR_EACCESS.to_owned(), ACR_DEVICE.to_owned()];
    values.extend(
        crate::accounts::ProductKind::ALL
            .iter()
            .map(|p| format!("{ACR_EACCESS}:{}", p.as_str())),
    );
    values
}

/// The `acr` for an eAccess sign-in with `product` (e.g. `...:eaccess:eid_card`).
pub fn eaccess_acr(product: &str) -> String {
    format!("{ACR_EACCESS}:{product}")
}

/// The `amr` of an eAccess sign-in: `["eaccess", <product>]`.
pub fn eaccess_amr(product: &str) -> Vec<String> {
    vec!["eaccess".to_owned(), product.to_owned()]
}

/// Whether an authentication with `acr` meets the requested value `wanted`. The
/// generic eAccess value accepts any eAccess product.
pub fn acr_meets(acr: &str, wanted: &str) -> bool {
    acr == wanted
        || (wanted == ACR_EACCESS
            && acr
                .strip_prefix(ACR_EACCESS)
                .is_some_and(|rest| rest.starts_with(':')))
}

/// Why an authorization request is refused. Each maps to an RFC 6749 section 4.1.2.1 /
/// OIDC Core section 3.1.2.6 error code sent back to the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeError {
    pub code: &'static str,
    pub description: String,
}

impl AuthorizeError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// The parameters of `/oidc/authorize`, as received.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub response_mode: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub claims: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// The DPoP key the code is to be bound to (RFC 9449 section 10).
    pub dpop_jkt: Option<String>,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
    /// The `acr` was requested as essential (the `claims` parameter).
    pub acr_essential: bool,
    pub prompt: Vec<String>,
    pub dpop_jkt: Option<String>,
    /// The user claims the `claims` parameter asks for.
    pub claims: RequestedClaims,
}

pub use super::claims_request::{AcrClaimRequest, RequestedClaims, USER_CLAIMS, claims_acr};

fn bounded(
    value: Option<&String>,
    max: usize,
    name: &str,
) -> Result<Option<String>, AuthorizeError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.len() > max || v.chars().any(char::is_control) => Err(AuthorizeError::new(
            "invalid_request",
            format!("`{name}` is too long or contains control characters"),
        )),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// Checks the request once client and redirect URI are known to be registered (errors
/// before that point are shown to the citizen, never redirected: RFC 6749 section 4.1.2.1).
pub fn validate(
    client: &ClientSettings,
    params: &AuthorizeParams,
) -> Result<AuthorizeRequest, AuthorizeError> {
    if params.request.is_some() {
        return Err(AuthorizeError::new(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        // Only a pushed request's `request_uri` is known, and it was resolved before.
        return Err(AuthorizeError::new(
            "request_uri_not_supported",
            "only request_uri values from /oidc/par are supported",
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(AuthorizeError::new(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        ));
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return Err(AuthorizeError::new(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let scope_text = bounded(params.scope.as_ref(), 512, "scope")?.unwrap_or_default();
    let mut scope: Vec<String> = Vec::new();
    for s in scope_text.split(' ').filter(|s| !s.is_empty()) {
        if !scope.iter().any(|x| x == s) {
            scope.push(s.to_owned());
        }
    }
    if !scope.iter().any(|s| s == "openid") {
        return Err(AuthorizeError::new(
            "invalid_scope",
            "the scope must include openid",
        ));
    }
    if let Some(bad) = scope.iter().find(|s| !client.allows_scope(s)) {
        return Err(AuthorizeError::new(
            "invalid_scope",
            format!(
                "the scope `{}` is not allowed for this client",
                bad.chars().take(40).collect::<String>()
            ),
        ));
    }
    let code_challenge = bounded(params.code_challenge.as_ref(), 128, "code_challenge")?;
    match (&code_challenge, params.code_challenge_method.as_deref()) {
        (None, _) if client.requires_pkce() => {
            return Err(AuthorizeError::new(
                "invalid_request",
                "PKCE is required for this portal (a public client, or the FAPI 2.0 profile): send code_challenge with code_challenge_method=S256",
            ));
        }
        (Some(c), Some("S256")) => {
            // RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is 43 characters.
            if c.len() != 43 || protocol::b64url_decode(c).is_none() {
                return Err(AuthorizeError::new(
                    "invalid_request",
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                ));
            }
        }
        (Some(_), _) => {
            return Err(AuthorizeError::new(
                "invalid_request",
                "only code_challenge_method=S256 is supported",
            ));
        }
        (None, _) => {}
    }
    let max_age = match bounded(params.max_age.as_ref(), 12, "max_age")? {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            AuthorizeError::new("invalid_request", "max_age must be a non-negative integer")
        })?),
    };
    let prompt: Vec<String> = bounded(params.prompt.as_ref(), 64, "prompt")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for p in &prompt {
        if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(AuthorizeError::new(
                "invalid_request",
                "unknown prompt value",
            ));
        }
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(AuthorizeError::new(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let mut acr_values: Vec<String> = bounded(params.acr_values.as_ref(), 512, "acr_values")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut acr_essential = false;
    let mut requested = RequestedClaims::default();
    if let Some(claims) = bounded(params.claims.as_ref(), 2048, "claims")? {
        requested = RequestedClaims::from_parameter(&claims);
        // An `acr` claims request takes the place of `acr_values` (OIDC Core 5.5.1.1).
        if let Some(acr) = claims_acr(&claims)? {
            acr_values = acr.values;
            acr_essential = acr.essential;
        }
    }
    // Voluntary values devicelink does not know are dropped: they cannot be met, and a
    // voluntary request never refuses (OIDC Core 3.1.2.1); what happened is the `acr`.
    let supported = supported_acr_values();
    acr_values.retain(|a| supported.contains(a));
    if acr_essential && acr_values.is_empty() {
        return Err(AuthorizeError::new(
            "access_denied",
            "the portal requires an authentication level (essential acr) that devicelink cannot provide",
        ));
    }
    let dpop_jkt = match bounded(params.dpop_jkt.as_ref(), 64, "dpop_jkt")? {
        None => None,
        Some(jkt) => Some(
            crate::tokens::Jkt::try_from(jkt.as_str())
                .map_err(|_| {
                    AuthorizeError::new(
                        "invalid_request",
                        "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 7638)",
                    )
                })?
                .as_str()
                .to_owned(),
        ),
    };
    Ok(AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri: params.redirect_uri.clone().unwrap_or_default(),
        scope,
        state: bounded(params.state.as_ref(), 512, "state")?,
        nonce: bounded(params.nonce.as_ref(), 256, "nonce")?,
        code_challenge,
        max_age,
        acr_values,
        acr_essential,
        prompt,
        dpop_jkt,
        claims: requested,
    })
}

/// How the citizen is authenticated right now (from the browser session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAuth {
    pub auth_time: NaiveDateTime,
    pub acr: String,
}

/// Whether the current authentication may be reused for this request: `prompt=login`
/// never, `max_age` only when recent enough, `acr_values` only when one is met.
pub fn session_satisfies(
    auth: &CurrentAuth,
    max_age: Option<i64>,
    acr_values: &[String],
    prompt: &[String],
    now: NaiveDateTime,
) -> bool {
    if prompt.iter().any(|p| p == "login") {
        return false;
    }
    if let Some(max_age) = max_age {
        if now - auth.auth_time > Duration::seconds(max_age) {
            return false;
        }
    }
    acr_values.is_empty() || acr_values.iter().any(|a| acr_meets(&auth.acr, a))
}

/// Whether the requested `acr_values` admit a method (`ACR_DEVICE` or an eAccess value).
pub fn admits_device(acr_values: &[String]) -> bool {
    acr_values.is_empty() || acr_values.iter().any(|a| a == ACR_DEVICE)
}

pub fn admits_eaccess(acr_values: &[String]) -> bool {
    acr_values.is_empty() || acr_values.iter().any(|a| a.starts_with(ACR_EACCESS))
}

/// The eAccess products the requested `acr_values` name (empty: any).
pub fn eaccess_products(acr_values: &[String]) -> Vec<crate::accounts::ProductKind> {
    if acr_values.iter().any(|a| a == ACR_EACCESS) {
        return Vec::new();
    }
    acr_values
        .iter()
        .filter_map(|a| a.strip_prefix(ACR_EACCESS)?.strip_prefix(':')?.parse().ok())
        .collect()
}

/// RFC 7636 section 4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`, with a
/// well-formed verifier (43 to 128 unreserved characters).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = protocol::b64url_encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// Constant-time comparison of a presented client secret with the configured one
/// (both hashed first, so the lengths do not leak either).
pub fn secret_matches(configured: &str, presented: &str) -> bool {
    let a = Sha256::digest(configured.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool) -> ClientSettings {
        ClientSettings {
            client_id: "portal".into(),
            name: "Portal".into(),
            secret: (!public).then(|| "0123456789abcdef".into()),
            jwks: None,
            redirect_uris: vec!["https://portal.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["profile".into()],
            public,
            audiences: vec![],
            id_token_signed_response_alg: crate::config::IdTokenAlg::default(),
            backchannel_logout_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            fapi2: false,
        }
    }

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("portal".into()),
            redirect_uri: Some("https://portal.example/cb".into()),
            scope: Some("openid profile".into()),
            ..AuthorizeParams::default()
        }
    }

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_plain_code_request_validates() {
        let req = validate(&client(false), &params()).unwrap();
        assert_eq!(req.scope, ["openid", "profile"]);
        assert!(req.code_challenge.is_none());
    }

    #[test]
    fn public_clients_must_use_pkce_s256() {
        assert_eq!(
            validate(&client(true), &params()).unwrap_err().code,
            "invalid_request"
        );
        let mut p = params();
        p.code_challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into());
        p.code_challenge_method = Some("plain".into());
        assert_eq!(
            validate(&client(true), &p).unwrap_err().code,
            "invalid_request"
        );
        p.code_challenge_method = Some("S256".into());
        assert!(validate(&client(true), &p).is_ok());
    }

    #[test]
    fn scopes_need_openid_and_the_clients_permission() {
        let mut p = params();
        p.scope = Some("profile".into());
        assert_eq!(
            validate(&client(false), &p).unwrap_err().code,
            "invalid_scope"
        );
        p.scope = Some("openid email".into());
        assert_eq!(
            validate(&client(false), &p).unwrap_err().code,
            "invalid_scope"
        );
    }

    #[test]
    fn voluntary_acr_values_never_refuse_and_unknown_ones_are_dropped() {
        let mut p = params();
        p.acr_values = Some("urn:example:loa:4".into());
        let ok = validate(&client(false), &p).unwrap();
        assert!(ok.acr_values.is_empty() && !ok.acr_essential);
        p.acr_values = Some(format!("urn:example:loa:4 {ACR_DEVICE}"));
        assert_eq!(
            validate(&client(false), &p).unwrap().acr_values,
            [ACR_DEVICE]
        );
    }

    #[test]
    fn only_an_essential_acr_claims_request_refuses() {
        let mut p = params();
        p.acr_values = Some(ACR_DEVICE.into());
        p.claims = Some(
            r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:loa:4"]}}}"#.into(),
        );
        assert_eq!(
            validate(&client(false), &p).unwrap_err().code,
            "access_denied"
        );
        p.claims =
            Some(r#"{"id_token":{"acr":{"essential":false,"value":"urn:example:loa:4"}}}"#.into());
        let ok = validate(&client(false), &p).unwrap();
        assert!(
            ok.acr_values.is_empty(),
            "the claims request replaces acr_values"
        );
        p.claims = Some(format!(
            r#"{{"id_token":{{"acr":{{"essential":true,"value":"{ACR_DEVICE}"}}}}}}"#
        ));
        let ok = validate(&client(false), &p).unwrap();
        assert_eq!(
            (ok.acr_values.as_slice(), ok.acr_essential),
            ([ACR_DEVICE.to_owned()].as_slice(), true)
        );
        p.claims = Some(r#"{"userinfo":{"email":{"essential":true}},"id_token":{"auth_time":{"essential":true}}}"#.into());
        assert!(
            validate(&client(false), &p).is_ok(),
            "auth_time is always in the ID token"
        );
        for bad in [
            "nope",
            "[]",
            r#"{"id_token":1}"#,
            r#"{"id_token":{"acr":{"values":"x"}}}"#,
            r#"{"id_token":{"acr":{"essential":"yes"}}}"#,
        ] {
            p.claims = Some(bad.into());
            assert_eq!(
                validate(&client(false), &p).unwrap_err().code,
                "invalid_request",
                "{bad}"
            );
        }
    }

    #[test]
    fn sessions_are_reused_only_within_max_age_and_acr() {
        let auth = CurrentAuth {
            auth_time: at(1000),
            acr: eaccess_acr("eid_card"),
        };
        assert!(session_satisfies(&auth, None, &[], &[], at(5000)));
        assert!(session_satisfies(&auth, Some(60), &[], &[], at(1060)));
        assert!(!session_satisfies(&auth, Some(60), &[], &[], at(1061)));
        assert!(!session_satisfies(
            &auth,
            None,
            &[],
            &["login".into()],
            at(1001)
        ));
        assert!(session_satisfies(
            &auth,
            None,
            &[ACR_EACCESS.into()],
            &[],
            at(1001)
        ));
        assert!(!session_satisfies(
            &auth,
            None,
            &[ACR_DEVICE.into()],
            &[],
            at(1001)
        ));
        assert!(!session_satisfies(
            &auth,
            None,
            &[eaccess_acr("luxtrust_mobile")],
            &[],
            at(1001)
        ));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        assert!(!pkce_matches(challenge, "short"));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(secret_matches("0123456789abcdef", "0123456789abcdef"));
        assert!(!secret_matches("0123456789abcdef", "0123456789abcdeF"));
        assert!(!secret_matches("0123456789abcdef", ""));
    }

    #[test]
    fn products_are_read_from_acr_values() {
        assert!(eaccess_products(&[ACR_EACCESS.into()]).is_empty());
        assert_eq!(
            eaccess_products(&[eaccess_acr("eid_card")]),
            [crate::accounts::ProductKind::EidCard]
        );
    }
}
