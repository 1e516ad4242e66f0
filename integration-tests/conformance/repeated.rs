//! The Basic OP modules that authorize twice or use a grant twice: prompt=login,
//! prompt=none logged in, max_age, id_token_hint, code reuse, refresh tokens.

use std::time::Duration;

use serde_json::Value;

use super::checks::{self, NONCE};
use super::{
    CLIENT2_ID, CLIENT2_SECRET, access_token, code_flow, conformance_tests, get_userinfo,
    redeem_callback, request, signed_in, through_eaccess,
};
use crate::helpers::{TestApp, http_client};
use crate::provider::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, query, redeem, until_redirect};

conformance_tests!(
    oidcc_prompt_login,
    oidcc_prompt_none_logged_in,
    oidcc_max_age_1,
    oidcc_max_age_10000,
    oidcc_id_token_hint,
    oidcc_codereuse,
    oidcc_codereuse_30seconds,
    oidcc_refresh_token,
);

fn auth_time(id_token: &Value) -> i64 {
    id_token["auth_time"].as_i64().expect("auth_time")
}

/// `AbstractOIDCCSameAuthTwiceServerTest`: `CheckIdTokenAuthTimeClaimsSameIfPresent` and
/// `CheckIdTokenSubConsistentForSecondAuthorization`.
fn same_authentication(first: &Value, second: &Value) {
    assert_eq!(first["sub"], second["sub"]);
    assert_eq!(first.get("auth_time"), second.get("auth_time"));
}

/// oidcc-prompt-login: the second authorization, a second later with `prompt=login`,
/// shows a login page; the second `auth_time` is later than the first.
async fn oidcc_prompt_login(app: TestApp) {
    signed_in(&app).await;
    let first = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let url = request(&app, &[], &[("prompt", "login")]);
    let res = app.client.get(url).send().await.unwrap();
    let back = through_eaccess(&app, &app.client, res).await;
    let second = redeem_callback(&app, &back, Some(NONCE)).await;
    assert!(
        auth_time(&second.id_token) > auth_time(&first.id_token),
        "CheckSecondIdTokenAuthTimeIsLaterIfPresent"
    );
}

/// oidcc-prompt-none-logged-in: `prompt=none` with a session signs in silently.
async fn oidcc_prompt_none_logged_in(app: TestApp) {
    signed_in(&app).await;
    let first = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let second = code_flow(
        &app,
        &request(&app, &[], &[("prompt", "none")]),
        Some(NONCE),
    )
    .await;
    same_authentication(&first.id_token, &second.id_token);
}

/// oidcc-max-age-1: two seconds later `max_age=1` shows a login page; the second ID
/// token has an `auth_time`, later than the first and recent.
async fn oidcc_max_age_1(app: TestApp) {
    signed_in(&app).await;
    let first = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let url = request(&app, &[], &[("max_age", "1")]);
    let res = app.client.get(url).send().await.unwrap();
    let back = through_eaccess(&app, &app.client, res).await;
    let second = redeem_callback(&app, &back, Some(NONCE)).await;
    let at = auth_time(&second.id_token);
    assert!(at > auth_time(&first.id_token));
    assert!(
        at >= chrono::Utc::now().timestamp() - 301,
        "CheckIdTokenAuthTimeIsRecentIfPresent"
    );
}

/// oidcc-max-age-10000: `max_age=15000`, then `max_age=10000` without a login; both ID
/// tokens carry the same `auth_time` and `sub`.
async fn oidcc_max_age_10000(app: TestApp) {
    signed_in(&app).await;
    let first = code_flow(
        &app,
        &request(&app, &[], &[("max_age", "15000")]),
        Some(NONCE),
    )
    .await;
    auth_time(&first.id_token);
    // No login page: `until_redirect` accepts only the consent page or a redirect.
    let second = code_flow(
        &app,
        &request(&app, &[], &[("max_age", "10000")]),
        Some(NONCE),
    )
    .await;
    auth_time(&second.id_token);
    same_authentication(&first.id_token, &second.id_token);
}

