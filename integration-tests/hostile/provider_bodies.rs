//! Hostile bodies at the OpenID provider's form endpoints (`/oidc/token`, `/oidc/revoke`,
//! `/oidc/introspect`): oversized (also chunked), not a form, invalid UTF-8, repeated
//! parameters. Each gets a 4xx with an RFC 6749 section 5.2 body (JSON `error` and
//! `error_description`, `Cache-Control: no-store`), never a 5xx, and writes nothing.

use reqwest::Response;
use serde_json::Value;

use super::raw_request;
use crate::helpers::{Backend, spawn_app_with_settings};

per_backend!(the_provider_endpoints_answer_hostile_bodies_with_an_rfc_6749_error);

const PORTAL: &str = "hostile-portal";
const PORTAL_SECRET: &str = "hostile-portal-secret-0123456789";
const FORM: &str = "application/x-www-form-urlencoded";

/// The error codes of RFC 6749 section 5.2 (RFC 7009 and RFC 7662 reuse them).
const RFC_6749_ERRORS: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// A 4xx with an RFC 6749 section 5.2 body, not cached; returns `error`.
async fn assert_oauth_error(res: Response, what: &str) -> String {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    assert!((400..500).contains(&status), "{what}: {status} {text}");
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    // RFC 6749 section 5.2: `error` is printable ASCII without `"` or `\`.
    assert!(
        !error.is_empty() && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{what}: {body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    error
}

async fn the_provider_endpoints_answer_hostile_bodies_with_an_rfc_6749_error(backend: Backend) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.provider.clients = vec![devicelink::provider::ClientSettings {
            client_id: PORTAL.to_owned(),
            name: "Hostile portal".to_owned(),
            secret: Some(PORTAL_SECRET.to_owned()),
            jwks: None,
            redirect_uris: vec!["http://127.0.0.1:9/cb".to_owned()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["profile".to_owned()],
            public: false,
            audiences: vec![],
            id_token_signed_response_alg: devicelink::config::IdTokenAlg::default(),
            backchannel_logout_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            fapi2: false,
        }];
    })
    .await
    else {
        return;
    };
    let max = app.settings.server.max_body_bytes;
    let post = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = app
            .client
            .post(app.url(path))
            .basic_auth(PORTAL, Some(PORTAL_SECRET))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    for path in ["/oidc/token", "/oidc/revoke", "/oidc/introspect"] {
        // Oversized: refused while reading, before anything is parsed.
        let big = format!("grant_type=authorization_code&code={}", "a".repeat(max));
        let res = post(path, Some(FORM), big.into_bytes()).await.unwrap();
        assert_eq!(res.status(), 413, "{path}");
        assert_eq!(assert_oauth_error(res, path).await, "payload_too_large");
        // Not a form: JSON, plain text, no Content-Type at all.
        for content_type in [Some("application/json"), Some("text/plain"), None] {
            let res = post(path, content_type, br#"{"grant_type":"x"}"#.to_vec())
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{path} {content_type:?}");
            assert_eq!(
                assert_oauth_error(res, path).await,
                "invalid_request",
                "{path} {content_type:?}"
            );
        }
        // Invalid UTF-8 in values and in a name: decoded leniently (WHATWG), then taken
        // for the garbled parameters they are: at the token endpoint an RFC 6749 error;
        // revocation and introspection answer an unknown token as their RFCs say (RFC
        // 7009 section 2.2: 200; RFC 7662 section 2.2: 200 `{"active": false}`).
        let garbled = b"grant_type=\xff\xfe&code=\xc0\xaf&token=\xed\xa0\x80&\xff=1".to_vec();
        let res = post(path, Some(FORM), garbled).await.unwrap();
        match path {
            "/oidc/token" => {
                let error = assert_oauth_error(res, path).await;
                assert!(RFC_6749_ERRORS.contains(&error.as_str()), "{path}: {error}");
            }
            "/oidc/revoke" => {
                assert_eq!(res.status(), 200, "{path}");
                assert_eq!(res.headers()["cache-control"], "no-store");
            }
            _ => {
                assert_eq!(res.status(), 200, "{path}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body, serde_json::json!({"active": false}), "{path}");
            }
        }
        // A repeated parameter (RFC 6749 section 3.2: parameters MUST NOT repeat).
        let repeated = b"grant_type=authorization_code&grant_type=refresh_token&token=a&token=b";
        let res = post(path, Some(FORM), repeated.to_vec()).await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(assert_oauth_error(res, path).await, "invalid_request");
    }
    // Chunked, without Content-Length: the bound holds while reading.
    let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
    let mut raw = format!(
        "POST /oidc/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..(max / 1024 + 2) {
        raw.push_str(&chunk);
    }
    raw.push_str("0\r\n\r\n");
    let answer = raw_request(&app, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"error\":\"payload_too_large\""),
        "{answer}"
    );
    for table in [
        "provider_grants",
        "provider_codes",
        "provider_refresh_tokens",
    ] {
        assert_eq!(app.count_rows(table), 0, "{table}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
}
