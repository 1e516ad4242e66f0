//! The mock eAccess provider, through real HTTP: a standard relying party completes the
//! flow, and every strictness rule answers with the exact RFC error.

use std::net::TcpListener;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devicelink::mock_idp::{MockClient, MockIdp, MockIdpSettings, script};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

const CLIENT_ID: &str = "portal";
const CLIENT_SECRET: &str = "portal-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";
const PUBLIC_CLIENT_ID: &str = "mobile-app";
const PUBLIC_REDIRECT_URI: &str = "http://127.0.0.1:9/app/callback";

struct TestIdp {
    issuer: String,
    /// Redirects off, cookie store on: behaves like the browser for the scripts.
    browser: reqwest::Client,
    /// Redirects off, no cookies: the relying party's back channel.
    http: reqwest::Client,
    key_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

fn spawn_idp(tweak: impl FnOnce(&mut MockIdpSettings)) -> TestIdp {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys/mock-idp.pem");
    spawn_idp_with_key(dir, key_file, tweak)
}

fn spawn_idp_with_key(
    dir: tempfile::TempDir,
    key_file: PathBuf,
    tweak: impl FnOnce(&mut MockIdpSettings),
) -> TestIdp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut settings = MockIdpSettings::for_local(
        Url::parse(&issuer).unwrap(),
        CLIENT_ID,
        CLIENT_SECRET,
        vec![Url::parse(REDIRECT_URI).unwrap()],
        key_file.clone(),
    )
    .with_client(MockClient::public(
        PUBLIC_CLIENT_ID,
        vec![Url::parse(PUBLIC_REDIRECT_URI).unwrap()],
    ));
    tweak(&mut settings);
    let idp = MockIdp::build(settings, listener).unwrap();
    assert_eq!(idp.port(), port);
    tokio::spawn(idp.run_until_stopped());
    TestIdp {
        issuer,
        browser: client_builder().cookie_store(true).build().unwrap(),
        http: client_builder().build().unwrap(),
        key_file,
        _dir: dir,
    }
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

impl TestIdp {
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.issuer)).unwrap()
    }

    /// An authorization URL for the confidential client with state, nonce and PKCE,
    /// overridden or extended by `extra` (an empty value removes the parameter).
    fn authorize_url(&self, challenge: &str, extra: &[(&str, &str)]) -> Url {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(key, _)| key != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let mut url = self.url("/authorize");
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// Log in as `identity` with `product`; returns the code and the PKCE verifier.
    async fn login(
        &self,
        identity: &str,
        product: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let (verifier, challenge) = pkce();
        let callback = script::complete_login(
            &self.browser,
            &self.authorize_url(&challenge, extra),
            identity,
            product,
        )
        .await
        .unwrap();
        assert_eq!(query(&callback, "error"), None, "{callback}");
        (query(&callback, "code").unwrap(), verifier)
    }

    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> reqwest::Response {
        let mut request = self.http.post(self.url("/token")).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap()
    }

    async fn redeem(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
            Some((CLIENT_ID, CLIENT_SECRET)),
        )
        .await
    }

    async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }
}

/// The claims of an ID token, without verification (the tests read what was issued).
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn assert_token_error(
    response: reqwest::Response,
    status: StatusCode,
    error: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    headers
}

