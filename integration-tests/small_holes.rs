//! Smaller holes of the security review, each refused over HTTP: addresses the mailer
//! cannot send to, spoofable device names.

use crate::backend_tests;
use crate::helpers::{TestApp, hidden_value, location_path};

backend_tests!(
    registration_refuses_an_address_with_a_display_name_the_mailer_cannot_send_to,
    an_account_with_an_unsendable_address_is_asked_to_correct_it,
    device_names_with_invisible_or_direction_changing_characters_are_refused,
);

async fn registration_refuses_an_address_with_a_display_name_the_mailer_cannot_send_to(
    app: TestApp,
) {
    let res = app.sign_in("jean", "luxtrust_scan").await;
    assert_eq!(location_path(&res), "/register");
    let page = app.get("/register").await.text().await.unwrap();
    let csrf = hidden_value(&page, "csrf_token");
    let long = format!("{}@example.lu", "a".repeat(250));
    for email in [
        "\"x\"<evil@evil.example>",
        "Jean <jean@example.lu>",
        "jean@example.lu, evil@evil.example",
        long.as_str(),
    ] {
        let res = app
            .client
            .post(app.url("/register"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("accept_terms", "yes"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{email}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Enter one e-mail address without a name or brackets"),
            "{email}"
        );
    }
    assert_eq!(app.count_rows("accounts"), 0);
}

async fn an_account_with_an_unsendable_address_is_asked_to_correct_it(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    assert!(!app.dashboard().await.contains("id=\"email-unusable\""));
    // An address accepted before addresses were checked with the mailer's parser.
    app.execute_sql("UPDATE accounts SET email = '\"x\"<evil@evil.example>'");
    let dashboard = app.dashboard().await;
    assert!(dashboard.contains("We cannot send you e-mail: correct your address"));
    let csrf = hidden_value(&dashboard, "csrf_token");
    // The operator sees it too.
    let db = devicelink::db::Db::open(&app.settings.database).unwrap();
    let report = db
        .run_blocking(devicelink::mail::report::load_status)
        .unwrap();
    assert_eq!(report.unsendable_count, 1);
    assert!(report.needs_attention());

    let res = app
        .client
        .post(app.url("/account/email"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "Marie <m@example.lu>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("without a name or brackets")
    );
    let res = app
        .client
        .post(app.url("/account/email"))
        .form(&[("csrf_token", "wrong"), ("email", "marie@example.lu")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.count_rows("accounts WHERE email = 'marie@example.lu'"),
        0
    );

    let res = app
        .client
        .post(app.url("/account/email"))
        .form(&[("csrf_token", csrf.as_str()), ("email", "marie@example.lu")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count_rows("accounts WHERE email = 'marie@example.lu'"),
        1
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'email_changed'"),
        1
    );
    assert!(!app.dashboard().await.contains("id=\"email-unusable\""));
    let report = db
        .run_blocking(devicelink::mail::report::load_status)
        .unwrap();
    assert_eq!(report.unsendable_count, 0);
}

async fn device_names_with_invisible_or_direction_changing_characters_are_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    for name in [
        "Marie\u{202E}enohp",
        "Mar\u{200B}ie",
        "Marie\u{2028}phone",
        "\u{2066}Marie",
    ] {
        let mut device = app.device();
        let err = device.start_qr_link(name).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{name:?}");
        assert_eq!(err.code(), Some("invalid_device_name"), "{name:?}");
    }
    assert_eq!(app.count_rows("link_sessions"), 0, "nothing was started");
    // A decomposed accent is stored composed (NFC).
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device
        .link_with_qr("Te\u{301}le\u{301}phone", &scanned, "482913", false)
        .await
        .unwrap();
    assert_eq!(app.count_rows("devices WHERE name = 'Téléphone'"), 1);
}
