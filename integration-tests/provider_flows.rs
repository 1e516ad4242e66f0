//! The provider's authorization options and its token endpoint's limits over HTTP:
//! `prompt=login` and `prompt=none`, a public client with PKCE, and rate limits keyed
//! by the proxy-aware address and by the authenticated client. SQLite and PostgreSQL.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, attr, http_client, location};
use crate::provider::{
    CLIENT_ID, CLIENT_SECRET, PUBLIC_ID, REDIRECT_URI, authorize_url, query, redeem,
    signed_in_code, spawn_with, until_redirect,
};
use crate::provider_app::claims_of;
use crate::provider_tests;

provider_tests!(
    prompt_login_sends_the_citizen_to_eaccess_again,
    prompt_none_answers_consent_required_until_the_citizen_consented,
    a_public_client_signs_in_with_pkce_and_no_secret,
    the_claims_parameter_adds_user_claims_beyond_the_scopes,
);

macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            }
        )*
    };
}

per_backend!(
    the_token_endpoint_limits_each_address_behind_the_proxy,
    a_wrong_secret_flood_does_not_use_up_the_clients_budget,
);

/// The path and query of an authorization request, for the signed-in `app.client`.
fn authorize_path(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    authorize_url(app, client_id, extra).replace(&app.address, "")
}

async fn prompt_login_sends_the_citizen_to_eaccess_again(app: TestApp) {
    // Marie signed in with LuxTrust Mobile an hour ago and has consented already.
    let code = signed_in_code(&app, &[]).await;
    assert_eq!(redeem(&app, &code).await.status(), 200);
    app.execute_sql(&format!(
        "UPDATE browser_sessions SET auth_time = {}",
        match app.backend {
            Backend::Sqlite => "datetime(auth_time, '-1 hour')",
            Backend::Postgres => "auth_time - interval '1 hour'",
        }
    ));
    let before = chrono::Utc::now().timestamp();
    // prompt=login: the session is not reused, the choice page is shown.
    let res = app
        .get(&authorize_path(&app, CLIENT_ID, &[("prompt", "login")]))
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let broker = attr(&page, "id=\"sign-in-eaccess\" href");
    let res = app.get(&broker).await;
    assert_eq!(res.status(), 303);
    let eaccess = location(&res);
    assert_eq!(
        query(&eaccess, "prompt").as_deref(),
        Some("login"),
        "eAccess is asked for a new login: {eaccess}"
    );
    // This time with the eID card.
    let callback = app.eaccess_login(&eaccess, "marie", "eid_card").await;
    let back = until_redirect(&app, &app.client, callback.as_str()).await;
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    let res = redeem(&app, &query(&back, "code").unwrap()).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:devicelink:acr:eaccess:eid_card");
    assert!(
        claims["auth_time"].as_i64().unwrap() >= before - 1,
        "the new login, not the hour-old one: {claims}"
    );
}

