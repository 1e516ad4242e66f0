//! The per-client FAPI 2.0 profile (`fapi2 = true`) over HTTP, on SQLite and PostgreSQL:
//! a whole FAPI 2.0 sign-in (PAR with private_key_jwt, PKCE S256, `iss` in the response,
//! DPoP at the token endpoint, a code that lives 60 s at most), and each requirement
//! refused with a clear error when a request leaves it out.

use chrono::Utc;
use devicelink::device_client::DeviceKey;
use serde_json::{Value, json};

use crate::helpers::{TestApp, http_client};
use crate::provider::{REDIRECT_URI, assertion_key, query, until_redirect};

const FAPI_ID: &str = "fapi-portal";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

crate::provider_tests!(
    spawn: super::spawn;
    a_fapi2_sign_in_pushes_proves_and_binds,
    each_fapi2_requirement_is_enforced_with_a_clear_error,
);

async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::provider::spawn_with(backend, |s| {
        // Longer than FAPI 2.0 allows: the profile must clamp it to 60 s.
        s.provider.code_ttl_secs = 300;
        let mut fapi = s
            .provider
            .clients
            .iter()
            .find(|c| c.client_id == crate::provider::JWT_CLIENT_ID)
            .unwrap()
            .clone();
        fapi.client_id = FAPI_ID.into();
        fapi.fapi2 = true;
        s.provider.clients.push(fapi);
    })
    .await
}

fn client_assertion(app: &TestApp) -> String {
    let now = Utc::now().timestamp();
    assertion_key()
        .sign_jwt(
            "JWT",
            &serde_json::Map::new(),
            &json!({
                "iss": FAPI_ID, "sub": FAPI_ID, "aud": app.address,
                "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 60,
            }),
        )
        .unwrap()
}

fn with_assertion<'a>(app: &TestApp, mut form: Vec<(&'a str, String)>) -> Vec<(&'a str, String)> {
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    form.push(("client_assertion", client_assertion(app)));
    form
}

fn authorization(pkce: bool) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("response_type", "code".into()),
        ("client_id", FAPI_ID.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("scope", "openid profile".into()),
        ("state", "st-fapi".into()),
        ("nonce", "n-fapi".into()),
    ];
    if pkce {
        form.push(("code_challenge", CHALLENGE.into()));
        form.push(("code_challenge_method", "S256".into()));
    }
    form
}

async fn push(app: &TestApp, pkce: bool) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/par"))
        .form(&with_assertion(app, authorization(pkce)))
        .send()
        .await
        .unwrap()
}

fn authorize_with(app: &TestApp, request_uri: &str) -> String {
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", FAPI_ID)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

async fn fapi_code(app: &TestApp) -> String {
    let pushed: Value = push(app, true).await.json().await.unwrap();
    let back = until_redirect(
        app,
        &app.client,
        &authorize_with(app, pushed["request_uri"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        query(&back, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    query(&back, "code").expect("a code")
}

async fn redeem(app: &TestApp, code: &str, key: Option<&DeviceKey>) -> reqwest::Response {
    let url = url::Url::parse(&app.url("/oidc/token")).unwrap();
    let form = with_assertion(
        app,
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect(),
    );
    let mut request = http_client().post(url.clone()).form(&form);
    if let Some(key) = key {
        request = request.header("DPoP", key.proof("POST", &url, None, None).unwrap());
    }
    request.send().await.unwrap()
}

async fn a_fapi2_sign_in_pushes_proves_and_binds(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let code = fapi_code(&app).await;
    // The code lives 60 s at most although provider.code_ttl_secs says 300; another
    // portal's code keeps the 300.
    let back = until_redirect(
        &app,
        &app.client,
        &crate::provider::authorize_url(&app, crate::provider::JWT_CLIENT_ID, &[]),
    )
    .await;
    assert!(query(&back, "code").is_some());
    let limit = (Utc::now() + chrono::Duration::seconds(61))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S");
    assert_eq!(
        app.count_rows(&format!(
            "provider_codes WHERE client_id = '{FAPI_ID}' AND expires_at < '{limit}'"
        )),
        1
    );
    assert_eq!(
        app.count_rows(&format!(
            "provider_codes WHERE client_id = 'jwt-portal' AND expires_at > '{limit}'"
        )),
        1
    );
    let key = DeviceKey::generate().unwrap();
    let res = redeem(&app, &code, Some(&key)).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    assert!(tokens["id_token"].is_string());
}

async fn each_fapi2_requirement_is_enforced_with_a_clear_error(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    // A plain request: PAR is required.
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    for (k, v) in authorization(true) {
        url.query_pairs_mut().append_pair(k, &v);
    }
    let back = until_redirect(&app, &app.client, url.as_str()).await;
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert!(
        query(&back, "error_description")
            .unwrap()
            .contains("/oidc/par")
    );
    // A push without PKCE.
    let res = push(&app, false).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains("PKCE"));
    // A client secret instead of private_key_jwt: the portal has none.
    let res = http_client()
        .post(app.url("/oidc/par"))
        .basic_auth(FAPI_ID, Some("any-secret-0123456789"))
        .form(&authorization(true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // An assertion whose aud is the token endpoint, not the issuer alone.
    let now = Utc::now().timestamp();
    let wrong_aud = assertion_key()
        .sign_jwt(
            "JWT",
            &serde_json::Map::new(),
            &json!({"iss": FAPI_ID, "sub": FAPI_ID, "aud": app.url("/oidc/par"),
                    "jti": "aud-jti", "iat": now, "exp": now + 60}),
        )
        .unwrap();
    let mut form = authorization(true);
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    form.push(("client_assertion", wrong_aud));
    let res = http_client()
        .post(app.url("/oidc/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A code redeemed without DPoP.
    let code = fapi_code(&app).await;
    let res = redeem(&app, &code, None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
}
