//! Linking a device with a single-use QR code, end to end over HTTP with the reference
//! device client, and every way it can be refused.

use chrono::Utc;
use devicelink::device_client::{ClientError, DeviceClient};
use devicelink::linking::{LinkCode, QrFrames, link_url};
use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

backend_tests!(
    a_device_links_with_a_qr_code_and_the_browser_shows_it_linked,
    a_used_qr_code_is_refused_with_qr_code_already_used,
    twenty_concurrent_redemptions_of_one_code_have_exactly_one_winner,
    an_expired_qr_code_is_refused,
    a_garbled_qr_code_is_refused,
    a_frame_older_than_the_window_is_refused_while_a_fresh_frame_works,
    a_bare_code_is_accepted_only_from_the_no_javascript_page,
    steps_out_of_order_are_refused,
    weak_and_malformed_secret_codes_are_refused,
    a_device_key_already_linked_cannot_link_again,
    requests_without_a_valid_proof_from_the_device_key_are_refused,
    a_passkey_without_user_verification_is_refused,
    cancelling_in_the_browser_voids_the_link,
    an_abandoned_link_leaves_nothing_but_an_audit_event,
    generating_a_new_qr_code_voids_the_previous_one,
);

/// QR redemptions are limited per device key and per address (shared by all instances).
#[tokio::test]
async fn too_many_qr_redemptions_answer_429_with_retry_after() {
    let Some(app) = crate::helpers::spawn_app_with_settings(crate::helpers::Backend::Sqlite, |s| {
        s.linking.qr_redemptions_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    for _ in 0..3 {
        let err = device.redeem_qr("garbage").await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"));
    }
    let err = device.redeem_qr("garbage").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    let ClientError::Api { body, .. } = &err else {
        unreachable!()
    };
    assert!(body["retry_after"].as_i64().unwrap() > 0);
}

fn frames(app: &TestApp) -> QrFrames {
    let key = devicelink::config::decode_secret("k", &app.settings.secrets.qr_frame_key).unwrap();
    QrFrames::with_timing(
        &key,
        app.settings.linking.qr_frame_step_secs,
        app.settings.linking.qr_frame_window_secs,
    )
    .unwrap()
}

fn api_code(err: &ClientError) -> (u16, &str) {
    (err.status().unwrap_or(0), err.code().unwrap_or("-"))
}

async fn a_device_links_with_a_qr_code_and_the_browser_shows_it_linked(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    assert_eq!(app.code_status(&id, &code).await["status"], "waiting");
    let scanned = app.scan_qr(&id, &code).await;
    assert!(
        scanned.starts_with(&format!("{}/link#", app.address)),
        "{scanned}"
    );

    let mut device = app.device();
    let link = device.start_qr_link("Marie's phone").await.unwrap();
    assert_eq!(link["state"], "created");
    let bound = device.redeem_qr(&scanned).await.unwrap();
    assert_eq!(bound["state"], "account_bound");
    assert_eq!(bound["account"]["display_name"], "Marie Schmit");
    let status = app.code_status(&id, &code).await;
    assert_eq!(status["status"], "scanned");
    assert_eq!(status["device_name"], "Marie's phone");

    device.set_secret_code("482913").await.unwrap();
    device.add_passkey().await.unwrap();
    let done = device.complete().await.unwrap();
    assert_eq!(done["state"], "completed");
    assert_eq!(done["biometrics"], true);
    assert!(done["device_id"].as_str().is_some());

    assert_eq!(app.code_status(&id, &code).await["status"], "linked");
    assert_eq!(app.count_rows("devices"), 1);
    assert_eq!(app.count_rows("secret_codes"), 1);
    assert_eq!(app.count_rows("passkeys"), 1);
    let page = app
        .get(&format!("/devices/link/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("is now linked"));

    // The confirmation email is queued with the device and delivered by the file transport.
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_linked'"), 1);
    let mail = wait_for_mail(&app, 1).await;
    assert!(mail[0].contains("marie@example.lu"));
    assert!(mail[0].contains("Marie's phone"));
}

/// Waits (bounded) until the file transport has written `n` messages; returns them.
pub async fn wait_for_mail(app: &TestApp, n: usize) -> Vec<String> {
    let dir = app.dir.path().join("mail");
    for _ in 0..100 {
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= n {
            files.sort();
            return files;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} email(s) expected in {}", dir.display());
}

async fn a_used_qr_code_is_refused_with_qr_code_already_used(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut first = app.device();
    first
        .link_with_qr("First", &scanned, "482913", false)
        .await
        .unwrap();
    let mut second = app.device();
    second.start_qr_link("Second").await.unwrap();
    let err = second.redeem_qr(&scanned).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "qr_code_already_used"));
    assert!(
        err.to_string()
            .contains("generate a new QR code in your browser")
    );
    assert_eq!(app.count_rows("devices"), 1);
}

async fn twenty_concurrent_redemptions_of_one_code_have_exactly_one_winner(app: TestApp) {
    app.sign_in_registered("luc", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut devices = Vec::new();
    for i in 0..20 {
        let mut d = app.device();
        d.start_qr_link(&format!("Phone {i}")).await.unwrap();
        devices.push(d);
    }
    let results =
        futures_util::future::join_all(devices.iter_mut().map(|d| d.redeem_qr(&scanned))).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one device wins the code");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(api_code(err), (409, "qr_code_already_used"));
    }
}

async fn an_expired_qr_code_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    app.execute_sql(&format!(
        "UPDATE link_codes SET expires_at = '2020-01-01 00:00:00' WHERE id = '{id}'"
    ));
    let mut device = app.device();
    device.start_qr_link("Late phone").await.unwrap();
    let err = device.redeem_qr(&scanned).await.unwrap_err();
    assert_eq!(api_code(&err), (410, "qr_code_expired"));
    assert_eq!(app.code_status(&id, &code).await["status"], "expired");
}

async fn a_garbled_qr_code_is_refused(app: TestApp) {
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    for garbage in [
        "",
        "hello",
        "http://evil.example/link#abc",
        &"A".repeat(5000),
    ] {
        let err = device.redeem_qr(garbage).await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"), "{garbage:.40}");
    }
}

async fn a_frame_older_than_the_window_is_refused_while_a_fresh_frame_works(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (_id, code) = app.new_qr_code("").await;
    let frames = frames(&app);
    let code = LinkCode::try_from(code.as_str()).unwrap();
    let window = i64::from(app.settings.linking.qr_frame_window_secs);
    let old_step = frames.step_at(Utc::now() - chrono::Duration::seconds(window + 10));
    let base: url::Url = app.address.parse().unwrap();
    let old = link_url(&base, &frames.frame(&code, old_step));
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    let err = device.redeem_qr(old.as_str()).await.unwrap_err();
    assert_eq!(api_code(&err), (410, "qr_code_expired"));
    let fresh = link_url(&base, &frames.frame_at(&code, Utc::now()));
    device.redeem_qr(fresh.as_str()).await.unwrap();
}

async fn a_bare_code_is_accepted_only_from_the_no_javascript_page(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (_id, animated_code) = app.new_qr_code("").await;
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    let err = device.redeem_qr(&animated_code).await.unwrap_err();
    assert_eq!(
        api_code(&err),
        (400, "qr_code_invalid"),
        "a code cut out of an animated frame"
    );

    let (id, static_code) = app.new_qr_code("?mode=static").await;
    let scanned = app.scan_qr(&id, &static_code).await;
    assert!(
        scanned.ends_with(&format!("#{static_code}")),
        "the static QR holds the bare code"
    );
    device.redeem_qr(&scanned).await.unwrap();
}

async fn steps_out_of_order_are_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    let err = device.complete().await.unwrap_err();
    assert_eq!(api_code(&err), (409, "invalid_link_state"));
    let err = device.set_secret_code("482913").await.unwrap_err();
    assert_eq!(api_code(&err), (409, "invalid_link_state"));

    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    device.redeem_qr(&scanned).await.unwrap();
    let err = device.redeem_qr(&scanned).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "invalid_link_state"));
    let err = device.complete().await.unwrap_err();
    assert_eq!(
        api_code(&err),
        (409, "invalid_link_state"),
        "no completion without a secret code"
    );
    device.set_secret_code("482913").await.unwrap();
    let err = device.set_secret_code("593024").await.unwrap_err();
    assert_eq!(api_code(&err), (409, "invalid_link_state"));
    device.complete().await.unwrap();
    let err = device.complete().await.unwrap_err();
    assert_eq!(api_code(&err), (409, "invalid_link_state"));
    assert_eq!(app.count_rows("devices"), 1);
}

