//! devicelink as an OpenID Connect provider: a portal written with the `openidconnect`
//! crate signs a citizen in (brokered to the mock eAccess), and every refusal answers
//! with the RFC error. Runs on SQLite and PostgreSQL.

use devicelink::provider::ClientSettings;
use devicelink::tokens::{Jwks, SigningKey};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{
    Backend, TestApp, attr, hidden_value, http_client, location, spawn_app_with_settings,
};

pub(crate) const CLIENT_ID: &str = "portal";
pub(crate) const CLIENT_SECRET: &str = "portal-secret-0123456789";
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:9/portal/callback";
pub(crate) const PUBLIC_ID: &str = "spa";
pub(crate) const JWT_CLIENT_ID: &str = "jwt-portal";
pub(crate) const API: &str = "https://api.portal.example";

fn client(id: &str) -> ClientSettings {
    ClientSettings {
        client_id: id.to_owned(),
        name: format!("Portal {id}"),
        secret: None,
        jwks: None,
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:9/portal/".to_owned()],
        scopes: vec!["profile".into(), "email".into(), "offline_access".into()],
        public: false,
        audiences: vec![],
        id_token_signed_response_alg: devicelink::config::IdTokenAlg::default(),
        backchannel_logout_uri: None,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        fapi2: false,
    }
}

/// The assertion key of the `private_key_jwt` client (one per test binary).
pub(crate) fn assertion_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().unwrap())
}

pub(crate) async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// The provider's test app with three portals, further adjusted by the test.
pub(crate) async fn spawn_with(
    backend: Backend,
    adjust: impl FnOnce(&mut devicelink::config::Settings),
) -> Option<TestApp> {
    spawn_app_with_settings(backend, |s| {
        s.provider.key_refresh_secs = 1;
        s.provider.token_requests_per_minute_per_client = 40;
        let mut confidential = client(CLIENT_ID);
        confidential.secret = Some(CLIENT_SECRET.to_owned());
        confidential.audiences = vec![API.to_owned()];
        let mut public = client(PUBLIC_ID);
        public.public = true;
        let mut jwt = client(JWT_CLIENT_ID);
        jwt.jwks =
            Some(serde_json::to_string(&Jwks::from_keys(&[assertion_key().public_key()])).unwrap());
        s.provider.clients = vec![confidential, public, jwt];
        adjust(s);
    })
    .await
}

