//! The scenarios S0-S8: what one operation of each is, over HTTP, as a client does it.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};
use url::Url;

use super::provision::{self, Browser, SECRET_CODE};
use crate::device_client::DeviceClient;
use crate::linking::QrFrames;
use crate::provider::ClientSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    S0,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
    S8,
}

/// The mixed profile S8: (scenario, percent).
pub const MIX: [(Scenario, u32); 5] = [
    (Scenario::S3, 70),
    (Scenario::S2, 20),
    (Scenario::S5, 5),
    (Scenario::S4, 3),
    (Scenario::S7, 2),
];

impl Scenario {
    pub const ALL: [Self; 9] = [
        Self::S0,
        Self::S1,
        Self::S2,
        Self::S3,
        Self::S4,
        Self::S5,
        Self::S6,
        Self::S7,
        Self::S8,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::S0 => "S0",
            Self::S1 => "S1",
            Self::S2 => "S2",
            Self::S3 => "S3",
            Self::S4 => "S4",
            Self::S5 => "S5",
            Self::S6 => "S6",
            Self::S7 => "S7",
            Self::S8 => "S8",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::S0 => "GET /healthz (framework ceiling)",
            Self::S1 => "discovery and JWKS",
            Self::S2 => "refresh with DPoP (rotation)",
            Self::S3 => "GET /api/v1/me with a DPoP-bound token",
            Self::S4 => "QR code create -> redeem",
            Self::S5 => "unlock with biometrics (WebAuthn assertion)",
            Self::S6 => "unlock with the secret code",
            Self::S7 => "provider authorization code -> token",
            Self::S8 => "mixed (70% S3, 20% S2, 5% S5, 3% S4, 2% S7)",
        }
    }

    /// Whether an operation needs a linked device of the pool.
    pub fn needs_device(self) -> bool {
        matches!(self, Self::S2 | Self::S3 | Self::S5 | Self::S6 | Self::S8)
    }
}

/// Items a worker takes for one operation and gives back: linked devices (so every
/// refresh family has one owner at a time) and browser sessions (a session shows one
/// QR code at a time: a new one cancels the previous).
pub struct Pool<T> {
    items: Mutex<Vec<T>>,
    available: Semaphore,
    len: usize,
}

pub type DevicePool = Pool<DeviceClient>;

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        let len = items.len();
        Self {
            items: Mutex::new(items),
            available: Semaphore::new(len),
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) async fn take(&self) -> Option<T> {
        let permit = self.available.acquire().await.ok()?;
        permit.forget();
        self.items.lock().await.pop()
    }

    pub(super) async fn give_back(&self, item: T) {
        self.items.lock().await.push(item);
        self.available.add_permits(1);
    }
}

/// What the scenarios share.
pub struct Ctx {
    pub http: reqwest::Client,
    pub base: Url,
    pub public_url: Url,
    pub mock_discovery: Url,
    /// Our own discovery document, if the server has one (the provider).
    pub discovery: Option<Value>,
    pub frames: QrFrames,
    pub origin: Url,
    pub browsers: Pool<Browser>,
    pub pool: Arc<DevicePool>,
    /// The portal S7 signs in for: a configured client with a secret, or the demo client.
    pub portal: Option<ClientSettings>,
}

impl Ctx {
    /// Why a scenario cannot run against this server, if it cannot.
    pub fn unavailable(&self, scenario: Scenario) -> Option<String> {
        match scenario {
            Scenario::S7 if !self.has_provider() => {
                Some("provider not present (no authorization_endpoint in /.well-known/openid-configuration)".into())
            }
            Scenario::S7 if self.portal.is_none() => Some(
                "no provider client with a secret and a redirect URI the harness can use".into(),
            ),
            Scenario::S7 if self.browsers.is_empty() => Some("no browser sessions".into()),
            s if s.needs_device() && self.pool.is_empty() => Some("no devices provisioned".into()),
            _ => None,
        }
    }

    fn has_provider(&self) -> bool {
        self.discovery
            .as_ref()
            .is_some_and(|d| d.get("authorization_endpoint").is_some())
    }