async fn weak_and_malformed_secret_codes_are_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    device.redeem_qr(&scanned).await.unwrap();
    for weak in ["123456", "111111", "654321", "121212"] {
        let err = device.set_secret_code(weak).await.unwrap_err();
        assert_eq!(api_code(&err), (422, "weak_secret_code"), "{weak}");
    }
    for malformed in ["12345", "1234567", "12a456", " 48291", ""] {
        let err = device.set_secret_code(malformed).await.unwrap_err();
        assert_eq!(
            api_code(&err),
            (422, "invalid_secret_code"),
            "{malformed:?}"
        );
    }
    device.set_secret_code("482913").await.unwrap();
}

async fn a_device_key_already_linked_cannot_link_again(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let err = device.start_qr_link("Again").await.unwrap_err();
    assert_eq!(api_code(&err), (409, "device_already_linked"));
    assert!(err.to_string().contains("Unlink it first"));
}

async fn requests_without_a_valid_proof_from_the_device_key_are_refused(app: TestApp) {
    let mut device = app.device();
    let link = device.start_qr_link("Phone").await.unwrap();
    let path = format!("/api/v1/links/{}", link["link_id"].as_str().unwrap());
    let url = device.url(&path).unwrap();
    let client = reqwest::Client::new();

    let res = client.get(url.clone()).send().await.unwrap();
    assert_eq!(res.status(), 401, "no proof");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");

    let other: DeviceClient = app.device();
    let foreign = other.proof("GET", &url, None).unwrap();
    let body: serde_json::Value = client
        .get(url.clone())
        .header("DPoP", foreign)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["error"].as_str(), body["reason"].as_str()),
        (Some("invalid_dpop_proof"), Some("jkt_mismatch"))
    );

    let wrong_htu = device
        .proof("GET", &device.url("/api/v1/links").unwrap(), None)
        .unwrap();
    let body: serde_json::Value = client
        .get(url.clone())
        .header("DPoP", wrong_htu)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["reason"], "htu_mismatch");

    let wrong_htm = device.proof("POST", &url, None).unwrap();
    let body: serde_json::Value = client
        .get(url.clone())
        .header("DPoP", wrong_htm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["reason"], "htm_mismatch");

    let proof = device.proof("GET", &url, None).unwrap();
    let ok = client
        .get(url.clone())
        .header("DPoP", proof.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let replay = client
        .get(url.clone())
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["reason"], "replayed_jti");

    let create = json!({"device_name": "X", "method": "qr", "platform": "other", "device_key": other.key().public_jwk()});
    let err = device
        .call(Method::POST, "/api/v1/links", Some(&create), None)
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&err),
        (401, "invalid_dpop_proof"),
        "the proof must be signed by device_key"
    );
}

