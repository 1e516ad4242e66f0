//! The provider's token endpoint's limits over HTTP: keyed by the proxy-aware address
//! and by the authenticated client. SQLite and PostgreSQL.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, http_client};
use crate::provider::{CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, redeem, signed_in_code, spawn_with};

macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            }
        )*
    };
}

per_backend!(
    the_token_endpoint_limits_each_address_behind_the_proxy,
    a_wrong_secret_flood_does_not_use_up_the_clients_budget,
);

/// A token request for `code` from `address` (as the trusted proxy forwards it).
async fn redeem_from(app: &TestApp, address: &str, secret: &str, code: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/oidc/token"))
        .header("x-forwarded-for", address)
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
}

async fn assert_rate_limited(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retry_after"], retry);
}

async fn the_token_endpoint_limits_each_address_behind_the_proxy(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.provider.token_requests_per_minute_per_address = 3;
    })
    .await
    else {
        return;
    };
    let code = signed_in_code(&app, &[]).await;
    // Someone floods the token endpoint from one address.
    let attacker = "203.0.113.66";
    for _ in 0..3 {
        let res = redeem_from(&app, attacker, "not-the-secret", "guess").await;
        assert_eq!(res.status(), 401);
    }
    assert_rate_limited(redeem_from(&app, attacker, "not-the-secret", "guess").await).await;
    // A client-written entry on the left does not open a new bucket: the proxy's
    // right-most one counts.
    let spoofed = format!("192.0.2.9, {attacker}");
    assert_rate_limited(redeem_from(&app, &spoofed, "not-the-secret", "guess").await).await;
    // Even the right secret is refused from there, before it is looked at...
    assert_rate_limited(redeem_from(&app, attacker, CLIENT_SECRET, &code).await).await;
    // ...while the portal's server, at another address, redeems the code.
    let res = redeem_from(&app, "198.51.100.7", CLIENT_SECRET, &code).await;
    assert_eq!(res.status(), 200);
}

async fn a_wrong_secret_flood_does_not_use_up_the_clients_budget(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.provider.token_requests_per_minute_per_client = 3;
    })
    .await
    else {
        return;
    };
    let code = signed_in_code(&app, &[]).await;
    // Anyone can name the portal's client_id; without its secret they spend nothing of
    // the portal's allowance.
    for _ in 0..10 {
        let res = redeem_from(&app, "203.0.113.66", "not-the-secret", "guess").await;
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client"
        );
    }
    assert_eq!(redeem(&app, &code).await.status(), 200);
    // The portal's own requests do count: three a minute here.
    for _ in 0..2 {
        let res = redeem(&app, "no-such-code").await;
        assert_eq!(res.status(), 400);
    }
    assert_rate_limited(redeem(&app, "no-such-code").await).await;
}
