//! Hostile input and abuse over real HTTP: oversized, nested, mistyped and garbled
//! requests get a 4xx with a clear error (never a 5xx or a hang); rate limits answer 429
//! with Retry-After, count across instances, and a flood from one address does not
//! lock out anyone else; clock skew of DPoP proofs and eAccess ID tokens.

use std::net::TcpListener;

use chrono::{TimeDelta, Utc};
use devicelink::Application;
use devicelink::device_client::{ClientError, DeviceClient};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, location_path, spawn_app_custom, spawn_app_with_settings};

use rate_limits::{assert_rate_limited, qr_path, signed_post};

backend_tests!(
    oversized_json_and_form_bodies_get_413_with_the_json_envelope,
    deeply_nested_json_gets_400_with_the_json_envelope,
    wrong_content_types_get_415_with_the_json_envelope,
    invalid_utf8_bodies_get_400_with_the_json_envelope,
    huge_headers_and_query_strings_get_a_4xx,
    oversized_and_garbled_portal_forms_get_the_html_error_page,
    dpop_proofs_a_few_seconds_off_are_accepted_and_an_hour_off_refused,
);

/// Declares `<name>::sqlite` and `<name>::postgres` for a test body taking the backend
/// (tests that need their own settings or several instances).
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

// After `per_backend!`, which they use too.
mod provider_bodies;
mod rate_limits;

per_backend!(
    link_creation_is_limited_per_address_with_retry_after,
    rate_limits_are_shared_by_two_instances_on_one_database,
    a_flood_from_one_address_behind_the_proxy_does_not_lock_out_other_citizens,
    without_trusted_proxies_x_forwarded_for_cannot_escape_the_limit,
    id_tokens_with_small_clock_skew_are_accepted,
    id_tokens_an_hour_off_are_refused,
);

