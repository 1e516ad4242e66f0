//! The conditions of the OpenID Foundation's conformance suite that the Basic and Config
//! OP modules run, as assertions. Each names the suite's condition class it mirrors
//! (openid-certification/conformance-suite, `net.openid.conformance.condition.client`).

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::helpers::{TestApp, http_client};
use crate::provider::{CLIENT_ID, query};

/// The request's `state` and `nonce` (the suite's `CreateRandomStateValue` and
/// `CreateRandomNonceValue`; fixed here, [`crate::provider::authorize_url`] sends them).
pub(crate) const STATE: &str = "st-1";
pub(crate) const NONCE: &str = "n-1";

/// The suite's time skew allowance (`ValidateIdToken`: 5 minutes).
const SKEW_SECS: i64 = 300;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `CheckMatchingCallbackParameters`, `ValidateIssIfPresentInAuthorizationResponse`,
/// `CheckIfAuthorizationEndpointError`, `CheckStateInAuthorizationResponse`,
/// `ExtractAuthorizationCodeFromAuthorizationResponse`, and for oidcc-server
/// `EnsureMinimumAuthorizationCodeLength` (128 bits) and `...Entropy` (> 96 bits of
/// Shannon entropy). Returns the code.
pub(crate) fn successful_callback(app: &TestApp, back: &Url) -> String {
    assert_eq!(query(back, "error"), None, "no error: {back}");
    assert_eq!(query(back, "state").as_deref(), Some(STATE), "state echoed");
    if let Some(iss) = query(back, "iss") {
        assert_eq!(iss, app.address, "RFC 9207 iss is the issuer");
    }
    let code = query(back, "code").expect("a code in the query");
    assert!(code.len() * 8 >= 128, "code of at least 128 bits: {code}");
    assert!(shannon_bits(&code) > 96.0, "code entropy: {code}");
    code
}

/// `performGenericAuthorizationEndpointErrorResponseValidation`: state echoed, iss if
/// present, an `error`, no `code`, an `error_description` in the RFC 6749 section
/// 4.1.2.1 character set; then the module's own list of accepted errors.
pub(crate) fn error_callback(app: &TestApp, back: &Url, state: &str, accepted: &[&str]) -> String {
    assert_eq!(query(back, "state").as_deref(), Some(state), "state echoed");
    if let Some(iss) = query(back, "iss") {
        assert_eq!(iss, app.address);
    }
    assert_eq!(query(back, "code"), None, "no code with an error");
    let error = query(back, "error").expect("an error");
    assert!(
        accepted.contains(&error.as_str()),
        "{error} is one of {accepted:?}"
    );
    if let Some(description) = query(back, "error_description") {
        assert_rfc6749_text(&description);
    }
    error
}

/// RFC 6749 section 4.1.2.1 / 5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`
/// (`ValidateErrorDescriptionFrom...`, `CheckErrorDescription...ContainsCRLFTAB`).
pub(crate) fn assert_rfc6749_text(text: &str) {
    assert!(
        text.chars()
            .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
        "error_description characters: {text:?}"
    );
}

/// Shannon entropy of `s` times its length, as `AbstractEnsureMinimumEntropy`.
#[expect(
    clippy::cast_precision_loss,
    reason = "token lengths are far below 2^52"
)]
pub(crate) fn shannon_bits(s: &str) -> f64 {
    let mut seen: HashMap<char, usize> = HashMap::new();
    for c in s.chars() {
        *seen.entry(c).or_default() += 1;
    }
    let n = s.chars().count() as f64;
    let per_char: f64 = seen
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// A token endpoint answer that succeeded: `CheckTokenEndpointHttpStatus200`,
/// `CheckTokenEndpointReturnedJsonContentType`, `CheckTokenEndpointCacheHeaders`,
/// `CheckForAccessTokenValue`, `ValidateExpiresIn`, `CheckTokenTypeIsBearer`,
/// `ExtractIdTokenFromTokenResponse`. Returns the JSON body.
pub(crate) async fn token_response(res: reqwest::Response) -> Value {
    let body = token_response_fields(res).await;
    assert!(body["id_token"].is_string(), "an id_token: {body}");
    body
}

/// [`token_response`] where the ID token is optional (a refresh: OIDC Core 12.2).
pub(crate) async fn token_response_fields(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200, "token endpoint 200");
    assert_json(&res);
    let cache = header(&res, "cache-control");
    assert!(cache.contains("no-store"), "Cache-Control: {cache}");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| ('\x20'..='\x7e').contains(&c)),
        "RFC 6749 A.12 access token characters"
    );
    assert!(
        body["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{body}"
    );
    assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0), "{body}");
    body
}

