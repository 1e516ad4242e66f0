//! Errors by the RFCs (issue 17): token exchange's proof errors are 400, a wrong method
//! is 405 with `Allow`, a request without credentials gets a challenge without `error`,
//! discovery lists nothing empty, and introspection names the token type as used.
//! Runs on SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, http_client};
use crate::provider::{API, CLIENT_ID, authorize_url, introspect, query, redeem, until_redirect};

crate::provider_tests!(
    token_exchange_answers_proof_errors_with_400_invalid_dpop_proof,
    a_wrong_method_is_405_with_allow_and_an_unknown_path_stays_404,
    a_request_without_credentials_gets_a_challenge_without_an_error_code,
    discovery_lists_no_empty_userinfo_signing_algorithms,
    introspection_names_the_token_type_as_used,
);

fn exchange_form(subject_token: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange".to_owned(),
        ),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token".to_owned(),
        ),
        ("audience", API.to_owned()),
        ("subject_token", subject_token.to_owned()),
    ]
}

async fn token_exchange_answers_proof_errors_with_400_invalid_dpop_proof(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let tokens = device.unlock_with_secret_code("482913").await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let form = exchange_form(&access);
    let token_url = device.url("/oidc/token").unwrap();
    let send = |proof: Option<String>| {
        let mut request = http_client().post(token_url.clone()).form(&form);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let refused = |res: reqwest::Response, reason: &'static str| async move {
        assert_eq!(
            res.status(),
            400,
            "RFC 9449 section 5: 400 at a token endpoint"
        );
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
        assert_eq!(body["reason"], reason, "{body}");
    };
    refused(send(None).await.unwrap(), "missing_proof").await;
    let elsewhere = device
        .proof("POST", &device.url("/api/v1/device/token").unwrap(), None)
        .unwrap();
    refused(send(Some(elsewhere)).await.unwrap(), "htu_mismatch").await;
    let other_key = app.device();
    let foreign = other_key.proof("POST", &token_url, None).unwrap();
    refused(send(Some(foreign)).await.unwrap(), "jkt_mismatch").await;
    assert_eq!(app.count_rows("provider_grants"), 0, "nothing was issued");

    let proof = device.proof("POST", &token_url, None).unwrap();
    let res = send(Some(proof.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    refused(send(Some(proof)).await.unwrap(), "replayed_jti").await;
    assert_eq!(
        app.count_rows("provider_grants"),
        1,
        "only the good proof issued"
    );
}

/// Sends `method path`; returns the status, the `Allow` header and the body.
async fn send(app: &TestApp, method: Method, path: &str) -> (u16, Option<String>, String) {
    let res = http_client()
        .request(method, app.url(path))
        .send()
        .await
        .unwrap();
    let allow = res
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status().as_u16(), allow, res.text().await.unwrap())
}

async fn a_wrong_method_is_405_with_allow_and_an_unknown_path_stays_404(app: TestApp) {
    // JSON endpoints, one or more from each feature: the envelope and `Allow`.
    for (method, path, allow) in [
        (Method::GET, "/oidc/token", "POST"),
        (Method::DELETE, "/oidc/userinfo", "GET, POST"),
        (Method::GET, "/oidc/introspect", "POST"),
        (Method::PUT, "/.well-known/openid-configuration", "GET"),
        (Method::POST, "/.well-known/jwks.json", "GET"),
        (Method::GET, "/api/v1/device/token", "POST"),
        (Method::POST, "/api/v1/me", "GET"),
        (Method::PUT, "/api/v1/device/biometrics", "POST, DELETE"),
        (Method::GET, "/api/v1/links", "POST"),
        (Method::PATCH, "/api/v1/links/abc", "GET, DELETE"),
        (Method::GET, "/api/v1/links/abc/qr", "POST"),
        (Method::GET, "/api/v1/provider/approvals/scan", "POST"),
        (Method::POST, "/healthz", "GET, HEAD"),
    ] {
        let (status, got, body) = send(&app, method.clone(), path).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
        assert!(body["error_description"].is_string());
    }
    // Pages: the error page, with `Allow`.
    for (method, path, allow) in [
        (Method::GET, "/auth/logout", "POST"),
        (Method::POST, "/", "GET, HEAD"),
        (Method::PUT, "/register", "GET, POST"),
        (Method::DELETE, "/devices", "GET"),
        (Method::GET, "/devices/unlink", "POST"),
        (Method::POST, "/oidc/authorize/resume", "GET"),
        (Method::PUT, "/oidc/logout", "GET, POST"),
    ] {
        let (status, got, body) = send(&app, method.clone(), path).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        assert!(body.contains("<html"), "{method} {path}: a page");
    }
    // HEAD answers like GET, without a body (load balancers and link checkers use it).
    for path in ["/", "/healthz", "/readyz"] {
        let (status, _, body) = send(&app, Method::HEAD, path).await;
        let (get_status, _, _) = send(&app, Method::GET, path).await;
        assert_eq!(status, get_status, "HEAD {path}");
        assert_eq!(status, 200, "HEAD {path}");
        assert!(body.is_empty(), "HEAD {path}: {body}");
    }
    // Unknown paths stay 404, whatever the method, without `Allow`.
    for (method, path, is_api) in [
        (Method::GET, "/api/v1/nothing-here", true),
        (Method::POST, "/api/v1/device/nothing", true),
        (Method::GET, "/oidc/nothing", false),
        (Method::DELETE, "/nothing-here", false),
    ] {
        let (status, got, body) = send(&app, method.clone(), path).await;
        assert_eq!((status, got), (404, None), "{method} {path}");
        if is_api {
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"], "not_found");
        } else {
            assert!(body.contains("<html"), "{method} {path}: a page");
        }
    }
    // The routes themselves still answer.
    assert_eq!(send(&app, Method::GET, "/healthz").await.0, 200);
    assert_eq!(
        send(&app, Method::GET, "/.well-known/openid-configuration")
            .await
            .0,
        200
    );
}

fn challenge(res: &reqwest::Response) -> String {
    res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn a_request_without_credentials_gets_a_challenge_without_an_error_code(app: TestApp) {
    // RFC 6750 section 3.1: no credentials, no error in the challenge.
    let userinfo = app.url("/oidc/userinfo");
    let res = http_client().get(&userinfo).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), "Bearer realm=\"devicelink\"");
    let res = http_client()
        .post(&userinfo)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), "Bearer realm=\"devicelink\"");
    // A token that is there but bad still names the error.
    let res = http_client()
        .get(&userinfo)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains("error=\"invalid_token\""));

    let me = app.url("/api/v1/me");
    let res = http_client().get(&me).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), "DPoP realm=\"devicelink\", algs=\"ES256\"");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"], "invalid_token",
        "the envelope keeps its code"
    );
    // Another scheme is no credential for a DPoP resource either.
    let res = http_client()
        .get(&me)
        .bearer_auth("whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), "DPoP realm=\"devicelink\", algs=\"ES256\"");
    let res = http_client()
        .get(&me)
        .header("Authorization", "DPoP not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
}

