//! The citizen's language beyond devicelink's own pages, over real HTTP: the mock eAccess
//! speaks the `ui_locales` devicelink sends it (else the browser's `Accept-Language`, else
//! French), and a portal's `ui_locales` holds for the provider's pages of its sign-in,
//! error pages included.

use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, SET_COOKIE};
use url::Url;

use crate::helpers::{TestApp, hidden_value, location};
use crate::languages::{bare_client, html_lang};
use crate::provider::{CLIENT_ID, authorize_url, query};
use crate::{backend_tests, provider_tests};

backend_tests!(
    eaccess_speaks_the_language_devicelink_asks_for,
    eaccess_without_ui_locales_follows_accept_language_then_french,
);

mod provider_pages {
    use super::*;
    provider_tests!(
        a_portal_s_ui_locales_holds_for_its_sign_in,
        the_provider_s_error_pages_speak_the_citizen_s_language,
    );
}

/// The sign-in's redirect to eAccess, for a browser that asks for `accept_language`.
async fn eaccess_url(app: &TestApp, client: &reqwest::Client, accept_language: &str) -> Url {
    let res = client
        .get(app.url("/auth/login"))
        .header(ACCEPT_LANGUAGE, accept_language)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    location(&res)
}

async fn page(client: &reqwest::Client, url: &Url, accept_language: Option<&str>) -> String {
    let mut req = client.get(url.clone());
    if let Some(value) = accept_language {
        req = req.header(ACCEPT_LANGUAGE, value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.text().await.unwrap()
}

async fn eaccess_speaks_the_language_devicelink_asks_for(app: TestApp) {
    let client = bare_client();
    let authorize = eaccess_url(&app, &client, "de-LU,de;q=0.9").await;
    assert_eq!(query(&authorize, "ui_locales").as_deref(), Some("de"));
    // The browser's header says English; the request's `ui_locales` wins at eAccess.
    let login = page(&client, &authorize, Some("en")).await;
    assert_eq!(html_lang(&login), "de");
    assert!(login.contains("Wer sind Sie?"), "{login}");
    assert!(login.contains("Personalausweis (eID)"), "{login}");
    assert!(!login.contains("Who are you"), "{login}");

    // The next pages of that login speak it too: a refusal of the form, then the step.
    let request_id = hidden_value(&login, "request_id");
    let form = |action: &'static str, product: &'static str| {
        vec![
            ("request_id", request_id.clone()),
            ("identity", "marie".to_owned()),
            ("product", product.to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let again = client
        .post(authorize.join("authorize/login").unwrap())
        .header(ACCEPT_LANGUAGE, "en")
        .form(&form("nonsense", "luxtrust_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()[CONTENT_LANGUAGE], "de");
    let again = again.text().await.unwrap();
    assert!(
        again.contains("Wählen Sie Weiter oder Abbrechen."),
        "{again}"
    );
    let step = client
        .post(authorize.join("authorize/login").unwrap())
        .header(ACCEPT_LANGUAGE, "en")
        .form(&form("continue", "luxtrust_token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html_lang(&step), "de");
    assert!(
        step.contains("Anmeldung als Marie Schmit mit LuxTrust Token"),
        "{step}"
    );
    assert!(step.contains("Auf dem Token angezeigter Code"), "{step}");
    let wrong = client
        .post(authorize.join("authorize/confirm").unwrap())
        .form(&[
            ("request_id", request_id.as_str()),
            ("action", "approve"),
            ("otp", "000000x"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(wrong.contains("Der Code stimmt nicht überein."), "{wrong}");

    // A French browser's sign-in asks eAccess for French.
    let authorize = eaccess_url(&app, &bare_client(), "fr-LU").await;
    assert_eq!(query(&authorize, "ui_locales").as_deref(), Some("fr"));
    let login = page(&bare_client(), &authorize, None).await;
    assert_eq!(html_lang(&login), "fr");
    assert!(login.contains("Qui êtes-vous ?"), "{login}");
}

async fn eaccess_without_ui_locales_follows_accept_language_then_french(app: TestApp) {
    let client = bare_client();
    let mut authorize = eaccess_url(&app, &client, "en").await;
    let kept: Vec<(String, String)> = authorize
        .query_pairs()
        .filter(|(k, _)| k != "ui_locales")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    authorize.query_pairs_mut().clear().extend_pairs(kept);
    let german = page(&client, &authorize, Some("de-CH, en;q=0.5")).await;
    assert_eq!(html_lang(&german), "de");
    assert!(german.contains("Authentifizierungsprodukt"), "{german}");
    let french = page(&client, &authorize, None).await;
    assert_eq!(html_lang(&french), "fr");
    assert!(
        french.contains("Produit d&#39;authentification"),
        "{french}"
    );
    let english = page(&client, &authorize, Some("en-GB")).await;
    assert_eq!(html_lang(&english), "en");
    assert!(english.contains("Authentication product"), "{english}");

    // An expired or unknown login's page, and the signed-out page, speak it as well.
    let expired = client
        .post(authorize.join("authorize/login").unwrap())
        .header(ACCEPT_LANGUAGE, "de")
        .form(&[("request_id", "no-such-request"), ("action", "continue")])
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 400);
    let expired = expired.text().await.unwrap();
    assert!(expired.contains("Anmeldeanfrage abgelaufen"), "{expired}");
    let signed_out = page(
        &client,
        &authorize.join("logout?ui_locales=fr").unwrap(),
        Some("de"),
    )
    .await;
    assert!(
        signed_out.contains("Vous êtes déconnecté d&#39;eAccess."),
        "{signed_out}"
    );
}

async fn a_portal_s_ui_locales_holds_for_its_sign_in(app: TestApp) {
    let client = bare_client();
    let res = client
        .get(authorize_url(
            &app,
            CLIENT_ID,
            &[("ui_locales", "lb de-LU fr")],
        ))
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_LANGUAGE], "de");
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let lang_cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("lang="))
        .unwrap_or_else(|| panic!("a lang cookie: {cookie}"))
        .to_owned();
    assert!(lang_cookie.starts_with("lang=de"), "{lang_cookie}");
    assert!(
        !lang_cookie.contains("Max-Age"),
        "for this browser session only: {lang_cookie}"
    );
    let choose = res.text().await.unwrap();
    assert_eq!(html_lang(&choose), "de");
    assert!(choose.contains("Mit eAccess anmelden"), "{choose}");

    // "Sign in with eAccess" sends the same language on to eAccess, whose page speaks it.
    let request = hidden_or_query(&choose);
    let res = client
        .get(app.url(&format!("/oidc/authorize/eaccess?request={request}")))
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let authorize = location(&res);
    assert_eq!(query(&authorize, "ui_locales").as_deref(), Some("de"));
    let login = page(&client, &authorize, Some("en")).await;
    assert!(login.contains("Wer sind Sie?"), "{login}");

    // Without `ui_locales`, the citizen's own language again (no cookie is set).
    let res = bare_client()
        .get(authorize_url(&app, CLIENT_ID, &[]))
        .header(ACCEPT_LANGUAGE, "fr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[CONTENT_LANGUAGE], "fr");
    assert!(
        !res.headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("lang=")),
        "no lang cookie without ui_locales"
    );
}

/// The request id in the choose page's links.
fn hidden_or_query(page: &str) -> String {
    let start = page
        .find("/oidc/authorize/eaccess?request=")
        .expect("the eAccess link")
        + "/oidc/authorize/eaccess?request=".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

async fn the_provider_s_error_pages_speak_the_citizen_s_language(app: TestApp) {
    let unknown = bare_client()
        .get(authorize_url(&app, "no-such-portal", &[]))
        .header(ACCEPT_LANGUAGE, "fr-LU")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let unknown = unknown.text().await.unwrap();
    assert_eq!(html_lang(&unknown), "fr");
    assert!(unknown.contains("Portail inconnu"), "{unknown}");

    // A portal that asks for German gets its error page in German, <html lang> too.
    let bad_redirect = bare_client()
        .get(
            authorize_url(&app, CLIENT_ID, &[("ui_locales", "de")]).replace(
                "redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fportal%2Fcallback",
                "redirect_uri=http%3A%2F%2Fevil.example%2F",
            ),
        )
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_redirect.status(), 400);
    assert_eq!(bad_redirect.headers()[CONTENT_LANGUAGE], "de");
    let bad_redirect = bad_redirect.text().await.unwrap();
    assert_eq!(html_lang(&bad_redirect), "de");
    assert!(
        bad_redirect.contains("Diese Anmeldeanfrage ist ungültig"),
        "{bad_redirect}"
    );

    let gone = bare_client()
        .get(app.url("/oidc/authorize/eaccess?request=no-such-request"))
        .header(ACCEPT_LANGUAGE, "de")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 400);
    let gone = gone.text().await.unwrap();
    assert!(
        gone.contains("Diese Anmeldung ist nicht mehr gültig"),
        "{gone}"
    );
}