/// A token endpoint refusal: `CheckTokenEndpointHttpStatus400`,
/// `CheckTokenEndpointReturnedJsonContentType`, the expected `error`,
/// `ValidateErrorDescriptionFromTokenEndpointResponseError`.
pub(crate) async fn token_error(res: reqwest::Response, error: &str) {
    assert_eq!(res.status(), 400, "token endpoint 400");
    assert_json(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    if let Some(description) = body["error_description"].as_str() {
        assert_rfc6749_text(description);
    }
    if let Some(uri) = body["error_uri"].as_str() {
        Url::parse(uri).expect("error_uri is a URI");
    }
}

pub(crate) fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub(crate) fn assert_json(res: &reqwest::Response) {
    let content_type = header(res, "content-type");
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type: {content_type}"
    );
}

/// The server's JWKS (`FetchServerKeys`, `ValidateJwksSequence`, `CheckForKeyIdInServerJWKs`,
/// `CheckDistinctKeyIdValueInServerJWKs`): every key has a distinct `kid` and no private part.
pub(crate) async fn server_jwks(app: &TestApp) -> JwkSet {
    let res = http_client()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_json(&res);
    let raw: Value = res.json().await.unwrap();
    let keys = raw["keys"].as_array().expect("a keys array");
    assert!(!keys.is_empty());
    let mut kids: Vec<&str> = keys
        .iter()
        .map(|k| k["kid"].as_str().expect("every key has a kid"))
        .collect();
    kids.sort_unstable();
    kids.dedup();
    assert_eq!(kids.len(), keys.len(), "distinct kids");
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "no private `{private}`: {key}");
        }
    }
    serde_json::from_value(raw).expect("a JWK Set (RFC 7517)")
}

/// `PerformStandardIdTokenChecks`: `ValidateIdToken` (iss, aud, exp, iat, auth_time, acr,
/// nbf), `ValidateIdTokenNonce`, `ValidateIdTokenSignature` against the JWKS,
/// `CheckForSubjectInIdToken`, `EnsureIdTokenUpdatedAtValid`, plus
/// `EnsureIdTokenContainsKid`. `nonce` is what the request sent. Returns the claims.
pub(crate) async fn id_token_claims(app: &TestApp, id_token: &str, nonce: Option<&str>) -> Value {
    let claims = verified_id_token(app, id_token).await;
    match nonce {
        Some(sent) => assert_eq!(claims["nonce"], sent, "ValidateIdTokenNonce"),
        None => assert!(claims.get("nonce").is_none(), "no nonce was sent"),
    }
    claims
}