async fn a_passkey_without_user_verification_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    device.redeem_qr(&scanned).await.unwrap();
    device.set_secret_code("482913").await.unwrap();
    let err = device.add_passkey_with(false).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_passkey"));
    assert_eq!(app.count_rows("passkeys"), 0);
    let done = device.complete().await.unwrap();
    assert_eq!(
        done["biometrics"], false,
        "linking goes on without biometrics"
    );
}

async fn cancelling_in_the_browser_voids_the_link(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device.start_qr_link("Unknown phone").await.unwrap();
    device.redeem_qr(&scanned).await.unwrap();
    let page = app
        .get(&format!("/devices/link/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Unknown phone") && page.contains("This was not me"));
    let csrf = crate::helpers::hidden_value(&page, "csrf_token");
    let res = app
        .client
        .post(app.url(&format!("/devices/link/{id}/cancel")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let err = device.set_secret_code("482913").await.unwrap_err();
    assert_eq!(api_code(&err), (410, "link_expired"));
    assert_eq!(app.code_status(&id, &code).await["status"], "cancelled");
    assert_eq!(app.count_rows("devices"), 0);
}

async fn an_abandoned_link_leaves_nothing_but_an_audit_event(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    let link = device.start_qr_link("Phone").await.unwrap();
    device.redeem_qr(&scanned).await.unwrap();
    device.set_secret_code("482913").await.unwrap();
    let link_id = link["link_id"].as_str().unwrap();
    app.execute_sql(&format!(
        "UPDATE link_sessions SET expires_at = '2020-01-01 00:00:00' WHERE id = '{link_id}'"
    ));
    let db = devicelink::db::Db::open(&app.settings.database).unwrap();
    let sweep = db
        .run_blocking(|conn| devicelink::janitor::run_once(conn, Utc::now().naive_utc()))
        .unwrap();
    assert_eq!(sweep.links, 1);
    app.execute_sql("UPDATE link_sessions SET expires_at = '2100-01-01 00:00:00'");
    let err = device.complete().await.unwrap_err();
    assert_eq!(api_code(&err), (410, "link_expired"));
    assert_eq!(app.count_rows("devices"), 0);
    assert_eq!(
        app.count_rows("link_sessions WHERE secret_code_verifier IS NOT NULL"),
        0,
        "the verifier is forgotten"
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'link_abandoned'"),
        1
    );
}

async fn generating_a_new_qr_code_voids_the_previous_one(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (first_id, first_code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&first_id, &first_code).await;
    let (_second, _) = app.new_qr_code("").await;
    assert_eq!(
        app.code_status(&first_id, &first_code).await["status"],
        "cancelled"
    );
    let mut device = app.device();
    device.start_qr_link("Phone").await.unwrap();
    let err = device.redeem_qr(&scanned).await.unwrap_err();
    assert_eq!(api_code(&err), (410, "qr_code_expired"));
}
