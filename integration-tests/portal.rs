//! The citizen's portal: sign-in through (mock) eAccess, registration, dashboard,
//! sign-out, and every way a callback can be wrong.

use devicelink::mock_idp::MockIdpSettings;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, hidden_value, location, location_path, spawn_app_with};

backend_tests!(
    the_home_page_offers_sign_in_with_eaccess,
    a_first_sign_in_leads_to_registration_and_then_the_dashboard,
    registration_refuses_an_invalid_email_or_unaccepted_terms_and_creates_nothing,
    signing_in_again_with_another_product_records_both_products,
    sign_out_ends_the_portal_session_and_the_eaccess_session,
    a_tampered_state_is_refused_and_creates_nothing,
    a_replayed_callback_is_refused,
    a_callback_in_another_browser_is_refused,
    cancelling_at_eaccess_shows_a_friendly_page_and_creates_nothing,
    forms_without_the_right_csrf_token_are_refused,
    the_session_cookie_is_http_only_and_same_site_lax_and_renewed_at_sign_in,
    a_business_espace_can_be_added_and_is_listed,
    pages_need_a_signed_in_session,
);

async fn the_home_page_offers_sign_in_with_eaccess(app: TestApp) {
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"sign-in\""));
    assert!(body.contains("href=\"/auth/login\""));
    let authorize = app.start_sign_in().await;
    assert_eq!(authorize.origin(), app.mock_issuer.origin());
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 16 && query["nonce"].len() >= 16);
    assert!(query["scope"].contains("openid"));
}

async fn a_first_sign_in_leads_to_registration_and_then_the_dashboard(app: TestApp) {
    let res = app.sign_in("marie", "luxtrust_mobile").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/register");
    assert_eq!(
        app.count_rows("accounts"),
        0,
        "no account before registration"
    );

    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("Marie"));
    assert!(
        page.contains("marie@example.lu"),
        "email prefilled from eAccess"
    );

    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let dashboard = app.dashboard().await;
    assert!(dashboard.contains("Marie Schmit"));
    assert!(
        dashboard.contains("id=\"link-device\""),
        "the header has Link a device"
    );
    assert!(dashboard.contains("Private"));
    assert!(dashboard.contains("LuxTrust Mobile"));
    assert!(dashboard.contains("LTM-1001-2002"));
    assert_eq!(app.count_rows("accounts"), 1);
    assert_eq!(app.count_rows("espaces"), 1);
    assert_eq!(app.count_rows("auth_products"), 1);
    assert!(
        app.count_rows("audit_events") >= 2,
        "registered + signed_in"
    );
}

async fn registration_refuses_an_invalid_email_or_unaccepted_terms_and_creates_nothing(
    app: TestApp,
) {
    let res = app.sign_in("jean", "luxtrust_scan").await;
    assert_eq!(location_path(&res), "/register");
    let page = app.get("/register").await.text().await.unwrap();
    let csrf = hidden_value(&page, "csrf_token");
    for form in [
        vec![
            ("csrf_token", csrf.as_str()),
            ("email", "not-an-email"),
            ("accept_terms", "yes"),
        ],
        vec![("csrf_token", csrf.as_str()), ("email", "jean@example.lu")],
    ] {
        let res = app
            .client
            .post(app.url("/register"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let body = res.text().await.unwrap();
        assert!(
            body.contains("id=\"form-problem\""),
            "the problem is explained"
        );
    }
    assert_eq!(app.count_rows("accounts"), 0);
    assert_eq!(app.count_rows("auth_products"), 0);
}

async fn signing_in_again_with_another_product_records_both_products(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    sign_out(&app).await;
    let res = app.sign_in("marie", "eid_card").await;
    assert_eq!(location_path(&res), "/dashboard", "no second registration");
    let dashboard = app.dashboard().await;
    assert!(dashboard.contains("LuxTrust Mobile") && dashboard.contains("Identity card (eID)"));
    assert_eq!(app.count_rows("auth_products"), 2);
    assert_eq!(app.count_rows("accounts"), 1);
}

/// Posts the header's sign-out form; returns where it redirected.
async fn sign_out(app: &TestApp) -> url::Url {
    let dashboard = app.dashboard().await;
    let csrf = hidden_value(&dashboard, "csrf_token");
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let target = location(&res);
    // Follow the RP-initiated logout at eAccess so its session ends too.
    if target.origin() == app.mock_issuer.origin() {
        let res = app.client.get(target.clone()).send().await.unwrap();
        assert!(
            res.status().is_redirection(),
            "eAccess ends its session and sends us back"
        );
    }
    target
}

async fn sign_out_ends_the_portal_session_and_the_eaccess_session(app: TestApp) {
    app.sign_in_registered("luc", "luxtrust_scan").await;
    let target = sign_out(&app).await;
    assert_eq!(
        target.origin(),
        app.mock_issuer.origin(),
        "RP-initiated logout at eAccess"
    );
    assert!(target.query_pairs().any(|(k, _)| k == "id_token_hint"));
    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/");
    // The eAccess session is gone too: the next sign-in shows the login form again.
    let authorize = app.start_sign_in().await;
    let res = app.client.get(authorize).send().await.unwrap();
    assert_eq!(res.status(), 200, "eAccess asks again");
}

async fn a_tampered_state_is_refused_and_creates_nothing(app: TestApp) {
    let authorize = app.start_sign_in().await;
    let callback = app
        .eaccess_login(&authorize, "marie", "luxtrust_mobile")
        .await;
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let res = app.client.get(tampered).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("invalid_state"));
    assert_eq!(app.count_rows("accounts"), 0);
    assert_eq!(app.count_rows("auth_products"), 0);
}

async fn a_replayed_callback_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    sign_out(&app).await;
    let authorize = app.start_sign_in().await;
    let callback = app
        .eaccess_login(&authorize, "marie", "luxtrust_token")
        .await;
    let first = app.client.get(callback.clone()).send().await.unwrap();
    assert_eq!(first.status(), 303);
    let events = app.count_rows("audit_events");
    let again = app.client.get(callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("invalid_state"));
    assert_eq!(app.count_rows("audit_events"), events, "nothing recorded");
}

