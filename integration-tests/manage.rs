//! "Unlink my device" in the browser: re-authentication at eAccess, the device list and
//! activity, unlinking one or several devices without having them.

use devicelink::mock_idp::MockIdpSettings;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, hidden_value, location, location_path, spawn_app_with};

backend_tests!(
    the_device_page_requires_a_fresh_authentication_at_eaccess,
    a_reauthentication_by_another_identity_is_refused,
    unlinking_one_then_two_devices_is_immediate_and_recorded,
    the_device_list_is_available_as_json,
    the_email_link_preselects_the_device,
);

/// Follows "Unlink my device" through the mock eAccess as `identity`; returns the
/// callback's response.
pub(crate) async fn reauthenticate(app: &TestApp, path: &str, identity: &str) -> reqwest::Response {
    let res = app.get(path).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/auth/reauth");
    let res = app.client.get(location(&res)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let eaccess = location(&res);
    let query: std::collections::HashMap<_, _> = eaccess.query_pairs().into_owned().collect();
    assert_eq!(query["prompt"], "login");
    assert_eq!(query["max_age"], "0");
    let callback = app
        .eaccess_login(&eaccess, identity, "luxtrust_mobile")
        .await;
    app.client.get(callback).send().await.unwrap()
}

async fn link_devices(
    app: &TestApp,
    names: &[&str],
) -> Vec<devicelink::device_client::DeviceClient> {
    let mut devices = Vec::new();
    for name in names {
        let (id, code) = app.new_qr_code("").await;
        let scanned = app.scan_qr(&id, &code).await;
        let mut device = app.device();
        device
            .link_with_qr(name, &scanned, "482913", false)
            .await
            .unwrap();
        devices.push(device);
    }
    devices
}

async fn the_device_page_requires_a_fresh_authentication_at_eaccess(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let res = reauthenticate(&app, "/devices", "marie").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/devices");
    let page = app.get("/devices").await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("No device is linked"));
    assert!(
        body.contains("Confirmed identity to manage devices"),
        "activity lists the re-authentication"
    );
}

async fn a_reauthentication_by_another_identity_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let res = reauthenticate(&app, "/devices", "luc").await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("reauthentication_mismatch")
    );
    let res = app.get("/devices").await;
    assert_eq!(res.status(), 303, "still not allowed");
}

async fn unlinking_one_then_two_devices_is_immediate_and_recorded(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut devices = link_devices(&app, &["Phone A", "Phone B", "Tablet C"]).await;
    for device in &mut devices {
        device.unlock_with_secret_code("482913").await.unwrap();
        device.me().await.unwrap();
    }
    reauthenticate(&app, "/devices", "marie").await;
    let page = app.get("/devices").await.text().await.unwrap();
    for name in ["Phone A", "Phone B", "Tablet C"] {
        assert!(page.contains(name), "{name} listed");
    }
    let csrf = hidden_value(&page, "csrf_token");
    let ids: Vec<String> = devices
        .iter()
        .map(|d| d.state.device_id.clone().unwrap())
        .collect();

    // One device: review, then confirm.
    let form = format!("csrf_token={csrf}&device={}", ids[0]);
    let review = app
        .client
        .post(app.url("/devices/unlink"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(review.status(), 200);
    let review = review.text().await.unwrap();
    assert!(review.contains("Phone A") && !review.contains("Tablet C"));
    assert_eq!(
        app.count_rows("devices WHERE status = 'unlinked'"),
        0,
        "nothing before confirmation"
    );
    let done = app
        .client
        .post(app.url("/devices/unlink/confirm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done).query(), Some("unlinked=1"));
    assert_eq!(app.count_rows("devices WHERE status = 'unlinked'"), 1);
    // At once: the unlinked device's token and key are refused, the others still work.
    let err = devices[0].me().await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_token"))
    );
    let err = devices[0]
        .unlock_with_secret_code("482913")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_device"))
    );
    devices[1].me().await.unwrap();
    devices[2].unlock_with_secret_code("482913").await.unwrap();

    // Two at once.
    let form = format!("csrf_token={csrf}&device={}&device={}", ids[1], ids[2]);
    let done = app
        .client
        .post(app.url("/devices/unlink/confirm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done).query(), Some("unlinked=2"));
    assert_eq!(app.count_rows("devices WHERE status = 'unlinked'"), 3);
    for device in &mut devices[1..] {
        let err = device.me().await.unwrap_err();
        assert_eq!(err.code(), Some("invalid_token"));
    }
    let live_refresh =
        app.count_rows("refresh_tokens WHERE revoked_at IS NULL AND spent_at IS NULL");
    assert_eq!(live_refresh, 0, "every refresh token revoked");
    assert_eq!(app.count_rows("secret_codes"), 0, "verifiers deleted");
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_unlinked'"), 3);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_unlinked'"),
        3
    );
    let page = app.get("/devices").await.text().await.unwrap();
    assert!(page.contains("No device is linked"));
    assert!(page.contains("Device “Phone A” unlinked (from the browser)"));
    assert!(
        page.contains("App opened on “Phone B”"),
        "unlocks are in the activity"
    );

    // An unlinked key may link again (to any account), as a new device.
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    devices[0]
        .link_with_qr("Phone A again", &scanned, "482913", false)
        .await
        .unwrap();
}

async fn the_device_list_is_available_as_json(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    link_devices(&app, &["Phone A"]).await;
    let res = app.get("/devices.json").await;
    assert_eq!(res.status(), 303, "JSON needs the re-authentication too");
    reauthenticate(&app, "/devices", "marie").await;
    let body: serde_json::Value = app.get("/devices.json").await.json().await.unwrap();
    assert_eq!(body["devices"][0]["name"], "Phone A");
    assert_eq!(body["devices"][0]["state"], "active");
    assert_eq!(body["devices"][0]["method"], "qr");
    assert!(
        body["activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "device_linked")
    );
}

async fn the_email_link_preselects_the_device(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let devices = link_devices(&app, &["Phone A"]).await;
    let id = devices[0].state.device_id.clone().unwrap();
    let res = reauthenticate(&app, &format!("/devices?device={id}"), "marie").await;
    assert_eq!(
        location(&res).query(),
        Some(format!("device={id}").as_str())
    );
    let page = app
        .get(&format!("/devices?device={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!(
        "value=\"{id}\" id=\"pick-{id}\" aria-label=\"Unlink Phone A\" checked"
    )));
}

fn stale(s: &mut MockIdpSettings) {
    s.faults.auth_time_backdate_secs = 3600;
}

#[tokio::test]
async fn an_old_reauthentication_is_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, stale).await else {
            continue;
        };
        app.sign_in_registered("marie", "luxtrust_mobile").await;
        let res = reauthenticate(&app, "/devices", "marie").await;
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("reauthentication_too_old")
        );
    }
}
