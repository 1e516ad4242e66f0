//! Linking directly with LuxTrust Mobile or LuxTrust Scan: the app's system browser
//! authenticates at the (mock) eAccess; only a one-time result reaches the app.

use devicelink::device_client::{DeviceClient, LuxtrustOutcome};
use devicelink::mock_idp::{MockIdpSettings, script};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, http_client, location, spawn_app_with};

pub(crate) const APP_REDIRECT: &str = "lu.myportal.app:/link-callback";

backend_tests!(
    a_citizen_who_used_luxtrust_mobile_in_the_browser_links_with_it,
    a_citizen_who_used_luxtrust_scan_in_the_browser_links_with_it,
    an_unregistered_identity_is_told_to_register_in_the_browser,
    a_product_never_used_in_the_browser_is_refused,
    cancelling_at_eaccess_refuses_the_link,
    a_replayed_callback_is_refused,
    the_link_cannot_be_read_or_redeemed_with_another_device_key,
    a_redirect_uri_not_on_the_allow_list_is_refused,
    the_result_reference_works_once,
);

/// Runs the app's LuxTrust method up to the redirect back to the app.
pub(crate) async fn authenticate(
    app: &TestApp,
    device: &mut DeviceClient,
    chosen: &str,
    identity: &str,
    used: &str,
) -> LuxtrustOutcome {
    let link = device
        .start_luxtrust_link("Phone", chosen, APP_REDIRECT)
        .await
        .expect("the link starts");
    through_eaccess(app, &link, chosen, identity, used).await
}

/// The system browser's part of a LuxTrust link (`link` as the server started it): to
/// eAccess, the login there, and back to the app.
pub(crate) async fn through_eaccess(
    app: &TestApp,
    link: &serde_json::Value,
    chosen: &str,
    identity: &str,
    used: &str,
) -> LuxtrustOutcome {
    let authorization_url: url::Url = link["authorization_url"].as_str().unwrap().parse().unwrap();
    assert!(
        authorization_url.as_str().starts_with(&app.address),
        "through devicelink first"
    );
    // The system browser: its own cookie jar, no portal session.
    let browser = http_client();
    let res = browser.get(authorization_url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let eaccess = location(&res);
    assert_eq!(eaccess.origin(), app.mock_issuer.origin());
    let query: std::collections::HashMap<_, _> = eaccess.query_pairs().into_owned().collect();
    assert_eq!(
        query["prompt"], "login",
        "a fresh authentication, never a reused session"
    );
    assert_eq!(query["product_hint"], chosen);
    let callback = script::complete_login(&browser, &eaccess, identity, used)
        .await
        .unwrap();
    let res = browser.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(APP_REDIRECT), "{back}");
    assert!(
        !back.as_str().contains("token"),
        "never a token in the redirect"
    );
    LuxtrustOutcome::from_redirect(&back).unwrap()
}

fn refused(outcome: &LuxtrustOutcome) -> (&str, &str) {
    match outcome {
        LuxtrustOutcome::Refused { error, description } => (error, description),
        LuxtrustOutcome::Result(_) => panic!("expected a refusal"),
    }
}

async fn link_fully(app: &TestApp, identity: &str, product: &str) {
    let mut device = app.device();
    let outcome = authenticate(app, &mut device, product, identity, product).await;
    let LuxtrustOutcome::Result(result) = outcome else {
        panic!("expected success, got {outcome:?}");
    };
    let bound = device.redeem_luxtrust_result(&result).await.unwrap();
    assert_eq!(bound["state"], "account_bound");
    device.set_secret_code("482913").await.unwrap();
    let done = device.complete().await.unwrap();
    assert_eq!(done["state"], "completed");
    assert_eq!(
        app.count_rows(&format!("devices WHERE method = '{product}'")),
        1
    );
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_linked'"), 1);
}

async fn a_citizen_who_used_luxtrust_mobile_in_the_browser_links_with_it(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    link_fully(&app, "marie", "luxtrust_mobile").await;
}

async fn a_citizen_who_used_luxtrust_scan_in_the_browser_links_with_it(app: TestApp) {
    app.sign_in_registered("jean", "luxtrust_scan").await;
    link_fully(&app, "jean", "luxtrust_scan").await;
}

async fn an_unregistered_identity_is_told_to_register_in_the_browser(app: TestApp) {
    let mut device = app.device();
    let outcome = authenticate(
        &app,
        &mut device,
        "luxtrust_mobile",
        "luc",
        "luxtrust_mobile",
    )
    .await;
    let (error, text) = refused(&outcome);
    assert_eq!(error, "account_not_registered");
    assert!(text.contains("register on the portal in a web browser"));
    let status = device.link_status().await.unwrap();
    assert_eq!(status["state"], "refused");
    assert_eq!(status["refusal"]["error"], "account_not_registered");
    assert_eq!(app.count_rows("devices"), 0);
}