async fn discovery_lists_no_empty_userinfo_signing_algorithms(app: TestApp) {
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let map = discovery.as_object().unwrap();
    assert!(!map.contains_key("userinfo_signing_alg_values_supported"));
    for (key, value) in map {
        assert!(
            value.as_array().is_none_or(|a| !a.is_empty()),
            "{key} is an empty list"
        );
    }
}

async fn introspection_names_the_token_type_as_used(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    // The browser is signed in already: the portal's sign-in reuses the session.
    let back = until_redirect(&app, &app.client, &authorize_url(&app, CLIENT_ID, &[])).await;
    let code = query(&back, "code").unwrap();
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let access = introspect(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["token_type"], "Bearer");
    let refresh = introspect(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh["active"], true);
    assert!(
        refresh.get("token_type").is_none(),
        "a refresh token has no token type: {refresh}"
    );

    let unlocked = device.unlock_with_secret_code("482913").await.unwrap();
    let form: Vec<(&str, String)> = exchange_form(unlocked["access_token"].as_str().unwrap());
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let exchanged = device
        .call_form(Method::POST, "/oidc/token", &form)
        .await
        .unwrap();
    let bound = introspect(&app, exchanged["access_token"].as_str().unwrap()).await;
    assert_eq!(bound["active"], true);
    assert_eq!(bound["token_type"], "DPoP");
}
