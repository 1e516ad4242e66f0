//! Opening the app after linking: unlock with the secret code or biometrics, DPoP-bound
//! access tokens, refresh rotation, lockout, `/me` and the app's self-service, end to end
//! over HTTP with the reference device client.

use chrono::Utc;
use devicelink::device_client::{ClientError, DeviceClient};
use devicelink::tokens::{Jwks, SigningKey, verify_jwt};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::TestApp;
use crate::linking::wait_for_mail;

backend_tests!(
    unlocking_with_the_secret_code_gives_a_dpop_bound_token_that_reads_me,
    unlocking_with_biometrics_gives_a_token_with_amr_user,
    the_first_unlock_is_challenged_for_a_nonce_and_the_retry_succeeds,
    a_refresh_token_rotates_and_works_once,
    a_spent_refresh_token_presented_again_revokes_every_token_of_the_device,
    ten_concurrent_refreshes_with_one_token_have_exactly_one_winner,
    five_wrong_codes_lock_the_device_and_email_the_citizen,
    fifty_parallel_wrong_guesses_evaluate_at_most_five,
    a_right_code_resets_the_failure_count,
    an_expired_access_token_is_refused,
    a_token_presented_with_a_proof_by_another_key_is_refused,
    a_replayed_proof_is_refused,
    proofs_with_the_wrong_ath_htm_or_htu_are_refused,
    a_self_unlinked_device_is_refused_at_once,
    a_passkey_of_device_a_cannot_unlock_device_b,
    changing_the_secret_code_needs_the_current_one,
    biometrics_can_be_turned_on_and_off,
    unknown_device_keys_and_bad_requests_are_refused,
    a_verifier_with_old_argon2_parameters_is_renewed_at_the_next_right_code,
    the_janitor_forgets_dead_refresh_tokens_and_ceremonies,
);

const CODE: &str = "482913";
const WRONG: &str = "730591";

fn api_code(err: &ClientError) -> (u16, &str) {
    (err.status().unwrap_or(0), err.code().unwrap_or("-"))
}

fn body(err: &ClientError) -> &Value {
    match err {
        ClientError::Api { body, .. } => body,
        other => panic!("not an API error: {other}"),
    }
}

/// Verifies an access token with the published JWKS and returns its header and claims.
async fn verified_claims(app: &TestApp, token: &str) -> Value {
    let jwks: Jwks = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let keys = jwks.public_keys().unwrap();
    Value::Object(verify_jwt(token, &keys, "at+jwt").expect("the token verifies with the JWKS"))
}