async fn prompt_none_answers_consent_required_until_the_citizen_consented(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    // Signed in, but never consented to this portal: no page may be shown.
    let res = app
        .get(&authorize_path(&app, CLIENT_ID, &[("prompt", "none")]))
        .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    assert_eq!(query(&back, "error").as_deref(), Some("consent_required"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "iss").as_deref(), Some(app.address.as_str()));
    assert_eq!(app.count_rows("provider_consents"), 0);
    assert_eq!(app.count_rows("provider_codes"), 0);
    // Without a devicelink session: login_required.
    let res = http_client()
        .get(authorize_url(&app, CLIENT_ID, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        query(&location(&res), "error").as_deref(),
        Some("login_required")
    );
    // `none` with another value is malformed.
    let res = app
        .get(&authorize_path(
            &app,
            CLIENT_ID,
            &[("prompt", "none consent")],
        ))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        query(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    // Once the citizen consented, prompt=none signs in without a page.
    let back = until_redirect(&app, &app.client, &authorize_url(&app, CLIENT_ID, &[])).await;
    assert_eq!(
        redeem(&app, &query(&back, "code").unwrap()).await.status(),
        200
    );
    let res = app
        .get(&authorize_path(&app, CLIENT_ID, &[("prompt", "none")]))
        .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error"), None, "{back}");
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        redeem(&app, &query(&back, "code").unwrap()).await.status(),
        200
    );
    // prompt=consent asks again, consent on record or not.
    let res = app
        .get(&authorize_path(&app, CLIENT_ID, &[("prompt", "consent")]))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("consent-allow"));
}

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn public_redeem(app: &TestApp, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", PUBLIC_ID),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    http_client()
        .post(app.url("/oidc/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn a_public_client_signs_in_with_pkce_and_no_secret(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let start = authorize_url(&app, PUBLIC_ID, &pkce);
    let code = query(&until_redirect(&app, &app.client, &start).await, "code").unwrap();
    // Without the verifier, or with another one: refused.
    let res = public_redeem(&app, &code, None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let wrong = "x".repeat(43);
    let res = public_redeem(&app, &code, Some(&wrong)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // A new sign-in (consent remembered) with the right verifier.
    let code = query(&until_redirect(&app, &app.client, &start).await, "code").unwrap();
    let res = public_redeem(&app, &code, Some(VERIFIER)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], PUBLIC_ID);
    assert_eq!(claims["nonce"], "n-1");
    let res = http_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The public client refreshes with its client_id alone.
    let res = http_client()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", PUBLIC_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// A token request for `code` from `address` (as the trusted proxy forwards it).
async fn redeem_from(app: &TestApp, address: &str, secret: &str, code: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .header("x-forwarded-for", address)
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
}

async fn assert_rate_limited(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retry_after"], retry);
}

async fn the_token_endpoint_limits_each_address_behind_the_proxy(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.provider.token_requests_per_minute_per_address = 3;
    })
    .await
    else {
        return;
    };
    let code = signed_in_code(&app, &[]).await;
    // Someone floods the token endpoint from one address.
    let attacker = "203.0.113.66";
    for _ in 0..3 {
        let res = redeem_from(&app, attacker, "not-the-secret", "guess").await;
        assert_eq!(res.status(), 401);
    }
    assert_rate_limited(redeem_from(&app, attacker, "not-the-secret", "guess").await).await;
    // A client-written entry on the left does not open a new bucket: the proxy's
    // right-most one counts.
    let spoofed = format!("192.0.2.9, {attacker}");
    assert_rate_limited(redeem_from(&app, &spoofed, "not-the-secret", "guess").await).await;
    // Even the right secret is refused from there, before it is looked at...
    assert_rate_limited(redeem_from(&app, attacker, CLIENT_SECRET, &code).await).await;
    // ...while the portal's server, at another address, redeems the code.
    let res = redeem_from(&app, "198.51.100.7", CLIENT_SECRET, &code).await;
    assert_eq!(res.status(), 200);
}

async fn a_wrong_secret_flood_does_not_use_up_the_clients_budget(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.provider.token_requests_per_minute_per_client = 3;
    })
    .await
    else {
        return;
    };
    let code = signed_in_code(&app, &[]).await;
    // Anyone can name the portal's client_id; without its secret they spend nothing of
    // the portal's allowance.
    for _ in 0..10 {
        let res = redeem_from(&app, "203.0.113.66", "not-the-secret", "guess").await;
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client"
        );
    }
    assert_eq!(redeem(&app, &code).await.status(), 200);
    // The portal's own requests do count: three a minute here.
    for _ in 0..2 {
        let res = redeem(&app, "no-such-code").await;
        assert_eq!(res.status(), 400);
    }
    assert_rate_limited(redeem(&app, "no-such-code").await).await;
}

/// OIDC Core 5.5: claims asked for one by one are given at the target named, whatever
/// the scopes (here only `openid`).
async fn the_claims_parameter_adds_user_claims_beyond_the_scopes(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("state", "st-claims")
        .append_pair("nonce", "n-claims")
        .append_pair(
            "claims",
            r#"{"userinfo":{"email":{"essential":true}},"id_token":{"given_name":null,"auth_time":{"essential":true}}}"#,
        );
    let back = until_redirect(&app, &app.client, url.as_str()).await;
    let code = query(&back, "code").expect("a code");
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["given_name"], "Marie");
    assert!(id_token["auth_time"].is_i64());
    assert!(id_token.get("email").is_none() && id_token.get("family_name").is_none());
    let info: Value = http_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "marie@example.lu");
    assert!(
        info.get("given_name").is_none(),
        "given_name was asked for the ID token only"
    );
}
