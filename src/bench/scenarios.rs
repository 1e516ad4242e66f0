//! The scenarios S0-S8: what one operation of each is, over HTTP, as a client does it.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};
use url::Url;

use super::provision::{self, Browser, SECRET_CODE};
use crate::device_client::DeviceClient;
use crate::linking::QrFrames;

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

    async fn take(&self) -> Option<T> {
        let permit = self.available.acquire().await.ok()?;
        permit.forget();
        self.items.lock().await.pop()
    }

    async fn give_back(&self, item: T) {
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
}

impl Ctx {
    /// Why a scenario cannot run against this server, if it cannot.
    pub fn unavailable(&self, scenario: Scenario) -> Option<String> {
        match scenario {
            Scenario::S7 if !self.has_provider() => {
                Some("provider not present (no authorization_endpoint in /.well-known/openid-configuration)".into())
            }
            Scenario::S7 => Some("provider present, but the harness has no S7 driver yet".into()),
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
            Scenario::S7 | Scenario::S8 => Err("not runnable".into()),
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
