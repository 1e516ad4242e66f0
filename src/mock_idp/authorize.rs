//! Pure decisions of the authorization endpoint: is the request acceptable, may the single
//! sign-on session be reused, and how to build the redirect back to the client.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use url::Url;

use super::products::{self, ProductKind};
use super::settings::{MockClient, MockProduct};
use crate::i18n::Lang;

/// The raw parameters of an authorization request (query string or form body).
#[derive(Clone, Debug, Default)]
pub struct AuthorizeParams {
    values: HashMap<String, String>,
    /// First parameter that appeared more than once (RFC 6749 §3.1 forbids it).
    duplicate: Option<String>,
}

impl AuthorizeParams {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            match params.values.entry(name) {
                Entry::Occupied(entry) => {
                    params.duplicate.get_or_insert_with(|| entry.key().clone());
                }
                Entry::Vacant(entry) => {
                    entry.insert(value);
                }
            }
        }
        params
    }

    /// A parameter, with empty values treated as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub is_none: bool,
    pub is_login: bool,
}

/// An accepted authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: Url,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 code challenge (RFC 7636), when sent.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    /// Whether the ID token must carry `auth_time`: `max_age` was sent, or the `claims`
    /// parameter asks for it (OIDC Core 3.1.2.1, 5.5).
    pub auth_time_requested: bool,
    /// Products the client accepts, in display order; never empty.
    pub allowed_products: Vec<ProductKind>,
    /// Identity to preselect on the login page.
    pub login_hint: Option<String>,
    /// The first of our languages in `ui_locales` (OIDC Core 3.1.2.1): the pages of this
    /// login speak it, whatever the browser's `Accept-Language`.
    pub ui_lang: Option<Lang>,
}

/// Why an authorization request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// Client or redirect URI cannot be trusted: show an error page, never redirect
    /// (RFC 6749 §4.1.2.1 first paragraph).
    Untrusted(String),
    /// Tell the client through its redirect URI.
    Redirect(Box<ErrorRedirect>),
}

/// An RFC 6749 §4.1.2.1 error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRedirect {
    pub redirect_uri: Url,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl ErrorRedirect {
    pub fn for_request(
        request: &AuthorizationRequest,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            redirect_uri: request.redirect_uri.clone(),
            error,
            description: description.into(),
            state: request.state.clone(),
        }
    }

    /// The redirect target with `error`, `error_description`, `state`, and `iss` (RFC 9207).
    pub fn to_url(&self, issuer_id: &str) -> Url {
        let mut url = self.redirect_uri.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("error", self.error);
            query.append_pair("error_description", &self.description);
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer_id);
        }
        url
    }
}

/// The successful authorization response: `code`, `state`, `iss` (RFC 6749 §4.1.2, RFC 9207).
pub fn success_url(request: &AuthorizationRequest, code: &str, issuer_id: &str) -> Url {
    let mut url = request.redirect_uri.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", code);
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer_id);
    }
    url
}

