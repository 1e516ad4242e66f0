//! The OpenID Foundation conformance suite's Basic OP and Config OP test plans
//! (`oidcc-basic-certification-test-plan`, `oidcc-config-certification-test-plan`),
//! one test per module, named after it: the module's request against devicelink's
//! provider (code flow, `client_secret_basic`, a static client) and the checks the module
//! makes. Runs on SQLite and PostgreSQL. The table of modules, requests and answers is
//! docs/conformance.md.

mod checks;
mod config;
mod repeated;
mod request_objects;
mod scopes;

use serde_json::Value;
use url::Url;

use crate::helpers::{TestApp, attr, http_client, location};
use crate::provider::{
    CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, authorize_url, redeem, until_redirect,
    until_redirect_from,
};
use checks::{NONCE, STATE};

/// The suite's second client (`client2`, oidcc-refresh-token).
const CLIENT2_ID: &str = "portal-2";
const CLIENT2_SECRET: &str = "portal-2-secret-0123456789";

/// The provider's test app ([`crate::provider::spawn`]) plus the suite's second client.
async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::provider::spawn_with(backend, |s| {
        let mut second = s.provider.clients[0].clone();
        CLIENT2_ID.clone_into(&mut second.client_id);
        "Portal two".clone_into(&mut second.name);
        second.secret = Some(CLIENT2_SECRET.to_owned());
        s.provider.clients.push(second);
    })
    .await
}

/// Declares each async test body `fn(TestApp)` once per backend: `sqlite::<name>` and
/// `postgres::<name>` (the latter only when DEVICELINK_TEST_POSTGRES_URL is set).
macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test]
            async fn $name() {
                let app = $crate::conformance::spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                super::$name(app).await;
            }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $name() {
                if let Some(app) = $crate::conformance::spawn($crate::helpers::Backend::Postgres).await {
                    super::$name(app).await;
                }
            }
        )* }
    };
}
pub(crate) use conformance_tests;

conformance_tests!(
    oidcc_server,
    oidcc_response_type_missing,
    oidcc_idtoken_signature,
    oidcc_idtoken_unsigned,
    oidcc_userinfo_get,
    oidcc_userinfo_post_header,
    oidcc_userinfo_post_body,
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    oidcc_display_page,
    oidcc_display_popup,
    oidcc_prompt_none_not_logged_in,
    oidcc_ensure_request_with_unknown_parameter_succeeds,
    oidcc_login_hint,
    oidcc_ui_locales,
    oidcc_claims_locales,
    oidcc_ensure_request_with_acr_values_succeeds,
    oidcc_ensure_registered_redirect_uri,
    oidcc_ensure_post_request_succeeds,
    oidcc_server_client_secret_post,
    oidcc_ensure_request_with_valid_pkce_succeeds,
);