/// Sends `GET /api/v1/me` with the given proof and token, outside the client.
async fn raw_me(
    app: &TestApp,
    proof: Option<String>,
    authorization: Option<String>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(app.url("/api/v1/me"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    if let Some(auth) = authorization {
        req = req.header("Authorization", auth);
    }
    req.send().await.unwrap()
}

/// Reads a raw answer to `method`, checked against the OpenAPI contract.
async fn error_of(method: &str, res: reqwest::Response) -> (u16, Value) {
    let res = crate::contract::check_response(method, res).await;
    (res.status, res.json())
}

/// `n` app instances sharing one device key (the same state file), for races.
fn clones(app: &TestApp, device: &DeviceClient, n: usize) -> Vec<DeviceClient> {
    let path = app.dir.path().join("device-state.json");
    device.save(&path).unwrap();
    (0..n)
        .map(|_| crate::helpers::TestApp::load_device(&path))
        .collect()
}

/// Links one more device to the account signed in in the test's browser.
async fn link_another(app: &TestApp, biometrics: bool) -> DeviceClient {
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let mut device = app.device();
    device
        .link_with_qr("Other phone", &scanned, CODE, biometrics)
        .await
        .expect("the device links");
    device
}

fn query_string(app: &TestApp, sql: &str) -> String {
    app.query_text(sql)
}

async fn unlocking_with_the_secret_code_gives_a_dpop_bound_token_that_reads_me(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(tokens["expires_in"], 300);
    assert_eq!(
        tokens["device_id"],
        device.state.device_id.clone().unwrap().as_str()
    );
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    let claims = verified_claims(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["cnf"]["jkt"], device.key().thumbprint());
    assert_eq!(claims["amr"], json!(["hwk", "pin"]));
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], format!("{}/api", app.address));
    assert_eq!(claims["device_id"], tokens["device_id"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );

    let me = device.me().await.unwrap();
    assert_eq!(me["display_name"], "Marie Schmit");
    assert!(!me["espaces"].as_array().unwrap().is_empty());
    assert_eq!(me["linked_devices"], 1);
    assert_eq!(me["device"]["name"], "Test phone");
    assert_eq!(me["device"]["biometrics"], false);
    // Only the hash of the refresh token is stored.
    assert_eq!(app.count_rows("refresh_tokens"), 1);
    let stored = query_string(&app, "SELECT id_hash AS v FROM refresh_tokens");
    assert_ne!(stored, tokens["refresh_token"].as_str().unwrap());
}

async fn unlocking_with_biometrics_gives_a_token_with_amr_user(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    let tokens = device.unlock_with_biometrics().await.unwrap();
    let claims = verified_claims(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["amr"], json!(["hwk", "user"]));
    let me = device.me().await.unwrap();
    assert_eq!(me["device"]["biometrics"], true);
    // The passkey's use was recorded, the ceremony consumed, and a second unlock works
    // with the authenticator's advanced counter.
    assert_eq!(app.count_rows("passkeys WHERE last_used_at IS NOT NULL"), 1);
    assert_eq!(app.count_rows("device_ceremonies"), 0);
    device.unlock_with_biometrics().await.unwrap();

    // A ceremony is single use: the same assertion cannot be sent twice.
    let options = device.biometric_unlock_options().await.unwrap();
    let credential = device.biometric_assertion(options).unwrap();
    device
        .unlock_with_credential(credential.clone())
        .await
        .unwrap();
    let before = app.count_rows("refresh_tokens");
    let err = device.unlock_with_credential(credential).await.unwrap_err();
    assert_eq!(api_code(&err), (409, "no_pending_ceremony"));
    assert_eq!(app.count_rows("refresh_tokens"), before);
}

async fn the_first_unlock_is_challenged_for_a_nonce_and_the_retry_succeeds(app: TestApp) {
    let device = app.linked_device("marie", CODE, false).await;
    let url = device.url("/api/v1/device/unlock").unwrap();
    let client = reqwest::Client::new();
    let body = json!({"method": "secret_code", "secret_code": CODE});
    let proof = device.key().proof("POST", &url, None, None).unwrap();
    let res = client
        .post(url.clone())
        .header("DPoP", proof)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    let (_, err) = error_of("POST", res).await;
    assert_eq!(err["error"], "use_dpop_nonce");
    assert_eq!(app.count_rows("refresh_tokens"), 0);
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts > 0"), 0);

    let bad = device
        .key()
        .proof("POST", &url, None, Some("bm90LWEtbm9uY2U"))
        .unwrap();
    let res = client
        .post(url.clone())
        .header("DPoP", bad)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("dpop-nonce"));
    assert_eq!(error_of("POST", res).await.1["reason"], "invalid_nonce");

    let proof = device
        .key()
        .proof("POST", &url, None, Some(&nonce))
        .unwrap();
    let res = client
        .post(url)
        .header("DPoP", proof)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(app.count_rows("refresh_tokens"), 1);
}

async fn a_refresh_token_rotates_and_works_once(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let first = device.unlock_with_secret_code(CODE).await.unwrap();
    let second = device.refresh().await.unwrap();
    assert_ne!(first["refresh_token"], second["refresh_token"]);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["token_type"], "DPoP");
    let claims = verified_claims(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["amr"],
        json!(["hwk", "pin"]),
        "refresh keeps how it was unlocked"
    );
    device.me().await.unwrap();
    let third = device.refresh().await.unwrap();
    assert_ne!(third["refresh_token"], second["refresh_token"]);
    assert_eq!(
        app.count_rows("refresh_tokens WHERE spent_at IS NOT NULL"),
        2
    );
    assert_eq!(app.count_rows("refresh_tokens WHERE spent_at IS NULL"), 1);

    // A refresh token is bound to the device key: another key cannot use it.
    let mut thief = app.device();
    let err = thief
        .refresh_with(third["refresh_token"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    // Unknown tokens and grant types.
    let err = device.refresh_with("not-a-token").await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    let err = device
        .call_form(
            Method::POST,
            "/api/v1/device/token",
            &[("grant_type", "password")],
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "unsupported_grant_type"));
    assert_eq!(app.count_rows("refresh_tokens"), 3, "nothing was written");
    assert_eq!(
        app.count_rows("refresh_tokens WHERE revoked_at IS NOT NULL"),
        0
    );
    device.refresh().await.unwrap();
}