/// Validate an authorization request against the registered clients.
pub fn parse_request(
    params: &AuthorizeParams,
    clients: &[MockClient],
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let untrusted = |message: &str| Err(AuthorizeRejection::Untrusted(message.to_owned()));
    if matches!(
        params.duplicate.as_deref(),
        Some("client_id" | "redirect_uri")
    ) {
        return untrusted("The request repeats client_id or redirect_uri.");
    }
    let Some(client_id) = params.get("client_id") else {
        return untrusted("The request does not name the application (client_id is missing).");
    };
    let Some(client) = clients.iter().find(|c| c.client_id == client_id) else {
        return untrusted("The application is not registered with eAccess (unknown client_id).");
    };
    let Some(raw_redirect_uri) = params.get("redirect_uri") else {
        return untrusted("The request has no redirect_uri.");
    };
    // Exact string comparison with the registered URI (RFC 9700 §2.1, OIDC Core §3.1.2.1),
    // by the same pure rule as devicelink's (a function, no shared state).
    let Some(redirect_uri) = client.redirect_uris.iter().find(|registered| {
        crate::protocol::redirect_uri::is_registered(
            &[registered.as_str().to_owned()],
            raw_redirect_uri,
        )
    }) else {
        return untrusted("The redirect_uri is not registered for this application.");
    };

    let state = params.get("state").map(str::to_owned);
    let reject = |error: &'static str, description: &str| {
        Err(AuthorizeRejection::Redirect(Box::new(ErrorRedirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_owned(),
            state: state.clone(),
        })))
    };

    if let Some(name) = &params.duplicate {
        return reject("invalid_request", &format!("parameter {name} is repeated"));
    }
    match params.get("response_type") {
        None => return reject("invalid_request", "response_type is missing"),
        Some("code") => {}
        Some(_) => {
            return reject(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            );
        }
    }
    if params
        .get("response_mode")
        .is_some_and(|mode| mode != "query")
    {
        return reject("invalid_request", "only response_mode=query is supported");
    }
    if params.get("request").is_some() {
        return reject("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return reject("request_uri_not_supported", "request_uri is not supported");
    }
    let scope = params.get("scope").unwrap_or_default();
    if !scope.split_ascii_whitespace().any(|s| s == "openid") {
        return reject("invalid_scope", "scope must include openid");
    }

    // PKCE, RFC 7636: only S256; required for public clients (RFC 9700 §2.1.1).
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.is_public() => {
            return reject("invalid_request", "PKCE (code_challenge, S256) is required");
        }
        (None, None) => None,
        (None, Some(_)) => return reject("invalid_request", "code_challenge is missing"),
        (Some(_), None | Some("plain")) => {
            return reject(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            );
        }
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return reject(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 value",
            );
        }
        (Some(_), Some(_)) => {
            return reject("invalid_request", "code_challenge_method must be S256");
        }
    };

    let mut prompt = Prompt::default();
    for value in params
        .get("prompt")
        .unwrap_or_default()
        .split_ascii_whitespace()
    {
        match value {
            "none" => prompt.is_none = true,
            // A fresh login page also lets the user pick another identity.
            "login" | "select_account" => prompt.is_login = true,
            "consent" => {}
            _ => return reject("invalid_request", &format!("unknown prompt value {value}")),
        }
    }
    if prompt.is_none && (prompt.is_login || params.get("prompt") != Some("none")) {
        return reject(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }

    let max_age = match params.get("max_age").map(str::parse::<u64>) {
        None => None,
        Some(Ok(seconds)) => Some(seconds),
        Some(Err(_)) => return reject("invalid_request", "max_age must be a number of seconds"),
    };

    let auth_time_requested = match params.get("claims").map(claims_request_auth_time) {
        None => max_age.is_some(),
        Some(Ok(asked)) => asked || max_age.is_some(),
        Some(Err(message)) => return reject("invalid_request", message),
    };

    let allowed_products =
        match products::allowed_products(params.get("acr_values"), params.get("product_hint")) {
            Ok(allowed) => allowed,
            Err(message) => return reject("invalid_request", &message),
        };

    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope: scope.to_owned(),
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        auth_time_requested,
        allowed_products,
        login_hint: params.get("login_hint").map(str::to_owned),
        ui_lang: params
            .get("ui_locales")
            .and_then(crate::i18n::negotiate::from_ui_locales),
    })
}

/// Whether a `claims` request parameter (OIDC Core 5.5) asks for `auth_time` in the ID
/// token, as essential or voluntary.
fn claims_request_auth_time(value: &str) -> Result<bool, &'static str> {
    if value.len() > 4096 {
        return Err("the claims parameter is too large");
    }
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|_| "the claims parameter is not JSON")?;
    let object = parsed
        .as_object()
        .ok_or("the claims parameter must be a JSON object")?;
    Ok(object
        .get("id_token")
        .and_then(serde_json::Value::as_object)
        .is_some_and(|id_token| id_token.contains_key("auth_time")))
}

/// An S256 challenge is the base64url (no padding) of 32 bytes: 43 characters.
fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The mock's single sign-on session, as far as decisions need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoSession {
    pub identity_id: String,
    pub product: MockProduct,
    pub auth_time: DateTime<Utc>,
}

/// What the authorization endpoint does with a valid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SsoDecision {
    /// Issue a code for the existing session without showing a page.
    Reuse,
    /// Show the login page.
    Login,
    /// `prompt=none` but the user would have to log in (OIDC Core §3.1.2.6).
    LoginRequired(&'static str),
}

/// Decide whether the session (if any) can answer the request silently.
pub fn decide_sso(
    request: &AuthorizationRequest,
    session: Option<&SsoSession>,
    now: DateTime<Utc>,
) -> SsoDecision {
    let refusal = match session {
        _ if request.prompt.is_login => "prompt=login asks for a new authentication",
        None => "no eAccess session",
        Some(session) if !request.allowed_products.contains(&session.product.kind) => {
            "the session's product is not accepted by this request"
        }
        Some(session)
            if request
                .max_age
                .is_some_and(|max_age| is_too_old(session, max_age, now)) =>
        {
            "the last authentication is older than max_age"
        }
        Some(_) => return SsoDecision::Reuse,
    };
    if request.prompt.is_none {
        SsoDecision::LoginRequired(refusal)
    } else {
        SsoDecision::Login
    }
}

