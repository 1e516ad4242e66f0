//! Errors by the RFCs (issue 17): a wrong method is 405 with `Allow`.
//! Runs on SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, http_client};

crate::provider_tests!(a_wrong_method_is_405_with_allow_and_an_unknown_path_stays_404,);

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
        (Method::POST, "/healthz", "GET"),
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
        (Method::POST, "/", "GET"),
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
