//! "Sign in with your mobile app" end to end: a portal written with the `openidconnect`
//! crate, the browser's QR page and the reference device client approving over HTTP;
//! what the portal receives when the approval expires, the phone locks, or the app only
//! refreshed its tokens instead of unlocking. Runs on SQLite and PostgreSQL.

use devicelink::device_client::{ClientError, DeviceClient};
use devicelink::provider::service::{self, Authenticated, CodeIssue};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, http_client, location};
use crate::provider::{
    API, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, app_sign_in_from, app_sign_in_page,
    approval_state, query, redeem, spawn_with,
};
use crate::provider_tests;

const CODE: &str = "482913";
const WRONG: &str = "730591";

provider_tests!(
    a_portal_using_openidconnect_signs_in_with_the_app_and_checks_the_id_token,
    approving_with_biometrics_asserts_hwk_and_user,
    an_expired_app_approval_ends_with_login_required_at_the_portal,
    a_device_locked_before_approving_ends_with_access_denied,
    a_device_locked_after_approving_ends_with_access_denied_and_no_code,
    no_code_is_issued_for_a_device_locked_while_the_browser_continues,
    the_activity_page_lists_the_sign_in_to_the_portal,
    continuing_before_the_app_answered_shows_the_wait_and_a_way_back,
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

async fn a_portal_using_openidconnect_signs_in_with_the_app_and_checks_the_id_token(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    // The portal knows devicelink only by its issuer URL.
    let rp_http = http_client();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.address.clone()).unwrap(),
        &rp_http,
    )
    .await
    .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.to_owned()),
        Some(ClientSecret::new(CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .add_auth_context_value(AuthenticationContextClass::new(
            "urn:devicelink:acr:device".into(),
        ))
        .url();

    // The citizen's browser at the portal has no devicelink session.
    let browser = http_client();
    let (request, scanned) = app_sign_in_from(&app, &browser, url.as_str()).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    assert_eq!(asking["client_id"], CLIENT_ID);
    assert_eq!(asking["client_name"], "Portal portal");
    let unlocked = device.unlock_with_secret_code(CODE).await.unwrap();
    let unlocked_at = claims_of(unlocked["access_token"].as_str().unwrap())["auth_time"].clone();
    assert!(
        unlocked_at.is_i64(),
        "the app's token says when it was unlocked"
    );
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(approval_state(&app, &browser, &request).await, "approved");
    // Approving in the app counts as consent: straight back to the portal.
    let res = continue_in(&app, &browser, &request).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    assert_eq!(
        query(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(query(&back, "iss").as_deref(), Some(app.address.as_str()));

    let tokens = rp
        .exchange_code(AuthorizationCode::new(query(&back, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http)
        .await
        .unwrap();
    // Signature against the JWKS from discovery, issuer, audience, expiry and nonce.
    let id_verifier = rp
        // At the library's defaults: RS256, what a portal that registered nothing gets.
        .id_token_verifier();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&id_verifier, &nonce)
        .unwrap();
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:devicelink:acr:device"
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(amr, ["hwk", "pin"]);
    assert_eq!(
        claims.auth_time().map(|t| t.timestamp()),
        unlocked_at.as_i64(),
        "auth_time is the unlock"
    );
    assert_eq!(claims.email().unwrap().as_str(), "marie@example.lu");

    let userinfo: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&rp_http)
        .await
        .unwrap();
    assert_eq!(
        userinfo
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Marie")
    );
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("marie@example.lu")
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'signed_in_to_portal' AND device_id IS NOT NULL"),
        1
    );
}

async fn approving_with_biometrics_asserts_hwk_and_user(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    let unlocked = device.unlock_with_biometrics().await.unwrap();
    assert_eq!(unlocked["amr"], json!(["hwk", "user"]));
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    let claims = id_token_after(&app, &browser, &request).await;
    assert_eq!(claims["acr"], "urn:devicelink:acr:device");
    assert_eq!(claims["amr"], json!(["hwk", "user"]));
    assert_eq!(
        claims["auth_time"],
        claims_of(unlocked["access_token"].as_str().unwrap())["auth_time"]
    );
}

/// Ages the request's QR code past its lifetime (`provider.approval_ttl_secs`).
fn expire_approval(app: &TestApp) {
    app.execute_sql(&format!(
        "UPDATE provider_requests SET approval_expires_at = {}",
        match app.backend {
            Backend::Sqlite => "datetime('now', '-1 second')",
            Backend::Postgres => "(now() at time zone 'utc') - interval '1 second'",
        }
    ));
}

async fn an_expired_app_approval_ends_with_login_required_at_the_portal(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    expire_approval(&app);
    assert_eq!(approval_state(&app, &browser, &request).await, "expired");
    // Too late in the app as well.
    device.unlock_with_secret_code(CODE).await.unwrap();
    let err = device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (404, "invalid_approval"));
    let res = continue_in(&app, &browser, &request).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    assert_eq!(query(&back, "error").as_deref(), Some("login_required"));
    assert!(query(&back, "error_description").is_some());
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "iss").as_deref(), Some(app.address.as_str()));
    assert_eq!(query(&back, "code"), None);
    assert_eq!(app.count_rows("provider_codes"), 0);
    assert_eq!(app.count_rows("provider_consents"), 0);
    assert_eq!(
        app.count_rows("provider_requests WHERE status = 'denied'"),
        1
    );
    // The answer is given once: the request is over.
    assert_eq!(continue_in(&app, &browser, &request).await.status(), 400);
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

