//! The step-up policy over HTTP (docs/security.md, "Step-up policy"): a thief holding
//! the device key and a refresh token, but not the secret code, cannot enrol a passkey
//! of their own, exchange a token or approve a sign-in; a refresh never widens what a
//! token may do.

use chrono::{Duration, Utc};
use devicelink::device_client::{ClientError, DeviceClient};
use reqwest::Method;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs_proto::CreationChallengeResponse;

use crate::helpers::TestApp;
use crate::provider::API;
use crate::provider_tests;

provider_tests!(
    a_refreshed_token_cannot_enrol_a_passkey_so_the_secret_code_is_not_bypassed,
    a_biometric_unlock_does_not_vouch_for_a_new_passkey,
    options_fetched_while_fresh_cannot_be_finished_once_the_unlock_is_old,
    a_refreshed_token_with_an_old_unlock_cannot_be_exchanged,
    a_qr_code_inside_another_servers_url_is_refused_for_linking_and_approval,
    the_approval_qr_code_is_animated_and_a_relayed_frame_expires,
);

const CODE: &str = "482913";

fn api_code(err: &ClientError) -> (u16, &str) {
    (err.status().unwrap_or(0), err.code().unwrap_or("-"))
}

/// Moves the unlock behind every refresh-token family of the test `minutes` into the
/// past, as if the citizen had last typed the code then.
fn age_unlock(app: &TestApp, minutes: i64) {
    let then = (Utc::now() - Duration::minutes(minutes))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S");
    app.execute_sql(&format!("UPDATE refresh_tokens SET auth_time = '{then}'"));
}

fn assert_unlock_required(err: &ClientError) {
    assert_eq!(api_code(err), (401, "unlock_required"), "{err}");
    match err {
        ClientError::Api { body, .. } => {
            assert_eq!(
                body["error_description"],
                "Enter your secret code to continue."
            );
        }
        other => panic!("not an API error: {other}"),
    }
}

async fn exchange(device: &mut DeviceClient, access_token: &str) -> Result<Value, ClientError> {
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", API),
        ("subject_token", access_token),
    ];
    device.call_form(Method::POST, "/oidc/token", &form).await
}

async fn a_refreshed_token_cannot_enrol_a_passkey_so_the_secret_code_is_not_bypassed(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    let passkeys_before = app.count_rows("passkeys");
    // The thief's phone: device key and refresh token, the code typed long ago.
    age_unlock(&app, 30);
    // 1. refresh: works, the token is current.
    device.refresh().await.unwrap();
    device.me().await.unwrap();
    // 2. enrol a passkey of their own: refused, at the options and at the finish.
    let err = device.enable_biometrics().await.unwrap_err();
    assert_unlock_required(&err);
    assert_eq!(
        app.count_rows("passkeys"),
        passkeys_before,
        "nothing replaced"
    );
    assert_eq!(
        app.count_rows("device_ceremonies WHERE purpose = 'register'"),
        0,
        "no ceremony was started"
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'biometrics_enabled'"),
        0
    );
    // Refreshing again does not help: a refresh never renews the unlock.
    device.refresh().await.unwrap();
    assert_unlock_required(&device.enable_biometrics().await.unwrap_err());

    // The citizen, who knows the code: a fresh secret-code unlock, then it works.
    device.unlock_with_secret_code(CODE).await.unwrap();
    let done = device.enable_biometrics().await.unwrap();
    assert_eq!(done["biometrics"], true);
    assert_eq!(app.count_rows("passkeys"), 1);
    device.unlock_with_biometrics().await.unwrap();
}

async fn a_biometric_unlock_does_not_vouch_for_a_new_passkey(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    device.unlock_with_biometrics().await.unwrap();
    assert_unlock_required(&device.enable_biometrics().await.unwrap_err());
    assert_eq!(app.count_rows("passkeys"), 1, "the citizen's passkey stays");
    // Turning biometrics off only removes a way in: any valid token.
    device.disable_biometrics().await.unwrap();
    assert_eq!(app.count_rows("passkeys"), 0);
}

async fn a_refreshed_token_with_an_old_unlock_cannot_be_exchanged(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    age_unlock(&app, 30);
    let tokens = device.refresh().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let err = exchange(&mut device, &access).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"), "{err}");
    match &err {
        ClientError::Api { body, .. } => assert_eq!(body["reason"], "unlock_required"),
        other => panic!("not an API error: {other}"),
    }
    assert_eq!(app.count_rows("provider_grants"), 0, "nothing issued");

    // An unlock one minute old is recent (window 120 s): a refreshed token exchanges,
    // and the exchanged token carries that unlock's time, not the refresh's `iat`.
    device.unlock_with_secret_code(CODE).await.unwrap();
    age_unlock(&app, 1);
    let tokens = device.refresh().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let subject = claims_of(&access);
    let exchanged = exchange(&mut device, &access).await.unwrap();
    let exchanged = claims_of(exchanged["access_token"].as_str().unwrap());
    assert_eq!(exchanged["auth_time"], subject["auth_time"]);
    assert!(subject["iat"].as_i64().unwrap() - exchanged["auth_time"].as_i64().unwrap() >= 59);
    assert_eq!(app.count_rows("provider_grants"), 1);
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&devicelink::protocol::b64url_decode(payload).unwrap()).unwrap()
}