async fn a_spent_refresh_token_presented_again_revokes_every_token_of_the_device(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let first = device.unlock_with_secret_code(CODE).await.unwrap();
    device.refresh().await.unwrap();
    device.me().await.unwrap();

    let err = device
        .refresh_with(first["refresh_token"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    assert!(err.to_string().contains("already used"));
    // Every token of the device is dead: the current refresh token and access token.
    let err = device.refresh().await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    let err = device.me().await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_token"));
    assert_eq!(app.count_rows("refresh_tokens WHERE revoked_at IS NULL"), 0);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'refresh_token_reused'"),
        1
    );
    // Unlocking again works.
    device.unlock_with_secret_code(CODE).await.unwrap();
    device.me().await.unwrap();
}

async fn ten_concurrent_refreshes_with_one_token_have_exactly_one_winner(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut apps = clones(&app, &device, 10);
    let results =
        futures_util::future::join_all(apps.iter_mut().map(|d| d.refresh_with(&refresh_token)))
            .await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one refresh wins: {results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(api_code(err), (400, "invalid_grant"));
    }
    assert_eq!(app.count_rows("refresh_tokens WHERE generation = 1"), 1);
}

async fn five_wrong_codes_lock_the_device_and_email_the_citizen(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    let before = app.count_rows("refresh_tokens");
    for remaining in (1..=4).rev() {
        let err = device.unlock_with_secret_code(WRONG).await.unwrap_err();
        assert_eq!(api_code(&err), (401, "invalid_secret_code"));
        assert_eq!(body(&err)["attempts_remaining"], remaining);
    }
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 4"), 1);
    let err = device.unlock_with_secret_code(WRONG).await.unwrap_err();
    assert_eq!(api_code(&err), (423, "device_locked"));
    assert_eq!(
        body(&err)["error_description"],
        "This device is locked after too many wrong secret codes. Unlock it in your browser: sign in, open My devices and choose “Unlock this device”. Forgot the code? Choose “Forgot your code?” in the app."
    );
    // The right code no longer helps; nor do biometrics; the old token is dead.
    let err = device.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(api_code(&err), (423, "device_locked"));
    let err = device.unlock_with_biometrics().await.unwrap_err();
    assert_eq!(api_code(&err), (423, "device_locked"));
    let err = device.me().await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_token"));
    let err = device.refresh().await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    assert_eq!(
        app.count_rows("refresh_tokens"),
        before,
        "nothing was issued"
    );
    assert_eq!(app.count_rows("devices WHERE status = 'locked'"), 1);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_locked'"),
        1
    );
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_locked'"), 1);
    let mail = wait_for_mail(&app, 2).await;
    assert!(
        mail.iter()
            .any(|m| m.contains("marie@example.lu") && m.contains("locked")),
        "the lock email is delivered"
    );
}

async fn fifty_parallel_wrong_guesses_evaluate_at_most_five(app: TestApp) {
    let device = app.linked_device("marie", CODE, false).await;
    let mut apps = clones(&app, &device, 50);
    let results =
        futures_util::future::join_all(apps.iter_mut().map(|d| d.unlock_with_secret_code(WRONG)))
            .await;
    let codes: Vec<(u16, String)> = results
        .iter()
        .map(|r| {
            let e = r.as_ref().unwrap_err();
            (e.status().unwrap_or(0), e.code().unwrap_or("-").to_owned())
        })
        .collect();
    let wrong = codes
        .iter()
        .filter(|c| *c == &(401, "invalid_secret_code".to_owned()))
        .count();
    let locked = codes
        .iter()
        .filter(|c| *c == &(423, "device_locked".to_owned()))
        .count();
    assert_eq!(wrong, 4, "four evaluated guesses are refused: {codes:?}");
    assert_eq!(
        locked, 46,
        "the fifth locks, the rest find it locked: {codes:?}"
    );
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 5"), 1);
    assert_eq!(app.count_rows("devices WHERE status = 'locked'"), 1);
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_locked'"), 1);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_locked'"),
        1
    );
    assert_eq!(app.count_rows("refresh_tokens"), 0);
}