async fn a_callback_in_another_browser_is_refused(app: TestApp) {
    let authorize = app.start_sign_in().await;
    let callback = app
        .eaccess_login(&authorize, "marie", "luxtrust_mobile")
        .await;
    let other_browser = crate::helpers::http_client();
    let res = other_browser.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("invalid_state"));
    assert_eq!(
        app.count_rows("browser_sessions"),
        1,
        "only the starting browser's session"
    );
}

async fn cancelling_at_eaccess_shows_a_friendly_page_and_creates_nothing(app: TestApp) {
    let authorize = app.start_sign_in().await;
    let callback = devicelink::mock_idp::script::cancel_login(&app.client, &authorize)
        .await
        .unwrap();
    let res = app.client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("Sign-in cancelled"));
    assert!(body.contains("access_denied"));
    assert_eq!(app.count_rows("accounts"), 0);
}

async fn forms_without_the_right_csrf_token_are_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    for (path, form) in [
        ("/auth/logout", vec![("csrf_token", "forged")]),
        (
            "/espaces",
            vec![("csrf_token", "forged"), ("name", "Evil Corp")],
        ),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
        assert!(res.text().await.unwrap().contains("invalid_csrf"));
    }
    assert_eq!(app.count_rows("espaces"), 1);
    assert_eq!(app.get("/dashboard").await.status(), 200, "still signed in");
}

async fn the_session_cookie_is_http_only_and_same_site_lax_and_renewed_at_sign_in(app: TestApp) {
    let res = app.get("/auth/login").await;
    let before = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        before.contains("HttpOnly") && before.contains("SameSite=Lax"),
        "{before}"
    );
    assert!(!before.contains("Secure"), "plain http in tests");
    let authorize = location(&res);
    let callback = app
        .eaccess_login(&authorize, "marie", "luxtrust_mobile")
        .await;
    let res = app.client.get(callback).send().await.unwrap();
    let after = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(value(&before), value(&after), "a new session id at sign-in");
}