/// Asserts a 4xx answer with the stable JSON envelope; returns `error`.
/// Reads an error answer (checked against the OpenAPI contract) and returns its code.
async fn assert_api_error(method: &str, res: Response, status: u16) -> String {
    let res = crate::contract::check_response(method, res).await;
    assert_eq!(res.status, status, "expected {status}: {}", res.text);
    let content_type = res.headers["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = res.json();
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body["error"].as_str().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Response {
    // A server may answer 413 and close the connection before the client has sent the whole
    // oversized body (RFC 9112 section 9.6); the client then sees the connection end instead
    // of the answer. Only that case is tried again, never a missing answer.
    for attempt in 1..=3 {
        match app
            .client
            .request(method.clone(), app.url(path))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
        {
            Ok(res) => return res,
            Err(err) if attempt < 3 && err.is_request() => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(err) => panic!("the server answers: {err:?}"),
        }
    }
    unreachable!("the loop returns or panics")
}

/// The JSON endpoints of the device and link APIs that take a body.
const JSON_ENDPOINTS: [(&str, &str); 4] = [
    ("POST", "/api/v1/links"),
    ("POST", "/api/v1/links/abc/qr"),
    ("PUT", "/api/v1/links/abc/secret-code"),
    ("POST", "/api/v1/device/unlock"),
];

fn method(name: &str) -> Method {
    name.parse().unwrap()
}

async fn oversized_json_and_form_bodies_get_413_with_the_json_envelope(app: TestApp) {
    let max = app.settings.server.max_body_bytes;
    let big = format!("{{\"device_name\":\"{}\"}}", "a".repeat(max));
    for (m, path) in JSON_ENDPOINTS {
        let res = send(
            &app,
            method(m),
            path,
            "application/json",
            big.clone().into_bytes(),
        )
        .await;
        assert_eq!(
            assert_api_error(m, res, 413).await,
            "payload_too_large",
            "{path}"
        );
    }
    // Without Content-Length (chunked): the limit holds while reading.
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    let mut raw = String::from(
        "POST /api/v1/links HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
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
    // The token endpoint takes a form.
    let form = format!("grant_type=refresh_token&refresh_token={}", "a".repeat(max));
    let res = send(
        &app,
        Method::POST,
        "/api/v1/device/token",
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(
        assert_api_error("POST", res, 413).await,
        "payload_too_large"
    );
    assert_eq!(app.count_rows("link_sessions"), 0);
}

async fn deeply_nested_json_gets_400_with_the_json_envelope(app: TestApp) {
    let depth = app.settings.server.max_body_bytes / 2 - 16;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth / 6), "}".repeat(depth / 6));
    let unclosed = "[".repeat(depth * 2 - 8);
    for body in [arrays, objects, unclosed] {
        for (m, path) in JSON_ENDPOINTS {
            let res = send(
                &app,
                method(m),
                path,
                "application/json",
                body.clone().into_bytes(),
            )
            .await;
            assert_eq!(
                assert_api_error(m, res, 400).await,
                "invalid_request",
                "{path}"
            );
        }
    }
    // Nested where a string is expected, inside a valid envelope.
    let deep = format!(
        "{{\"device_name\":{}1{},\"method\":\"qr\"}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    let res = send(
        &app,
        Method::POST,
        "/api/v1/links",
        "application/json",
        deep.into_bytes(),
    )
    .await;
    assert_eq!(assert_api_error("POST", res, 400).await, "invalid_request");
    assert_eq!(app.count_rows("link_sessions"), 0);
}

async fn wrong_content_types_get_415_with_the_json_envelope(app: TestApp) {
    let body = br#"{"device_name":"x"}"#.to_vec();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
    ] {
        for (m, path) in JSON_ENDPOINTS {
            let res = send(&app, method(m), path, content_type, body.clone()).await;
            assert_eq!(
                assert_api_error(m, res, 415).await,
                "unsupported_media_type",
                "{path} {content_type}"
            );
        }
    }
    // No Content-Type at all.
    let res = app
        .client
        .post(app.url("/api/v1/links"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_api_error("POST", res, 415).await,
        "unsupported_media_type"
    );
    // JSON where the token endpoint takes a form.
    let res = send(
        &app,
        Method::POST,
        "/api/v1/device/token",
        "application/json",
        body,
    )
    .await;
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    assert!(!assert_api_error("POST", res, status).await.is_empty());
}

async fn invalid_utf8_bodies_get_400_with_the_json_envelope(app: TestApp) {
    // Invalid bytes in a field each endpoint reads (serde skips unknown fields unread),
    // a byte-order mark, an overlong encoding, a lone surrogate.
    let bodies: [&[u8]; 4] = [
        b"{\"device_name\":\"\xff\xfe\",\"method\":\"\xff\",\"code\":\"\xff\",\"secret_code\":\"\xff\"}",
        b"\xef\xbb\xbf{}",
        b"\xc0\xaf",
        b"{\"method\":\"\xed\xa0\x80\",\"code\":\"\xed\xa0\x80\",\"device_name\":\"\xed\xa0\x80\",\"secret_code\":\"\xed\xa0\x80\"}",
    ];
    for body in bodies {
        for (m, path) in JSON_ENDPOINTS {
            let res = send(&app, method(m), path, "application/json", body.to_vec()).await;
            assert_eq!(
                assert_api_error(m, res, 400).await,
                "invalid_request",
                "{path}"
            );
        }
    }
    let res = send(
        &app,
        Method::POST,
        "/api/v1/device/token",
        "application/x-www-form-urlencoded",
        b"grant_type=refresh_token&refresh_token=\xff\xfe".to_vec(),
    )
    .await;
    // Forms decode bytes leniently (WHATWG URL); the garbled token is then refused.
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    assert!(!assert_api_error("POST", res, status).await.is_empty());
    assert_eq!(app.count_rows("link_sessions"), 0);
}

async fn huge_headers_and_query_strings_get_a_4xx(app: TestApp) {
    let huge = "a".repeat(64 * 1024);
    let res = app
        .client
        .get(app.url("/api/v1/device/me"))
        .header("x-junk", huge.as_str())
        .send()
        .await
        .expect("the server answers instead of hanging up");
    assert_eq!(assert_api_error("GET", res, 431).await, "headers_too_large");
    let res = app
        .client
        .get(app.url("/dashboard"))
        .header("x-junk", huge.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 431);
    assert!(res.text().await.unwrap().contains("headers_too_large"));
    let res = app
        .client
        .get(app.url(&format!("/api/v1/device/me?{}", &huge[..12 * 1024])))
        .send()
        .await
        .expect("the server answers instead of hanging up");
    assert_eq!(assert_api_error("GET", res, 414).await, "uri_too_long");
    // A long but acceptable query string on a page with a typed query: a clear 400. A new
    // connection: the server may close one after a 414, and a pooled one could be it.
    let res = crate::helpers::http_client()
        .get(app.url(&format!(
            "/auth/eaccess/callback?state={}",
            "s".repeat(8000)
        )))
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    // A huge DPoP header is refused by its own bound, with the envelope.
    let res = app
        .client
        .post(app.url("/api/v1/device/unlock"))
        .header("DPoP", "e".repeat(10 * 1024))
        .json(&json!({"method": "secret_code", "secret_code": "135790"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_api_error("POST", res, 401).await,
        "invalid_dpop_proof"
    );
    // Many headers.
    let mut request = app.client.get(app.url("/healthz"));
    for i in 0..200 {
        request = request.header(format!("x-h{i}"), "v");
    }
    let status = request.send().await.unwrap().status().as_u16();
    assert!(status == 200 || status == 431, "{status}");
    // Beyond what the HTTP parser buffers at all: a 431 or a closed connection, never a
    // hang (the server may close before it has read everything).
    let raw = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let answer = raw_request(&app, raw.as_bytes()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // The server is still healthy.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn oversized_and_garbled_portal_forms_get_the_html_error_page(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let max = app.settings.server.max_body_bytes;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/x-www-form-urlencoded",
            format!("csrf_token={}", "a".repeat(max)).into_bytes(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"csrf_token=\xff\xfe&email=%ZZ".to_vec(),
        ),
        ("application/json", br#"{"csrf_token":"x"}"#.to_vec()),
        ("text/plain", b"csrf_token=x".to_vec()),
    ];
    for path in ["/register", "/devices/unlink", "/auth/logout", "/espaces"] {
        for (i, (content_type, body)) in cases.iter().enumerate() {
            let res = send(&app, Method::POST, path, content_type, body.clone()).await;
            let status = res.status().as_u16();
            // A route that checks the session before the form may send the browser on
            // (303, e.g. to re-authenticate); an oversized body never gets that far.
            if status == 303 && i > 0 {
                continue;
            }
            assert!(
                (400..500).contains(&status),
                "{path} {content_type}: {status}"
            );
            let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            let page = res.text().await.unwrap();
            assert!(page.contains("<html"), "{path}: an error page");
        }
    }
    // Still signed in: nothing was changed.
    assert_eq!(app.get("/dashboard").await.status(), 200);
}

/// Sends `body` to `path` with a proof made `offset` away from now (the phone's clock),
/// retrying once with the server nonce if asked.
async fn post_with_clock_offset(
    app: &TestApp,
    device: &DeviceClient,
    path: &str,
    body: &Value,
    offset: TimeDelta,
) -> Response {
    let url: url::Url = app.url(path).parse().unwrap();
    let mut nonce: Option<String> = None;
    loop {
        let proof = device
            .key()
            .proof_at("POST", &url, None, nonce.as_deref(), Utc::now() + offset)
            .unwrap();
        let res = app
            .client
            .post(url.clone())
            .header("DPoP", proof)
            .json(body)
            .send()
            .await
            .unwrap();
        let fresh = res
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned());
        if res.status() == 401 && nonce.is_none() && fresh.is_some() {
            nonce = fresh;
            continue;
        }
        return res;
    }
}

async fn dpop_proofs_a_few_seconds_off_are_accepted_and_an_hour_off_refused(app: TestApp) {
    let body_for = |device: &DeviceClient| {
        json!({
            "device_name": "Phone",
            "method": "qr",
            "platform": "other",
            "device_key": device.key().public_jwk(),
        })
    };
    let past = app.settings.dpop.iat_past_secs;
    let future = app.settings.dpop.iat_future_secs;
    for offset in [-3, 3, -(past - 10), future - 2] {
        let device = app.device();
        let res = post_with_clock_offset(
            &app,
            &device,
            "/api/v1/links",
            &body_for(&device),
            TimeDelta::seconds(offset),
        )
        .await;
        assert_eq!(res.status(), 201, "a proof {offset} s off is accepted");
    }
    for (offset, words) in [(-3600, "too old"), (3600, "in the future")] {
        let device = app.device();
        let res = post_with_clock_offset(
            &app,
            &device,
            "/api/v1/links",
            &body_for(&device),
            TimeDelta::seconds(offset),
        )
        .await;
        assert_eq!(res.status(), 401, "a proof {offset} s off is refused");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert!(
            body["error_description"].as_str().unwrap().contains(words),
            "{body}"
        );
    }
    assert_eq!(app.count_rows("link_sessions"), 4);
}

fn api_code(err: &ClientError) -> (u16, &str) {
    (err.status().unwrap_or(0), err.code().unwrap_or("-"))
}

fn retry_after(err: &ClientError) -> i64 {
    let ClientError::Api { body, .. } = err else {
        panic!("not an API error: {err:?}")
    };
    body["retry_after"].as_i64().unwrap()
}

async fn link_creation_is_limited_per_address_with_retry_after(backend: Backend) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.linking.link_creations_per_minute_per_address = 3;
    })
    .await
    else {
        return;
    };
    for _ in 0..3 {
        app.device().start_qr_link("Phone").await.unwrap();
    }
    // The limit counts before the body is even read: a fresh key does not help.
    let url = app.url("/api/v1/links");
    let res = app
        .client
        .post(&url)
        .json(
            &json!({"device_name": "Phone", "method": "qr", "platform": "other", "device_key": {}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(assert_api_error("POST", res, 429).await, "rate_limited");
    let err = app.device().start_qr_link("Phone").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    assert_eq!(app.count_rows("link_sessions"), 3);
}

/// Starts a second devicelink on the same database and settings (another instance behind
/// the load balancer); returns its base URL.
async fn second_instance(app: &TestApp) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = app.settings.clone();
    settings.server.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let server = Application::build(settings, listener).expect("the second instance starts");
    tokio::spawn(server.run_until_stopped());
    let address = format!("http://127.0.0.1:{port}");
    let res = app
        .client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    address
}

fn point_at(device: &mut DeviceClient, address: &str) {
    device.state.server = address.parse().unwrap();
}

async fn rate_limits_are_shared_by_two_instances_on_one_database(backend: Backend) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.linking.link_creations_per_minute_per_address = 4;
        s.tokens.unlock_per_minute_per_device = 3;
        s.linking.qr_redemptions_per_minute = 3;
        // Without X-Forwarded-For a request counts under 127.0.0.1 as before; with it,
        // the QR part below gives one key several addresses.
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let b = second_instance(&app).await;
    // Link creations (per address): A, B, A counted together; the linked device below
    // is the fourth.
    let mut phones = Vec::new();
    for (i, address) in [&app.address, &b, &app.address].into_iter().enumerate() {
        let mut device = app.device();
        point_at(&mut device, address);
        device.start_qr_link(&format!("Phone {i}")).await.unwrap();
        phones.push(device);
    }
    let mut device = app.linked_device("marie", "135790", false).await;
    let mut late = app.device();
    point_at(&mut late, &b);
    assert_eq!(
        api_code(&late.start_qr_link("Phone").await.unwrap_err()),
        (429, "rate_limited")
    );

    // Unlocks (per device key): two on A, one on B, the fourth refused on either.
    device.unlock_with_secret_code("135790").await.unwrap();
    device.unlock_with_secret_code("135790").await.unwrap();
    point_at(&mut device, &b);
    device.unlock_with_secret_code("135790").await.unwrap();
    let err = device.unlock_with_secret_code("135790").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    assert!(retry_after(&err) >= 1);
    point_at(&mut device, &app.address);
    let err = device.unlock_with_secret_code("135790").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    // The header, not only the body (by hand: the app client reads bodies only).
    let unlock = json!({"method": "secret_code", "secret_code": "135790"});
    let res = signed_post(&app, &device, &b, "/api/v1/device/unlock", &unlock, None).await;
    assert_rate_limited(res).await;
    assert_eq!(app.count_rows("refresh_tokens"), 3);

    // QR redemptions, 3 a minute. Per address (127.0.0.1, whose first one linked the
    // device above): a key on A, on B, then another key on A is refused.
    let scan = json!({"code": "garbage"});
    for address in [&app.address, &b] {
        point_at(&mut phones[0], address);
        let err = phones[0].redeem_qr("garbage").await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"));
    }
    let path = qr_path(&phones[1]);
    let res = signed_post(&app, &phones[1], &app.address, &path, &scan, None).await;
    assert_rate_limited(res).await;
    // Per key: one key from four addresses, over A and B in turn; the fourth is refused.
    let path = qr_path(&phones[2]);
    for (i, address) in [&app.address, &b, &app.address].into_iter().enumerate() {
        let from = format!("198.51.100.{i}");
        let res = signed_post(&app, &phones[2], address, &path, &scan, Some(&from)).await;
        assert_eq!(res.status(), 400, "attempt {i}");
    }
    let res = signed_post(&app, &phones[2], &b, &path, &scan, Some("198.51.100.9")).await;
    assert_rate_limited(res).await;
    assert_eq!(
        app.count_rows("link_sessions WHERE account_id IS NOT NULL"),
        1,
        "only the linked device's link was bound"
    );
}

async fn a_flood_from_one_address_behind_the_proxy_does_not_lock_out_other_citizens(
    backend: Backend,
) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.linking.link_creations_per_minute_per_address = 3;
        s.linking.qr_redemptions_per_minute = 3;
        s.tokens.unlock_per_minute_per_address = 3;
    })
    .await
    else {
        return;
    };
    // A citizen links and unlocks from her own address.
    let mut marie = app.device();
    marie.set_header("x-forwarded-for", "198.51.100.7").unwrap();
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;

    // The attacker floods link creation, QR redemption and unlock from one address.
    let attacker = "203.0.113.66";
    for i in 0..3 {
        let mut flood = app.device();
        flood.set_header("x-forwarded-for", attacker).unwrap();
        flood.start_qr_link(&format!("Flood {i}")).await.unwrap();
        if i == 0 {
            for _ in 0..3 {
                let err = flood.redeem_qr("garbage").await.unwrap_err();
                assert_eq!(api_code(&err), (400, "qr_code_invalid"));
            }
            let err = flood.redeem_qr("garbage").await.unwrap_err();
            assert_eq!(api_code(&err), (429, "rate_limited"));
        }
    }
    let mut flood = app.device();
    flood.set_header("x-forwarded-for", attacker).unwrap();
    // The client-written entry on the left is ignored; the proxy's right-most one counts.
    flood
        .set_header("x-forwarded-for", &format!("192.0.2.{}, {attacker}", 9))
        .unwrap();
    let err = flood.start_qr_link("Flood").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));

    // Marie, from another address, is not affected.
    marie
        .link_with_qr("Marie's phone", &scanned, "135790", false)
        .await
        .expect("another citizen links during the flood");
    // Unlock floods from the attacker's address (with a key that is not linked).
    for _ in 0..4 {
        let _ = flood.unlock_with_secret_code("135790").await;
    }
    let err = flood.unlock_with_secret_code("135790").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    marie.unlock_with_secret_code("135790").await.unwrap();
    // The proxy's own address (no X-Forwarded-For) is a different bucket, too.
    app.device().start_qr_link("Direct").await.unwrap();
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 0"), 1);
}

