//! OpenID Connect Back-Channel Logout 1.0: a portal with a `backchannel_logout_uri`
//! receives a signed logout token when the citizen signs out of devicelink or unlinks
//! the device that approved the portal's sign-in, through the logout outbox (retried
//! until the portal answers 200). A small receiver stands in for the portal. Runs on
//! SQLite and PostgreSQL.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::provider::{
    CLIENT_ID, app_sign_in_page, introspect, query, redeem, refresh, signed_in_code,
};

/// What the receiver got: the request's content type and form.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    form: HashMap<String, String>,
}

/// A portal's back-channel logout endpoint on a port of its own: answers the statuses
/// of `plan` in turn, then 200, and keeps every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(plan: &[u16]) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let plan = Arc::new(Mutex::new(plan.iter().copied().collect::<VecDeque<u16>>()));
        let (seen, answers) = (Arc::clone(&got), plan);
        let server = HttpServer::new(move || {
            let (seen, answers) = (Arc::clone(&seen), Arc::clone(&answers));
            App::new().route(
                "/backchannel-logout",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let (seen, answers) = (Arc::clone(&seen), Arc::clone(&answers));
                    async move {
                        let content_type = req
                            .headers()
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        let form = url::form_urlencoded::parse(&body).into_owned().collect();
                        seen.lock().unwrap().push(Received { content_type, form });
                        let status = answers.lock().unwrap().pop_front().unwrap_or(200);
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                            .insert_header(("Cache-Control", "no-store"))
                            .finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/backchannel-logout"),
            got,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most 15 s) until `n` requests arrived.
    async fn until(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver got {} of {n} logout tokens",
            self.received().len()
        );
    }
}

/// The provider's test app whose portal `CLIENT_ID` takes logout tokens at `receiver`.
async fn spawn(backend: Backend, receiver: &Receiver) -> Option<TestApp> {
    let uri = receiver.url.clone();
    crate::provider::spawn_with(backend, move |s| {
        s.provider.clients[0].backchannel_logout_uri = Some(uri);
        s.provider.backchannel_logout.poll_interval_ms = 50;
        s.provider.backchannel_logout.backoff_base_secs = 1;
        s.provider.backchannel_logout.timeout_secs = 2;
        s.provider.backchannel_logout.lock_secs = 10;
    })
    .await
}

/// Declares each listed test once per backend, with a receiver answering `plan`.
macro_rules! backchannel_tests {
    ($($name:ident: $plan:expr),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let receiver = super::Receiver::start(&$plan);
                    let app = super::spawn(super::Backend::Sqlite, &receiver).await.unwrap();
                    super::$name(app, receiver).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let receiver = super::Receiver::start(&$plan);
                    if let Some(app) = super::spawn(super::Backend::Postgres, &receiver).await {
                        super::$name(app, receiver).await;
                    }
                }
            )*
        }
    };
}

backchannel_tests!(
    signing_out_sends_the_portal_a_logout_token_that_verifies_against_the_jwks: [],
    a_portal_that_answers_500_gets_the_token_again_and_it_is_delivered_once: [500],
    unlinking_the_approving_device_logs_that_portal_sign_in_out: [],
    rp_initiated_logout_logs_out_the_sessions_sign_ins_too: [],
);

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(
        &devicelink::protocol::b64url_decode(jwt.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap()
}

/// Checks the logout token of `received` against the JWKS, as a portal would (section
/// 2.6), and returns its claims.
async fn verified_logout_token(app: &TestApp, received: &Received) -> Value {
    assert_eq!(received.content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        received.form.len(),
        1,
        "only logout_token: {:?}",
        received.form
    );
    let token = &received.form["logout_token"];
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert!(
        matches!(
            header.alg,
            jsonwebtoken::Algorithm::ES256
                | jsonwebtoken::Algorithm::RS256
                | jsonwebtoken::Algorithm::PS256
        ),
        "{:?}",
        header.alg
    );
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[app.address.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the logout token verifies")
        .claims;
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"],
        "exactly the claims of section 2.4, no nonce"
    );
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    claims
}

/// Waits (at most 5 s) until `n` rows of the logout outbox match `condition`: the worker
/// records an attempt just after the portal's answer.
async fn until_rows(app: &TestApp, condition: &str, n: i64) {
    let table = format!("logout_outbox WHERE {condition}");
    for _ in 0..100 {
        if app.count_rows(&table) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{table}: {} rows, not {n}", app.count_rows(&table));
}

async fn signing_out_sends_the_portal_a_logout_token_that_verifies_against_the_jwks(
    app: TestApp,
    receiver: Receiver,
) {
    let code = signed_in_code(&app, &[]).await;
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.count_rows("logout_outbox"), 0);
    assert!(receiver.received().is_empty());

    app.sign_out().await;
    let got = receiver.until(1).await;
    let claims = verified_logout_token(&app, &got[0]).await;
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["sid"], id_token["sid"], "the sid of the ID token");
    assert_eq!(claims["sub"], id_token["sub"]);
    // The sign-in ended with the session: its tokens stop working.
    assert_eq!(introspect(&app, &access).await["active"], false);
    let res = refresh(&app, &refresh_token).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    until_rows(&app, "status = 'sent' AND attempts = 1", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "delivered once");
    assert_eq!(app.count_rows("logout_outbox"), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"devicelink_logout_outbox_messages{status="sent"} 1"#),
        "{metrics}"
    );
}

