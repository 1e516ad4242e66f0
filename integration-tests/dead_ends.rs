//! The recovery paths a citizen hit in the browser, each replayed to where they
//! expected to land (issue "a way out of every dead end"): the sign-out notice, a
//! protected page reached while signed out (the e-mail's "This was not me" link), a
//! cancelled re-authentication, unlocking a locked device in the browser, renaming a
//! device, the link page's live code shown again, and the pages in French.

use crate::backend_tests;
use crate::helpers::{TestApp, attr, hidden_value, location, location_path};
use crate::manage::reauthenticate;

backend_tests!(
    signing_out_says_so_once,
    a_page_reached_signed_out_continues_there_after_signing_in,
    no_sign_in_continues_to_a_foreign_or_unknown_page,
    cancelling_the_reauthentication_keeps_the_session_and_the_devices,
    a_locked_device_is_unlocked_in_the_browser_and_opens_with_its_code,
    a_device_is_renamed_with_the_rules_of_linking,
    the_portal_pages_speak_french_by_default,
    the_activity_comes_in_pages_and_by_device,
    the_link_page_shows_its_live_code_again,
);

const CODE: &str = "482913";

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn signing_out_says_so_once(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    app.sign_out().await;
    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(body.contains("You have signed out."), "{body}");
    let again = app.get("/").await.text().await.unwrap();
    assert!(
        !again.contains("You have signed out."),
        "the notice is shown once"
    );
}

async fn a_page_reached_signed_out_continues_there_after_signing_in(app: TestApp) {
    let device = app.linked_device("marie", CODE, false).await;
    let id = device.state.device_id.clone().unwrap();
    app.sign_out().await;
    // The e-mail's link, signed out: home, asking to sign in, the target kept.
    let target = format!("/devices?device={id}");
    let res = app.get(&target).await;
    assert_eq!(res.status(), 303);
    let home = location(&res);
    assert_eq!(home.path(), "/");
    let next: Vec<_> = home.query_pairs().filter(|(k, _)| k == "next").collect();
    assert_eq!(next[0].1, target);
    let page = app
        .client
        .get(home.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in to continue."), "{page}");
    let sign_in = crate::helpers::attr(&page, "id=\"sign-in\" href");
    assert!(
        sign_in.starts_with("/auth/login?next=%2Fdevices%3Fdevice%3D"),
        "{sign_in}"
    );
    // Signing in there lands on the device list's path, which asks eAccess again
    // (managing devices needs a fresh authentication) and keeps the preselection.
    let res = app.get(&sign_in.replace("&amp;", "&")).await;
    assert_eq!(res.status(), 303);
    let callback = app
        .eaccess_login(&location(&res), "marie", "luxtrust_mobile")
        .await;
    let res = app.client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).as_str(), app.url(&target));
    let res = reauthenticate(&app, &target, "marie").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).as_str(), app.url(&target));
    let list = app.get(&target).await.text().await.unwrap();
    assert!(
        list.contains(&format!(
            "value=\"{id}\" id=\"pick-{id}\" aria-label=\"Unlink Test phone\" checked"
        )),
        "the device is preselected: {list}"
    );
}

async fn no_sign_in_continues_to_a_foreign_or_unknown_page(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    app.sign_out().await;
    for hostile in [
        "https://evil.example/",
        "//evil.example/devices",
        "/devices?device=not-a-uuid",
        "/auth/logout",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(hostile.as_bytes()).collect();
        let page = app.get(&format!("/?next={encoded}")).await;
        assert_eq!(page.status(), 200);
        let body = page.text().await.unwrap();
        assert!(!body.contains("Sign in to continue."), "{hostile}");
        assert_eq!(
            crate::helpers::attr(&body, "id=\"sign-in\" href"),
            "/auth/login",
            "{hostile}"
        );
        // Even straight at the sign-in: the callback goes to the dashboard.
        let res = app.get(&format!("/auth/login?next={encoded}")).await;
        assert_eq!(res.status(), 303);
        let callback = app
            .eaccess_login(&location(&res), "marie", "luxtrust_mobile")
            .await;
        let res = app.client.get(callback).send().await.unwrap();
        assert_eq!(res.status(), 303, "{hostile}");
        assert_eq!(location_path(&res), "/dashboard", "{hostile}");
        app.sign_out().await;
    }
}