async fn a_product_never_used_in_the_browser_is_refused(app: TestApp) {
    app.sign_in_registered("luc", "luxtrust_mobile").await;
    let mut device = app.device();
    let outcome = authenticate(&app, &mut device, "luxtrust_scan", "luc", "luxtrust_scan").await;
    let (error, text) = refused(&outcome);
    assert_eq!(error, "product_never_used");
    assert!(text.contains("never used to sign in to the portal"));
    assert_eq!(app.count_rows("devices"), 0);
}

async fn cancelling_at_eaccess_refuses_the_link(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    let link = device
        .start_luxtrust_link("Phone", "luxtrust_mobile", APP_REDIRECT)
        .await
        .unwrap();
    let browser = http_client();
    let res = browser
        .get(link["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = script::cancel_login(&browser, &location(&res))
        .await
        .unwrap();
    let res = browser.get(callback).send().await.unwrap();
    let outcome = LuxtrustOutcome::from_redirect(&location(&res)).unwrap();
    assert_eq!(refused(&outcome).0, "access_denied");
    let err = device.set_secret_code("482913").await.unwrap_err();
    assert_eq!(err.code(), Some("link_expired"));
}

async fn a_replayed_callback_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    let link = device
        .start_luxtrust_link("Phone", "luxtrust_mobile", APP_REDIRECT)
        .await
        .unwrap();
    let browser = http_client();
    let res = browser
        .get(link["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = script::complete_login(&browser, &location(&res), "marie", "luxtrust_mobile")
        .await
        .unwrap();
    assert_eq!(
        browser.get(callback.clone()).send().await.unwrap().status(),
        303
    );
    let again = browser.get(callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("invalid_state"));
}

async fn the_link_cannot_be_read_or_redeemed_with_another_device_key(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    let outcome = authenticate(
        &app,
        &mut device,
        "luxtrust_mobile",
        "marie",
        "luxtrust_mobile",
    )
    .await;
    let LuxtrustOutcome::Result(result) = outcome else {
        panic!("expected success")
    };
    let mut thief = app.device();
    thief.state.link_id = device.state.link_id.clone();
    let err = thief.link_status().await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_dpop_proof"))
    );
    let err = thief.redeem_luxtrust_result(&result).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_dpop_proof"))
    );
    device.redeem_luxtrust_result(&result).await.unwrap();
}

async fn a_redirect_uri_not_on_the_allow_list_is_refused(app: TestApp) {
    let mut device = app.device();
    for uri in ["evil.app:/callback", "https://evil.example/cb", "not a url"] {
        let err = device
            .start_luxtrust_link("Phone", "luxtrust_mobile", uri)
            .await
            .unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(400), Some("invalid_redirect_uri")),
            "{uri}"
        );
    }
    let err = device
        .start_luxtrust_link("Phone", "eid_card", APP_REDIRECT)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_request"));
    assert_eq!(app.count_rows("link_sessions"), 0);
}

async fn the_result_reference_works_once(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    let outcome = authenticate(
        &app,
        &mut device,
        "luxtrust_mobile",
        "marie",
        "luxtrust_mobile",
    )
    .await;
    let LuxtrustOutcome::Result(result) = outcome else {
        panic!("expected success")
    };
    let err = device.redeem_luxtrust_result("wrong").await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_luxtrust_result"));
    device.redeem_luxtrust_result(&result).await.unwrap();
    let err = device.redeem_luxtrust_result(&result).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_luxtrust_result"));
}

async fn with_fault(backend: Backend, fault: fn(&mut MockIdpSettings), used: &str, expected: &str) {
    let Some(app) = spawn_app_with(backend, fault).await else {
        return;
    };
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut device = app.device();
    let outcome = authenticate(&app, &mut device, "luxtrust_mobile", "marie", used).await;
    assert_eq!(refused(&outcome).0, expected);
    assert_eq!(app.count_rows("devices"), 0);
}

fn ignore_hint(s: &mut MockIdpSettings) {
    s.faults.ignore_product_restrictions = true;
}
fn stale(s: &mut MockIdpSettings) {
    s.faults.auth_time_backdate_secs = 3600;
}

#[tokio::test]
async fn an_eid_card_or_token_used_on_this_path_is_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        with_fault(backend, ignore_hint, "eid_card", "wrong_product").await;
        with_fault(backend, ignore_hint, "luxtrust_token", "wrong_product").await;
    }
}

#[tokio::test]
async fn a_stale_authentication_is_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        with_fault(backend, stale, "luxtrust_mobile", "authentication_too_old").await;
    }
}