    /// A remark printed with the scenario.
    pub fn note(&self, scenario: Scenario) -> Option<String> {
        match scenario {
            Scenario::S1 if self.discovery.is_none() => Some(
                "our discovery document is not present yet: S1 alternates our JWKS and the bundled mock eAccess's discovery".into(),
            ),
            Scenario::S8 => {
                let mix = self.mix();
                Some(format!(
                    "mix run: {}",
                    mix.iter()
                        .map(|(s, p)| format!("{p:.1}% {}", s.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            _ => None,
        }
    }

    /// The S8 mix among the scenarios available (shares of absent ones spread pro rata).
    pub fn mix(&self) -> Vec<(Scenario, f64)> {
        let present: Vec<(Scenario, u32)> = MIX
            .iter()
            .copied()
            .filter(|(s, _)| self.unavailable(*s).is_none())
            .collect();
        let total: u32 = present.iter().map(|(_, p)| p).sum();
        present
            .into_iter()
            .map(|(s, p)| (s, f64::from(p) * 100.0 / f64::from(total.max(1))))
            .collect()
    }

    /// Runs one operation of `scenario`; `pick` in [0, 1) chooses within S1 and S8.
    pub async fn op(&self, scenario: Scenario, pick: f64) -> Result<(), String> {
        let scenario = if scenario == Scenario::S8 {
            let mut acc = 0.0;
            let mix = self.mix();
            let mut chosen = Scenario::S3;
            for (s, p) in mix {
                acc += p / 100.0;
                if pick < acc {
                    chosen = s;
                    break;
                }
            }
            chosen
        } else {
            scenario
        };
        match scenario {
            Scenario::S0 => {
                self.get_ok(self.base.join("healthz").map_err(|e| e.to_string())?)
                    .await
            }
            Scenario::S1 => {
                let url = if pick < 0.5 {
                    self.base.join(".well-known/jwks.json")
                } else if self.discovery.is_some() {
                    self.base.join(".well-known/openid-configuration")
                } else {
                    Ok(self.mock_discovery.clone())
                };
                self.get_ok(url.map_err(|e| e.to_string())?).await
            }
            Scenario::S4 => {
                let browser = self.browsers.take().await.ok_or("no browser sessions")?;
                let result = self.qr_create_redeem(&browser).await;
                self.browsers.give_back(browser).await;
                result
            }
            Scenario::S7 => {
                let browser = self.browsers.take().await.ok_or("no browser sessions")?;
                let result = self.provider_code_token(&browser).await;
                self.browsers.give_back(browser).await;
                result
            }
            Scenario::S8 => Err("S8 is a mix, not an operation".into()),
            device_op => {
                let mut device = self.pool.take().await.ok_or("the device pool is empty")?;
                let result = device_call(&mut device, device_op).await;
                self.pool.give_back(device).await;
                result
            }
        }
    }

    async fn get_ok(&self, url: Url) -> Result<(), String> {
        let res = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        res.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    /// S4: the browser shows a new QR code; a fresh app installation starts a link and
    /// redeems what its camera read.
    async fn qr_create_redeem(&self, browser: &Browser) -> Result<(), String> {
        let code = browser.new_code().await?;
        let scanned = provision::scan(&self.frames, &self.public_url, &code);
        let mut device =
            DeviceClient::new(self.base.clone(), self.origin.clone()).map_err(|e| e.to_string())?;
        device
            .start_qr_link("Bench S4")
            .await
            .map_err(|e| e.to_string())?;
        device
            .redeem_qr(&scanned)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Ctx {
    /// S7: a portal sends the signed-in citizen's browser to the authorization endpoint
    /// (the portal session is reused; consent, asked the first time, is given), then
    /// redeems the code at the token endpoint (client_secret_basic, PKCE S256).
    async fn provider_code_token(&self, browser: &Browser) -> Result<(), String> {
        let portal = self.portal.as_ref().ok_or("no portal client")?;
        let secret = portal.secret.as_deref().ok_or("the portal has no secret")?;
        let redirect_uri = portal.redirect_uris.first().ok_or("no redirect URI")?;
        let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
        let nonce: String =
            rand::Rng::sample_iter(rand::thread_rng(), &rand::distributions::Alphanumeric)
                .take(22)
                .map(char::from)
                .collect();
        let mut url = self
            .base
            .join("oidc/authorize")
            .map_err(|e| e.to_string())?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &portal.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid")
            .append_pair("state", "bench")
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        let code = self.follow_to_code(browser, url, redirect_uri).await?;
        let res = self
            .http
            .post(self.base.join("oidc/token").map_err(|e| e.to_string())?)
            .basic_auth(&portal.client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", verifier.secret().as_str()),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if status.is_success() && body.get("id_token").is_some() {
            Ok(())
        } else {
            Err(format!("token endpoint answered {status}: {body}"))
        }
    }

    /// Follows the authorization request's redirects (and the consent page, once) until
    /// the portal's redirect URI; returns the code.
    async fn follow_to_code(
        &self,
        browser: &Browser,
        start: Url,
        redirect_uri: &str,
    ) -> Result<String, String> {
        let mut res = browser
            .http
            .get(start)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        for _ in 0..5 {
            if res.status().is_redirection() {
                let next = provision::location(&res).map_err(|e| e.to_string())?;
                if next.as_str().starts_with(redirect_uri) {
                    return next
                        .query_pairs()
                        .find(|(k, _)| k == "code")
                        .map(|(_, v)| v.into_owned())
                        .ok_or_else(|| format!("the portal was sent back without a code: {next}"));
                }
                res = browser
                    .http
                    .get(next)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                continue;
            }
            let status = res.status();
            let page = res.text().await.map_err(|e| e.to_string())?;
            let (Some(csrf), Some(request)) = (
                provision::hidden_value(&page, "csrf_token"),
                provision::hidden_value(&page, "request"),
            ) else {
                return Err(format!(
                    "the authorization request answered {status} without a redirect or a consent form"
                ));
            };
            res = browser
                .http
                .post(
                    self.base
                        .join("oidc/authorize/consent")
                        .map_err(|e| e.to_string())?,
                )
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("request", request.as_str()),
                    ("decision", "allow"),
                ])
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
        Err("too many redirects in the authorization request".into())
    }
}

impl super::load::Driver for Ctx {
    fn op(
        &self,
        scenario: Scenario,
        pick: f64,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        Ctx::op(self, scenario, pick)
    }
}

async fn device_call(device: &mut DeviceClient, scenario: Scenario) -> Result<(), String> {
    let result = match scenario {
        Scenario::S2 => device.refresh().await.map(drop),
        Scenario::S3 => match device.me().await {
            Err(e) if e.code() == Some("invalid_token") => {
                // The access token expired (a long run): refresh as the app would.
                device.refresh().await.map_err(|e| e.to_string())?;
                device.me().await.map(drop)
            }
            other => other.map(drop),
        },
        Scenario::S5 => device.unlock_with_biometrics().await.map(drop),
        Scenario::S6 => device.unlock_with_secret_code(SECRET_CODE).await.map(drop),
        _ => return Err("not a device scenario".into()),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            // Keep the device usable for the next operation: a fresh unlock.
            let _ = device.unlock_with_secret_code(SECRET_CODE).await;
            Err(e.to_string())
        }
    }
}
