//! Pushed authorization requests (RFC 9126) over HTTP, on SQLite and PostgreSQL: a pushed
//! request signs in and its `request_uri` works once; a portal registered with
//! `require_pushed_authorization_requests` cannot send a plain request; bad pushes are
//! refused with the RFC's errors and store nothing.

use serde_json::Value;

use crate::helpers::{TestApp, http_client, location};
use crate::provider::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, query, redeem, until_redirect};

const PAR_ID: &str = "par-portal";
const PAR_SECRET: &str = "par-portal-secret-0123";

crate::provider_tests!(
    spawn: super::spawn;
    a_pushed_request_signs_in_and_its_request_uri_works_once,
    a_portal_that_must_push_cannot_send_a_plain_request,
    bad_pushes_are_refused_and_store_nothing,
);

async fn spawn(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::provider::spawn_with(backend, |s| {
        let mut par = s.provider.clients[0].clone();
        par.client_id = PAR_ID.into();
        par.secret = Some(PAR_SECRET.into());
        par.require_pushed_authorization_requests = true;
        s.provider.clients.push(par);
    })
    .await
}

fn authorization_params(client_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("scope", "openid profile".into()),
        ("state", "st-par".into()),
        ("nonce", "n-par".into()),
    ]
}

async fn push(
    app: &TestApp,
    id: &str,
    secret: &str,
    params: &[(&str, String)],
) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/par"))
        .basic_auth(id, Some(secret))
        .form(params)
        .send()
        .await
        .unwrap()
}

fn authorize_with(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

async fn a_pushed_request_signs_in_and_its_request_uri_works_once(app: TestApp) {
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        app.url("/oidc/par")
    );
    let res = push(&app, PAR_ID, PAR_SECRET, &authorization_params(PAR_ID)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 60);
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let back = until_redirect(
        &app,
        &app.client,
        &authorize_with(&app, PAR_ID, &request_uri),
    )
    .await;
    assert_eq!(
        query(&back, "state").as_deref(),
        Some("st-par"),
        "the pushed state"
    );
    let code = query(&back, "code").expect("a code");
    let tokens = http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(PAR_ID, Some(PAR_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    // Used once: the same request_uri is refused (shown as a page, never redirected).
    let again = app
        .client
        .get(authorize_with(&app, PAR_ID, &request_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("already used or is too old")
    );
    // Another client cannot use a pushed request.
    let res = push(&app, PAR_ID, PAR_SECRET, &authorization_params(PAR_ID)).await;
    let uri = res.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let stolen = app
        .client
        .get(authorize_with(&app, CLIENT_ID, &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 400);
}

async fn a_portal_that_must_push_cannot_send_a_plain_request(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut url = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    for (k, v) in authorization_params(PAR_ID) {
        url.query_pairs_mut().append_pair(k, &v);
    }
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI));
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert!(
        query(&back, "error_description")
            .unwrap()
            .contains("/oidc/par")
    );
    // Other portals still may.
    let back = until_redirect(
        &app,
        &app.client,
        &crate::provider::authorize_url(&app, CLIENT_ID, &[]),
    )
    .await;
    let code = query(&back, "code").expect("a code");
    assert_eq!(redeem(&app, &code).await.status(), 200);
}

async fn bad_pushes_are_refused_and_store_nothing(app: TestApp) {
    let params = authorization_params(PAR_ID);
    let res = push(&app, PAR_ID, "wrong-secret-0123456789", &params).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let mut unregistered = params.clone();
    unregistered[2].1 = "https://evil.example/cb".into();
    let mut nested = params.clone();
    nested.push(("request_uri", "urn:ietf:params:oauth:request_uri:x".into()));
    let mut no_openid = params.clone();
    no_openid[3].1 = "profile".into();
    for (bad, code) in [
        (unregistered, "invalid_request"),
        (nested, "invalid_request"),
        (no_openid, "invalid_scope"),
    ] {
        let res = push(&app, PAR_ID, PAR_SECRET, &bad).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], code);
    }
    assert_eq!(app.count_rows("provider_pushed_requests"), 0);
    // Naming another client than the authenticated one is invalid_client.
    let mut other_client = params.clone();
    other_client[1].1 = CLIENT_ID.into();
    let res = push(&app, PAR_ID, PAR_SECRET, &other_client).await;
    assert_eq!(res.status(), 401);
    // Another portal's secret is not PAR's.
    let res = push(&app, PAR_ID, CLIENT_SECRET, &params).await;
    assert_eq!(res.status(), 401);
}