async fn a_right_code_resets_the_failure_count(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    for _ in 0..3 {
        device.unlock_with_secret_code(WRONG).await.unwrap_err();
    }
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 3"), 1);
    device.unlock_with_secret_code(CODE).await.unwrap();
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 0"), 1);
    for remaining in (1..=4).rev() {
        let err = device.unlock_with_secret_code(WRONG).await.unwrap_err();
        assert_eq!(body(&err)["attempts_remaining"], remaining);
    }
    device.unlock_with_secret_code(CODE).await.unwrap();
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 1);
}

async fn an_expired_access_token_is_refused(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let claims = verified_claims(&app, tokens["access_token"].as_str().unwrap()).await;
    // Re-sign the same claims with the server's key, expired a second ago.
    let der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        query_string(
            &app,
            "SELECT private_key AS v FROM signing_keys WHERE state = 'active'",
        ),
    )
    .unwrap();
    let key = SigningKey::from_pkcs8(&der).unwrap();
    let now = Utc::now().timestamp();
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 301);
    expired["exp"] = json!(now - 1);
    let token = key
        .sign_jwt("at+jwt", &serde_json::Map::new(), &expired)
        .unwrap();
    let url = device.url("/api/v1/me").unwrap();
    let proof = device.proof("GET", &url, Some(&token)).unwrap();
    let res = raw_me(&app, Some(proof), Some(format!("DPoP {token}"))).await;
    assert_eq!(
        res.headers()["www-authenticate"].to_str().unwrap(),
        "DPoP error=\"invalid_token\", algs=\"ES256\""
    );
    let (status, err) = error_of("GET", res).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // The same claims, still valid, pass: it was the expiry.
    let mut fresh = claims;
    fresh["exp"] = json!(now + 60);
    let token = key
        .sign_jwt("at+jwt", &serde_json::Map::new(), &fresh)
        .unwrap();
    let proof = device.proof("GET", &url, Some(&token)).unwrap();
    let res = raw_me(&app, Some(proof), Some(format!("DPoP {token}"))).await;
    assert_eq!(res.status(), 200);
}