async fn a_portal_that_answers_500_gets_the_token_again_and_it_is_delivered_once(
    app: TestApp,
    receiver: Receiver,
) {
    let code = signed_in_code(&app, &[]).await;
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let sid = claims_of(tokens["id_token"].as_str().unwrap())["sid"].clone();
    app.sign_out().await;
    let first = receiver.until(1).await;
    // The 500 is recorded, and the token retried later.
    until_rows(&app, "status = 'pending' AND attempts = 1", 1).await;
    // The retry comes after backoff_base_secs (1 s), signed afresh.
    let got = receiver.until(2).await;
    let (a, b) = (
        verified_logout_token(&app, &first[0]).await,
        verified_logout_token(&app, &got[1]).await,
    );
    assert_eq!((&a["sid"], &b["sid"]), (&sid, &sid));
    assert_ne!(a["jti"], b["jti"], "each attempt is a new token");
    until_rows(&app, "status = 'sent' AND attempts = 2", 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 2, "nothing after the 200");
    assert_eq!(app.count_rows("logout_outbox"), 1);
}

async fn unlinking_the_approving_device_logs_that_portal_sign_in_out(
    app: TestApp,
    receiver: Receiver,
) {
    let mut device = app.linked_device("marie", "482913", false).await;
    let (browser, request, scanned) = app_sign_in_page(&app).await;
    let asking = device.scan_approval(&scanned).await.unwrap();
    device.unlock_with_secret_code("482913").await.unwrap();
    device
        .approve_sign_in(asking["approval_id"].as_str().unwrap())
        .await
        .unwrap();
    let res = browser
        .get(app.url(&format!("/oidc/authorize/app/continue?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = crate::helpers::location(&res);
    let tokens: Value = redeem(&app, &query(&back, "code").unwrap())
        .await
        .json()
        .await
        .unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(receiver.received().is_empty());

    device.unlink().await.unwrap();
    let got = receiver.until(1).await;
    let claims = verified_logout_token(&app, &got[0]).await;
    assert_eq!(claims["sid"], id_token["sid"]);
    assert_eq!(claims["sub"], id_token["sub"]);
    assert_eq!(refresh(&app, &refresh_token).await.status(), 400);
    // The citizen's own browser session (where the device was linked) is untouched.
    assert_eq!(app.get("/dashboard").await.status(), 200);
}

async fn rp_initiated_logout_logs_out_the_sessions_sign_ins_too(app: TestApp, receiver: Receiver) {
    let code = signed_in_code(&app, &[]).await;
    let tokens: Value = redeem(&app, &code).await.json().await.unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let mut url = url::Url::parse(&app.url("/oidc/logout")).unwrap();
    url.query_pairs_mut().append_pair("id_token_hint", hint);
    let res = app.client.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let got = receiver.until(1).await;
    let claims = verified_logout_token(&app, &got[0]).await;
    assert_eq!(claims["sid"], claims_of(hint)["sid"]);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, refresh_token).await.status(), 400);
}