/// [`id_token_claims`] without the nonce check (an ID token from a refresh).
pub(crate) async fn verified_id_token(app: &TestApp, id_token: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).expect("a JWS");
    let kid = header.kid.expect("EnsureIdTokenContainsKid");
    let jwks = server_jwks(app).await;
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[app.address.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = SKEW_SECS.unsigned_abs();
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("the ID token verifies against the JWKS")
        .claims;
    let now = now();
    // `aud` an array: it must contain us, and then `azp` (OIDC Core 3.1.3.7 items 4-5).
    if let Some(aud) = claims["aud"].as_array() {
        assert!(aud.iter().any(|a| a == CLIENT_ID));
        if aud.len() > 1 {
            assert_eq!(claims["azp"], CLIENT_ID);
        }
    }
    let iat = claims["iat"].as_i64().expect("iat is a number");
    assert!(iat <= now + SKEW_SECS, "iat not in the future");
    assert!(iat >= now - SKEW_SECS, "iat at most 5 minutes old");
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp < now + 50 * 365 * 86_400, "exp in seconds");
    if let Some(auth_time) = claims.get("auth_time") {
        let auth_time = auth_time.as_i64().expect("auth_time is a number");
        assert!(auth_time <= now + SKEW_SECS, "auth_time not in the future");
        assert!(auth_time >= now - 365 * 86_400, "auth_time within a year");
    }
    if let Some(acr) = claims.get("acr") {
        assert!(acr.as_str().is_some_and(|a| !a.is_empty()), "acr: {acr}");
    }
    if let Some(nbf) = claims.get("nbf") {
        assert!(nbf.as_i64().unwrap() <= now + SKEW_SECS);
    }
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| !s.is_empty() && s.len() <= 255),
        "sub (OIDC Core 2): {claims}"
    );
    if let Some(updated_at) = claims.get("updated_at") {
        assert!(updated_at.as_i64().is_some(), "updated_at is a number");
    }
    claims
}

/// The ID token of a token response, checked as oidcc-server does: the standard checks,
/// then `ValidateAtHash` / `ValidateCHash` where the hash is present (OIDC Core
/// 3.3.2.11; optional at the token endpoint of the code flow).
pub(crate) async fn token_response_id_token(
    app: &TestApp,
    tokens: &Value,
    code: &str,
    nonce: Option<&str>,
) -> Value {
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = id_token_claims(app, id_token, nonce).await;
    let alg = jsonwebtoken::decode_header(id_token).unwrap().alg;
    if let Some(at_hash) = claims.get("at_hash") {
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(at_hash.as_str(), Some(left_half_hash(alg, access).as_str()));
    }
    if let Some(c_hash) = claims.get("c_hash") {
        assert_eq!(c_hash.as_str(), Some(left_half_hash(alg, code).as_str()));
    }
    claims
}

/// The left half of the hash that `alg` uses, base64url (OIDC Core 3.1.3.6).
fn left_half_hash(alg: Algorithm, value: &str) -> String {
    use base64::Engine;
    assert!(
        matches!(alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256),
        "a SHA-256 algorithm"
    );
    let digest = Sha256::digest(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `CallUserInfoEndpoint` (GET with the Bearer header) plus `EnsureHttpStatusCodeIs200`,
/// `EnsureContentTypeJson`, `ValidateUserInfoStandardClaims`, `EnsureUserInfoContainsSub`,
/// `VerifyUserInfoAndIdTokenInTokenEndpointSameSub`. Returns the claims.
pub(crate) async fn userinfo(res: reqwest::Response, id_token_sub: &Value) -> Value {
    assert_eq!(res.status(), 200, "userinfo 200");
    assert_json(&res);
    let claims: Value = res.json().await.unwrap();
    assert_eq!(&claims["sub"], id_token_sub, "same sub as the ID token");
    standard_claims(&claims);
    claims
}

/// `ValidateUserInfoStandardClaims` / `ValidateIdTokenStandardClaims`: the types of
/// OIDC Core 5.1.
pub(crate) fn standard_claims(claims: &Value) {
    for name in [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
    ] {
        if let Some(value) = claims.get(name) {
            assert!(value.is_string(), "{name} is a string: {claims}");
        }
    }
    for name in ["email_verified", "phone_number_verified"] {
        if let Some(value) = claims.get(name) {
            assert!(value.is_boolean(), "{name} is a boolean: {claims}");
        }
    }
    if let Some(address) = claims.get("address") {
        assert!(address.is_object());
    }
    if let Some(updated_at) = claims.get("updated_at") {
        assert!(updated_at.is_number());
    }
}