fn assert_error_page(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[derive(Debug, Deserialize, Serialize)]
struct EAccessClaims {
    eaccess_product: String,
    eaccess_product_serial: String,
}
impl AdditionalClaims for EAccessClaims {}

type EAccessIdToken = IdToken<
    EAccessClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

#[tokio::test]
async fn an_openidconnect_relying_party_completes_the_code_flow_with_pkce_and_reads_the_product_claims()
 {
    let idp = spawn_idp(|_| {});
    let issuer = IssuerUrl::new(idp.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &idp.http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.to_owned()),
        Some(ClientSecret::new(CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(challenge)
        .url();

    let callback = script::complete_login(&idp.browser, &authorize_url, "marie", "luxtrust_token")
        .await
        .unwrap();

    assert_eq!(
        query(&callback, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(idp.issuer.as_str())
    );
    let code = query(&callback, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&idp.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let id_verifier = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(
        claims.subject().as_str(),
        "eaccess-5f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93"
    );
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:eaccess:loa:substantial"
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|amr| amr.as_str())
        .collect();
    assert_eq!(amr, ["mfa", "otp", "hwk"]);
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.email().unwrap().as_str(), "marie@example.lu");
    let at_hash = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));

    let custom: EAccessIdToken = id_token.to_string().parse().unwrap();
    let custom_claims = custom.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(
        custom_claims.additional_claims().eaccess_product,
        "luxtrust_token"
    );
    assert_eq!(
        custom_claims.additional_claims().eaccess_product_serial,
        "LTT-3003-4004"
    );

    let userinfo: UserInfoClaims<EAccessClaims, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&idp.http)
        .await
        .unwrap();
    assert_eq!(
        userinfo.additional_claims().eaccess_product,
        "luxtrust_token"
    );
    assert_eq!(
        userinfo
            .given_name()
            .and_then(|name| name.get(None))
            .map(|n| n.as_str()),
        Some("Marie")
    );
}

