//! devicelink against an eAccess nobody here wrote: panva's `oidc-provider` (OpenID
//! Certified), unmodified, from the npm registry (integration-tests/eaccess-peer/, pinned
//! in its package-lock.json), at its default claim behaviour: the ID token of a code flow
//! carries no names, e-mail or product (they are at userinfo), `auth_time` only when
//! asked, RS256 signatures. A citizen signs in, registers, links a phone by QR and
//! re-authenticates for "Unlink my device".
//!
//! Needs Node.js and `integration-tests/eaccess-peer/install.sh`; without them the test
//! says so and skips, except under CI (`CI=true`), where that is an error.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use devicelink::startup::Application;

use crate::helpers::{
    Backend, PgDatabase, TestApp, hidden_value, http_client, location, location_path, postgres_url,
    test_settings,
};

const PEER_DIR: &str = "integration-tests/eaccess-peer";

/// The peer process, stopped when dropped.
struct Peer {
    child: Child,
    issuer: url::Url,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_available() -> bool {
    let installed = Path::new(PEER_DIR)
        .join("node_modules/oidc-provider")
        .is_dir();
    let node = Command::new("node").arg("--version").output().is_ok();
    if installed && node {
        return true;
    }
    let why = "the certified eAccess peer needs node and integration-tests/eaccess-peer/install.sh";
    assert!(std::env::var("CI").is_err(), "{why}");
    eprintln!("SKIPPED: {why}");
    false
}

fn start_peer(redirect_uri: &str, post_logout: &str) -> Peer {
    let mut child = Command::new("node")
        .arg(Path::new(PEER_DIR).join("server.mjs"))
        .env("EACCESS_PEER_ISSUER", "http://127.0.0.1:0")
        .env("EACCESS_PEER_CLIENT_ID", "devicelink")
        .env("EACCESS_PEER_CLIENT_SECRET", "peer-secret: not the demo's")
        .env("EACCESS_PEER_REDIRECT_URIS", redirect_uri)
        .env("EACCESS_PEER_POST_LOGOUT_URIS", post_logout)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts the peer");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout
        .read_line(&mut line)
        .expect("the peer says where it listens");
    // Keep reading: a closed pipe would end the peer at its next line of output.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let issuer = line
        .trim()
        .strip_prefix("eaccess-peer listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the peer: {line}"))
        .parse()
        .expect("the peer's issuer is a URL");
    Peer { child, issuer }
}

async fn spawn_with_peer(backend: Backend) -> Option<(TestApp, Peer)> {
    if !peer_available() {
        return None;
    }
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create(&postgres_url()?)),
    };
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let address = format!("http://127.0.0.1:{port}");
    let peer = start_peer(
        &format!("{address}/auth/eaccess/callback"),
        &format!("{address}/"),
    );
    let mut settings = test_settings(backend, port, dir.path(), pg.as_ref());
    settings.eaccess.issuer = peer.issuer.clone();
    settings.eaccess.client_secret = "peer-secret: not the demo's".into();
    // The peer carries the product claims in a scope of their own.
    settings.eaccess.scopes = "profile email eaccess".into();
    settings.eaccess.discovery_retry_secs = 1;
    let app = Application::build(settings.clone(), listener).unwrap();
    tokio::spawn(app.run_until_stopped());
    let client = http_client();
    for _ in 0..100 {
        let ready = client.get(format!("{address}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let app = TestApp {
        address,
        mock_issuer: peer.issuer.clone(),
        client,
        settings,
        backend,
        pg,
        dir,
    };
    Some((app, peer))
}

/// The `action` and fields of the first form of an oidc-provider interaction page.
fn form_of(page: &str) -> (String, Vec<(String, String)>) {
    let form = &page[page.find("<form").expect("the page has a form")..];
    let action = crate::helpers::attr(form, "action");
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        let value_of = |name: &str| {
            let marker = format!("{name}=\"");
            tag.find(&marker).map(|start| {
                let rest = &tag[start + marker.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
            })
        };
        if value_of("type").as_deref() == Some("hidden") {
            if let (Some(name), Some(value)) = (value_of("name"), value_of("value")) {
                fields.push((name, value));
            }
        }
    }
    (action, fields)
}

/// Drives oidc-provider's own login and consent pages (devInteractions) from its
/// authorization URL to devicelink's callback, which it returns.
async fn login_at_peer(app: &TestApp, authorize: url::Url, login: &str) -> url::Url {
    let mut next = authorize;
    for _ in 0..12 {
        if next.as_str().starts_with(&app.address) {
            return next;
        }
        let res = app.client.get(next.clone()).send().await.unwrap();
        if res.status() == 303 || res.status() == 302 {
            next = location(&res);
            continue;
        }
        assert_eq!(res.status(), 200, "an interaction page at {next}");
        let page = res.text().await.unwrap();
        let (action, mut fields) = form_of(&page);
        if fields.iter().any(|(k, v)| k == "prompt" && v == "login") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any".into()));
        }
        let res = app
            .client
            .post(next.join(&action).unwrap())
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "the form at {next} is accepted");
        next = location(&res);
    }
    panic!("the peer never redirected back to devicelink");
}

async fn sign_in_registers_links_and_reauthenticates(backend: Backend) {
    let Some((app, _peer)) = spawn_with_peer(backend).await else {
        return;
    };
    // Sign-in: devicelink asks for auth_time with max_age (the peer has no claims
    // parameter) and takes the names, e-mail and product from userinfo.
    let authorize = app.start_sign_in().await;
    assert!(authorize.query_pairs().any(|(k, _)| k == "max_age"));
    let callback = login_at_peer(&app, authorize, "marie").await;
    let res = app.client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/register");
    let form = app.get("/register").await.text().await.unwrap();
    assert!(form.contains("Marie") && form.contains("marie@example.lu"));
    let csrf = hidden_value(&form, "csrf_token");
    let res = app
        .client
        .post(app.url("/register"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "marie@example.lu"),
            ("accept_terms", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location_path(&res), "/dashboard");
    assert_eq!(
        app.count_rows("accounts WHERE given_name = 'Marie' AND family_name = 'Schmit'"),
        1
    );
    // Link a phone by QR.
    app.link_by_qr("Phone", "482913", false).await;
    // Re-authenticate for the device list: prompt=login, max_age=0 at the peer, whose
    // fresh auth_time devicelink checks.
    let res = app.get("/devices").await;
    assert_eq!(location_path(&res), "/auth/reauth");
    let res = app.client.get(location(&res)).send().await.unwrap();
    let authorize = location(&res);
    assert_eq!(authorize.origin(), app.mock_issuer.origin());
    let callback = login_at_peer(&app, authorize, "marie").await;
    let res = app.client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location_path(&res), "/devices");
    let page = app.get("/devices").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Phone"));
}

#[tokio::test]
async fn sqlite_a_certified_provider_as_eaccess_signs_in_registers_links_and_reauthenticates() {
    sign_in_registers_links_and_reauthenticates(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_certified_provider_as_eaccess_signs_in_registers_links_and_reauthenticates() {
    sign_in_registers_links_and_reauthenticates(Backend::Postgres).await;
}
