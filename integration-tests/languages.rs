//! The citizen's language over real HTTP: the device API's sentences follow the app's
//! `Accept-Language`, pages follow the switcher's cookie then `Accept-Language` then
//! French, and the choice is kept on the account and restored at the next sign-in.

use devicelink::mock_idp::script;
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, SET_COOKIE};
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{TestApp, hidden_value, location};
use crate::manage::reauthenticate;

backend_tests!(
    api_sentences_follow_accept_language_and_default_to_french,
    a_device_reads_its_refusals_in_the_app_s_language,
    pages_speak_the_switcher_s_choice_then_accept_language_then_french,
    the_switcher_returns_only_to_a_local_path_and_refuses_unknown_languages,
    the_choice_is_kept_on_the_account_and_restored_at_the_next_sign_in,
    the_device_list_shows_luxembourg_time_across_a_daylight_saving_change,
    e_mails_speak_the_account_s_choice_else_the_language_of_the_request,
);

/// A client without the tests' default `Accept-Language: en` (as a bare app would be).
pub(crate) fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn api_404(app: &TestApp, accept_language: Option<&str>) -> (String, Value) {
    let mut req = bare_client().get(app.url("/api/v1/no-such-endpoint"));
    if let Some(value) = accept_language {
        req = req.header(ACCEPT_LANGUAGE, value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 404);
    let lang = res.headers()[CONTENT_LANGUAGE].to_str().unwrap().to_owned();
    (lang, res.json().await.unwrap())
}

async fn api_sentences_follow_accept_language_and_default_to_french(app: TestApp) {
    let cases = [
        (None, "fr", "Il n'y a rien à cette adresse."),
        (
            Some("de-LU,de;q=0.9"),
            "de",
            "Unter dieser Adresse gibt es nichts.",
        ),
        (
            Some("en-GB, fr;q=0.5"),
            "en",
            "There is nothing at this address.",
        ),
        (Some("pt-PT, lb"), "fr", "Il n'y a rien à cette adresse."),
        (
            Some("en;q=0.1, de;q=0.9"),
            "de",
            "Unter dieser Adresse gibt es nichts.",
        ),
    ];
    for (header, lang, sentence) in cases {
        let (content_language, body) = api_404(&app, header).await;
        assert_eq!(content_language, lang, "{header:?}");
        // The code is never translated; the sentence is.
        assert_eq!(body["error"], "not_found");
        assert_eq!(body["error_description"], sentence, "{header:?}");
    }
}

async fn a_device_reads_its_refusals_in_the_app_s_language(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    device.set_header("accept-language", "de").unwrap();
    let err = device.unlock_with_secret_code("730591").await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_secret_code"));
    let devicelink::device_client::ClientError::Api { body, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        body["error_description"],
        "Der Geheimcode ist falsch. Noch 4 Versuche, bevor dieses Gerät gesperrt wird."
    );
    assert_eq!(body["attempts_remaining"], 4);
    device.set_header("accept-language", "fr").unwrap();
    let err = device.unlock_with_secret_code("730591").await.unwrap_err();
    let devicelink::device_client::ClientError::Api { body, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        body["error_description"],
        "Le code secret est erroné. Il reste 3 essais avant que cet appareil ne soit bloqué."
    );
}

pub(crate) fn html_lang(page: &str) -> &str {
    let start = page.find("<html lang=\"").expect("an html element") + 12;
    &page[start..start + page[start..].find('"').unwrap()]
}

async fn home(client: &reqwest::Client, app: &TestApp, accept_language: &str) -> String {
    let res = client
        .get(app.url("/"))
        .header(ACCEPT_LANGUAGE, accept_language)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn pages_speak_the_switcher_s_choice_then_accept_language_then_french(app: TestApp) {
    let client = bare_client();
    let page = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.headers()[CONTENT_LANGUAGE], "fr");
    let page = page.text().await.unwrap();
    assert_eq!(html_lang(&page), "fr");
    assert!(page.contains("Changer de langue"), "{page}");

    let page = home(&client, &app, "de").await;
    assert_eq!(html_lang(&page), "de");
    assert!(page.contains("Sprache wechseln"));

    // The switcher's choice wins over the browser's header from now on.
    let res = client
        .post(app.url("/language"))
        .form(&[("lang", "en"), ("return_to", "/?from=switcher")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/?from=switcher");
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("lang=en"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = home(&client, &app, "de").await;
    assert_eq!(html_lang(&page), "en");
    assert!(page.contains("Change language"));
    // The switcher on a page returns to that page.
    assert!(page.contains("name=\"return_to\" value=\"/\""), "{page}");
}

async fn the_switcher_returns_only_to_a_local_path_and_refuses_unknown_languages(app: TestApp) {
    let client = bare_client();
    for hostile in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let res = client
            .post(app.url("/language"))
            .form(&[("lang", "de"), ("return_to", hostile)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{hostile}");
        assert_eq!(res.headers()["location"], "/", "{hostile}");
    }
    // A browser without a choice yet, asking for English.
    let res = bare_client()
        .post(app.url("/language"))
        .header(ACCEPT_LANGUAGE, "en")
        .form(&[("lang", "xx"), ("return_to", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("invalid_language"), "{page}");
    assert!(page.contains("Choose French, German or English."), "{page}");
}

async fn the_choice_is_kept_on_the_account_and_restored_at_the_next_sign_in(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let dashboard = app.dashboard().await;
    let csrf = hidden_value(&dashboard, "csrf_token");
    // A forged form (no CSRF token) changes only that browser's cookie, not the account.
    let forged = app
        .client
        .post(app.url("/language"))
        .form(&[("lang", "fr"), ("return_to", "/dashboard")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303);
    assert_eq!(app.count_rows("accounts WHERE language IS NOT NULL"), 0);
    choose_language(&app, "de", &csrf).await;
    assert_eq!(app.count_rows("accounts WHERE language = 'de'"), 1);

    // Another browser, which asks for English: the sign-in restores German.
    let other = bare_client();
    let login = other.get(app.url("/auth/login")).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let callback = script::complete_login(&other, &location(&login), "marie", "luxtrust_mobile")
        .await
        .unwrap();
    let res = other
        .get(callback)
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookies: Vec<_> = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("lang=de")),
        "{cookies:?}"
    );
    let page = other
        .get(app.url("/dashboard"))
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html_lang(&page), "de");
}

async fn the_device_list_shows_luxembourg_time_across_a_daylight_saving_change(app: TestApp) {
    app.linked_device("marie", "482913", false).await;
    // Stored in UTC: one minute before and one after summer time ended (25 October 2026,
    // 01:00 UTC, when 03:00 CEST became 02:00 CET).
    app.execute_sql("UPDATE devices SET linked_at = '2026-10-25 00:59:00'");
    let second = app.link_by_qr("Tablette", "482913", false).await;
    drop(second);
    app.execute_sql("UPDATE devices SET linked_at = '2026-10-25 01:01:00' WHERE name = 'Tablette'");
    reauthenticate(&app, "/devices", "marie").await;
    for (lang, summer, winter) in [
        ("fr", "25 octobre 2026 à 02:59", "25 octobre 2026 à 02:01"),
        ("de", "25. Oktober 2026, 02:59", "25. Oktober 2026, 02:01"),
        ("en", "25 October 2026, 02:59", "25 October 2026, 02:01"),
    ] {
        let page = app
            .client
            .get(app.url("/devices"))
            .header(ACCEPT_LANGUAGE, lang)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(html_lang(&page), lang);
        assert!(
            page.contains(summer),
            "{lang}: {summer} (CEST) not in {page}"
        );
        assert!(
            page.contains(winter),
            "{lang}: {winter} (CET) not in {page}"
        );
    }
}

async fn e_mails_speak_the_account_s_choice_else_the_language_of_the_request(app: TestApp) {
    // No choice on the account yet: the mail speaks what the linking app asked for.
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device.set_header("accept-language", "fr").unwrap();
    device
        .link_with_qr("Téléphone", &scanned, "482913", false)
        .await
        .unwrap();
    let mail = |kind: &str, column: &str| {
        app.query_text(&format!(
            "SELECT {column} AS v FROM outbox WHERE kind = '{kind}'"
        ))
    };
    assert_eq!(
        mail("device_linked", "subject"),
        "Un appareil mobile a été lié à votre compte"
    );
    let text = mail("device_linked", "text_body");
    assert!(text.contains("Bonjour Marie"), "{text}");
    assert!(
        text.contains("Confirmé avec: Code QR depuis votre navigateur"),
        "{text}"
    );
    assert!(text.contains("(CET)") || text.contains("(CEST)"), "{text}");
    let html = mail("device_linked", "html_body");
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(!html.contains("Hello") && !text.contains("Hello"), "{html}");

    // The citizen chooses German: from now on the mails are German, whatever the app asks.
    let csrf = hidden_value(&app.dashboard().await, "csrf_token");
    choose_language(&app, "de", &csrf).await;
    device.set_header("accept-language", "en").unwrap();
    device.unlock_with_secret_code("482913").await.unwrap();
    device.unlink().await.unwrap();
    assert_eq!(
        mail("device_unlinked", "subject"),
        "Ein Mobilgerät wurde von Ihrem Konto entfernt"
    );
    let text = mail("device_unlinked", "text_body");
    assert!(text.contains("Guten Tag Marie"), "{text}");
    assert!(text.contains("über die App auf dem Gerät"), "{text}");
    assert!(text.contains("(MEZ)") || text.contains("(MESZ)"), "{text}");
}

/// The header's switcher, signed in: `lang` for this browser and the account.
async fn choose_language(app: &TestApp, lang: &str, csrf: &str) {
    let res = app
        .client
        .post(app.url("/language"))
        .form(&[
            ("lang", lang),
            ("return_to", "/dashboard"),
            ("csrf_token", csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
