//! The Basic OP modules that ask for claims: the scope modules, the alternate happy
//! flow and oidcc-claims-essential (`AbstractOIDCCReturnedClaimsServerTest`).

use serde_json::Value;
use url::Url;

use super::checks::{self, NONCE, STATE};
use super::{
    Flow, access_token, code_flow, conformance_tests, discovery, get_userinfo, request, signed_in,
};
use crate::helpers::{TestApp, location};
use crate::provider::{CLIENT_ID, REDIRECT_URI};

conformance_tests!(
    oidcc_scope_profile,
    oidcc_scope_email,
    oidcc_scope_address,
    oidcc_scope_phone,
    oidcc_scope_all,
    oidcc_alternate_happy_flow,
    oidcc_claims_essential,
);

/// The `AbstractOIDCCReturnedClaimsServerTest` modules: `scope`, then userinfo.
async fn returned_claims(app: &TestApp, scope: &str) -> (Flow, Value) {
    signed_in(app).await;
    let flow = code_flow(app, &request(app, &[], &[("scope", scope)]), Some(NONCE)).await;
    let res = get_userinfo(app, access_token(&flow)).await;
    let claims = checks::userinfo(res, &flow.id_token["sub"]).await;
    (flow, claims)
}

/// oidcc-scope-profile: the profile claims devicelink has (the suite warns that the other
/// Core 5.4 profile claims, e.g. `nickname`, are absent).
async fn oidcc_scope_profile(app: TestApp) {
    let (_, claims) = returned_claims(&app, "openid profile").await;
    for name in ["name", "given_name", "family_name"] {
        assert!(claims[name].is_string(), "{name}: {claims}");
    }
}

/// oidcc-scope-email: `email` and `email_verified` at userinfo, no `name`.
async fn oidcc_scope_email(app: TestApp) {
    let (_, claims) = returned_claims(&app, "openid email").await;
    assert_eq!(claims["email"], "marie@example.lu");
    assert!(claims["email_verified"].is_boolean());
    assert!(claims.get("name").is_none(), "{claims}");
}

/// The suite's `OIDCCCheckScopesSupportedContainScopeTest`: a scope devicelink does not
/// list is skipped. devicelink refuses such a request with `invalid_scope`.
async fn scope_not_supported(app: &TestApp, scope: &str) {
    let metadata = discovery(app).await;
    let supported = metadata["scopes_supported"].as_array().unwrap();
    let missing: Vec<&str> = scope
        .split(' ')
        .filter(|s| !supported.iter().any(|x| x == s))
        .collect();
    assert!(!missing.is_empty(), "{supported:?}");
    signed_in(app).await;
    let res = app
        .client
        .get(request(app, &[], &[("scope", scope)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    checks::error_callback(app, &location(&res), STATE, &["invalid_scope"]);
}

/// oidcc-scope-address: skipped (`address` is not in `scopes_supported`).
async fn oidcc_scope_address(app: TestApp) {
    scope_not_supported(&app, "openid address").await;
}

/// oidcc-scope-phone: skipped (`phone` is not in `scopes_supported`).
async fn oidcc_scope_phone(app: TestApp) {
    scope_not_supported(&app, "openid phone").await;
}

/// oidcc-scope-all: skipped (`address` and `phone` are not in `scopes_supported`).
async fn oidcc_scope_all(app: TestApp) {
    scope_not_supported(&app, "openid email phone address profile").await;
}

/// oidcc-alternate-happy-flow: oidcc-scope-email with the scope reversed and the query
/// parameters in another order (RFC 6749 section 3.3).
async fn oidcc_alternate_happy_flow(app: TestApp) {
    signed_in(&app).await;
    let mut url = Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("nonce", NONCE)
        .append_pair("state", STATE)
        .append_pair("scope", "email openid")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code");
    let flow = code_flow(&app, url.as_str(), Some(NONCE)).await;
    let res = get_userinfo(&app, access_token(&flow)).await;
    let claims = checks::userinfo(res, &flow.id_token["sub"]).await;
    assert_eq!(claims["email"], "marie@example.lu");
}

/// oidcc-claims-essential: `name` requested as an essential userinfo claim (OIDC Core
/// 5.5); the sign-in must succeed.
async fn oidcc_claims_essential(app: TestApp) {
    signed_in(&app).await;
    let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
    let flow = code_flow(
        &app,
        &request(&app, &[], &[("claims", claims)]),
        Some(NONCE),
    )
    .await;
    let res = get_userinfo(&app, access_token(&flow)).await;
    let info = checks::userinfo(res, &flow.id_token["sub"]).await;
    // The suite checks at WARNING level that the essential `name` came back: it does.
    assert_eq!(info["name"], "Marie Schmit", "{info}");
    assert!(flow.id_token.get("name").is_none(), "{}", flow.id_token);
}