async fn the_activity_page_lists_the_sign_in_to_the_portal(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    device.unlock_with_secret_code(CODE).await.unwrap();
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    id_token_after(&app, &browser, &request).await;
    // Marie looks at her devices and activity in her own browser (fresh eAccess login).
    let res = crate::manage::reauthenticate(&app, "/devices", "marie").await;
    assert_eq!(res.status(), 303);
    let page = app.get("/devices").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Signed in to Portal portal with devicelink"),
        "{page}"
    );
    assert!(
        page.contains("Allowed Portal portal to receive your details"),
        "{page}"
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

    // Nor can it be exchanged for a portal API (the step-up policy: a recent unlock).
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let err = exchange(&mut device, &access).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));

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

async fn exchange(
    device: &mut devicelink::device_client::DeviceClient,
    access: &str,
) -> Result<Value, devicelink::device_client::ClientError> {
    device
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
                ("subject_token", access),
            ],
        )
        .await
}

/// "I approved in the app — continue" pressed too early (no JavaScript): not an error
/// page but where the sign-in stands, "Check again", and the way back to the portal.
async fn continuing_before_the_app_answered_shows_the_wait_and_a_way_back(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let res = continue_in(&app, &browser, &request).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-state=\"shown\""), "{page}");
    assert!(page.contains("Waiting for your phone"), "{page}");
    assert!(page.contains("id=\"check-again\""), "{page}");
    assert!(page.contains("id=\"show-code-again\""), "{page}");
    assert!(page.contains("id=\"cancel\""), "{page}");
    // Scanned, not yet approved: the page says so; "Check again" once approved continues.
    let asking = device.scan_approval(&scanned).await.unwrap();
    let page = continue_in(&app, &browser, &request)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-state=\"scanned\""), "{page}");
    assert!(!page.contains("id=\"show-code-again\""), "{page}");
    device.unlock_with_secret_code(CODE).await.unwrap();
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    let claims = id_token_after(&app, &browser, &request).await;
    assert_eq!(claims["acr"], "urn:devicelink:acr:device");

    // Giving up instead: the portal gets access_denied, in French for a French browser.
    let (browser, request, _) = app_sign_in_page(&app).await;
    let page = browser
        .get(app.url(&format!("/oidc/authorize/app/continue?request={request}")))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Vérifier à nouveau"), "{page}");
    assert!(page.contains("En attente de votre téléphone"), "{page}");
    let res = browser
        .get(app.url(&format!("/oidc/authorize/cancel?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
}
