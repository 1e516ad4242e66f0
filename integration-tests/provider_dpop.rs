//! DPoP-bound portal tokens (RFC 9449) over HTTP, on SQLite and PostgreSQL: a proof at
//! the token endpoint binds the access token (`cnf.jkt`, `token_type: DPoP`), userinfo
//! then wants the DPoP scheme and a proof by that key over that token; `dpop_jkt` at
//! authorize pins the key; a public client's refresh token is bound; a portal registered
//! with `dpop_bound_access_tokens` cannot get a bearer token.

use devicelink::device_client::DeviceKey;
use serde_json::Value;

use crate::helpers::{TestApp, http_client};
use crate::provider::{
    CLIENT_ID, CLIENT_SECRET, PUBLIC_ID, REDIRECT_URI, authorize_url, query, until_redirect,
};

const DPOP_ID: &str = "dpop-portal";
const DPOP_SECRET: &str = "dpop-portal-secret-0123";

crate::provider_tests!(
    spawn: super::spawn;
    a_proof_at_the_token_endpoint_binds_the_tokens_and_userinfo_wants_the_key,
    dpop_jkt_at_authorize_pins_the_key_of_the_code,
    a_public_clients_refresh_token_is_bound_to_its_key,
    a_portal_registered_for_dpop_gets_no_bearer_token,
);

async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::provider::spawn_with(backend, |s| {
        let mut dpop = s.provider.clients[0].clone();
        dpop.client_id = DPOP_ID.into();
        dpop.secret = Some(DPOP_SECRET.into());
        dpop.audiences = vec![];
        dpop.dpop_bound_access_tokens = true;
        s.provider.clients.push(dpop);
    })
    .await
}

async fn code_for(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    if app.get("/dashboard").await.status() != 200 {
        app.sign_in_registered("marie", "luxtrust_mobile").await;
    }
    let back = until_redirect(app, &app.client, &authorize_url(app, client_id, extra)).await;
    query(&back, "code").expect("a code")
}

async fn token_request(
    app: &TestApp,
    client: Option<(&str, &str)>,
    form: &[(&str, &str)],
    key: Option<&DeviceKey>,
) -> reqwest::Response {
    let url = url::Url::parse(&app.url("/oidc/token")).unwrap();
    let mut request = http_client().post(url.clone()).form(form);
    if let Some((id, secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    if let Some(key) = key {
        request = request.header("DPoP", key.proof("POST", &url, None, None).unwrap());
    }
    request.send().await.unwrap()
}

async fn userinfo(
    app: &TestApp,
    scheme: &str,
    token: &str,
    proof_by: Option<&DeviceKey>,
) -> reqwest::Response {
    let url = url::Url::parse(&app.url("/oidc/userinfo")).unwrap();
    let mut request = http_client()
        .get(url.clone())
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(key) = proof_by {
        request = request.header("DPoP", key.proof("GET", &url, Some(token), None).unwrap());
    }
    request.send().await.unwrap()
}

fn cnf_of(token: &str) -> Value {
    let claims: Value = serde_json::from_slice(
        &devicelink::protocol::b64url_decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    claims["cnf"].clone()
}

async fn a_proof_at_the_token_endpoint_binds_the_tokens_and_userinfo_wants_the_key(app: TestApp) {
    let key = DeviceKey::generate().unwrap();
    let code = code_for(&app, CLIENT_ID, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let res = token_request(&app, Some((CLIENT_ID, CLIENT_SECRET)), &form, Some(&key)).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(cnf_of(access)["jkt"], key.thumbprint());
    // The right key over this token: the claims.
    let ok = userinfo(&app, "DPoP", access, Some(&key)).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.json::<Value>().await.unwrap()["sub"].is_string());
    // As a bearer token, without a proof, or with another key: refused.
    let bearer = userinfo(&app, "Bearer", access, None).await;
    assert_eq!(bearer.status(), 401);
    assert!(
        bearer.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP")
    );
    assert_eq!(userinfo(&app, "DPoP", access, None).await.status(), 401);
    let other = DeviceKey::generate().unwrap();
    let res = userinfo(&app, "DPoP", access, Some(&other)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_token");
    // Introspection names the type as used.
    let intro = crate::provider::introspect(&app, access).await;
    assert_eq!(intro["token_type"], "DPoP");
    // A broken proof at the token endpoint is 400 invalid_dpop_proof (RFC 9449 section 5).
    let code = code_for(&app, CLIENT_ID, &[]).await;
    let url = app.url("/oidc/token");
    let res = http_client()
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("DPoP", "not-a-proof")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
}

async fn dpop_jkt_at_authorize_pins_the_key_of_the_code(app: TestApp) {
    let key = DeviceKey::generate().unwrap();
    let other = DeviceKey::generate().unwrap();
    let code = code_for(&app, CLIENT_ID, &[("dpop_jkt", key.thumbprint())]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let res = token_request(&app, Some((CLIENT_ID, CLIENT_SECRET)), &form, Some(&other)).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("dpop_jkt")
    );
    // The code is spent by that attempt (single use); a new one with the right key works.
    let code = code_for(&app, CLIENT_ID, &[("dpop_jkt", key.thumbprint())]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let res = token_request(&app, Some((CLIENT_ID, CLIENT_SECRET)), &form, Some(&key)).await;
    assert_eq!(res.status(), 200);
    // A malformed dpop_jkt is invalid_request.
    let back = until_redirect(
        &app,
        &app.client,
        &authorize_url(&app, CLIENT_ID, &[("dpop_jkt", "short")]),
    )
    .await;
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
}

async fn a_public_clients_refresh_token_is_bound_to_its_key(app: TestApp) {
    let key = DeviceKey::generate().unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code = code_for(
        &app,
        PUBLIC_ID,
        &[
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", PUBLIC_ID),
        ("code_verifier", verifier),
    ];
    let tokens: Value = token_request(&app, None, &form, Some(&key))
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", PUBLIC_ID),
    ];
    // Without a proof, or with another key: refused, and the token is not spent.
    let res = token_request(&app, None, &form, None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let other = DeviceKey::generate().unwrap();
    assert_eq!(
        token_request(&app, None, &form, Some(&other))
            .await
            .status(),
        400
    );
    // With its key: new tokens, bound again.
    let res = token_request(&app, None, &form, Some(&key)).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["token_type"], "DPoP");
    assert_eq!(
        cnf_of(again["access_token"].as_str().unwrap())["jkt"],
        key.thumbprint()
    );
}

async fn a_portal_registered_for_dpop_gets_no_bearer_token(app: TestApp) {
    let code = code_for(&app, DPOP_ID, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let res = token_request(&app, Some((DPOP_ID, DPOP_SECRET)), &form, None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let key = DeviceKey::generate().unwrap();
    let res = token_request(&app, Some((DPOP_ID, DPOP_SECRET)), &form, Some(&key)).await;
    assert_eq!(
        res.status(),
        200,
        "the code was not spent by the refused request"
    );
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "DPoP");
}
