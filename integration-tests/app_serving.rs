//! The phone web app's files at `/app/` (docs/app.md): media types, the app's own CSP and
//! Permissions-Policy, revalidation, the manifest and the service worker's scope, its
//! texts, and the LuxTrust return through `<public_url>/app/link-callback`.

use devicelink::mock_idp::script;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{TestApp, http_client, location};

backend_tests!(
    the_app_page_has_its_own_csp_camera_permission_and_validator,
    scripts_manifest_icons_and_service_worker_are_served_with_their_types,
    the_texts_exist_in_three_languages_and_unknown_files_are_not_found,
    the_app_learns_the_public_url_and_its_callback,
    the_apps_callback_takes_a_luxtrust_link_back_to_the_app,
);

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

async fn the_app_page_has_its_own_csp_camera_permission_and_validator(app: TestApp) {
    let res = app.get("/app").await;
    assert_eq!(res.status(), 308);
    assert_eq!(header(&res, "location"), "/app/");

    let res = app.get("/app/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&res, "cache-control"), "no-cache");
    let csp = header(&res, "content-security-policy").to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe"),
        "no unsafe-inline or unsafe-eval: {csp}"
    );
    let permissions = header(&res, "permissions-policy");
    assert!(permissions.contains("camera=(self)"), "{permissions}");
    assert!(permissions.contains("microphone=()"), "{permissions}");
    assert_eq!(header(&res, "x-frame-options"), "DENY");
    let etag = header(&res, "etag").to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"<script type="module" src="app.js">"#));
    assert!(!body.contains("<script>"), "no inline script");

    let again = app
        .client
        .get(app.url("/app/"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    assert!(again.text().await.unwrap().is_empty());

    // The portal's own pages keep their policy: no camera there.
    let home = app.get("/").await;
    assert!(header(&home, "permissions-policy").contains("camera=()"));
}

async fn scripts_manifest_icons_and_service_worker_are_served_with_their_types(app: TestApp) {
    for path in [
        "/app/app.js",
        "/app/dpop.js",
        "/app/vendor/jsqr/jsQR.js",
        "/app/vendor/fluent-bundle/index.js",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            header(&res, "content-type"),
            "text/javascript; charset=utf-8"
        );
    }
    assert_eq!(
        header(&app.get("/app/app.css").await, "content-type"),
        "text/css; charset=utf-8"
    );

    // The service worker lives in /app/, so its scope is /app/ and no wider: the server
    // grants no other scope.
    let sw = app.get("/app/sw.js").await;
    assert_eq!(sw.status(), 200);
    assert_eq!(
        header(&sw, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(sw.headers().get("service-worker-allowed").is_none());
    let sw = sw.text().await.unwrap();
    assert!(
        sw.contains("NEVER") && sw.contains("isShell"),
        "the worker keeps API answers out"
    );

    let res = app.get("/app/manifest.webmanifest").await;
    assert_eq!(header(&res, "content-type"), "application/manifest+json");
    let manifest: Value = res.json().await.unwrap();
    assert_eq!(manifest["start_url"], "./");
    assert_eq!(manifest["scope"], "./");
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["sizes"] == "192x192"));
    assert!(icons.iter().any(|i| i["sizes"] == "512x512"));
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let res = app.get(&format!("/app/{src}")).await;
        assert_eq!(res.status(), 200, "{src}");
        assert_eq!(header(&res, "content-type"), icon["type"].as_str().unwrap());
    }
}

async fn the_texts_exist_in_three_languages_and_unknown_files_are_not_found(app: TestApp) {
    for lang in ["fr", "de", "en"] {
        let res = app.get(&format!("/app/locales/{lang}/app.ftl")).await;
        assert_eq!(res.status(), 200, "{lang}");
        assert_eq!(header(&res, "content-type"), "text/plain; charset=utf-8");
        assert!(res.text().await.unwrap().contains("app-link-your-device ="));
    }
    for path in [
        "/app/locales/es/app.ftl",
        "/app/nope.js",
        "/app/vendor/README.md",
        "/app/%2e%2e/Cargo.toml",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.text().await.unwrap().contains("not_found"),
            "the error page"
        );
    }
}

async fn the_app_learns_the_public_url_and_its_callback(app: TestApp) {
    let res = app.get("/app/config.json").await;
    assert_eq!(res.status(), 200);
    let config: Value = res.json().await.unwrap();
    assert_eq!(config["public_url"], app.address);
    assert_eq!(
        config["app_redirect_uri"],
        format!("{}/app/link-callback", app.address)
    );
}

async fn the_apps_callback_takes_a_luxtrust_link_back_to_the_app(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let callback_uri = format!("{}/app/link-callback", app.address);
    let mut device = app.device();
    // The app's own return is registered although the settings list only the apps' URIs;
    // another page of this server is not.
    assert!(
        app.settings
            .linking
            .app_redirect_uris
            .iter()
            .all(|u| u.as_str() != callback_uri)
    );
    let refused = device
        .start_luxtrust_link(
            "Phone",
            "luxtrust_mobile",
            &format!("{}/app/link-callback/x", app.address),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("invalid_redirect_uri"));
    let link = device
        .start_luxtrust_link("Phone", "luxtrust_mobile", &callback_uri)
        .await
        .expect("the app's own callback is a registered redirect URI");
    let browser = http_client();
    let res = browser
        .get(link["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let eaccess = location(&res);
    let callback = script::complete_login(&browser, &eaccess, "marie", "luxtrust_mobile")
        .await
        .unwrap();
    let res = browser.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.as_str().starts_with(&callback_uri), "{back}");

    let res = browser.get(back).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let page = res.text().await.unwrap();
    // The page moves on to the app's origin (webauthn.web_origin), result in the fragment.
    let origin = app
        .settings
        .webauthn
        .web_origin
        .origin()
        .ascii_serialization();
    let marker = format!("content=\"0;url={origin}/app/#link-callback?");
    let start = page.find(&marker).expect("a refresh to the app") + marker.len();
    let query = &page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&");
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["link_id"], link["link_id"].as_str().unwrap());
    let view = device
        .redeem_luxtrust_result(&params["result"])
        .await
        .expect("the result is traded");
    assert_eq!(view["state"], "account_bound");
    assert_eq!(view["account"]["display_name"], "Marie Schmit");
}
