//! Faults on purpose, with real processes: several `devicelink serve` instances on one
//! PostgreSQL behind one load balancer, races between instances, a database that goes
//! away and comes back, `kill -9` under load, and an SMTP server that disappears.
//!
//! The instances share everything a real deployment shares: the database, the secrets
//! and ONE public URL, the load balancer's (`server.public_url`). That is what makes it
//! real: the browser's session cookie belongs to that one origin, the eAccess redirect
//! URI is registered once, and a DPoP proof's `htu` names the public URL whichever
//! instance checks it. The balancer (integration-tests/process.rs) forwards request by
//! request, either to a named instance (`Route::To`) or in turn (`Route::RoundRobin`),
//! so a test decides where each step of a journey lands.
//!
//! These tests need PostgreSQL (DEVICELINK_TEST_POSTGRES_URL; skipped loudly without it,
//! an error under CI), and the outage tests a private PostgreSQL cluster (initdb/pg_ctl)
//! and Python's aiosmtpd, both installed by `.ci/run`.

mod load;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{PgDatabase, postgres_url};
use crate::invariants::{assert_invariants, count, texts_of};
use crate::process::{Cluster, PrivatePostgres, Route, SmtpServer, poll_until};
use load::{check_interrupted, journey_load, links_mid_way, until_a_link_is_mid_way};

const CODE: &str = "482913";
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