async fn a_token_presented_with_a_proof_by_another_key_is_refused(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let thief = app.device();
    let url = device.url("/api/v1/me").unwrap();
    let proof = thief.proof("GET", &url, Some(token)).unwrap();
    let res = raw_me(&app, Some(proof), Some(format!("DPoP {token}"))).await;
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let (status, err) = error_of("GET", res).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(err["reason"], "jkt_mismatch");
    // Without a proof, or as a Bearer token, it is useless too.
    let (status, err) = error_of(
        "GET",
        raw_me(&app, None, Some(format!("DPoP {token}"))).await,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let proof = device.proof("GET", &url, Some(token)).unwrap();
    let (status, err) = error_of(
        "GET",
        raw_me(&app, Some(proof), Some(format!("Bearer {token}"))).await,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, err) = error_of("GET", raw_me(&app, None, None).await).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
}

async fn a_replayed_proof_is_refused(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let url = device.url("/api/v1/me").unwrap();
    let proof = device.proof("GET", &url, Some(token)).unwrap();
    let res = raw_me(&app, Some(proof.clone()), Some(format!("DPoP {token}"))).await;
    assert_eq!(res.status(), 200);
    let (status, err) = error_of(
        "GET",
        raw_me(&app, Some(proof), Some(format!("DPoP {token}"))).await,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    assert_eq!(err["reason"], "replayed_jti");
}

async fn proofs_with_the_wrong_ath_htm_or_htu_are_refused(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let url = device.url("/api/v1/me").unwrap();
    let auth = Some(format!("DPoP {token}"));
    let jtis = app.count_rows("dpop_jtis");

    let wrong_ath = device.proof("GET", &url, Some("another-token")).unwrap();
    let (status, err) = error_of("GET", raw_me(&app, Some(wrong_ath), auth.clone()).await).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(err["reason"], "ath_mismatch");

    let no_ath = device.proof("GET", &url, None).unwrap();
    let (status, err) = error_of("GET", raw_me(&app, Some(no_ath), auth.clone()).await).await;
    assert_eq!((status, err["reason"].as_str()), (401, Some("missing_ath")));

    let wrong_htm = device.proof("POST", &url, Some(token)).unwrap();
    let (status, err) = error_of("GET", raw_me(&app, Some(wrong_htm), auth.clone()).await).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    assert_eq!(err["reason"], "htm_mismatch");

    let other = device.url("/api/v1/device").unwrap();
    let wrong_htu = device.proof("GET", &other, Some(token)).unwrap();
    let (status, err) = error_of("GET", raw_me(&app, Some(wrong_htu), auth.clone()).await).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    assert_eq!(err["reason"], "htu_mismatch");
    assert_eq!(
        app.count_rows("dpop_jtis"),
        jtis,
        "no refused proof was recorded"
    );
}

async fn a_self_unlinked_device_is_refused_at_once(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    let tokens = device.unlock_with_secret_code(CODE).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    device.unlink().await.unwrap();

    assert_eq!(
        app.count_rows("devices WHERE status = 'unlinked' AND unlinked_at IS NOT NULL"),
        1
    );
    assert_eq!(app.count_rows("passkeys"), 0);
    assert_eq!(app.count_rows("secret_codes"), 0);
    assert_eq!(app.count_rows("refresh_tokens WHERE revoked_at IS NULL"), 0);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'device_unlinked' AND device_id IS NOT NULL"),
        1
    );
    assert_eq!(app.count_rows("outbox WHERE kind = 'device_unlinked'"), 1);
    let mail = wait_for_mail(&app, 2).await;
    assert!(mail.iter().any(|m| m.contains("unlinked")));

    let url = device.url("/api/v1/me").unwrap();
    let proof = device.proof("GET", &url, Some(&access)).unwrap();
    let (status, err) = error_of(
        "GET",
        raw_me(&app, Some(proof), Some(format!("DPoP {access}"))).await,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let err = device.refresh_with(&refresh).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_grant"));
    let err = device.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_device"));
    let err = device.biometric_unlock_options().await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_device"));
    assert_eq!(app.count_rows("refresh_tokens"), 1, "nothing was issued");
}

async fn a_passkey_of_device_a_cannot_unlock_device_b(app: TestApp) {
    let mut a = app.linked_device("marie", CODE, true).await;
    let mut b = link_another(&app, true).await;
    let a_options = a.biometric_unlock_options().await.unwrap();
    let a_credential = a.biometric_assertion(a_options).unwrap();
    b.biometric_unlock_options().await.unwrap();
    let err = b.unlock_with_credential(a_credential).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_passkey"));
    assert_eq!(app.count_rows("refresh_tokens"), 0, "nothing was issued");
    assert_eq!(app.count_rows("passkeys WHERE last_used_at IS NOT NULL"), 0);
    // B's own passkey still works.
    b.unlock_with_biometrics().await.unwrap();

    // A device without biometrics gets a clear 409.
    let mut c = link_another(&app, false).await;
    let err = c.biometric_unlock_options().await.unwrap_err();
    assert_eq!(api_code(&err), (409, "biometrics_not_enabled"));
    let err = c
        .unlock_with_credential(json!({"id": "x"}))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_request"));
}

async fn changing_the_secret_code_needs_the_current_one(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    let verifier = query_string(&app, "SELECT verifier AS v FROM secret_codes");

    let err = device
        .change_secret_code(WRONG, "125634")
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_secret_code"));
    assert_eq!(body(&err)["attempts_remaining"], 4);
    let err = device.change_secret_code(CODE, "123456").await.unwrap_err();
    assert_eq!(api_code(&err), (422, "weak_secret_code"));
    assert_eq!(
        query_string(&app, "SELECT verifier AS v FROM secret_codes"),
        verifier
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'secret_code_changed'"),
        0
    );

    device.change_secret_code(CODE, "125634").await.unwrap();
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 0"), 1);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'secret_code_changed'"),
        1
    );
    let err = device.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_secret_code"));
    device.unlock_with_secret_code("125634").await.unwrap();
}

async fn biometrics_can_be_turned_on_and_off(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let err = device.unlock_with_biometrics().await.unwrap_err();
    assert_eq!(api_code(&err), (409, "biometrics_not_enabled"));
    device.unlock_with_secret_code(CODE).await.unwrap();
    let done = device.enable_biometrics().await.unwrap();
    assert_eq!(done["biometrics"], true);
    assert_eq!(app.count_rows("passkeys"), 1);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'biometrics_enabled'"),
        1
    );
    device.unlock_with_biometrics().await.unwrap();
    assert_eq!(device.me().await.unwrap()["device"]["biometrics"], true);

    device.disable_biometrics().await.unwrap();
    assert_eq!(app.count_rows("passkeys"), 0);
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'biometrics_disabled'"),
        1
    );
    let err = device.biometric_unlock_options().await.unwrap_err();
    assert_eq!(api_code(&err), (409, "biometrics_not_enabled"));
    assert_eq!(device.me().await.unwrap()["device"]["biometrics"], false);
}