async fn without_trusted_proxies_x_forwarded_for_cannot_escape_the_limit(backend: Backend) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.linking.link_creations_per_minute_per_address = 2;
    })
    .await
    else {
        return;
    };
    for i in 0..2 {
        let mut device = app.device();
        device
            .set_header("x-forwarded-for", &format!("203.0.113.{i}"))
            .unwrap();
        device.start_qr_link("Phone").await.unwrap();
    }
    let mut device = app.device();
    device
        .set_header("x-forwarded-for", "203.0.113.99")
        .unwrap();
    let err = device.start_qr_link("Phone").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
}

async fn sign_in_with_skewed_id_token(
    backend: Backend,
    skew_secs: i64,
) -> Option<(TestApp, Response)> {
    let app = spawn_app_custom(
        backend,
        |mock| mock.faults.id_token_clock_skew_secs = skew_secs,
        |_| {},
    )
    .await?;
    let res = app.sign_in("marie", "luxtrust_mobile").await;
    Some((app, res))
}

async fn id_tokens_with_small_clock_skew_are_accepted(backend: Backend) {
    for skew in [-30, 30] {
        let Some((_app, res)) = sign_in_with_skewed_id_token(backend, skew).await else {
            return;
        };
        assert_eq!(res.status(), 303, "skew {skew}");
        assert_eq!(location_path(&res), "/register", "skew {skew}: signed in");
    }
}

async fn id_tokens_an_hour_off_are_refused(backend: Backend) {
    for skew in [-3600, 3600] {
        let Some((app, res)) = sign_in_with_skewed_id_token(backend, skew).await else {
            return;
        };
        let status = res.status().as_u16();
        assert!(
            (400..600).contains(&status) && status != 500,
            "skew {skew}: {status}"
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("sign_in_failed"), "skew {skew}: {page}");
        assert_eq!(app.get("/dashboard").await.status(), 303, "not signed in");
        assert_eq!(app.count_rows("accounts"), 0);
    }
}

/// Sends raw bytes over TCP and reads the answer until the server closes.
async fn raw_request(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before reading everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers instead of hanging");
    String::from_utf8_lossy(&answer).into_owned()
}