async fn cluster(adjust: impl FnOnce(&mut crate::process::Deployment)) -> Option<Cluster> {
    let pg = PgDatabase::create(&postgres_url()?);
    Some(Cluster::start(3, pg, adjust).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_spread_over_three_instances_works_end_to_end() {
    let Some(cluster) = cluster(|d| {
        // Small enough that a limit kept per instance could never trip below.
        d.set("TOKENS__UNLOCK_PER_MINUTE_PER_DEVICE", "3");
    })
    .await
    else {
        return;
    };
    let (app, lb) = (&cluster.app, &cluster.balancer);

    // Sign-in on A: the login state, the session and its cookie are A's doing ...
    lb.route(Route::To(A));
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    // ... and B knows the session (it lives in the database, not in A's memory).
    lb.route(Route::To(B));
    assert!(
        app.dashboard().await.contains("Marie"),
        "B sees the session"
    );
    let (code_id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&code_id, &code).await;

    // Redemption on C; the rest of the ceremony hops from instance to instance, each
    // step with a DPoP nonce that another instance issued.
    let mut device = app.device();
    lb.route(Route::To(C));
    device.start_qr_link("Marie's phone").await.unwrap();
    device.redeem_qr(&scanned).await.unwrap();
    lb.route(Route::RoundRobin(vec![A, B, C]));
    device.set_secret_code(CODE).await.unwrap();
    // The passkey (WebAuthn) ceremony split: the creation options come from A, the new
    // credential is verified by B against the ceremony state A kept in the database.
    lb.route(Route::RoundRobin(vec![A, B]));
    let served = lb.served();
    device.add_passkey().await.unwrap();
    let after = lb.served();
    for i in [A, B] {
        assert_eq!(
            after[&i],
            served.get(&i).copied().unwrap_or(0) + 1,
            "{after:?}"
        );
    }
    lb.route(Route::To(C));
    let done = device.complete().await.unwrap();
    assert_eq!(done["biometrics"], true, "{done}");
    // The browser (on B) sees the code used.
    lb.route(Route::To(B));
    assert_eq!(app.code_status(&code_id, &code).await["status"], "linked");
    // Biometric unlock split the same way: the assertion options from C, the signed
    // assertion checked by A.
    lb.route(Route::RoundRobin(vec![C, A]));
    let tokens = device.unlock_with_biometrics().await.unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");

    // A DPoP nonce issued by A is accepted by B as it is, without a `use_dpop_nonce`
    // round (by hand, to see each answer).
    lb.route(Route::To(A));
    let unlock_url = device.url("/api/v1/device/unlock").unwrap();
    let unlock = serde_json::json!({"method": "secret_code", "secret_code": CODE});
    let proof = device.key().proof("POST", &unlock_url, None, None).unwrap();
    let res = app
        .client
        .post(unlock_url.clone())
        .header("dpop", proof)
        .json(&unlock)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    lb.route(Route::To(B));
    let proof = device
        .key()
        .proof("POST", &unlock_url, None, Some(&nonce))
        .unwrap();
    let res = app
        .client
        .post(unlock_url)
        .header("dpop", proof)
        .json(&unlock)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "B refused A's nonce: {tokens}");
    device.state.access_token = tokens["access_token"].as_str().map(str::to_owned);
    device.state.refresh_token = tokens["refresh_token"].as_str().map(str::to_owned);

    // The app's calls and refreshes go round.
    lb.route(Route::RoundRobin(vec![B, C, A]));
    device.me().await.unwrap();
    device.refresh().await.unwrap();
    device.refresh().await.unwrap();
    device.me().await.unwrap();

    // A proof spent on C is a replay on A: the jti is remembered in the database.
    let token = device.state.access_token.clone().unwrap();
    let url = device.url("/api/v1/me").unwrap();
    let proof = device.proof("GET", &url, Some(&token)).unwrap();
    let send = |proof: String| {
        app.client
            .get(url.clone())
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    lb.route(Route::To(C));
    assert_eq!(send(proof.clone()).await.unwrap().status(), 200);
    lb.route(Route::To(A));
    let replay = send(proof).await.unwrap();
    assert_eq!(replay.status(), 401);
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["reason"], "replayed_jti", "{body}");

    // Unlink on B.
    lb.route(Route::To(B));
    device.unlink().await.unwrap();
    lb.route(Route::To(C));
    let err = device.refresh_with("anything").await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert_invariants(app);

    // Rate limits are shared: 3 unlocks per device per minute over all instances.
    // Seven attempts in turn over three instances are at most three per instance, so
    // only a shared counter refuses any; they span at most two one-minute windows, so a
    // shared counter refuses at least one.
    lb.route(Route::To(A));
    let mut other = app.device();
    lb.route(Route::To(B));
    let (id2, code2) = app.new_qr_code("").await;
    let scanned2 = app.scan_qr(&id2, &code2).await;
    other
        .link_with_qr("Marie's tablet", &scanned2, CODE, false)
        .await
        .unwrap();
    lb.route(Route::RoundRobin(vec![A, B, C]));
    let mut refused = 0;
    for _ in 0..7 {
        match other.unlock_with_secret_code(CODE).await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.status(), Some(429), "{e}");
                refused += 1;
            }
        }
    }
    assert!(
        refused >= 1,
        "the unlock limit is not shared across instances"
    );

    let served = lb.served();
    for i in [A, B, C] {
        assert!(served.get(&i).copied().unwrap_or(0) > 3, "{served:?}");
    }
    assert_invariants(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_for_one_qr_code_or_one_refresh_token_have_one_winner() {
    let Some(cluster) = cluster(|_| {}).await else {
        return;
    };
    let (app, lb) = (&cluster.app, &cluster.balancer);
    lb.route(Route::To(A));
    app.sign_in_registered("jean", "luxtrust_scan").await;

    // One QR code, two phones, B and C at the same moment: one link, one refusal.
    for round in 0..3 {
        lb.route(Route::To(A));
        let (code_id, code) = app.new_qr_code("").await;
        let scanned = app.scan_qr(&code_id, &code).await;
        let mut first = app.device();
        let mut second = app.device();
        first.start_qr_link("first").await.unwrap();
        second.start_qr_link("second").await.unwrap();
        lb.route(Route::RoundRobin(vec![B, C]));
        let (x, y) = tokio::join!(first.redeem_qr(&scanned), second.redeem_qr(&scanned));
        assert_eq!(
            usize::from(x.is_ok()) + usize::from(y.is_ok()),
            1,
            "round {round}: exactly one redemption wins: {x:?} / {y:?}"
        );
        let loser = x.err().or(y.err()).unwrap();
        assert_eq!(
            (loser.status(), loser.code()),
            (Some(409), Some("qr_code_already_used")),
            "the loser gets a clear refusal: {loser}"
        );
        assert_eq!(
            count(
                app,
                &format!(
                    "SELECT COUNT(*) AS n FROM link_sessions WHERE link_code_id = '{code_id}'"
                )
            ),
            1
        );
    }

    // One refresh token presented at B and C at the same moment: one new pair.
    lb.route(Route::To(A));
    let (code_id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&code_id, &code).await;
    let mut device = app.device();
    device
        .link_with_qr("Jean's phone", &scanned, CODE, false)
        .await
        .unwrap();
    device.unlock_with_secret_code(CODE).await.unwrap();
    let path = cluster.app.dir.path().join("device.json");
    for round in 0..3 {
        device.save(&path).unwrap();
        let token = device.state.refresh_token.clone().unwrap();
        let mut twin = crate::helpers::TestApp::load_device(&path);
        lb.route(Route::RoundRobin(vec![B, C]));
        let (x, y) = tokio::join!(device.refresh_with(&token), twin.refresh_with(&token));
        assert_eq!(
            usize::from(x.is_ok()) + usize::from(y.is_ok()),
            1,
            "round {round}: exactly one refresh wins: {x:?} / {y:?}"
        );
        let winner = match (x, y) {
            (Ok(t), Err(e)) | (Err(e), Ok(t)) => {
                assert_eq!(e.code(), Some("invalid_grant"), "{e}");
                t
            }
            _ => unreachable!(),
        };
        // A reused token revokes the family (RFC 9700 section 4.14.2): the winner's
        // new token is dead too, so the app unlocks again.
        device.state.refresh_token = winner["refresh_token"].as_str().map(str::to_owned);
        lb.route(Route::To(A));
        device.unlock_with_secret_code(CODE).await.unwrap();
        assert_invariants(app);
    }
}

const PORTAL: &str = "race-portal";
const PORTAL_SECRET: &str = "race-portal-secret-0123456789";
const PORTAL_CALLBACK: &str = "http://127.0.0.1:9/portal/callback";

/// A code from `/oidc/authorize` for the signed-in citizen, with consent given.
async fn authorization_code(app: &crate::helpers::TestApp) -> String {
    let mut next = url::Url::parse(&app.url("/oidc/authorize")).unwrap();
    next.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", PORTAL)
        .append_pair("redirect_uri", PORTAL_CALLBACK)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("nonce", "n");
    let mut res = app.client.get(next).send().await.unwrap();
    for _ in 0..10 {
        if res.status() == 303 {
            let next = crate::helpers::location(&res);
            if next.as_str().starts_with(PORTAL_CALLBACK) {
                return next
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .expect("a code");
            }
            res = app.client.get(next).send().await.unwrap();
            continue;
        }
        let page = res.text().await.unwrap();
        assert!(page.contains("consent-allow"), "the consent page: {page}");
        res = app
            .client
            .post(app.url("/oidc/authorize/consent"))
            .form(&[
                (
                    "csrf_token",
                    crate::helpers::hidden_value(&page, "csrf_token"),
                ),
                ("request", crate::helpers::hidden_value(&page, "request")),
                ("decision", "allow".to_owned()),
            ])
            .send()
            .await
            .unwrap();
    }
    panic!("no code after ten steps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_for_one_authorization_code_have_one_winner() {
    let Some(cluster) = cluster(|d| {
        // Clients are registered in a configuration file shared by every instance.
        let file = d.dir.join("provider.toml");
        std::fs::write(
            &file,
            format!(
                "[[provider.clients]]\nclient_id = \"{PORTAL}\"\nname = \"Race portal\"\n\
                 secret = \"{PORTAL_SECRET}\"\nredirect_uris = [\"{PORTAL_CALLBACK}\"]\n"
            ),
        )
        .unwrap();
        d.vars
            .push(("DEVICELINK_CONFIG".to_owned(), file.display().to_string()));
    })
    .await
    else {
        return;
    };
    let (app, lb) = (&cluster.app, &cluster.balancer);
    lb.route(Route::To(A));
    app.sign_in_registered("luc", "luxtrust_mobile").await;
    let redeem = |code: String| async move {
        crate::helpers::http_client()
            .post(app.url("/oidc/token"))
            .basic_auth(PORTAL, Some(PORTAL_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", PORTAL_CALLBACK),
            ])
            .send()
            .await
            .unwrap()
    };
    for round in 0..3 {
        lb.route(Route::To(A));
        let code = authorization_code(app).await;
        lb.route(Route::RoundRobin(vec![B, C]));
        let (x, y) = tokio::join!(redeem(code.clone()), redeem(code));
        let mut statuses = [x.status().as_u16(), y.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 400],
            "round {round}: exactly one code redemption wins"
        );
        let loser = if x.status() == 400 { x } else { y };
        let body: Value = loser.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    // The loser presented a used code: its grant is revoked (RFC 6749 section 4.1.2),
    // so what the winner got stops working too.
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) AS n FROM provider_grants WHERE revoked_at IS NULL"
        ),
        0,
        "every raced code's grant is revoked"
    );
    let served = lb.served();
    assert!(
        served.get(&B).copied().unwrap_or(0) >= 3 && served.get(&C).copied().unwrap_or(0) >= 3,
        "both instances took part: {served:?}"
    );
    assert_invariants(app);
}

