//! `GET /metrics`: Prometheus text, requests by route pattern, shared numbers from the
//! database, and the optional bearer token.

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, spawn_app_with_settings};

backend_tests!(
    metrics_count_requests_by_route_and_read_the_outbox_and_lockouts_from_the_database,
    server_errors_are_counted_in_http_errors_total_by_route,
);

async fn metrics_count_requests_by_route_and_read_the_outbox_and_lockouts_from_the_database(
    app: TestApp,
) {
    let mut device = app.linked_device("marie", "482913", false).await;
    for _ in 0..5 {
        let err = device.unlock_with_secret_code("111111").await.unwrap_err();
        assert!(matches!(err.status(), Some(401 | 423)), "{err}");
    }
    assert_eq!(app.get("/no/such/page/42").await.status(), 404);
    app.get("/healthz").await;

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4",
        "Prometheus text exposition format"
    );
    let text = res.text().await.unwrap();
    for expected in [
        // (spawn_app asked /healthz once too)
        r#"devicelink_http_requests_total{method="GET",route="/healthz",status="2xx"} 2"#,
        r#"devicelink_http_requests_total{method="GET",route="unmatched",status="4xx"} 1"#,
        r#"devicelink_http_requests_total{method="POST",route="/api/v1/links/{link_id}/qr",status="2xx"} 1"#,
        r#"devicelink_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 2"#,
        // The link and the lock each queued a mail; the worker may have sent them.
        r#"devicelink_outbox_messages{status="dead"} 0"#,
        "devicelink_device_lockouts 1",
        "devicelink_ready 1",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    assert!(
        !text.contains("/no/such/page"),
        "raw paths never become labels"
    );
    assert!(
        !text.contains("devicelink_device_lockouts_total"),
        "a gauge is not named like a counter"
    );
    assert!(
        text.contains("# TYPE devicelink_device_lockouts gauge"),
        "{text}"
    );
    let queued: i64 = text
        .lines()
        .filter(|l| l.starts_with("devicelink_outbox_messages{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(queued, app.count_rows("outbox"));
}

/// The value of the sample `series` (name and labels, exactly as rendered), 0 if absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

async fn server_errors_are_counted_in_http_errors_total_by_route(app: TestApp) {
    let errors = r#"devicelink_http_errors_total{route="/api/v1/links"}"#;
    let before = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(sample(&before, errors), 0, "{before}");
    // 4xx answers are not server errors.
    let res = app
        .client
        .post(app.url("/api/v1/links"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // Break the database under the running server: link creation counts its rate limit
    // first, in a table that is now gone, and fails with a 500.
    app.execute_sql("DROP TABLE rate_limits");
    for _ in 0..2 {
        let err = app.device().start_qr_link("Phone").await.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(500), Some("internal_error")),
            "{err}"
        );
    }
    let after = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(sample(&after, errors), 2, "{after}");
    assert_eq!(
        sample(
            &after,
            r#"devicelink_http_requests_total{method="POST",route="/api/v1/links",status="5xx"}"#
        ),
        2,
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"devicelink_http_requests_total{method="POST",route="/api/v1/links",status="4xx"}"#
        ),
        1,
        "{after}"
    );
    // Only the failing route's errors changed. Compared with the first scrape: the test
    // harness polls /readyz until eAccess discovery is done, and on a loaded machine an
    // early poll is a (counted) 503 before this test even starts.
    let changed: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("devicelink_http_errors_total{"))
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(
        changed,
        vec![r#"devicelink_http_errors_total{route="/api/v1/links"} 2"#],
        "only the failing route has new errors: {after}"
    );
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_configured() {
    let app = spawn_app_with_settings(Backend::Sqlite, |s| {
        s.metrics.bearer_token = Some("scrape-me-0123456789".into());
    })
    .await
    .unwrap();
    for auth in [None, Some("Bearer wrong"), Some("scrape-me-0123456789")] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer realm=\"metrics\""
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("authorization", "Bearer scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("devicelink_ready"));
}

#[tokio::test]
async fn metrics_switched_off_are_not_found() {
    let app = spawn_app_with_settings(Backend::Sqlite, |s| s.metrics.enabled = false)
        .await
        .unwrap();
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}