#[tokio::test]
async fn discovery_advertises_the_strict_profile() {
    let idp = spawn_idp(|_| {});
    let response = idp
        .http
        .get(idp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], idp.issuer);
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        metadata["end_session_endpoint"],
        format!("{}/logout", idp.issuer)
    );
    let claims = metadata["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&Value::from("eaccess_product_serial")));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    for wrong in [
        "http://127.0.0.1:9/auth/callback/",
        "http://evil.example/auth/callback",
    ] {
        let url = idp.authorize_url(&challenge, &[("redirect_uri", wrong)]);
        assert_error_page(idp.browser.get(url).send().await.unwrap());
    }
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let url = idp.authorize_url(&challenge, &[("client_id", "intruder")]);
    assert_error_page(idp.browser.get(url).send().await.unwrap());
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_401_invalid_client_and_a_basic_challenge() {
    let idp = spawn_idp(|_| {});
    let (code, verifier) = idp.login("jean", "luxtrust_scan", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let response = idp.token(&form, Some((CLIENT_ID, "not-the-secret"))).await;
    let headers = assert_token_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // client_secret_post with a wrong secret: same answer.
    let mut post_form = form.to_vec();
    post_form.extend([("client_id", CLIENT_ID), ("client_secret", "nope")]);
    let response = idp.token(&post_form, None).await;
    assert_token_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // The code was not consumed: the right secret, sent with client_secret_post, works.
    post_form.retain(|(name, _)| *name != "client_secret");
    post_form.push(("client_secret", CLIENT_SECRET));
    assert_eq!(idp.token(&post_form, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reused_code_gets_invalid_grant_and_revokes_the_first_access_token() {
    let idp = spawn_idp(|_| {});
    let (code, verifier) = idp.login("sophie", "eid_card", &[]).await;
    let first = idp.redeem(&code, &verifier).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first: Value = first.json().await.unwrap();
    let access_token = first["access_token"].as_str().unwrap();
    assert_eq!(idp.userinfo(access_token).await.status(), StatusCode::OK);

    let second = idp.redeem(&code, &verifier).await;
    assert_token_error(second, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let userinfo = idp.userinfo(access_token).await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let challenge = userinfo.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn userinfo_without_a_bearer_token_is_401_with_a_bearer_challenge() {
    let idp = spawn_idp(|_| {});
    let response = idp.http.get(idp.url("/userinfo")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_gets_invalid_grant() {
    let idp = spawn_idp(|_| {});
    let (code, _) = idp.login("luc", "luxtrust_mobile", &[]).await;
    let (other_verifier, _) = pkce();
    let response = idp.redeem(&code, &other_verifier).await;
    assert_token_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_public_client_without_pkce_is_refused_with_invalid_request_at_authorize() {
    let idp = spawn_idp(|_| {});
    let url = idp.authorize_url(
        "",
        &[
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", PUBLIC_REDIRECT_URI),
            ("code_challenge", ""),
            ("code_challenge_method", ""),
        ],
    );
    let response = idp.browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(PUBLIC_REDIRECT_URI));
    assert_eq!(
        query(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query(&location, "state").as_deref(), Some("state-123"));
    assert_eq!(
        query(&location, "iss").as_deref(),
        Some(idp.issuer.as_str())
    );
}

#[tokio::test]
async fn a_plain_pkce_challenge_is_refused_with_invalid_request() {
    let idp = spawn_idp(|_| {});
    let (verifier, _) = pkce();
    let url = idp.authorize_url(&verifier, &[("code_challenge_method", "plain")]);
    let response = idp.browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query(&location, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn a_public_client_with_pkce_gets_tokens_without_a_secret() {
    let idp = spawn_idp(|_| {});
    let (verifier, challenge) = pkce();
    let url = idp.authorize_url(
        &challenge,
        &[
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", PUBLIC_REDIRECT_URI),
        ],
    );
    let callback = script::complete_login(&idp.browser, &url, "jean", "luxtrust_scan")
        .await
        .unwrap();
    let code = query(&callback, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", PUBLIC_REDIRECT_URI),
        ("client_id", PUBLIC_CLIENT_ID),
        ("code_verifier", verifier.as_str()),
    ];
    let response = idp.token(&form, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], PUBLIC_CLIENT_ID);
    assert_eq!(claims["eaccess_product"], "luxtrust_scan");
    assert_eq!(claims["eaccess_product_serial"], "LTS-5005-6006");
}

#[tokio::test]
async fn an_expired_code_gets_invalid_grant() {
    let idp = spawn_idp(|settings| settings.code_lifetime_secs = 1);
    let (code, verifier) = idp.login("marie", "luxtrust_mobile", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = idp.redeem(&code, &verifier).await;
    assert_token_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn an_sso_session_answers_at_once_but_prompt_login_shows_the_login_form_again() {
    let idp = spawn_idp(|_| {});
    idp.login("marie", "eid_card", &[]).await;

    let (_, challenge) = pkce();
    let silent = idp
        .browser
        .get(idp.authorize_url(&challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(silent.status(), StatusCode::SEE_OTHER);
    let location = Url::parse(silent.headers()["location"].to_str().unwrap()).unwrap();
    assert!(query(&location, "code").is_some());

    let forced = idp
        .browser
        .get(idp.authorize_url(&challenge, &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), StatusCode::OK);
    assert!(
        forced
            .text()
            .await
            .unwrap()
            .contains(r#"<form method="post" action="/authorize/login">"#)
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_gets_login_required() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let response = idp
        .browser
        .get(idp.authorize_url(&challenge, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&location, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&location, "state").as_deref(), Some("state-123"));
}

#[tokio::test]
async fn max_age_zero_yields_a_fresh_auth_time() {
    let idp = spawn_idp(|_| {});
    let auth_time = |body: &Value| {
        jwt_claims(body["id_token"].as_str().unwrap())["auth_time"]
            .as_i64()
            .unwrap()
    };
    let (code, verifier) = idp.login("luc", "luxtrust_scan", &[]).await;
    let first: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // With the SSO session a plain request is answered silently with the old auth_time...
    let (code, verifier) = idp.login("luc", "luxtrust_scan", &[]).await;
    let silent: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    assert_eq!(auth_time(&silent), auth_time(&first));

    // ...but max_age=0 shows the login page again and records a new authentication.
    let (code, verifier) = idp.login("luc", "luxtrust_scan", &[("max_age", "0")]).await;
    let fresh: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    assert!(auth_time(&fresh) > auth_time(&first));
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_state_and_iss() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let callback = script::cancel_login(&idp.browser, &idp.authorize_url(&challenge, &[]))
        .await
        .unwrap();
    assert!(callback.as_str().starts_with(REDIRECT_URI));
    assert_eq!(query(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(idp.issuer.as_str())
    );
}

#[tokio::test]
async fn an_identity_with_the_server_error_fault_gets_server_error() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let url = idp.authorize_url(&challenge, &[]);
    let callback = script::complete_login(&idp.browser, &url, "broken", "luxtrust_mobile")
        .await
        .unwrap();
    assert_eq!(query(&callback, "error").as_deref(), Some("server_error"));
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(idp.issuer.as_str())
    );
}

#[tokio::test]
async fn product_hint_offers_only_the_requested_products() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let url = idp.authorize_url(
        &challenge,
        &[("product_hint", "luxtrust_mobile luxtrust_scan")],
    );
    let page = idp
        .browser
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"value="luxtrust_mobile""#));
    assert!(!page.contains(r#"value="eid_card""#));
    // Sophie owns only an eID card: the script reports the friendly message.
    let error = script::complete_login(&idp.browser, &url, "sophie", "luxtrust_mobile")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("aucun des produits"), "{error}");
}

#[tokio::test]
async fn the_acr_of_the_identity_card_is_high() {
    let idp = spawn_idp(|_| {});
    let (code, verifier) = idp
        .login(
            "marie",
            "eid_card",
            &[("acr_values", "urn:eaccess:loa:high")],
        )
        .await;
    let body: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:eaccess:loa:high");
    assert_eq!(claims["amr"], serde_json::json!(["mfa", "sc", "pin"]));
    assert_eq!(claims["nonce"], "nonce-456");
}

#[tokio::test]
async fn a_wrong_scan_code_shows_the_step_page_again() {
    let idp = spawn_idp(|_| {});
    let (_, challenge) = pkce();
    let page = idp
        .browser
        .get(idp.authorize_url(&challenge, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let request_id = page
        .split(r#"name="request_id" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let form = [
        ("request_id", request_id),
        ("identity", "jean"),
        ("product", "luxtrust_scan"),
        ("action", "continue"),
    ];
    let step = idp
        .browser
        .post(idp.url("/authorize/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        step.text()
            .await
            .unwrap()
            .contains(r#"<output id="scan-code">"#)
    );
    let confirm = [
        ("request_id", request_id),
        ("otp", "not-it"),
        ("action", "approve"),
    ];
    let again = idp
        .browser
        .post(idp.url("/authorize/confirm"))
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let html = again.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#) && html.contains(r#"action="/authorize/confirm""#));
}

#[tokio::test]
async fn logout_ends_the_sso_session_and_returns_to_the_registered_uri_with_state() {
    let idp = spawn_idp(|_| {});
    let (code, verifier) = idp.login("marie", "luxtrust_mobile", &[]).await;
    let body: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    let id_token = body["id_token"].as_str().unwrap();

    let mut logout = idp.url("/logout");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/")
        .append_pair("state", "bye");
    let response = idp.browser.get(logout.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:9/?state=bye"
    );

    let (_, challenge) = pkce();
    let after = idp
        .browser
        .get(idp.authorize_url(&challenge, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let location = Url::parse(after.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&location, "error").as_deref(), Some("login_required"));

    // An unregistered post_logout_redirect_uri is an error page, not a redirect.
    let mut bad = idp.url("/logout");
    bad.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://evil.example/");
    assert_error_page(idp.browser.get(bad).send().await.unwrap());
}

#[tokio::test]
async fn the_expired_id_token_fault_issues_an_id_token_that_is_already_expired() {
    let idp = spawn_idp(|settings| {
        settings
            .identities
            .iter_mut()
            .find(|i| i.id == "jean")
            .unwrap()
            .expired_id_token = true;
    });
    let (code, verifier) = idp.login("jean", "luxtrust_scan", &[]).await;
    let body: Value = idp.redeem(&code, &verifier).await.json().await.unwrap();
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert!(claims["exp"].as_i64().unwrap() < chrono::Utc::now().timestamp());
}

#[tokio::test]
async fn the_signing_key_survives_a_restart() {
    let first = spawn_idp(|_| {});
    let jwks = |idp: &TestIdp| {
        let url = idp.url("/jwks");
        let http = idp.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = jwks(&first).await;
    let key_file = first.key_file.clone();
    let TestIdp { _dir: dir, .. } = first;
    let restarted = spawn_idp_with_key(dir, key_file, |_| {});
    let after = jwks(&restarted).await;
    assert_eq!(before["keys"][0]["kid"], after["keys"][0]["kid"]);
    assert_eq!(before["keys"][0]["x"], after["keys"][0]["x"]);
}