async fn unknown_device_keys_and_bad_requests_are_refused(app: TestApp) {
    let mut stranger = app.device();
    let err = stranger.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_device"));
    let err = stranger.biometric_unlock_options().await.unwrap_err();
    assert_eq!(api_code(&err), (401, "invalid_device"));

    let mut device = app.linked_device("marie", CODE, false).await;
    let err = device.unlock_with_secret_code("12ab").await.unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_request"));
    let err = device
        .call(
            Method::POST,
            "/api/v1/device/unlock",
            Some(&json!({"method": "password"})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "invalid_request"));
    assert_eq!(
        app.count_rows("secret_codes WHERE failed_attempts = 0"),
        1,
        "no attempt counted"
    );
    assert_eq!(app.count_rows("refresh_tokens"), 0);
}

/// Unlock attempts are limited per device key (and per address), shared by all instances.
#[tokio::test]
async fn too_many_unlock_attempts_answer_429_with_retry_after() {
    let Some(app) = crate::helpers::spawn_app_with_settings(crate::helpers::Backend::Sqlite, |s| {
        s.tokens.unlock_per_minute_per_device = 3;
    })
    .await
    else {
        return;
    };
    let mut device = app.linked_device("marie", CODE, false).await;
    for _ in 0..3 {
        device.unlock_with_secret_code(CODE).await.unwrap();
    }
    let err = device.unlock_with_secret_code(CODE).await.unwrap_err();
    assert_eq!(api_code(&err), (429, "rate_limited"));
    assert!(body(&err)["retry_after"].as_i64().unwrap() > 0);
    assert_eq!(app.count_rows("refresh_tokens"), 3);
    assert_eq!(app.count_rows("secret_codes WHERE failed_attempts = 0"), 1);
}

async fn a_verifier_with_old_argon2_parameters_is_renewed_at_the_next_right_code(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, false).await;
    let pepper =
        devicelink::config::decode_secret("k", &app.settings.secrets.secret_code_pepper).unwrap();
    let old = devicelink::devices::SecretCodeHasher::new(
        &pepper,
        devicelink::devices::SecretCodeParams {
            m_cost_kib: 32,
            t_cost: 1,
            p_cost: 1,
        },
    )
    .unwrap();
    let verifier = old
        .hash(&devicelink::devices::SecretCode::try_from(CODE).unwrap())
        .unwrap();
    app.execute_sql(&format!("UPDATE secret_codes SET verifier = '{verifier}'"));
    device.unlock_with_secret_code(CODE).await.unwrap();
    let renewed = query_string(&app, "SELECT verifier AS v FROM secret_codes");
    assert!(
        renewed.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{renewed}"
    );
    device.unlock_with_secret_code(CODE).await.unwrap();
}

async fn the_janitor_forgets_dead_refresh_tokens_and_ceremonies(app: TestApp) {
    let mut device = app.linked_device("marie", CODE, true).await;
    device.unlock_with_secret_code(CODE).await.unwrap();
    device.refresh().await.unwrap();
    device.biometric_unlock_options().await.unwrap();
    assert_eq!(app.count_rows("device_ceremonies"), 1);
    app.execute_sql(
        "UPDATE refresh_tokens SET expires_at = '2020-01-01 00:00:00' WHERE spent_at IS NOT NULL",
    );
    app.execute_sql("UPDATE device_ceremonies SET expires_at = '2020-01-01 00:00:00'");
    let db = devicelink::db::Db::open(&app.settings.database).unwrap();
    let sweep = db
        .run_blocking(|conn| devicelink::janitor::run_once(conn, Utc::now().naive_utc()))
        .unwrap();
    // The app's own janitor may have swept first; the rows are gone either way.
    assert!(
        sweep.refresh_tokens <= 1 && sweep.ceremonies <= 1,
        "{sweep:?}"
    );
    assert_eq!(app.count_rows("refresh_tokens"), 1);
    assert_eq!(app.count_rows("device_ceremonies"), 0);
    device.refresh().await.unwrap();
}