/// OIDC Core §3.1.2.1: re-authenticate when the elapsed time exceeds `max_age`;
/// `max_age=0` always re-authenticates.
fn is_too_old(session: &SsoSession, max_age: u64, now: DateTime<Utc>) -> bool {
    let elapsed_ms = (now - session.auth_time).num_milliseconds();
    max_age == 0 || elapsed_ms > i64::try_from(max_age.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn clients() -> Vec<MockClient> {
        vec![
            MockClient::confidential(
                "portal",
                "secret",
                vec![Url::parse("https://rp.example/cb?x=1").unwrap()],
            ),
            MockClient::public("app", vec![Url::parse("https://app.example/cb").unwrap()]),
        ]
    }

    fn params(pairs: &[(&str, &str)]) -> AuthorizeParams {
        let mut all: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), "portal".into()),
            ("redirect_uri".into(), "https://rp.example/cb?x=1".into()),
            ("scope".into(), "openid".into()),
            ("state".into(), "st".into()),
        ];
        for (name, value) in pairs {
            all.retain(|(n, _)| n != name);
            all.push(((*name).into(), (*value).into()));
        }
        AuthorizeParams::from_pairs(all)
    }

    fn error_of(result: Result<AuthorizationRequest, AuthorizeRejection>) -> &'static str {
        match result {
            Err(AuthorizeRejection::Redirect(redirect)) => redirect.error,
            other => panic!("expected an error redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_is_accepted() {
        let request = parse_request(&params(&[("nonce", "n")]), &clients()).unwrap();
        assert_eq!(request.nonce.as_deref(), Some("n"));
        assert_eq!(request.allowed_products, ProductKind::ALL.to_vec());
    }

    #[test]
    fn unknown_clients_and_unregistered_redirects_are_untrusted() {
        for pairs in [
            [("client_id", "nobody")],
            [("redirect_uri", "https://rp.example/cb")],
        ] {
            assert!(matches!(
                parse_request(&params(&pairs), &clients()),
                Err(AuthorizeRejection::Untrusted(_))
            ));
        }
    }

    #[test]
    fn public_clients_must_send_an_s256_challenge() {
        let public = [
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
        ];
        assert_eq!(
            error_of(parse_request(&params(&public), &clients())),
            "invalid_request"
        );
        let mut with_plain = public.to_vec();
        with_plain.extend([
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ]);
        assert_eq!(
            error_of(parse_request(&params(&with_plain), &clients())),
            "invalid_request"
        );
        let mut with_s256 = public.to_vec();
        with_s256.extend([
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        assert!(parse_request(&params(&with_s256), &clients()).is_ok());
    }

    #[test]
    fn error_redirects_keep_the_registered_query_and_add_state_and_iss() {
        let Err(AuthorizeRejection::Redirect(redirect)) =
            parse_request(&params(&[("response_type", "token")]), &clients())
        else {
            panic!("expected a redirect")
        };
        let url = redirect.to_url("https://idp.example");
        assert_eq!(
            url.as_str(),
            "https://rp.example/cb?x=1&error=unsupported_response_type&error_description=only+the+authorization+code+flow+%28response_type%3Dcode%29+is+supported&state=st&iss=https%3A%2F%2Fidp.example"
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let mut pairs = vec![("scope".to_owned(), "openid".to_owned())];
        pairs.extend(params(&[]).values);
        let repeated = AuthorizeParams::from_pairs(pairs);
        assert_eq!(
            error_of(parse_request(&repeated, &clients())),
            "invalid_request"
        );
    }

    #[test]
    fn sso_is_reused_unless_prompt_login_max_age_or_product_forbid_it() {
        let now = Utc::now();
        let session = SsoSession {
            identity_id: "marie".into(),
            product: MockProduct {
                kind: ProductKind::LuxtrustMobile,
                serial: "1".into(),
            },
            auth_time: now - Duration::seconds(30),
        };
        let request = |extra: &[(&str, &str)]| parse_request(&params(extra), &clients()).unwrap();
        assert_eq!(
            decide_sso(&request(&[]), Some(&session), now),
            SsoDecision::Reuse
        );
        assert_eq!(decide_sso(&request(&[]), None, now), SsoDecision::Login);
        assert_eq!(
            decide_sso(&request(&[("prompt", "login")]), Some(&session), now),
            SsoDecision::Login
        );
        assert_eq!(
            decide_sso(&request(&[("max_age", "0")]), Some(&session), now),
            SsoDecision::Login
        );
        assert_eq!(
            decide_sso(&request(&[("max_age", "60")]), Some(&session), now),
            SsoDecision::Reuse
        );
        assert_eq!(
            decide_sso(&request(&[("max_age", "10")]), Some(&session), now),
            SsoDecision::Login
        );
        assert_eq!(
            decide_sso(
                &request(&[("acr_values", "urn:eaccess:loa:high")]),
                Some(&session),
                now
            ),
            SsoDecision::Login
        );
        assert!(matches!(
            decide_sso(&request(&[("prompt", "none")]), None, now),
            SsoDecision::LoginRequired(_)
        ));
    }

    #[test]
    fn auth_time_is_requested_by_max_age_or_the_claims_parameter() {
        let asked = |extra: &[(&str, &str)]| {
            parse_request(&params(extra), &clients()).map(|r| r.auth_time_requested)
        };
        assert_eq!(asked(&[]), Ok(false));
        assert_eq!(asked(&[("max_age", "600")]), Ok(true));
        let essential = r#"{"id_token":{"auth_time":{"essential":true}}}"#;
        assert_eq!(asked(&[("claims", essential)]), Ok(true));
        assert_eq!(
            asked(&[("claims", r#"{"id_token":{"auth_time":null}}"#)]),
            Ok(true)
        );
        assert_eq!(
            asked(&[("claims", r#"{"userinfo":{"auth_time":null}}"#)]),
            Ok(false)
        );
        for bad in ["not json", "[1]"] {
            assert!(asked(&[("claims", bad)]).is_err(), "{bad}");
        }
    }
}
