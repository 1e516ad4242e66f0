//! Accounts and linked devices made through the real API, as citizens make them: sign in
//! at the (mock) eAccess, register, show a QR code in the browser, scan it with the
//! reference app, set the secret code, add biometrics, complete, unlock.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use url::Url;

use super::scenarios::{Ctx, DevicePool, Pool};
use super::server::BenchServer;
use crate::config::{Settings, decode_secret};
use crate::device_client::DeviceClient;
use crate::linking::{LinkCode, QrFrames, link_url};

/// The secret code of every benchmark device (not a weak one).
pub const SECRET_CODE: &str = "482913";

/// Test citizens of the bundled mock and a product each of them holds.
const CITIZENS: [(&str, &str); 4] = [
    ("marie", "luxtrust_mobile"),
    ("jean", "luxtrust_scan"),
    ("sophie", "eid_card"),
    ("luc", "luxtrust_mobile"),
];

/// A signed-in browser: its cookies are the portal session.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: Url,
}

fn attr(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub(super) fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    attr(&html[at..], "value=\"")
}

pub(super) fn location(res: &reqwest::Response) -> anyhow::Result<Url> {
    let value = res
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("{} answered {} without a redirect", res.url(), res.status()))?;
    Ok(res.url().join(value)?)
}

impl Browser {
    /// Signs `identity` in at the portal through the mock eAccess, registering if needed.
    pub async fn sign_in(base: &Url, identity: &str, product: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let res = http.get(base.join("auth/login")?).send().await?;
        let authorize = location(&res)?;
        let callback =
            crate::mock_idp::script::complete_login(&http, &authorize, identity, product)
                .await
                .map_err(|e| anyhow!("mock eAccess login of {identity}: {e}"))?;
        let res = http.get(callback).send().await?;
        let next = location(&res)?;
        if next.path() == "/register" {
            let form = http.get(next.clone()).send().await?.text().await?;
            let csrf = hidden_value(&form, "csrf_token")
                .ok_or_else(|| anyhow!("no CSRF token on /register"))?;
            let email = format!("{identity}@example.lu");
            let res = http
                .post(next)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("email", email.as_str()),
                    ("accept_terms", "yes"),
                ])
                .send()
                .await?;
            if location(&res)?.path() != "/dashboard" {
                return Err(anyhow!(
                    "registering {identity} did not end on the dashboard"
                ));
            }
        }
        Ok(Self {
            http,
            base: base.clone(),
        })
    }

    /// "Link a device": the page makes a new QR code; returns its link code.
    pub async fn new_code(&self) -> Result<LinkCode, String> {
        let res = self
            .http
            .get(self.base.join("devices/link").map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status() != 200 {
            return Err(format!("/devices/link answered {}", res.status()));
        }
        let page = res.text().await.map_err(|e| e.to_string())?;
        let code = attr(&page, "data-code=\"").ok_or("no data-code on the link page")?;
        LinkCode::try_from(code.as_str()).map_err(|e| format!("{e:?}"))
    }
}

/// What the camera reads from the QR code shown now: the link URL with the current frame.
/// (The page's QR image holds exactly this; computing it with the server's frame key
/// spares the harness decoding an image per scan.)
pub fn scan(frames: &QrFrames, public_url: &Url, code: &LinkCode) -> String {
    link_url(public_url, &frames.frame_at(code, chrono::Utc::now())).to_string()
}

/// Signs the citizens in and links `devices` devices (round-robin over the accounts),
/// each with the secret code and a passkey, then unlocks each once.
pub async fn provision(
    settings: &Settings,
    server: &BenchServer,
    devices: usize,
    sessions: usize,
) -> anyhow::Result<Ctx> {
    let public_url: Url = server.base.as_str().trim_end_matches('/').parse()?;
    let frames = QrFrames::with_timing(
        &decode_secret("secrets.qr_frame_key", &settings.secrets.qr_frame_key)?,
        settings.linking.qr_frame_step_secs,
        settings.linking.qr_frame_window_secs,
    )
    .map_err(|e| anyhow!("QR frames: {e:?}"))?;
    // One browser session per worker (at least one per citizen).
    let mut browsers = Vec::new();
    for i in 0..sessions.max(CITIZENS.len()) {
        let (identity, product) = CITIZENS[i % CITIZENS.len()];
        browsers.push(
            Browser::sign_in(&server.base, identity, product)
                .await
                .with_context(|| format!("signing {identity} in"))?,
        );
    }
    let origin = settings.webauthn.web_origin.clone();
    let mut linked = Vec::with_capacity(devices);
    for i in 0..devices {
        let browser = &browsers[i % browsers.len()];
        let code = browser.new_code().await.map_err(|e| anyhow!(e))?;
        let scanned = scan(&frames, &public_url, &code);
        let mut device = DeviceClient::new(server.base.clone(), origin.clone())?;
        device
            .link_with_qr(&format!("Bench phone {i}"), &scanned, SECRET_CODE, true)
            .await
            .with_context(|| format!("linking device {i}"))?;
        device
            .unlock_with_secret_code(SECRET_CODE)
            .await
            .with_context(|| format!("unlocking device {i}"))?;
        linked.push(device);
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let discovery = probe_discovery(&http, &server.base).await;
    Ok(Ctx {
        http,
        base: server.base.clone(),
        public_url,
        mock_discovery: server
            .mock_issuer
            .join("/.well-known/openid-configuration")?,
        discovery,
        frames,
        origin,
        browsers: Pool::new(browsers),
        pool: Arc::new(DevicePool::new(linked)),
        portal: portal_client(settings),
    })
}

/// The portal S7 signs in for: the first configured client with a secret, or the demo
/// client `devicelink demo` registers when none is configured.
fn portal_client(settings: &Settings) -> Option<crate::provider::ClientSettings> {
    let clients = &settings.provider.clients;
    if clients.is_empty() {
        return Some(crate::provider::demo_client(&settings.demo.portal_url));
    }
    clients
        .iter()
        .find(|c| c.secret.is_some() && !c.redirect_uris.is_empty())
        .cloned()
}

/// Our own OpenID discovery document, if this build serves one.
async fn probe_discovery(http: &reqwest::Client, base: &Url) -> Option<serde_json::Value> {
    let res = http
        .get(base.join(".well-known/openid-configuration").ok()?)
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}