async fn cancelling_the_reauthentication_keeps_the_session_and_the_devices(app: TestApp) {
    app.linked_device("marie", CODE, false).await;
    let res = app.get("/devices").await;
    assert_eq!(location_path(&res), "/auth/reauth");
    let res = app.client.get(location(&res)).send().await.unwrap();
    let callback = devicelink::mock_idp::script::cancel_login(&app.client, &location(&res))
        .await
        .unwrap();
    let res = app.client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "no error page");
    assert_eq!(
        location(&res).as_str(),
        app.url("/dashboard?notice=reauth_cancelled")
    );
    let page = app.get("/dashboard?notice=reauth_cancelled").await;
    assert_eq!(page.status(), 200, "still signed in");
    let body = page.text().await.unwrap();
    assert!(body.contains("You cancelled the authentication; your devices are unchanged."));
    assert!(body.contains("id=\"my-devices\""), "the session's menu");
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 1);
    // Only the notices we name reach the page.
    let other = app
        .get("/dashboard?notice=%3Cscript%3E")
        .await
        .text()
        .await
        .unwrap();
    assert!(!other.contains("id=\"notice\"") && !other.contains("<script>"));
}

async fn a_locked_device_is_unlocked_in_the_browser_and_opens_with_its_code(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let id = device.state.device_id.clone().unwrap();
    for _ in 0..5 {
        let _ = device.unlock_with_secret_code("000001").await;
    }
    let err = device.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(err.code(), Some("device_locked"));
    assert!(
        err.to_string().contains("Unlock it in your browser"),
        "the app says what to do: {err}"
    );
    // Not without a fresh re-authentication.
    let csrf = hidden_value(&app.dashboard().await, "csrf_token");
    let path = format!("/devices/{id}/unlock");
    let res = post_form(&app, &path, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/auth/reauth");
    assert_eq!(app.count_rows("devices WHERE status = 'locked'"), 1);

    reauthenticate(&app, "/devices", "marie").await;
    let list = app.get("/devices").await.text().await.unwrap();
    assert!(
        list.contains("Locked") && list.contains("Unlock this device"),
        "{list}"
    );
    let res = post_form(&app, &path, &[("csrf_token", "wrong")]).await;
    assert_eq!(res.status(), 403, "CSRF");
    let res = post_form(&app, &path, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).as_str(), app.url("/devices?done=unlocked"));
    let list = app
        .get("/devices?done=unlocked")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("The device is unlocked. Open the app and enter your secret code."));
    assert!(list.contains("Device “Test phone” unlocked in the browser"));
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 0"), 1);
    // The app opens again with its code; five attempts, as before.
    device.unlock_with_secret_code(CODE).await.unwrap();
    device.me().await.unwrap();
    // Twice (another tab): nothing to do, said so.
    let res = post_form(&app, &path, &[("csrf_token", &csrf)]).await;
    assert_eq!(location(&res).as_str(), app.url("/devices?done=not_locked"));
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_unlocked_in_browser'"),
        1
    );
}

