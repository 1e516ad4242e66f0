//! The rate limits' buckets one by one: QR redemption per address whatever the key and
//! per key whatever the address, QR codes per account whatever the browser or address;
//! every 429 with its `Retry-After` header (read by hand: the app client keeps bodies only).

use devicelink::device_client::DeviceClient;
use reqwest::Response;
use serde_json::{Value, json};

use super::{api_code, retry_after};
use crate::helpers::{Backend, TestApp, http_client, spawn_app_with_settings};

per_backend!(
    qr_redemption_is_limited_per_address_whatever_the_key_and_per_key_whatever_the_address,
    qr_codes_are_limited_per_account_with_retry_after,
);

/// The QR redemption path of `device`'s link.
pub fn qr_path(device: &DeviceClient) -> String {
    let link_id = device.state.link_id.as_deref().expect("a link in progress");
    format!("/api/v1/links/{link_id}/qr")
}

/// Sends a device request by hand, signed by `device`'s key for the instance at `base`
/// (retrying once with the server's DPoP nonce if it asks for one) and from the client
/// address `forwarded_for` if given, so that a test can read the response's headers.
pub async fn signed_post(
    app: &TestApp,
    device: &DeviceClient,
    base: &str,
    path: &str,
    body: &Value,
    forwarded_for: Option<&str>,
) -> Response {
    let url: url::Url = format!("{base}{path}").parse().unwrap();
    let mut nonce: Option<String> = None;
    for _ in 0..2 {
        let proof = device
            .key()
            .proof("POST", &url, None, nonce.as_deref())
            .unwrap();
        let mut request = app
            .client
            .post(url.clone())
            .header("DPoP", proof)
            .json(body);
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        let res = request.send().await.unwrap();
        let fresh = res
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned());
        if res.status() == 401 && nonce.is_none() && fresh.is_some() {
            nonce = fresh;
            continue;
        }
        return res;
    }
    panic!("the server kept asking for a DPoP nonce");
}

/// The `Retry-After` header of a 429: present, whole seconds within the minute window.
fn retry_after_header(res: &Response) -> i64 {
    let value: i64 = res
        .headers()
        .get("retry-after")
        .expect("a Retry-After header on the 429")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&value), "Retry-After: {value}");
    value
}

/// A 429 `rate_limited` whose `Retry-After` header and `retry_after` field agree.
pub async fn assert_rate_limited(res: Response) {
    if res.status() != 429 {
        let got = res.status();
        panic!("expected 429, got {got}: {}", res.text().await.unwrap());
    }
    let header = retry_after_header(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(body["retry_after"], header, "{body}");
}

async fn qr_redemption_is_limited_per_address_whatever_the_key_and_per_key_whatever_the_address(
    backend: Backend,
) {
    let Some(app) = spawn_app_with_settings(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.linking.qr_redemptions_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let scan = json!({"code": "garbage"});
    // Four phones behind one address, each with its own key and link, one attempt each:
    // no key comes near the limit, the address reaches it.
    let shared = "203.0.113.20";
    let mut phones = Vec::new();
    for i in 0..4 {
        let mut phone = app.device();
        phone.set_header("x-forwarded-for", shared).unwrap();
        phone.start_qr_link(&format!("Phone {i}")).await.unwrap();
        phones.push(phone);
    }
    for phone in &mut phones[..3] {
        let err = phone.redeem_qr("garbage").await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"));
    }
    let path = qr_path(&phones[3]);
    let res = signed_post(&app, &phones[3], &app.address, &path, &scan, Some(shared)).await;
    assert_rate_limited(res).await;
    // That key, from another address, is still heard: the refusal was the address's.
    phones[3]
        .set_header("x-forwarded-for", "198.51.100.30")
        .unwrap();
    let err = phones[3].redeem_qr("garbage").await.unwrap_err();
    assert_eq!(api_code(&err), (400, "qr_code_invalid"));

    // One key roaming over four addresses, one attempt from each: the key's bucket refuses.
    let mut roaming = app.device();
    roaming.set_header("x-forwarded-for", "192.0.2.50").unwrap();
    roaming.start_qr_link("Roaming phone").await.unwrap();
    for i in 0..3 {
        roaming
            .set_header("x-forwarded-for", &format!("192.0.2.{}", 60 + i))
            .unwrap();
        let err = roaming.redeem_qr("garbage").await.unwrap_err();
        assert_eq!(api_code(&err), (400, "qr_code_invalid"), "address {i}");
    }
    let path = qr_path(&roaming);
    let res = signed_post(
        &app,
        &roaming,
        &app.address,
        &path,
        &scan,
        Some("192.0.2.71"),
    )
    .await;
    assert_rate_limited(res).await;
    let err = roaming.redeem_qr("garbage").await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    assert!(retry_after(&err) >= 1);
    assert_eq!(
        app.count_rows("link_sessions WHERE account_id IS NOT NULL"),
        0,
        "nothing was bound"
    );
}

async fn qr_codes_are_limited_per_account_with_retry_after(backend: Backend) {
    let Some(mut app) = spawn_app_with_settings(backend, |s| {
        s.linking.link_creations_per_minute_per_account = 3;
    })
    .await
    else {
        return;
    };
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let mut shown = Vec::new();
    for _ in 0..3 {
        shown.push(app.new_qr_code("").await);
    }
    // Coming back to the page shows the live code again: no new code, not counted.
    let again = app.get("/devices/link").await;
    assert_eq!(again.status(), 200);
    assert!(
        again.text().await.unwrap().contains(&shown[2].0),
        "the live code again"
    );
    // A fourth new code is refused.
    let res = app.get("/devices/link?new=1").await;
    assert_eq!(res.status(), 429);
    retry_after_header(&res);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = res.text().await.unwrap();
    assert!(page.contains("rate_limited"), "{page}");
    assert_eq!(
        app.count_rows("link_codes"),
        3,
        "the refused visit made no code"
    );
    // The refusal did not void the code on screen.
    let (id, code) = shown.pop().unwrap();
    assert_eq!(app.code_status(&id, &code).await["status"], "waiting");

    // Per account, not per browser: Marie in a second browser is refused too ...
    app.client = http_client();
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    assert_eq!(app.get("/devices/link").await.status(), 429);
    // ... and not per address: Jean, from the same address, gets his code.
    app.client = http_client();
    app.sign_in_registered("jean", "luxtrust_scan").await;
    app.new_qr_code("").await;
    assert_eq!(app.count_rows("link_codes"), 4);
}