/// A device that is linked and unlocked through the cluster's balancer.
async fn unlocked_device(
    app: &crate::helpers::TestApp,
    name: &str,
) -> devicelink::device_client::DeviceClient {
    let (code_id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&code_id, &code).await;
    let mut device = app.device();
    device
        .link_with_qr(name, &scanned, CODE, false)
        .await
        .unwrap();
    device.unlock_with_secret_code(CODE).await.unwrap();
    device
}

/// Refreshes again and again until told to stop; returns the HTTP statuses seen (a
/// transport error, as the balancer's 502 for a dead instance, counts as 502).
fn refresh_load(
    mut device: devicelink::device_client::DeviceClient,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<u16>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut rounds = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) && rounds < 2000 {
            rounds += 1;
            match device.refresh().await {
                Ok(_) => seen.push(200),
                Err(e) => {
                    seen.push(e.status().unwrap_or(502));
                    if e.code() == Some("invalid_grant") {
                        // A refresh whose answer was lost spent the token: unlock again.
                        let _ = device.unlock_with_secret_code(CODE).await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_down_requests_fail_fast_with_503_and_the_service_recovers_by_itself() {
    if postgres_url().is_none() {
        return;
    }
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let db = PgDatabase::create(&pg.admin_url());
    let cluster = Cluster::start(2, db, |d| {
        // A claim of a mail whose "sent" mark the outage swallowed runs out soon.
        d.set("MAIL__LOCK_SECS", "10");
        d.set("MAIL__BACKOFF_BASE_SECS", "1");
    })
    .await;
    let pool_timeout = Duration::from_secs(
        cluster
            .deployment
            .get("DATABASE__CONNECT_TIMEOUT_SECS")
            .and_then(|v| v.parse().ok())
            .expect("the deployment's pool timeout"),
    );
    let Cluster {
        servers,
        balancer: lb,
        app,
        ..
    } = cluster;
    let app = Arc::new(app);
    lb.route(Route::RoundRobin(vec![A, B]));
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let device = unlocked_device(&app, "Marie's phone").await;
    let mut probe = unlocked_device(&app, "Marie's tablet").await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = refresh_load(device, Arc::clone(&stop));
    // Citizens link devices (each link writes its mail to the outbox) all along.
    let links = journey_load(Arc::clone(&app), Arc::clone(&stop));
    let devices = || count(&app, "SELECT COUNT(*) AS n FROM devices");
    // Some load before the outage, links among it.
    poll_until("load runs", Duration::from_secs(30), || async {
        (lb.served().values().sum::<usize>() > 40 && devices() > 3).then_some(())
    })
    .await;

    // Stop right when a link is half-way, so that the outage likely cuts one (resumed or
    // left unlinked below; the kill test asserts that one is cut).
    let known = links_mid_way(&app);
    until_a_link_is_mid_way(&app, &known, Duration::from_secs(30)).await;
    pg.stop();
    let bounded = crate::helpers::http_client_with_timeout(Duration::from_secs(15));
    // A request waits at most the pool timeout for a connection; the margin covers the
    // balancer's hop and the rest of the request, not a second wait.
    let bound = pool_timeout + Duration::from_millis(1500);
    let token = probe.state.access_token.clone().unwrap();
    let me = probe.url("/api/v1/me").unwrap();
    for target in [A, B] {
        lb.route(Route::To(target));
        let ready = bounded.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        assert_eq!(ready.headers()["retry-after"], "5");
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["error"], "not_ready", "{body}");
        assert_eq!(body["checks"]["database"], "unavailable", "{body}");
        // The API: 503 with Retry-After, within the pool timeout; never a hang.
        let proof = probe.proof("GET", &me, Some(&token)).unwrap();
        let started = Instant::now();
        let res = bounded
            .get(me.clone())
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "5");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "service_unavailable", "{body}");
        assert!(
            elapsed <= bound,
            "the API answered after {elapsed:?}, beyond {bound:?}"
        );
        let err = tokio::time::timeout(Duration::from_secs(15), probe.me())
            .await
            .expect("the API answers within the pool timeout")
            .unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(503), Some("service_unavailable")),
            "{err}"
        );
        // A page: the 503 page, with Retry-After, as fast.
        let started = Instant::now();
        let page = tokio::time::timeout(
            Duration::from_secs(15),
            app.client.get(app.url("/dashboard")).send(),
        )
        .await
        .expect("the page answers within the pool timeout")
        .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()["retry-after"], "5");
        assert!(
            elapsed <= bound,
            "the page answered after {elapsed:?}, beyond {bound:?}"
        );
        let metrics = bounded.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 200);
        assert!(
            metrics.text().await.unwrap().contains("devicelink_ready 0"),
            "metrics report the instance not ready"
        );
    }

    pg.start_again();
    let back = chrono::Utc::now()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.6f");
    let linked_since_back = || {
        count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM devices WHERE linked_at > '{back}'"),
        )
    };
    // Each instance comes back by itself: no restart.
    for target in [A, B] {
        lb.route(Route::To(target));
        poll_until(
            "the instance is ready again",
            Duration::from_secs(30),
            || async {
                let res = bounded.get(app.url("/readyz")).send().await.ok()?;
                (res.status() == 200).then_some(())
            },
        )
        .await;
    }
    lb.route(Route::RoundRobin(vec![A, B]));
    // The load goes on succeeding after the outage, links too.
    let before = lb.served().values().sum::<usize>();
    poll_until("load runs again", Duration::from_secs(30), || async {
        (lb.served().values().sum::<usize>() > before + 20 && linked_since_back() > 0).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = load.await.unwrap();
    assert!(seen.contains(&503), "the load saw the outage: {seen:?}");
    assert!(
        seen.iter().all(|s| matches!(s, 200 | 400 | 401 | 503)),
        "only successes, refusals and 503, never a 5xx crash: {seen:?}"
    );
    let last_outage = seen.iter().rposition(|s| *s == 503).unwrap();
    assert!(
        seen[last_outage..].contains(&200),
        "the load succeeds again after the outage: {seen:?}"
    );
    // Links cut by the outage resume, or left nothing linked.
    check_interrupted(&app, vec![links.await.unwrap()]).await;
    probe.me().await.unwrap();
    // A link after the outage works, and nothing was broken.
    let _late = unlocked_device(&app, "Marie's watch").await;

    // No mail lost: every message written around the outage is delivered, each one to
    // its own file (the file transport names it after the outbox id).
    poll_until("the outbox drains", Duration::from_secs(60), || async {
        let waiting = count(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending')",
        );
        (waiting == 0).then_some(())
    })
    .await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status <> 'sent'"
        ),
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'device_linked'"
        ),
        devices(),
        "one `device_linked` mail per device"
    );
    let mail_dir = app.dir.path().join("mail");
    for id in texts_of(&app, "SELECT id AS v FROM outbox") {
        assert!(
            mail_dir.join(format!("{id}.eml")).is_file(),
            "outbox message {id} was never written"
        );
    }
    for server in &servers {
        assert!(
            !server.log_text().contains("panicked"),
            "{}",
            server.log_text()
        );
    }
    assert_invariants(&app);
}