/// oidcc-id-token-hint: `prompt=none` with the first ID token as `id_token_hint` signs in
/// silently, as the same citizen.
async fn oidcc_id_token_hint(app: TestApp) {
    signed_in(&app).await;
    let first = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    let hint = first.tokens["id_token"].as_str().unwrap();
    let url = request(&app, &[], &[("prompt", "none"), ("id_token_hint", hint)]);
    let second = code_flow(&app, &url, Some(NONCE)).await;
    same_authentication(&first.id_token, &second.id_token);
}

/// oidcc-codereuse: the code a second time, at once: 400 `invalid_grant`.
async fn oidcc_codereuse(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    checks::token_error(redeem(&app, &flow.code).await, "invalid_grant").await;
}

/// oidcc-codereuse-30seconds: the code again 30 seconds later: 400 `invalid_grant`, and
/// the access token it gave is revoked (RFC 6749 section 4.1.2; a warning in the suite).
async fn oidcc_codereuse_30seconds(app: TestApp) {
    signed_in(&app).await;
    let flow = code_flow(&app, &request(&app, &[], &[]), Some(NONCE)).await;
    // The suite's `WaitFor30Seconds`, in real time.
    tokio::time::sleep(Duration::from_secs(30)).await;
    checks::token_error(redeem(&app, &flow.code).await, "invalid_grant").await;
    let res = get_userinfo(&app, access_token(&flow)).await;
    assert_eq!(res.status(), 401, "EnsureHttpStatusCodeIs4xx");
}

async fn refresh(app: &TestApp, token: &str, client: (&str, &str)) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

/// `EnsureRefreshTokenContainsAllowedCharactersOnly` (RFC 6749 appendix A.17),
/// `EnsureMinimumRefreshTokenLength` and `...Entropy`.
fn check_refresh_token(token: &str) {
    assert!(token.chars().all(|c| ('\x20'..='\x7e').contains(&c)));
    assert!(token.len() * 8 >= 128, "{token}");
    assert!(checks::shannon_bits(token) > 96.0, "{token}");
}

/// oidcc-refresh-token: with `offline_access` (listed in `scopes_supported`) and
/// `prompt=consent`, a refresh token that works a second later (an ID token from it has
/// the same `iss`, `sub`, `aud`, `auth_time`, `azp`: `CompareIdTokenClaims`), and that a
/// second client cannot use (400 `invalid_grant`).
async fn oidcc_refresh_token(app: TestApp) {
    signed_in(&app).await;
    let extra = [("scope", "openid offline_access"), ("prompt", "consent")];
    let first = code_flow(&app, &request(&app, &[], &extra), Some(NONCE)).await;
    let token = first.tokens["refresh_token"]
        .as_str()
        .expect("a refresh token");
    check_refresh_token(token);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let res = refresh(&app, token, (CLIENT_ID, CLIENT_SECRET)).await;
    let renewed = checks::token_response_fields(res).await;
    assert_ne!(renewed["access_token"], first.tokens["access_token"]);
    if let Some(next) = renewed["refresh_token"].as_str() {
        check_refresh_token(next);
    }
    if let Some(id_token) = renewed["id_token"].as_str() {
        let second = checks::verified_id_token(&app, id_token).await;
        for claim in ["iss", "sub", "aud", "auth_time", "azp"] {
            assert_eq!(first.id_token.get(claim), second.get(claim), "{claim}");
        }
        assert!(second["iat"].is_i64());
    }
    let res = get_userinfo(&app, renewed["access_token"].as_str().unwrap()).await;
    checks::userinfo(res, &first.id_token["sub"]).await;

    // The second client's refresh token, presented by the first client.
    let mut url = url::Url::parse(&request(&app, &[], &extra)).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            let v = if k == "client_id" {
                CLIENT2_ID.into()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let back = until_redirect(&app, &app.client, url.as_str()).await;
    let res = http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(CLIENT2_ID, Some(CLIENT2_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query(&back, "code").unwrap().as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    let second_client = checks::token_response(res).await;
    let theirs = second_client["refresh_token"].as_str().unwrap();
    let res = refresh(&app, theirs, (CLIENT_ID, CLIENT_SECRET)).await;
    checks::token_error(res, "invalid_grant").await;
}