async fn a_business_espace_can_be_added_and_is_listed(app: TestApp) {
    app.sign_in_registered("luc", "luxtrust_mobile").await;
    let csrf = hidden_value(&app.dashboard().await, "csrf_token");
    let res = app
        .client
        .post(app.url("/espaces"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "  Hoffmann Bakery "),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let dashboard = app.dashboard().await;
    assert!(dashboard.contains("Hoffmann Bakery") && dashboard.contains("business"));
    let res = app
        .client
        .post(app.url("/espaces"))
        .form(&[("csrf_token", csrf.as_str()), ("name", "Hoffmann Bakery")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "same name twice");
    assert_eq!(app.count_rows("espaces"), 2);
}

async fn pages_need_a_signed_in_session(app: TestApp) {
    for path in ["/dashboard", "/register"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location_path(&res), "/");
    }
}

/// Signs in `marie` against a mock with one fault switched on; the callback must end on
/// the error page with `code`, creating nothing.
async fn faulty_id_token_is_refused(backend: Backend, fault: fn(&mut MockIdpSettings), code: &str) {
    let Some(app) = spawn_app_with(backend, fault).await else {
        return;
    };
    let res = app.sign_in("marie", "luxtrust_mobile").await;
    assert_eq!(
        res.status().as_u16() / 100,
        4,
        "refused, not a server error"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains(code), "error code {code} in: {body}");
    assert_eq!(app.count_rows("accounts"), 0);
    assert_eq!(app.count_rows("audit_events"), 0);
}

fn marie(settings: &mut MockIdpSettings) -> &mut devicelink::mock_idp::MockIdentity {
    settings
        .identities
        .iter_mut()
        .find(|i| i.id == "marie")
        .unwrap()
}

fn wrong_nonce(s: &mut MockIdpSettings) {
    marie(s).wrong_nonce_id_token = true;
}
fn wrong_issuer(s: &mut MockIdpSettings) {
    marie(s).wrong_issuer_id_token = true;
}
fn expired(s: &mut MockIdpSettings) {
    marie(s).expired_id_token = true;
}

#[tokio::test]
async fn an_id_token_with_a_wrong_nonce_is_refused_on_sqlite() {
    faulty_id_token_is_refused(Backend::Sqlite, wrong_nonce, "sign_in_failed").await;
}
#[tokio::test]
async fn an_id_token_with_a_wrong_nonce_is_refused_on_postgres() {
    faulty_id_token_is_refused(Backend::Postgres, wrong_nonce, "sign_in_failed").await;
}
#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused_on_sqlite() {
    faulty_id_token_is_refused(Backend::Sqlite, wrong_issuer, "sign_in_failed").await;
}
#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused_on_postgres() {
    faulty_id_token_is_refused(Backend::Postgres, wrong_issuer, "sign_in_failed").await;
}
#[tokio::test]
async fn an_expired_id_token_is_refused_on_sqlite() {
    faulty_id_token_is_refused(Backend::Sqlite, expired, "sign_in_failed").await;
}
#[tokio::test]
async fn an_expired_id_token_is_refused_on_postgres() {
    faulty_id_token_is_refused(Backend::Postgres, expired, "sign_in_failed").await;
}

#[tokio::test]
async fn an_eaccess_server_error_ends_on_the_error_page() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let res = app.sign_in("broken", "luxtrust_mobile").await;
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("eaccess_error"));
    assert_eq!(app.count_rows("accounts"), 0);
}

/// With eAccess unreachable the server still starts; readiness and the sign-in page say so.
#[tokio::test]
async fn an_unreachable_eaccess_is_reported_by_readyz_and_the_sign_in_page() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = crate::helpers::test_settings(Backend::Sqlite, port, dir.path(), None);
    settings.eaccess.issuer = "http://127.0.0.1:1".parse().unwrap();
    settings.eaccess.http_timeout_secs = 2;
    let app = devicelink::Application::build(settings, listener).unwrap();
    tokio::spawn(app.run_until_stopped());
    let client = crate::helpers::http_client();
    let res = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["eaccess"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    let res = client
        .get(format!("http://127.0.0.1:{port}/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("eaccess_unavailable"));
}

/// eAccess that stops answering after discovery (its token endpoint hangs): the callback
/// gives up after `eaccess.http_timeout_secs` with the 503 page, creates nothing, and the
/// instance stays ready (docs/operations.md, "eAccess is down").
async fn a_hanging_eaccess_gives_the_503_page_within_its_timeout(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app_custom(
        backend,
        |mock| mock.faults.token_delay_ms = 5_000,
        |s| s.eaccess.http_timeout_secs = 1,
    )
    .await
    else {
        return;
    };
    let authorize = app.start_sign_in().await;
    let callback = app
        .eaccess_login(&authorize, "marie", "luxtrust_mobile")
        .await;
    let started = std::time::Instant::now();
    let res = app.client.get(callback).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("eaccess_unavailable"));
    assert!(
        elapsed < std::time::Duration::from_secs(3),
        "the callback waited {elapsed:?} for a 1 s timeout"
    );
    assert_eq!(app.count_rows("accounts"), 0);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_hanging_eaccess_gives_the_503_page_within_its_timeout_on_sqlite() {
    a_hanging_eaccess_gives_the_503_page_within_its_timeout(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_hanging_eaccess_gives_the_503_page_within_its_timeout_on_postgres() {
    a_hanging_eaccess_gives_the_503_page_within_its_timeout(Backend::Postgres).await;
}