/// `kill -9` under linking, refresh and unlink load, restart, check the database.
async fn a_killed_server_restarts_consistent(pg: Option<PgDatabase>) {
    let cluster = Cluster::start_on(1, pg, |_| {}).await;
    let mut servers = cluster.servers;
    let lb = &cluster.balancer;
    let app = Arc::new(cluster.app);
    lb.route(Route::To(A));
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..3)
        .map(|_| journey_load(Arc::clone(&app), Arc::clone(&stop)))
        .collect();
    for kill in 0..2 {
        let before = lb.served().values().sum::<usize>();
        poll_until("load runs", Duration::from_secs(30), || async {
            (lb.served().values().sum::<usize>() > before + 40).then_some(())
        })
        .await;
        // Right when a new link is half-way (bound to the account, its secret code or
        // its completion still to come), so that the kill cuts a link, not only the rest.
        let known = links_mid_way(&app);
        until_a_link_is_mid_way(&app, &known, Duration::from_secs(30)).await;
        servers[A].kill9();
        assert!(!servers[A].is_running(), "kill {kill}");
        servers[A].restart().await;
    }
    let before = lb.served().values().sum::<usize>();
    poll_until(
        "load runs after the restart",
        Duration::from_secs(30),
        || async { (lb.served().values().sum::<usize>() > before + 40).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut journeys = Vec::new();
    for load in loads {
        journeys.push(load.await.unwrap());
    }
    let mid_way = check_interrupted(&app, journeys).await;
    assert!(mid_way >= 1, "no link was interrupted mid-way by the kills");
    assert!(
        count(&app, "SELECT COUNT(*) AS n FROM devices") > 3,
        "the load linked devices"
    );
    assert_invariants(&app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_load_restarts_with_a_consistent_postgresql_database() {
    let Some(url) = postgres_url() else {
        return;
    };
    a_killed_server_restarts_consistent(Some(PgDatabase::create(&url))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_load_restarts_with_a_consistent_sqlite_database() {
    a_killed_server_restarts_consistent(None).await;
}

/// `devicelink mail status` against the deployment's database: (exit code, output).
fn mail_status(cluster: &Cluster) -> (i32, String) {
    let out = std::process::Command::new(crate::process::server_binary())
        .args(["mail", "status"])
        .env_remove("DEVICELINK_CONFIG")
        .env_remove("RUST_LOG")
        .envs(cluster.deployment.vars.iter().cloned())
        .output()
        .expect("run devicelink mail status");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_smtp_is_down_mail_waits_in_the_outbox_and_is_delivered_once_when_it_returns() {
    let Some(url) = postgres_url() else {
        return;
    };
    let Some(mut smtp) = SmtpServer::start() else {
        return;
    };
    let port = smtp.port.to_string();
    let mut cluster = Cluster::start(2, PgDatabase::create(&url), |d| {
        d.set("MAIL__TRANSPORT", "smtp");
        d.set("MAIL__SMTP_HOST", "127.0.0.1");
        d.set("MAIL__SMTP_PORT", &port);
        d.set("MAIL__SMTP_TLS", "none");
        d.set("MAIL__BACKOFF_BASE_SECS", "1");
        d.set("MAIL__MAX_ATTEMPTS", "4");
        d.set("MAIL__LOCK_SECS", "10");
    })
    .await;
    let (app, lb) = (&cluster.app, &cluster.balancer);
    lb.route(Route::RoundRobin(vec![A, B]));
    let delivered = |n: usize| {
        let smtp = &smtp;
        move || {
            let got = smtp.received().len();
            std::future::ready((got >= n).then_some(got))
        }
    };
    let outbox = |status: &str| {
        count(
            app,
            &format!("SELECT COUNT(*) AS n FROM outbox WHERE status = '{status}'"),
        )
    };

    // SMTP up: the link's mail arrives.
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let _phone = unlocked_device(app, "Marie's phone").await;
    poll_until(
        "the first mail arrives",
        Duration::from_secs(30),
        delivered(1),
    )
    .await;

    // SMTP down: two more links; their mails stay in the outbox and are retried.
    smtp.stop();
    let _tablet = unlocked_device(app, "Marie's tablet").await;
    let _watch = unlocked_device(app, "Marie's watch").await;
    poll_until("the mails are retried", Duration::from_secs(30), || async {
        let retried = count(
            app,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND attempts >= 2 \
             AND last_error IS NOT NULL",
        );
        (retried == 2).then_some(())
    })
    .await;
    let (code, text) = mail_status(&cluster);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("pending  2"), "{text}");
    assert!(text.contains("oldest undelivered:"), "{text}");
    assert_eq!(smtp.received().len(), 1);

    // SMTP back: each waiting mail is delivered, once.
    smtp.start_again();
    poll_until("all mail is sent", Duration::from_secs(30), || async {
        (outbox("sent") == 3).then_some(())
    })
    .await;
    let received = smtp.received();
    assert_eq!(received.len(), 3, "each message exactly once");
    let mut ids: Vec<&str> = received
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct messages: {ids:?}");

    // A mailbox that keeps refusing: the message ends dead, visible, not dropped.
    // (A new browser signs in as Sophie, whose mailbox the server keeps refusing.)
    cluster.app.client = crate::helpers::http_client();
    let app = &cluster.app;
    app.sign_in_registered("sophie", "eid_card").await;
    let _sophie_phone = unlocked_device(app, "Sophie's phone").await;
    poll_until(
        "the refused mail ends dead",
        Duration::from_secs(40),
        || async {
            let dead = count(
                app,
                "SELECT COUNT(*) AS n FROM outbox WHERE status = 'dead'",
            );
            (dead == 1).then_some(())
        },
    )
    .await;
    let (code, text) = mail_status(&cluster);
    assert_eq!(code, 3, "dead mail needs an operator: {text}");
    assert!(text.contains("dead     1"), "{text}");
    assert!(text.contains("s***@example.lu"), "{text}");
    assert!(text.contains("4 attempts"), "{text}");
    assert!(text.contains("451"), "the last error is shown: {text}");
    assert!(!text.contains("sophie@"), "{text}");
    assert!(!text.contains("linked to your account"), "no body: {text}");
    assert_eq!(smtp.received().len(), 3);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"devicelink_outbox_messages{status="dead"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"devicelink_outbox_messages{status="sent"} 3"#),
        "{metrics}"
    );
    assert_invariants(app);
}