/// Declares each listed async test body `fn(TestApp)` once per backend, on the
/// provider's test app ([`spawn`], or the given `spawn: path` function of the same
/// shape): `sqlite::<name>` and `postgres::<name>`.
#[macro_export]
macro_rules! provider_tests {
    (spawn: $spawn:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $spawn($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::provider_tests!(spawn: $crate::provider::spawn; $($name),*);
    };
}

provider_tests!(
    a_portal_signs_a_citizen_in_through_eaccess_and_reads_userinfo,
    the_portal_session_is_reused_until_max_age_forces_a_new_sign_in,
    an_unregistered_redirect_uri_is_shown_an_error_and_never_redirected_to,
    a_public_client_without_pkce_is_refused,
    unknown_acr_values_still_sign_in_and_the_acr_says_what_happened,
    an_essential_acr_that_cannot_be_met_is_access_denied,
    a_wrong_client_secret_is_invalid_client,
    private_key_jwt_works_and_a_bad_signature_is_refused,
    a_reused_code_fails_and_revokes_what_it_issued,
    of_concurrent_redemptions_of_one_code_exactly_one_wins,
    refresh_tokens_rotate_and_a_revoked_one_is_refused,
    key_rotation_keeps_earlier_tokens_valid_until_they_expire,
    the_app_exchanges_its_token_for_a_portal_api_and_unlinking_revokes_it,
    logout_ends_the_session_and_returns_to_the_registered_uri,
    a_portal_signs_in_with_the_mobile_app_and_unlinking_revokes_the_sign_in,
    a_refusal_in_the_app_ends_with_access_denied,
    the_cli_approves_a_sign_in_from_a_png_of_the_qr_code,
    the_token_endpoint_limits_requests_per_client,
    consent_needs_the_csrf_token_and_a_refusal_is_access_denied,
    a_new_citizen_registers_and_the_portal_sign_in_continues,
);

pub(crate) fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&app.url("/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// Follows an authorization request in `browser` until the portal's redirect URI, giving
/// consent when asked.
pub(crate) async fn until_redirect(app: &TestApp, browser: &reqwest::Client, start: &str) -> Url {
    let res = browser.get(start).send().await.unwrap();
    until_redirect_from(app, browser, res).await
}

/// Like [`until_redirect`], from the answer to a first request already sent.
pub(crate) async fn until_redirect_from(
    app: &TestApp,
    browser: &reqwest::Client,
    mut res: reqwest::Response,
) -> Url {
    loop {
        if res.status() == 303 {
            let next = location(&res);
            if next.as_str().starts_with(REDIRECT_URI) {
                return next;
            }
            res = browser.get(next).send().await.unwrap();
            continue;
        }
        assert_eq!(res.status(), 200, "a page is shown");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("consent-allow"),
            "the consent page is shown: {page}"
        );
        res = browser
            .post(app.url("/oidc/authorize/consent"))
            .form(&[
                ("csrf_token", hidden_value(&page, "csrf_token").as_str()),
                ("request", hidden_value(&page, "request").as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
    }
}

/// A citizen registered and signed in on `app.client`; returns a code for the portal.
pub(crate) async fn signed_in_code(app: &TestApp, extra: &[(&str, &str)]) -> String {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let back = until_redirect(app, &app.client, &authorize_url(app, CLIENT_ID, extra)).await;
    query(&back, "code").expect("a code")
}

pub(crate) async fn redeem(app: &TestApp, code: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn introspect(app: &TestApp, token: &str) -> Value {
    let res = http_client()
        .post(app.url("/oidc/introspect"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn a_portal_signs_a_citizen_in_through_eaccess_and_reads_userinfo(app: TestApp) {
    // Marie is registered; the portal's browser is a fresh one without a session.
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let browser = http_client();
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
            "urn:devicelink:acr:eaccess".into(),
        ))
        .url();

    let res = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200, "no session: the choice page");
    let page = res.text().await.unwrap();
    assert!(page.contains("Portal portal"), "the portal is named");
    let broker = attr(&page, "id=\"sign-in-eaccess\" href");
    let res = browser
        .get(app.url(&broker.replace("&amp;", "&")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "to eAccess");
    let callback = devicelink::mock_idp::script::complete_login(
        &browser,
        &location(&res),
        "marie",
        "eid_card",
    )
    .await
    .unwrap();
    let back = until_redirect(&app, &browser, callback.as_str()).await;
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
        "urn:devicelink:acr:eaccess:eid_card"
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(amr, ["eaccess", "eid_card"]);
    assert!(claims.auth_time().is_some());
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
    // The activity list names the portal.
    let events = app.count_rows("audit_events WHERE kind = 'signed_in_to_portal'");
    assert_eq!(events, 1);
    assert_eq!(app.count_rows("provider_consents"), 1);
}

async fn the_portal_session_is_reused_until_max_age_forces_a_new_sign_in(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    assert_eq!(redeem(&app, &code).await.status(), 200);
    // Consent is remembered: straight back to the portal with a code.
    let res = app
        .get(&authorize_url(&app, CLIENT_ID, &[]).replace(&app.address, ""))
        .await;
    assert_eq!(res.status(), 303);
    assert!(query(&location(&res), "code").is_some());
    // An hour later, max_age=600 wants a fresher authentication: the choice page.
    app.execute_sql(&format!(
        "UPDATE browser_sessions SET auth_time = {}",
        match app.backend {
            Backend::Sqlite => "datetime(auth_time, '-1 hour')",
            Backend::Postgres => "auth_time - interval '1 hour'",
        }
    ));
    let res = app
        .get(&authorize_url(&app, CLIENT_ID, &[("max_age", "600")]).replace(&app.address, ""))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("sign-in-eaccess"));
    // prompt=none cannot show it: login_required back to the portal.
    let res = app
        .get(
            &authorize_url(&app, CLIENT_ID, &[("max_age", "600"), ("prompt", "none")])
                .replace(&app.address, ""),
        )
        .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
}

async fn an_unregistered_redirect_uri_is_shown_an_error_and_never_redirected_to(app: TestApp) {
    let url =
        authorize_url(&app, CLIENT_ID, &[]).replace("portal%2Fcallback", "portal%2Fcallback%2F");
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert_eq!(app.count_rows("provider_requests"), 0);
}

async fn a_public_client_without_pkce_is_refused(app: TestApp) {
    let res = app
        .client
        .get(authorize_url(&app, PUBLIC_ID, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(app.count_rows("provider_requests"), 0);
}

async fn unknown_acr_values_still_sign_in_and_the_acr_says_what_happened(app: TestApp) {
    // OIDC Core 3.1.2.1: acr_values are voluntary.
    let code = signed_in_code(&app, &[("acr_values", "urn:example:loa:high")]).await;
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &devicelink::protocol::b64url_decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["acr"], "urn:devicelink:acr:eaccess:luxtrust_mobile");
}

async fn an_essential_acr_that_cannot_be_met_is_access_denied(app: TestApp) {
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:loa:high"]}}}"#;
    let res = app
        .client
        .get(authorize_url(&app, CLIENT_ID, &[("claims", claims)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert!(
        query(&back, "error_description")
            .unwrap()
            .contains("essential acr")
    );
    assert_eq!(app.count_rows("provider_requests"), 0, "nothing was stored");
}

async fn a_wrong_client_secret_is_invalid_client(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let res = http_client()
        .post(app.url("/oidc/token"))
        .basic_auth(CLIENT_ID, Some("portal-secret-wrong-value"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // The code was not spent by the failed attempt.
    assert_eq!(redeem(&app, &code).await.status(), 200);
}

fn assertion(app: &TestApp, key: &SigningKey, jti: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    key.sign_jwt(
        "JWT",
        &serde_json::Map::new(),
        &json!({
            "iss": JWT_CLIENT_ID, "sub": JWT_CLIENT_ID, "aud": app.url("/oidc/token"),
            "jti": jti, "iat": now, "exp": now + 60,
        }),
    )
    .unwrap()
}

async fn jwt_redeem(app: &TestApp, code: &str, client_assertion: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", client_assertion),
        ])
        .send()
        .await
        .unwrap()
}

async fn private_key_jwt_works_and_a_bad_signature_is_refused(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let back = until_redirect(&app, &app.client, &authorize_url(&app, JWT_CLIENT_ID, &[])).await;
    let code = query(&back, "code").unwrap();
    // Signed by another key under the registered kid: refused.
    let impostor = SigningKey::generate().unwrap();
    let good = assertion(&app, assertion_key(), "jti-1");
    let forged = {
        let bad = assertion(&app, &impostor, "jti-2");
        let mut parts: Vec<&str> = good.split('.').collect();
        let bad_sig = bad.rsplit('.').next().unwrap().to_owned();
        parts[2] = &bad_sig;
        parts.join(".")
    };
    let res = jwt_redeem(&app, &code, &forged).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let res = jwt_redeem(&app, &code, &good).await;
    assert_eq!(res.status(), 200);
    // The same assertion cannot be used twice.
    let res = jwt_redeem(&app, &code, &good).await;
    assert_eq!(res.status(), 401);
}

async fn a_reused_code_fails_and_revokes_what_it_issued(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let first: Value = redeem(&app, &code).await.json().await.unwrap();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &refresh).await["active"], true);
    assert_eq!(introspect(&app, &access).await["active"], true);
    let res = redeem(&app, &code).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(introspect(&app, &refresh).await["active"], false);
    assert_eq!(introspect(&app, &access).await["active"], false);
    let res = http_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn of_concurrent_redemptions_of_one_code_exactly_one_wins(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let attempts = (0..4).map(|_| redeem(&app, &code));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        3,
        "{statuses:?}"
    );
}

pub(crate) async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
}

async fn refresh_tokens_rotate_and_a_revoked_one_is_refused(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let first: Value = redeem(&app, &code).await.json().await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let res = refresh(&app, &r1).await;
    assert_eq!(res.status(), 200, "client_secret_post works");
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    // Revocation (RFC 7009): 200, and the token no longer works.
    let res = http_client()
        .post(app.url("/oidc/revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", r2.as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = refresh(&app, &r2).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // Reusing the spent first one is refused too.
    assert_eq!(refresh(&app, &r1).await.status(), 400);
}

async fn jwks(app: &TestApp) -> Vec<String> {
    let body: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let bytes = devicelink::protocol::b64url_decode(header).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn key_rotation_keeps_earlier_tokens_valid_until_they_expire(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let before: Value = redeem(&app, &code).await.json().await.unwrap();
    let old_access = before["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid_of(&old_access);
    // `devicelink keys rotate`, run against the same database.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_devicelink"))
        .env_remove("DEVICELINK_CONFIG")
        .env("DEVICELINK__DATABASE__URL", &app.settings.database.url)
        .args(["keys", "rotate"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let published = jwks(&app).await;
    assert_eq!(published.len(), 4, "two EC and two RSA keys");
    let body: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let kids_of = |kty: &str| -> Vec<String> {
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == kty)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kids_of("RSA").len(),
        2,
        "the RSA key of ID tokens rotated too"
    );
    let new_kid = kids_of("EC").into_iter().find(|k| *k != old_kid).unwrap();
    assert!(published.contains(&old_kid) && published.contains(&new_kid));
    // The running server picks the new key up without a restart.
    let mut signed_with_new = false;
    for _ in 0..30 {
        let code = query(
            &until_redirect(&app, &app.client, &authorize_url(&app, CLIENT_ID, &[])).await,
            "code",
        )
        .unwrap();
        let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
        if kid_of(tokens["access_token"].as_str().unwrap()) == new_kid {
            signed_with_new = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(signed_with_new, "new tokens are signed with the new key");
    // The token signed before the rotation still works.
    let res = http_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(&old_access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Once every token it signed has expired, the old key leaves the JWKS.
    app.execute_sql(&format!(
        "UPDATE signing_keys SET retire_after = created_at WHERE kid = '{old_kid}'"
    ));
    assert!(!jwks(&app).await.contains(&old_kid));
}

async fn the_app_exchanges_its_token_for_a_portal_api_and_unlinking_revokes_it(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let tokens = device.unlock_with_secret_code("482913").await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let exchange = |audience: &'static str| {
        vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("audience", audience),
        ]
    };
    let mut form = exchange("https://unknown.example");
    form.push(("subject_token", &access));
    let err = device
        .call_form(Method::POST, "/oidc/token", &form)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_target"));
    let mut form = exchange(API);
    form.push(("subject_token", &access));
    let exchanged = device
        .call_form(Method::POST, "/oidc/token", &form)
        .await
        .unwrap();
    let api_token = exchanged["access_token"].as_str().unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &devicelink::protocol::b64url_decode(api_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["cnf"]["jkt"], device.key().thumbprint());
    assert_eq!(introspect(&app, &api_token).await["active"], true);

    device.unlink().await.unwrap();
    assert_eq!(introspect(&app, &api_token).await["active"], false);
    let mut form = exchange(API);
    form.push(("subject_token", &access));
    let err = device
        .call_form(Method::POST, "/oidc/token", &form)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("invalid_grant"));
}

async fn logout_ends_the_session_and_returns_to_the_registered_uri(app: TestApp) {
    let code = signed_in_code(&app, &[]).await;
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let mut url = Url::parse(&app.url("/oidc/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere")
        .append_pair("state", "bye");
    let res = app.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 400, "an unregistered address is refused");
    let mut url = Url::parse(&app.url("/oidc/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/portal/")
        .append_pair("state", "bye");
    let res = app.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "state").as_deref(), Some("bye"));
    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), 303, "the portal session ended");
}

/// A fresh browser starts a device sign-in; returns it, the request id and the QR text.
pub(crate) async fn app_sign_in_page(app: &TestApp) -> (reqwest::Client, String, String) {
    let browser = http_client();
    let start = authorize_url(
        app,
        CLIENT_ID,
        &[("acr_values", "urn:devicelink:acr:device")],
    );
    let (request, scanned) = app_sign_in_from(app, &browser, &start).await;
    (browser, request, scanned)
}

/// In `browser`, from the authorization request `start` (with `acr_values` naming the
/// app) to the QR page: returns the request id and the QR code's text.
pub(crate) async fn app_sign_in_from(
    app: &TestApp,
    browser: &reqwest::Client,
    start: &str,
) -> (String, String) {
    let res = browser.get(start).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        !page.contains("sign-in-eaccess"),
        "eAccess cannot meet acr=device"
    );
    let href = attr(&page, "id=\"sign-in-app\" href");
    let request = href.rsplit('=').next().unwrap().to_owned();
    let res = browser.get(app.url(&href)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    (request, approval_qr_text(&page))
}

/// The text of the QR code on a "Sign in with your mobile app" page, as a camera reads it.
pub(crate) fn approval_qr_text(page: &str) -> String {
    let png = attr(
        page,
        "id=\"approval-qr\" alt=\"QR code to scan with the app\" width=\"320\" height=\"320\" src",
    );
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        png.trim_start_matches("data:image/png;base64,"),
    )
    .unwrap();
    devicelink::device_client::camera::decode_png(&bytes).unwrap()
}

pub(crate) async fn approval_state(
    app: &TestApp,
    browser: &reqwest::Client,
    request: &str,
) -> String {
    let res = browser
        .get(app.url(&format!("/oidc/authorize/app/status?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn a_portal_signs_in_with_the_mobile_app_and_unlinking_revokes_the_sign_in(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    assert_eq!(approval_state(&app, &browser, &request).await, "shown");
    let asking = device.scan_approval(&scanned).await.unwrap();
    assert_eq!(asking["client_name"], "Portal portal");
    // The code is single-use: a second scan (by anyone) is refused.
    let again = device.scan_approval(&scanned).await.unwrap_err();
    assert_eq!(again.code(), Some("invalid_approval"));
    assert_eq!(approval_state(&app, &browser, &request).await, "scanned");
    // Approving needs a fresh unlock.
    device.unlock_with_secret_code("482913").await.unwrap();
    let id = asking["approval_id"].as_str().unwrap();
    device.approve_sign_in(id).await.unwrap();
    assert_eq!(approval_state(&app, &browser, &request).await, "approved");
    let res = browser
        .get(app.url(&format!("/oidc/authorize/app/continue?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    let tokens: Value = redeem(&app, &query(&back, "code").unwrap())
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &devicelink::protocol::b64url_decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["acr"], "urn:devicelink:acr:device");
    assert_eq!(claims["amr"], json!(["hwk", "pin"]));
    assert_eq!(claims["nonce"], "n-1");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &refresh_token).await["active"], true);
    // Unlinking the phone revokes what the portal got through it.
    device.unlink().await.unwrap();
    assert_eq!(introspect(&app, &refresh_token).await["active"], false);
    assert_eq!(refresh(&app, &refresh_token).await.status(), 400);
}

async fn a_refusal_in_the_app_ends_with_access_denied(app: TestApp) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    device
        .refuse_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(approval_state(&app, &browser, &request).await, "refused");
    let res = browser
        .get(app.url(&format!("/oidc/authorize/app/continue?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        query(&location(&res), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(app.count_rows("provider_codes"), 0);
}

async fn the_cli_approves_a_sign_in_from_a_png_of_the_qr_code(app: TestApp) {
    let device = app.linked_device("marie", "482913", false).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    device.save(&state).unwrap();
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let png = dir.path().join("qr.png");
    std::fs::write(&png, devicelink::linking::render::png(&scanned).unwrap()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_devicelink"))
        .env_remove("DEVICELINK_CONFIG")
        .env_remove("DEVICELINK_SECRET_CODE")
        .args(["device", "approve", "--qr"])
        .arg(&png)
        .args(["--secret-code", "482913", "--state"])
        .arg(&state)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Portal portal asks to sign you in"),
        "{stdout}"
    );
    assert_eq!(approval_state(&app, &browser, &request).await, "approved");
}

async fn the_token_endpoint_limits_requests_per_client(app: TestApp) {
    let mut last = None;
    for _ in 0..41 {
        let res = http_client()
            .post(app.url("/oidc/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "no-such-code"),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", PUBLIC_ID),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ])
            .send()
            .await
            .unwrap();
        last = Some(res);
    }
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "rate_limited");
}

async fn consent_needs_the_csrf_token_and_a_refusal_is_access_denied(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let res = app
        .get(&authorize_url(&app, CLIENT_ID, &[]).replace(&app.address, ""))
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let request = hidden_value(&page, "request");
    let res = app
        .client
        .post(app.url("/oidc/authorize/consent"))
        .form(&[
            ("csrf_token", "forged"),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count_rows("provider_consents"), 0);
    let res = app
        .client
        .post(app.url("/oidc/authorize/consent"))
        .form(&[
            ("csrf_token", hidden_value(&page, "csrf_token").as_str()),
            ("request", request.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(app.count_rows("provider_consents"), 0);
    assert_eq!(app.count_rows("provider_codes"), 0);
}

async fn a_new_citizen_registers_and_the_portal_sign_in_continues(app: TestApp) {
    let browser = http_client();
    let page = browser
        .get(authorize_url(&app, CLIENT_ID, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let broker = attr(&page, "id=\"sign-in-eaccess\" href");
    let res = browser.get(app.url(&broker)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let callback = devicelink::mock_idp::script::complete_login(
        &browser,
        &location(&res),
        "jean",
        "luxtrust_scan",
    )
    .await
    .unwrap();
    let res = browser.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let register = location(&res);
    assert_eq!(register.path(), "/register");
    let form = browser
        .get(register)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = browser
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", hidden_value(&form, "csrf_token").as_str()),
            ("continue", hidden_value(&form, "continue").as_str()),
            ("email", "jean@example.lu"),
            ("accept_terms", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let resume = location(&res);
    assert_eq!(resume.path(), "/oidc/authorize/resume");
    let back = until_redirect(&app, &browser, resume.as_str()).await;
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        redeem(&app, &query(&back, "code").unwrap()).await.status(),
        200
    );
}
