//! The whole citizen journey against an eAccess that behaves like a standard provider:
//! the bundled mock in its `minimal` mode (the ID token carries only the REQUIRED
//! claims, `auth_time` only when asked; the rest is at userinfo), and with a signed
//! (JWT) userinfo response. Sign-in, registration, QR linking, LuxTrust linking and
//! "Unlink my device" each work from userinfo's claims.

use devicelink::device_client::LuxtrustOutcome;
use devicelink::mock_idp::{IdTokenClaims, MockIdpSettings};

use crate::helpers::{Backend, TestApp, hidden_value, location, spawn_app_with};
use crate::luxtrust::authenticate;
use crate::manage::reauthenticate;

fn minimal(mock: &mut MockIdpSettings) {
    mock.id_token_claims = IdTokenClaims::Minimal;
}

fn minimal_signed(mock: &mut MockIdpSettings) {
    mock.id_token_claims = IdTokenClaims::Minimal;
    mock.userinfo_signed = true;
}

macro_rules! mode_tests {
    ($($mode:ident),*) => {
        $(
            mod $mode {
                #[tokio::test]
                async fn sqlite_the_whole_journey_works_from_userinfo_claims() {
                    let app = crate::helpers::spawn_app_with(
                        crate::helpers::Backend::Sqlite, super::$mode).await.unwrap();
                    super::the_whole_journey(app).await;
                }
                #[tokio::test]
                async fn postgres_the_whole_journey_works_from_userinfo_claims() {
                    if let Some(app) = crate::helpers::spawn_app_with(
                        crate::helpers::Backend::Postgres, super::$mode).await {
                        super::the_whole_journey(app).await;
                    }
                }
            }
        )*
    };
}
mode_tests!(minimal, minimal_signed);

/// The ID token really is minimal: what the mock signs for a plain code flow.
#[tokio::test]
async fn the_minimal_id_token_carries_only_required_claims_and_the_requested_auth_time() {
    let app = spawn_app_with(Backend::Sqlite, minimal).await.unwrap();
    let authorize = app.start_sign_in().await;
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        query["max_age"],
        app.settings.eaccess.sign_in_max_age_secs.to_string(),
        "every sign-in sends max_age, so auth_time must come back"
    );
    assert_eq!(
        query["claims"], r#"{"id_token":{"auth_time":{"essential":true}}}"#,
        "the mock supports the claims parameter, so auth_time is asked as essential"
    );
    let res = app.sign_in("marie", "luxtrust_mobile").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).path(), "/register");
    let page = app.get("/register").await.text().await.unwrap();
    assert!(
        page.contains("Marie") && page.contains("marie@example.lu"),
        "names and e-mail came from userinfo"
    );
}

async fn the_whole_journey(app: TestApp) {
    // Sign-in and registration: the names and e-mail come from userinfo.
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    assert_eq!(
        app.count_rows("accounts WHERE given_name = 'Marie' AND family_name = 'Schmit'"),
        1
    );
    // QR linking.
    let phone = app.link_by_qr("Phone", "482913", false).await;
    // LuxTrust linking: the product (a userinfo claim) must be one used on the portal.
    let mut tablet = app.device();
    let outcome = authenticate(
        &app,
        &mut tablet,
        "luxtrust_mobile",
        "marie",
        "luxtrust_mobile",
    )
    .await;
    let LuxtrustOutcome::Result(result) = outcome else {
        panic!("expected success, got {outcome:?}");
    };
    assert_eq!(
        tablet.redeem_luxtrust_result(&result).await.unwrap()["state"],
        "account_bound"
    );
    tablet.set_secret_code("590317").await.unwrap();
    assert_eq!(tablet.complete().await.unwrap()["state"], "completed");
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 2);
    // "Unlink my device": a fresh re-authentication, its auth_time from the ID token.
    let res = reauthenticate(&app, "/devices", "marie").await;
    assert_eq!(res.status(), 303);
    let page = app.get("/devices").await.text().await.unwrap();
    let csrf = hidden_value(&page, "csrf_token");
    let device_id = phone.state.device_id.clone().unwrap();
    let done = app
        .client
        .post(app.url("/devices/unlink/confirm"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("device", device_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done).query(), Some("unlinked=1"));
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 1);
    tablet.unlock_with_secret_code("590317").await.unwrap();
}