async fn a_device_is_renamed_with_the_rules_of_linking(app: TestApp) {
    let device = app.linked_device("marie", CODE, false).await;
    let id = device.state.device_id.clone().unwrap();
    reauthenticate(&app, "/devices", "marie").await;
    let csrf = hidden_value(
        &app.get("/devices").await.text().await.unwrap(),
        "csrf_token",
    );
    let path = format!("/devices/{id}/rename");
    let res = post_form(
        &app,
        &path,
        &[("csrf_token", &csrf), ("name", "  Marie's Pixel  ")],
    )
    .await;
    assert_eq!(location(&res).as_str(), app.url("/devices?done=renamed"));
    let list = app.get("/devices?done=renamed").await.text().await.unwrap();
    assert!(list.contains("The device was renamed."));
    assert!(
        list.contains("Marie&#39;s Pixel") || list.contains("Marie&#x27;s Pixel"),
        "{list}"
    );
    for (name, code) in [("   ", "name_empty"), ("a\u{202e}b", "name_invisible")] {
        let res = post_form(&app, &path, &[("csrf_token", &csrf), ("name", name)]).await;
        assert_eq!(
            location(&res).as_str(),
            app.url(&format!("/devices?done={code}"))
        );
    }
    let list = app
        .get("/devices?done=name_empty")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("role=\"alert\""), "a refusal is an alert");
    // Another account's device, or none: nothing changes.
    let res = post_form(
        &app,
        "/devices/6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93/rename",
        &[("csrf_token", &csrf), ("name", "Mine now")],
    )
    .await;
    assert_eq!(location(&res).as_str(), app.url("/devices?done=not_found"));
    assert_eq!(app.count_rows("devices WHERE name = 'Mine now'"), 0);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_renamed'"),
        1
    );
}

async fn the_portal_pages_speak_french_by_default(app: TestApp) {
    let french = |path: &str| {
        app.client
            .get(app.url(path))
            .header("accept-language", "fr-LU,fr;q=0.9")
            .send()
    };
    let home = french("/").await.unwrap().text().await.unwrap();
    assert!(home.contains("<html lang=\"fr\">"));
    assert!(home.contains("Bienvenue sur MyPortal") && home.contains("Se connecter avec eAccess"));
    assert!(!home.contains("Sign in"), "{home}");
    // No language named at all: French too.
    let bare = crate::helpers::http_client_with_timeout(std::time::Duration::from_secs(10))
        .get(app.url("/"))
        .header("accept-language", "")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bare.contains("<html lang=\"fr\">"), "{bare}");
    app.linked_device("marie", CODE, false).await;
    let dashboard = french("/dashboard").await.unwrap().text().await.unwrap();
    assert!(dashboard.contains("Bonjour, Marie"), "{dashboard}");
    assert!(dashboard.contains("Mes appareils") && dashboard.contains("privé"));
    let link = french("/devices/link").await.unwrap().text().await.unwrap();
    assert!(link.contains("Lier un appareil") && link.contains("Il expire dans"));
    assert!(!link.contains("Waiting for"), "{link}");
}

async fn the_activity_comes_in_pages_and_by_device(app: TestApp) {
    let mut phone = app.linked_device("marie", CODE, false).await;
    let tablet = app.link_by_qr("Tablet", CODE, false).await;
    for _ in 0..12 {
        phone.unlock_with_secret_code(CODE).await.unwrap();
    }
    reauthenticate(&app, "/devices", "marie").await;
    let rows = |page: &str| page.matches("<tr><td data-label=").count();
    let first = app.get("/devices").await.text().await.unwrap();
    assert_eq!(rows(&first), 10, "one page of activity");
    assert!(!first.contains("id=\"activity-newer\""));
    let older = crate::helpers::attr(&first, "id=\"activity-older\" href");
    assert_eq!(older, "/devices?activity_page=2#activity-title");
    let second = app
        .get("/devices?activity_page=2")
        .await
        .text()
        .await
        .unwrap();
    assert!(rows(&second) >= 5, "the rest: {}", rows(&second));
    assert!(second.contains("id=\"activity-newer\""));
    // By device: only the tablet's own events.
    let tablet_id = tablet.state.device_id.clone().unwrap();
    let filtered = app
        .get(&format!("/devices?activity_device={tablet_id}"))
        .await
        .text()
        .await
        .unwrap();
    let shown = rows(&filtered);
    assert!((1..10).contains(&shown), "{shown}");
    assert!(!filtered.contains("App opened on “Test phone”"));
    assert!(filtered.contains(&format!(
        "<option value=\"{tablet_id}\" selected>Tablet</option>"
    )));
    // Hostile values are clamped or ignored, never an error.
    for query in [
        "activity_page=-3",
        "activity_page=99999999999",
        "activity_device=%27%3B--",
    ] {
        let res = app.get(&format!("/devices?{query}")).await;
        assert_eq!(res.status(), 200, "{query}");
    }
}

