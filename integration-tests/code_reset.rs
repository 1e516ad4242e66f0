//! "Forgot your code?" over real HTTP: a linked (even locked) device sets a new secret code
//! after a fresh LuxTrust authentication by the person it is linked to, with the checks of
//! LuxTrust linking; its earlier tokens die, the e-mail is queued, nothing else changes.

use devicelink::device_client::{DeviceClient, LuxtrustOutcome};

use crate::backend_tests;
use crate::helpers::TestApp;
use crate::luxtrust::{APP_REDIRECT, through_eaccess};

backend_tests!(
    a_forgotten_code_is_reset_with_luxtrust_and_a_locked_device_opens_again,
    a_reset_by_another_person_is_refused_and_changes_nothing,
    only_a_linked_device_can_ask_for_a_reset,
);

const OLD_CODE: &str = "482913";
const NEW_CODE: &str = "735146";

/// Locks `device` with wrong codes; returns the refusal's sentence.
async fn lock(device: &mut DeviceClient) -> String {
    for _ in 0..10 {
        let err = device.unlock_with_secret_code("000000").await.unwrap_err();
        if err.code() == Some("device_locked") {
            return err.to_string();
        }
    }
    panic!("the device never locked");
}

/// The reset up to the redirect back to the app, as `identity` with `product`.
async fn reset_at_eaccess(
    app: &TestApp,
    device: &mut DeviceClient,
    identity: &str,
    product: &str,
) -> LuxtrustOutcome {
    let link = device
        .start_secret_code_reset(product, APP_REDIRECT)
        .await
        .expect("the reset starts");
    assert_eq!(link["state"], "created");
    assert_eq!(link["resets_secret_code"], true);
    assert_eq!(link["method"], product);
    through_eaccess(app, &link, product, identity, product).await
}

async fn a_forgotten_code_is_reset_with_luxtrust_and_a_locked_device_opens_again(app: TestApp) {
    let mut device = app.linked_device("marie", OLD_CODE, false).await;
    let device_id = device.state.device_id.clone().expect("a device id");
    device.unlock_with_secret_code(OLD_CODE).await.unwrap();
    let old_refresh = device.state.refresh_token.clone().expect("a refresh token");
    let sentence = lock(&mut device).await;
    assert!(sentence.contains("Forgot your code?"), "{sentence}");

    let outcome = reset_at_eaccess(&app, &mut device, "marie", "luxtrust_mobile").await;
    let LuxtrustOutcome::Result(result) = outcome else {
        panic!("expected success, got {outcome:?}");
    };
    let bound = device.redeem_luxtrust_result(&result).await.unwrap();
    assert_eq!(bound["state"], "account_bound");
    let weak = device.set_secret_code("123456").await.unwrap_err();
    assert_eq!(weak.code(), Some("weak_secret_code"));
    device.set_secret_code(NEW_CODE).await.unwrap();
    let done = device.complete().await.unwrap();
    assert_eq!(done["state"], "completed");
    assert_eq!(done["device_id"], device_id.as_str(), "the same device");
    assert_eq!(done["resets_secret_code"], true);

    // One device, active again; the old code and the old tokens are dead.
    assert_eq!(app.count_rows("devices"), 1);
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 1);
    let err = device.refresh_with(&old_refresh).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_grant"), "{err}");
    device.unlock_with_secret_code(NEW_CODE).await.unwrap();
    device.me().await.unwrap();
    let err = device.unlock_with_secret_code(OLD_CODE).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_secret_code"));

    // Audited, and the citizen is told by e-mail (queued with the reset, once).
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'secret_code_reset'"),
        1
    );
    assert_eq!(app.count_rows("outbox WHERE kind = 'secret_code_reset'"), 1);
    let subject =
        app.query_text("SELECT subject AS v FROM outbox WHERE kind = 'secret_code_reset'");
    assert_eq!(subject, "The secret code of your mobile device was changed");

    // The reset link is used up: completing it again is refused.
    let err = device.complete().await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_link_state"));
}

async fn a_reset_by_another_person_is_refused_and_changes_nothing(app: TestApp) {
    let mut device = app.linked_device("marie", OLD_CODE, false).await;
    // Jean is registered and has used LuxTrust Scan: every rule of linking holds for him,
    // but the device is Marie's.
    app.sign_out().await;
    app.sign_in_registered("jean", "luxtrust_scan").await;
    let outcome = reset_at_eaccess(&app, &mut device, "jean", "luxtrust_scan").await;
    let LuxtrustOutcome::Refused { error, description } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert_eq!(error, "wrong_account");
    assert!(description.contains("someone else"), "{description}");
    let status = device.link_status().await.unwrap();
    assert_eq!(status["state"], "refused");
    device.unlock_with_secret_code(OLD_CODE).await.unwrap();
    assert_eq!(app.count_rows("outbox WHERE kind = 'secret_code_reset'"), 0);
}

async fn only_a_linked_device_can_ask_for_a_reset(app: TestApp) {
    let mut stranger = app.device();
    let err = stranger
        .start_secret_code_reset("luxtrust_mobile", APP_REDIRECT)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(404), Some("device_not_linked"))
    );
    let mut device = app.linked_device("marie", OLD_CODE, false).await;
    for (product, redirect, code) in [
        ("eid_card", APP_REDIRECT, "invalid_request"),
        (
            "luxtrust_mobile",
            "evil.app:/callback",
            "invalid_redirect_uri",
        ),
    ] {
        let err = device
            .start_secret_code_reset(product, redirect)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code), "{product} {redirect}");
    }
    device.unlock_with_secret_code(OLD_CODE).await.unwrap();
    device.unlink().await.unwrap();
    let err = device
        .start_secret_code_reset("luxtrust_mobile", APP_REDIRECT)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("device_not_linked"));
    assert_eq!(
        app.count_rows("link_sessions WHERE resets_device_id IS NOT NULL"),
        0
    );
}
