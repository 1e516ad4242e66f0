//! "Sign in with your mobile app" over HTTP with the reference device client: what
//! counts as the unlock behind an approval, and what the portal receives when the phone
//! locks. Runs on SQLite and PostgreSQL.

use devicelink::device_client::{ClientError, DeviceClient};
use devicelink::provider::service::{self, Authenticated, CodeIssue};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, location};
use crate::provider::{
    API, REDIRECT_URI, app_sign_in_page, approval_state, query, redeem, spawn_with,
};
use crate::provider_tests;

const CODE: &str = "482913";
const WRONG: &str = "730591";

provider_tests!(
    a_device_locked_before_approving_ends_with_access_denied,
    a_device_locked_after_approving_ends_with_access_denied_and_no_code,
    no_code_is_issued_for_a_device_locked_while_the_browser_continues,
);

/// `<name>::sqlite` and `<name>::postgres` for a test body taking the backend (tests
/// with their own settings).
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

per_backend!(a_refreshed_token_cannot_approve_without_a_recent_unlock);

/// The claims of a JWT, unverified (the test reads what the server signed).
pub(crate) fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&devicelink::protocol::b64url_decode(payload).unwrap()).unwrap()
}

fn api_code(err: &ClientError) -> (u16, &str) {
    (err.status().unwrap_or(0), err.code().unwrap_or(""))
}

/// Five wrong secret codes: the device locks.
async fn lock(device: &mut DeviceClient) {
    for _ in 0..4 {
        let err = device.unlock_with_secret_code(WRONG).await.unwrap_err();
        assert_eq!(api_code(&err), (401, "invalid_secret_code"));
    }
    let err = device.unlock_with_secret_code(WRONG).await.unwrap_err();
    assert_eq!(api_code(&err), (423, "device_locked"));
}

async fn continue_in(app: &TestApp, browser: &reqwest::Client, request: &str) -> reqwest::Response {
    browser
        .get(app.url(&format!("/oidc/authorize/app/continue?request={request}")))
        .send()
        .await
        .unwrap()
}

/// The ID token's claims for a sign-in the browser completed with `request`.
async fn id_token_after(app: &TestApp, browser: &reqwest::Client, request: &str) -> Value {
    let res = continue_in(app, browser, request).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    let res = redeem(app, &query(&back, "code").expect("a code")).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    claims_of(tokens["id_token"].as_str().unwrap())
}

async fn a_device_locked_before_approving_ends_with_access_denied(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    device.scan_approval(&scanned).await.unwrap();
    lock(&mut device).await;
    assert_eq!(approval_state(&app, &browser, &request).await, "locked");
    let res = continue_in(&app, &browser, &request).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(app.count_rows("provider_codes"), 0);
}

async fn a_device_locked_after_approving_ends_with_access_denied_and_no_code(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    device.unlock_with_secret_code(CODE).await.unwrap();
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(approval_state(&app, &browser, &request).await, "approved");
    // Someone else holds the phone now: five wrong codes lock it before the browser
    // continues. The approval no longer counts.
    lock(&mut device).await;
    assert_eq!(approval_state(&app, &browser, &request).await, "locked");
    let res = continue_in(&app, &browser, &request).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "code"), None);
    assert_eq!(app.count_rows("provider_codes"), 0);
    assert_eq!(app.count_rows("provider_grants"), 0);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'signed_in_to_portal'"),
        0
    );
}

/// The browser's status check and the code are separate requests; a lock in between is
/// caught by the transaction that would issue the code.
async fn no_code_is_issued_for_a_device_locked_while_the_browser_continues(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (_browser, _request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    device.unlock_with_secret_code(CODE).await.unwrap();
    let approval_id = asking["approval_id"].as_str().unwrap().to_owned();
    device.approve_sign_in(&approval_id).await.unwrap();
    lock(&mut device).await;
    // What `/oidc/authorize/app/continue` does once it has read "approved".
    let db = devicelink::db::Db::connect(&app.settings.database).unwrap();
    let settings = app.settings.provider.clone();
    let issued = db
        .run_blocking(move |conn| {
            let row = devicelink::provider::store::find_request(conn, &approval_id)?
                .expect("the request");
            let auth = Authenticated {
                account_id: row.account_id.clone().unwrap(),
                auth_time: row.unlocked_at.unwrap(),
                acr: "urn:devicelink:acr:device".to_owned(),
                amr: vec!["hwk".into(), "pin".into()],
                device_id: row.device_id.clone(),
            };
            service::issue_code(
                conn,
                &settings,
                &row,
                &auth,
                &devicelink::http::RequestContext::default(),
                chrono::Utc::now().naive_utc(),
            )
        })
        .unwrap();
    assert_eq!(issued, CodeIssue::DeviceInactive);
    assert_eq!(app.count_rows("provider_codes"), 0);
    assert_eq!(app.count_rows("provider_grants"), 0);
    assert_eq!(
        app.count_rows("provider_requests WHERE status = 'denied'"),
        1
    );
}

/// A phone that only holds a refresh token cannot approve: refreshing renews `iat` but
/// not the unlock. The window is three seconds here, so real time passes, nothing forged.
async fn a_refreshed_token_cannot_approve_without_a_recent_unlock(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.provider.approval_unlock_window_secs = 3;
    })
    .await
    else {
        return;
    };
    let mut device = app.linked_device("marie", CODE, false).await;
    let first = device.unlock_with_secret_code(CODE).await.unwrap();
    let unlocked_at = claims_of(first["access_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    let approval_id = asking["approval_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(4200)).await;

    // A refresh: a brand-new access token, but the same unlock behind it.
    let refreshed = device.refresh().await.unwrap();
    let claims = claims_of(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["auth_time"], unlocked_at);
    assert!(claims["iat"].as_i64().unwrap() >= unlocked_at + 4);
    assert_eq!(refreshed["amr"], json!(["hwk", "pin"]));
    let err = device.approve_sign_in(&approval_id).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "unlock_required"));
    assert_eq!(approval_state(&app, &browser, &request).await, "scanned");
    assert_eq!(app.count_rows("provider_consents"), 0);

    // A token exchanged with the refreshed token tells the portal API the real unlock.
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let exchanged = device
        .call_form(
            Method::POST,
            "/oidc/token",
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("audience", API),
                ("subject_token", &access),
            ],
        )
        .await
        .unwrap();
    let exchanged = claims_of(exchanged["access_token"].as_str().unwrap());
    assert_eq!(exchanged["auth_time"], unlocked_at);
    assert_ne!(exchanged["auth_time"], claims["iat"]);

    // Unlocking again approves, and the portal learns when that unlock was.
    let fresh = device.unlock_with_secret_code(CODE).await.unwrap();
    let fresh_at = claims_of(fresh["access_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(fresh_at >= unlocked_at + 4);
    device.approve_sign_in(&approval_id).await.unwrap();
    let id_token = id_token_after(&app, &browser, &request).await;
    assert_eq!(id_token["auth_time"], fresh_at);
    assert_eq!(id_token["amr"], json!(["hwk", "pin"]));
}
