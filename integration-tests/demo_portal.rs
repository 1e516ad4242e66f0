//! The demo portal that `devicelink demo` starts: a relying party written with the
//! `openidconnect` crate that knows devicelink only by its discovery URL. A citizen signs
//! in through devicelink (brokered to the mock eAccess) and the portal shows the checked
//! ID-token claims and the userinfo answer. SQLite and PostgreSQL.

use std::net::TcpListener;

use devicelink::demo_portal::{self, DemoPortalSettings};

use crate::helpers::{
    Backend, TestApp, attr, hidden_value, http_client, location, spawn_app_with_settings,
};

const SECRET: &str = "demo-portal-secret-for-tests";

async fn portal_and_app(backend: Backend) -> Option<(TestApp, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let portal_url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let callback = format!("{portal_url}callback");
    let app = spawn_app_with_settings(backend, |s| {
        let mut client = devicelink::provider::demo_client(&portal_url.parse().unwrap());
        client.secret = Some(SECRET.to_owned());
        client.redirect_uris = vec![callback.clone()];
        s.provider.clients = vec![client];
    })
    .await?;
    let server = demo_portal::build(
        DemoPortalSettings {
            issuer: app.address.clone(),
            client_id: "demo-portal".to_owned(),
            client_secret: SECRET.to_owned(),
            public_url: portal_url.parse().unwrap(),
        },
        listener,
    )
    .unwrap();
    tokio::spawn(server);
    Some((app, portal_url))
}

/// From the portal's "Sign in" through devicelink and eAccess back to the portal.
async fn sign_in_at_the_demo_portal(backend: Backend) {
    let Some((app, portal)) = portal_and_app(backend).await else {
        return;
    };
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    // The citizen's browser at the portal: no devicelink session there yet.
    let browser = http_client();
    let res = browser.get(&portal).send().await.unwrap();
    // The same security headers as devicelink's own pages.
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(res.headers()[name], value, "{name}");
    }
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    let home = res.text().await.unwrap();
    assert!(!home.contains("<style"), "no inline style under the CSP");
    let css = browser
        .get(format!("{portal}demo-portal.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(home.contains("id=\"sign-in\""), "{home}");
    let (page, next, status) = through_devicelink(&app, &portal, &browser, "allow").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"claims\""), "{page}");
    assert!(
        page.contains("urn:devicelink:acr:eaccess:eid_card"),
        "{page}"
    );
    assert!(
        page.contains("marie@example.lu"),
        "userinfo was read: {page}"
    );
    assert!(page.contains(">Marie<"), "{page}");

    assert!(
        page.contains("<title>Signed in – Demo portal</title>"),
        "{page}"
    );
    assert!(page.contains("id=\"sign-out\""), "{page}");

    // The same answer replayed at the portal is refused: its state was used.
    let again = browser.get(next).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    // "Sign out": the portal's session, then devicelink's (RP-initiated logout), and back.
    let res = browser
        .post(format!("{portal}logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let end_session = location(&res);
    assert!(
        end_session.as_str().starts_with(&app.url("/oidc/logout")),
        "{end_session}"
    );
    assert!(end_session.query_pairs().any(|(k, _)| k == "id_token_hint"));
    let res = browser.get(end_session).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(back.as_str(), format!("{portal}?state=signed_out"));
    let home = browser
        .get(back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("You have signed out of the demo portal and of devicelink."),
        "{home}"
    );
    assert!(!home.contains("id=\"sign-out\""), "{home}");
    assert!(
        home.contains("<title>Welcome – Demo portal</title>"),
        "{home}"
    );
    // devicelink's session in that browser is over too.
    let res = browser.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

/// A citizen who refuses at devicelink's consent page lands on a page that says so, in
/// their language, not on a gateway error.
async fn a_refusal_is_a_page_in_the_citizen_s_language(backend: Backend) {
    let Some((app, portal)) = portal_and_app(backend).await else {
        return;
    };
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut french = reqwest::header::HeaderMap::new();
    french.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("fr-LU,fr;q=0.9"),
    );
    let browser = reqwest::Client::builder()
        .default_headers(french)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let home = browser
        .get(&portal)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("<html lang=\"fr\">"), "{home}");
    assert!(home.contains("Se connecter avec devicelink"), "{home}");
    let res = browser.get(format!("{portal}login")).send().await.unwrap();
    assert!(
        location(&res)
            .query_pairs()
            .any(|(k, v)| k == "ui_locales" && v == "fr"),
        "the portal passes the language on"
    );
    let (page, next, status) = through_devicelink(&app, &portal, &browser, "deny").await;
    assert!(next.as_str().starts_with(&portal), "{next}");
    assert_eq!(status, 403);
    assert!(
        page.contains("Vous n&#39;avez pas autorisé la connexion"),
        "{page}"
    );
    assert!(page.contains("Rien n&#39;a été transmis"), "{page}");
    assert!(
        !page.contains("access_denied"),
        "no raw protocol text: {page}"
    );
    assert!(page.contains("id=\"try-again\""), "{page}");
}

#[tokio::test]
async fn a_refusal_is_a_page_in_the_citizen_s_language_on_sqlite() {
    a_refusal_is_a_page_in_the_citizen_s_language(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_refusal_is_a_page_in_the_citizen_s_language_on_postgresql() {
    a_refusal_is_a_page_in_the_citizen_s_language(Backend::Postgres).await;
}

#[tokio::test]
async fn a_citizen_signs_in_at_the_demo_portal_on_sqlite() {
    sign_in_at_the_demo_portal(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_citizen_signs_in_at_the_demo_portal_on_postgresql() {
    sign_in_at_the_demo_portal(Backend::Postgres).await;
}

/// From the portal's "Sign in" through devicelink (brokered to the mock eAccess) and its
/// consent page, where the citizen answers `decision`, back to the portal: the page the
/// portal shows and its address.
async fn through_devicelink(
    app: &TestApp,
    portal: &str,
    browser: &reqwest::Client,
    decision: &str,
) -> (String, url::Url, reqwest::StatusCode) {
    let res = browser.get(format!("{portal}login")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let authorize = location(&res);
    assert!(
        authorize.as_str().starts_with(&app.url("/oidc/authorize")),
        "{authorize}"
    );
    let choice = browser
        .get(authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let broker = attr(&choice, "id=\"sign-in-eaccess\" href").replace("&amp;", "&");
    let res = browser.get(app.url(&broker)).send().await.unwrap();
    let mut next =
        devicelink::mock_idp::script::complete_login(browser, &location(&res), "marie", "eid_card")
            .await
            .unwrap();
    // Through devicelink's callback and the consent page back to the portal.
    let (page, status) = loop {
        let res = browser.get(next.clone()).send().await.unwrap();
        if res.status() == 303 {
            next = location(&res);
            continue;
        }
        let status = res.status();
        let page = res.text().await.unwrap();
        if page.contains("consent-allow") {
            let res = browser
                .post(app.url("/oidc/authorize/consent"))
                .form(&[
                    ("csrf_token", hidden_value(&page, "csrf_token")),
                    ("request", hidden_value(&page, "request")),
                    ("decision", decision.to_owned()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 303);
            next = location(&res);
            continue;
        }
        break (page, status);
    };
    assert!(
        next.as_str().starts_with(portal),
        "back at the portal: {next}"
    );
    (page, next, status)
}