/// An authorization request: [`authorize_url`]'s parameters (scope `openid`, as the
/// suite's `SetScopeInClientConfigurationToOpenId`) without `drop`, plus `extra`.
pub(crate) fn request(app: &TestApp, drop: &[&str], extra: &[(&str, &str)]) -> String {
    let base = Url::parse(&authorize_url(app, CLIENT_ID, &[])).unwrap();
    let mut url = base.clone();
    url.query_pairs_mut().clear();
    for (k, v) in base.query_pairs() {
        if drop.contains(&k.as_ref()) || extra.iter().any(|(e, _)| *e == k) {
            continue;
        }
        let v = if k == "scope" { "openid".into() } else { v };
        url.query_pairs_mut().append_pair(&k, &v);
    }
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// What one authorization and code redemption gave.
pub(crate) struct Flow {
    pub code: String,
    pub tokens: Value,
    pub id_token: Value,
}

/// The suite's `performAuthorizationFlow` in `app.client` (Marie signed in at devicelink):
/// the callback, the token request with `client_secret_basic`, and the ID token checks.
pub(crate) async fn code_flow(app: &TestApp, url: &str, nonce: Option<&str>) -> Flow {
    let back = until_redirect(app, &app.client, url).await;
    redeem_callback(app, &back, nonce).await
}

pub(crate) async fn redeem_callback(app: &TestApp, back: &Url, nonce: Option<&str>) -> Flow {
    let code = checks::successful_callback(app, back);
    let tokens = checks::token_response(redeem(app, &code).await).await;
    let id_token = checks::token_response_id_token(app, &tokens, &code, nonce).await;
    Flow {
        code,
        tokens,
        id_token,
    }
}

pub(crate) async fn signed_in(app: &TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
}

/// From the choice page answering `res` in `browser`, "Sign in with eAccess" as Marie,
/// until the portal's redirect URI.
pub(crate) async fn through_eaccess(
    app: &TestApp,
    browser: &reqwest::Client,
    res: reqwest::Response,
) -> Url {
    assert_eq!(res.status(), 200, "a login page");
    let page = res.text().await.unwrap();
    let broker = attr(&page, "id=\"sign-in-eaccess\" href").replace("&amp;", "&");
    let res = browser.get(app.url(&broker)).send().await.unwrap();
    assert_eq!(res.status(), 303, "to eAccess");
    let callback = devicelink::mock_idp::script::complete_login(
        browser,
        &location(&res),
        "marie",
        "luxtrust_mobile",
    )
    .await
    .unwrap();
    until_redirect(app, browser, callback.as_str()).await
}

/// The modules that ask to "remove any cookies" first: a fresh browser gets the login
/// page for `url` and signs in through eAccess (Marie is registered already).
async fn fresh_login_flow(app: &TestApp, url: &str) -> Flow {
    signed_in(app).await;
    let browser = http_client();
    let res = browser.get(url).send().await.unwrap();
    let back = through_eaccess(app, &browser, res).await;
    redeem_callback(app, &back, Some(NONCE)).await
}

pub(crate) async fn get_userinfo(app: &TestApp, access: &str) -> reqwest::Response {
    http_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

fn access_token(flow: &Flow) -> &str {
    flow.tokens["access_token"].as_str().unwrap()
}

async fn discovery(app: &TestApp) -> Value {
    app.get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap()
}

/// oidcc-server: the happy flow; `requestProtectedResource` calls userinfo; with scope
/// `openid` alone the ID token carries no `name` (`EnsureIdTokenDoesNotContainName`).
async fn oidcc_server(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    assert!(flow.id_token.get("name").is_none(), "{}", flow.id_token);
    assert!(flow.id_token.get("email").is_none(), "{}", flow.id_token);
    let res = get_userinfo(&app, access_token(&flow)).await;
    checks::userinfo(res, &flow.id_token["sub"]).await;
}

/// oidcc-response-type-missing: `unsupported_response_type` or `invalid_request` back at
/// the redirect URI (or an error page).
async fn oidcc_response_type_missing(app: TestApp) {
    let res = app
        .client
        .get(request(&app, &["response_type"], &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI));
    checks::error_callback(
        &app,
        &back,
        STATE,
        &["unsupported_response_type", "invalid_request"],
    );
}

/// oidcc-idtoken-signature (a dynamic-registration module; its checks on the static
/// client, which registered no algorithm): `kid` present, RS256 (OIDC Core 3.1.3.7).
async fn oidcc_idtoken_signature(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let header = jsonwebtoken::decode_header(flow.tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert!(header.kid.is_some());
}

/// oidcc-idtoken-unsigned: skipped by the suite when discovery's
/// `id_token_signing_alg_values_supported` lacks `none` (servers need not support it).
async fn oidcc_idtoken_unsigned(app: TestApp) {
    let metadata = discovery(&app).await;
    let algs = metadata["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(!algs.iter().any(|a| a == "none"), "{algs:?}");
}

/// oidcc-userinfo-get.
async fn oidcc_userinfo_get(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let res = get_userinfo(&app, access_token(&flow)).await;
    checks::userinfo(res, &flow.id_token["sub"]).await;
}

/// oidcc-userinfo-post-header: POST with the token in the `Authorization` header.
async fn oidcc_userinfo_post_header(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let res = http_client()
        .post(app.url("/oidc/userinfo"))
        .bearer_auth(access_token(&flow))
        .send()
        .await
        .unwrap();
    checks::userinfo(res, &flow.id_token["sub"]).await;
}

/// oidcc-userinfo-post-body: POST with `access_token` in the form body (RFC 6750 section
/// 2.2). Optional: the suite passes a success and warns on an HTTP error.
async fn oidcc_userinfo_post_body(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let res = http_client()
        .post(app.url("/oidc/userinfo"))
        .form(&[("access_token", access_token(&flow))])
        .send()
        .await
        .unwrap();
    checks::userinfo(res, &flow.id_token["sub"]).await;
}

/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow: a code without `nonce`
/// (and an ID token without one).
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(app: TestApp) {
    signed_in(&app).await;
    code_flow(&app, &request(&app, &["nonce"], &[]), None).await;
}

/// oidcc-display-page: `display=page` must not cause an error (OIDC Core 15.1).
async fn oidcc_display_page(app: TestApp) {
    fresh_login_flow(&app, &request(&app, &[], &[("display", "page")])).await;
}

/// oidcc-display-popup: `display=popup` must not cause an error.
async fn oidcc_display_popup(app: TestApp) {
    fresh_login_flow(&app, &request(&app, &[], &[("display", "popup")])).await;
}

/// oidcc-prompt-none-not-logged-in: no session, `prompt=none` (and a 128-character
/// state): one of the errors of OIDC Core 3.1.2.6 that need a user interface.
async fn oidcc_prompt_none_not_logged_in(app: TestApp) {
    let state = "s".repeat(128);
    let url = request(&app, &[], &[("prompt", "none"), ("state", &state)]);
    let res = http_client().get(url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    checks::error_callback(
        &app,
        &location(&res),
        &state,
        &[
            "interaction_required",
            "login_required",
            "account_selection_required",
            "consent_required",
        ],
    );
}

/// oidcc-ensure-request-with-unknown-parameter-succeeds: `extra=foobar` is ignored
/// (RFC 6749 section 3.1).
async fn oidcc_ensure_request_with_unknown_parameter_succeeds(app: TestApp) {
    signed_in(&app).await;
    code_flow(
        &app,
        &request(&app, &[], &[("extra", "foobar")]),
        Some(NONCE),
    )
    .await;
}

/// oidcc-login-hint: `login_hint=buffy@<issuer host>` on a fresh login page, no error.
async fn oidcc_login_hint(app: TestApp) {
    let hint = format!(
        "buffy@{}",
        Url::parse(&app.address).unwrap().host_str().unwrap()
    );
    fresh_login_flow(&app, &request(&app, &[], &[("login_hint", &hint)])).await;
}

/// oidcc-ui-locales: `ui_locales=se` on a fresh login page, no error.
async fn oidcc_ui_locales(app: TestApp) {
    fresh_login_flow(&app, &request(&app, &[], &[("ui_locales", "se")])).await;
}

/// oidcc-claims-locales: `claims_locales=se`, no error.
async fn oidcc_claims_locales(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(
        &app,
        &request(&app, &[], &[("claims_locales", "se")]),
        Some(NONCE),
    )
    .await;
    let res = get_userinfo(&app, access_token(&flow)).await;
    checks::userinfo(res, &flow.id_token["sub"]).await;
}

/// oidcc-ensure-request-with-acr-values-succeeds: every advertised `acr_values_supported`
/// value; it must succeed, and the `acr` SHOULD be one of them (a warning otherwise).
async fn oidcc_ensure_request_with_acr_values_succeeds(app: TestApp) {
    let metadata = discovery(&app).await;
    let values: Vec<&str> = metadata["acr_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    signed_in(&app).await;
    let url = request(&app, &[], &[("acr_values", &values.join(" "))]);
    let flow = code_flow(&app, &url, Some(NONCE)).await;
    let acr = flow.id_token["acr"].as_str().unwrap();
    assert!(values.contains(&acr), "{acr} in {values:?}");
}

/// oidcc-ensure-registered-redirect-uri: a redirect URI with a random suffix is shown an
/// error page; neither it nor the registered one is redirected to.
async fn oidcc_ensure_registered_redirect_uri(app: TestApp) {
    signed_in(&app).await;
    let bad = format!("{REDIRECT_URI}/4f9a1c");
    let res = app
        .client
        .get(request(&app, &[], &[("redirect_uri", &bad)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "an error page");
    assert!(res.headers().get("location").is_none());
    assert!(!res.text().await.unwrap().contains(&bad), "no link to it");
}

/// oidcc-ensure-post-request-succeeds: the authorization request as a form POST.
async fn oidcc_ensure_post_request_succeeds(app: TestApp) {
    signed_in(&app).await;
    let url = Url::parse(&request(&app, &[], &[])).unwrap();
    let form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let res = app
        .client
        .post(app.url("/oidc/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let back = until_redirect_from(&app, &app.client, res).await;
    redeem_callback(&app, &back, Some(NONCE)).await;
}

/// oidcc-server-client-secret-post: the happy flow, the client authenticating with
/// `client_id` and `client_secret` in the token request's body.
async fn oidcc_server_client_secret_post(app: TestApp) {
    signed_in(&app).await;
    let back = until_redirect(&app, &app.client, &request(&app, &[], &[])).await;
    let code = checks::successful_callback(&app, &back);
    let res = http_client()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let tokens = checks::token_response(res).await;
    let id_token = checks::token_response_id_token(&app, &tokens, &code, Some(NONCE)).await;
    let res = get_userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    checks::userinfo(res, &id_token["sub"]).await;
}

/// oidcc-ensure-request-with-valid-pkce-succeeds: S256 `code_challenge`, and the
/// `code_verifier` at the token endpoint (RFC 7636, the example of its appendix B).
async fn oidcc_ensure_request_with_valid_pkce_succeeds(app: TestApp) {
    signed_in(&app).await;
    let url = request(
        &app,
        &[],
        &[
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    );
    let back = until_redirect(&app, &app.client, &url).await;
    let code = checks::successful_callback(&app, &back);
    let res = http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    let tokens = checks::token_response(res).await;
    checks::token_response_id_token(&app, &tokens, &code, Some(NONCE)).await;
}