/// The link page's code id and code, its static flag, as a browser opening `path` sees them.
async fn link_page(app: &TestApp, path: &str) -> (String, String, String) {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let page = res.text().await.unwrap();
    (
        attr(&page, "data-link-id"),
        attr(&page, "data-code"),
        attr(&page, "data-static"),
    )
}

async fn the_link_page_shows_its_live_code_again(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code, is_static) = link_page(&app, "/devices/link").await;
    assert_eq!(is_static, "false");
    // Coming back 25 times: the same code, never voided, counted once against the limit.
    for _ in 0..25 {
        assert_eq!(
            link_page(&app, "/devices/link").await,
            (id.clone(), code.clone(), is_static.clone())
        );
    }
    assert_eq!(app.count_rows("link_codes"), 1);
    assert_eq!(
        app.count_rows("rate_limits WHERE bucket LIKE 'link:account:%' AND hits = 1"),
        1
    );
    // The database keeps the code only as a hash and sealed, never in clear.
    let sealed = app.query_text("SELECT code_sealed AS v FROM link_codes");
    assert!(!sealed.contains(&code), "{sealed}");

    // Without JavaScript: the same row turns static with a code of its own (the code the
    // animated frames showed never scans as a static code); still one code, one hit.
    let (static_id, static_code, is_static) = link_page(&app, "/devices/link?mode=static").await;
    assert_eq!(
        (static_id.as_str(), is_static.as_str()),
        (id.as_str(), "true")
    );
    assert_ne!(static_code, code);
    assert_eq!(
        link_page(&app, "/devices/link?mode=static").await.1,
        static_code
    );
    assert_eq!(app.count_rows("link_codes"), 1);
    assert_eq!(
        app.count_rows("rate_limits WHERE bucket LIKE 'link:account:%' AND hits = 1"),
        1
    );
    let err = app
        .device()
        .link_with_qr("Phone", &code, CODE, false)
        .await
        .expect_err("the animated code's bare value");
    assert!(format!("{err:?}").contains("qr_code_invalid"), "{err:?}");
    // "Generate a new QR code" makes one and voids the last.
    let (new_id, new_code, _) = link_page(&app, "/devices/link?new=1").await;
    assert_ne!(new_id, id);
    assert_ne!(new_code, code);
    assert_eq!(app.count_rows("link_codes WHERE status = 'active'"), 1);
    // A code with a minute or less left is not shown again.
    let soon = (chrono::Utc::now().naive_utc() + chrono::Duration::seconds(50))
        .format("%Y-%m-%d %H:%M:%S");
    app.execute_sql(&format!(
        "UPDATE link_codes SET expires_at = '{soon}' WHERE id = '{new_id}'"
    ));
    let (fresh_id, _, _) = link_page(&app, "/devices/link").await;
    assert_ne!(fresh_id, new_id);

    // The code shown again links a phone like any code.
    let (id, code, _) = link_page(&app, "/devices/link").await;
    assert_eq!(id, fresh_id);
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device
        .link_with_qr("Phone", &scanned, CODE, false)
        .await
        .expect("the code shown again links");
    // Scanned: the next visit makes a new code.
    let (after, _, _) = link_page(&app, "/devices/link").await;
    assert_ne!(after, id);
}