async fn options_fetched_while_fresh_cannot_be_finished_once_the_unlock_is_old(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let fresh = tokens["access_token"].as_str().unwrap().to_owned();
    let options: Value = device
        .call(
            Method::POST,
            "/api/v1/device/biometrics/options",
            None,
            Some(&fresh),
        )
        .await
        .unwrap();
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let (mut soft, _) = SoftToken::new(true).unwrap();
    let credential = soft
        .do_registration(app.settings.webauthn.web_origin.clone(), options)
        .unwrap();
    age_unlock(&app, 30);
    let refreshed = device.refresh().await.unwrap();
    let stale = refreshed["access_token"].as_str().unwrap().to_owned();
    let err = device
        .call(
            Method::POST,
            "/api/v1/device/biometrics",
            Some(&json!({"credential": credential})),
            Some(&stale),
        )
        .await
        .unwrap_err();
    assert_unlock_required(&err);
    assert_eq!(app.count_rows("passkeys"), 0, "no passkey was enrolled");
}

/// Relay by wrapping: a valid frame or approval code inside `http://evil.example/...`
/// is refused; only the bare code or this server's own `public_url` is accepted.
async fn a_qr_code_inside_another_servers_url_is_refused_for_linking_and_approval(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    // Linking: a fresh frame, moved into another server's URL.
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let frame = url::Url::parse(&scanned)
        .unwrap()
        .fragment()
        .unwrap()
        .to_owned();
    let mut phone = app.device();
    phone.start_qr_link("Second phone").await.unwrap();
    for wrapped in [
        format!("http://evil.example/link#{frame}"),
        format!("{}evil/link#{frame}", app.url("/")),
    ] {
        let err = phone.redeem_qr(&wrapped).await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"), "{wrapped}");
    }
    phone.redeem_qr(&scanned).await.unwrap();

    // Approval: the code shown by the portal's page, moved into another URL.
    device.unlock_with_secret_code(CODE).await.unwrap();
    let (_browser, _request, scanned) = crate::provider::app_sign_in_page(&app).await;
    let approve = url::Url::parse(&scanned).unwrap();
    assert_eq!(approve.path(), "/approve", "{scanned}");
    let code = approve.fragment().unwrap().to_owned();
    let err = device
        .scan_approval(&format!("http://evil.example/approve#{code}"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (404, "invalid_approval"));
    // Our own URL works.
    device.scan_approval(&scanned).await.unwrap();
    // The landing page for a phone camera that opens the URL.
    let landing = app.get("/approve").await;
    assert_eq!(landing.status(), 200);
    assert!(
        landing
            .text()
            .await
            .unwrap()
            .contains("Scan this code with the MyPortal app")
    );
}

fn frames(app: &TestApp) -> devicelink::linking::QrFrames {
    let key = devicelink::config::decode_secret("k", &app.settings.secrets.qr_frame_key).unwrap();
    devicelink::linking::QrFrames::with_timing(
        &key,
        app.settings.linking.qr_frame_step_secs,
        app.settings.linking.qr_frame_window_secs,
    )
    .unwrap()
}

/// The approval QR code is animated like the link QR code: a frame counts for the
/// window only, the code read out of a frame counts nowhere, and only the page shown
/// without JavaScript makes a code that stays the same.
async fn the_approval_qr_code_is_animated_and_a_relayed_frame_expires(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    let (browser, request, scanned) = crate::provider::app_sign_in_page(&app).await;
    let shown = url::Url::parse(&scanned).unwrap();
    let frame = shown.fragment().unwrap().to_owned();
    let code = frame.split('.').next().unwrap().to_owned();
    assert_ne!(code, frame, "the page shows a frame, not the bare code");

    // The page's script gets the next frames of its code, and of no other.
    let next = browser
        .post(app.url("/oidc/authorize/app/frame"))
        .json(&json!({"request": request, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(next.headers()["cache-control"], "no-store");
    assert!(
        next.json::<Value>().await.unwrap()["png"]
            .as_str()
            .unwrap()
            .len()
            > 100
    );
    let other = browser
        .post(app.url("/oidc/authorize/app/frame"))
        .json(&json!({"request": request, "code": devicelink::linking::LinkCode::generate().expose()}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // The bare code out of a frame: unknown.
    let err = device.scan_approval(&code).await.unwrap_err();
    assert_eq!(api_code(&err), (404, "invalid_approval"));
    // A frame older than the window: expired.
    let frames = frames(&app);
    let link_code = devicelink::linking::LinkCode::try_from(code.as_str()).unwrap();
    let window = i64::from(app.settings.linking.qr_frame_window_secs);
    let old_step = frames.step_at(Utc::now() - Duration::seconds(window + 10));
    let mut old = shown.clone();
    old.set_fragment(Some(&frames.frame(&link_code, old_step)));
    let err = device.scan_approval(old.as_str()).await.unwrap_err();
    assert_eq!(api_code(&err), (410, "qr_code_expired"));
    // A fresh frame of the same code works.
    let mut fresh = shown.clone();
    fresh.set_fragment(Some(&frames.frame_at(&link_code, Utc::now())));
    device.scan_approval(fresh.as_str()).await.unwrap();

    // The page for a browser without JavaScript: a code that stays the same.
    let (browser, request, _) = crate::provider::app_sign_in_page(&app).await;
    let page = browser
        .get(app.url(&format!("/oidc/authorize/app?request={request}&static=1")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scanned = crate::provider::approval_qr_text(&page);
    let bare = url::Url::parse(&scanned)
        .unwrap()
        .fragment()
        .unwrap()
        .to_owned();
    assert!(!bare.contains('.'), "a static code: {bare}");
    device.scan_approval(&bare).await.unwrap();
}
