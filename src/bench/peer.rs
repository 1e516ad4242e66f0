//! The peer: the npm package `oidc-provider` (bench/peer/), driven for S2 by the same load
//! loops as our server: a refresh with a fresh DPoP proof per request, each answer
//! rotating the refresh token (bench/peer/README.md has the setup and its contract).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde_json::{Value, json};
use url::Url;

use super::load::{Driver, LoadPlan};
use super::report::ScenarioRun;
use super::scenarios::{Pool, Scenario};
use crate::device_client::DeviceKey;

/// Where the peer's setup lives, relative to the repository root.
const PEER_DIR: &str = "bench/peer";

/// Whether `bench/peer/install.sh` has been run.
pub fn installed() -> bool {
    Path::new(PEER_DIR)
        .join("node_modules/oidc-provider")
        .is_dir()
}

/// A device of the peer: its DPoP key and its current refresh token.
struct PeerDevice {
    key: DeviceKey,
    refresh_token: String,
}

/// What the load loops drive against the peer.
struct PeerCtx {
    http: reqwest::Client,
    seed: Url,
    token_endpoint: Url,
    devices: Pool<PeerDevice>,
}

impl PeerCtx {
    /// A refresh token bound to `key`'s thumbprint, minted by the peer's seeding route.
    async fn seed(&self, key: &DeviceKey) -> Result<String, String> {
        let res = self
            .http
            .post(self.seed.clone())
            // No `openid`: the peer then signs only the access token per refresh, the
            // same crypto as ours (one proof verified, one token signed).
            .json(&json!({"jkt": key.thumbprint(), "scope": "offline_access"}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        body.get("refresh_token")
            .and_then(Value::as_str)
            .filter(|_| status.is_success())
            .map(str::to_owned)
            .ok_or_else(|| format!("seeding answered {status}: {body}"))
    }

    /// One refresh: a DPoP proof for the token endpoint, the rotated token kept.
    async fn refresh(&self, device: &mut PeerDevice) -> Result<(), String> {
        let proof = device
            .key
            .proof("POST", &self.token_endpoint, None, None)
            .map_err(|e| e.to_string())?;
        let res = self
            .http
            .post(self.token_endpoint.clone())
            .header("DPoP", proof)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", device.refresh_token.as_str()),
                ("client_id", "bench"),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        match body.get("refresh_token").and_then(Value::as_str) {
            Some(next) if status.is_success() && body["token_type"] == "DPoP" => {
                next.clone_into(&mut device.refresh_token);
                Ok(())
            }
            _ => Err(format!(
                "the peer's token endpoint answered {status}: {body}"
            )),
        }
    }
}

impl Driver for PeerCtx {
    async fn op(&self, scenario: Scenario, _pick: f64) -> Result<(), String> {
        if scenario != Scenario::S2 {
            return Err(format!("the peer runs S2 only, not {}", scenario.name()));
        }
        let mut device = self.devices.take().await.ok_or("no peer devices")?;
        let result = self.refresh(&mut device).await;
        if result.is_err() {
            // The family may be spent: start a new one so the device stays usable.
            if let Ok(token) = self.seed(&device.key).await {
                device.refresh_token = token;
            }
        }
        self.devices.give_back(device).await;
        result
    }
}

/// The peer's Node.js process, pinned to the server core like ours.
struct PeerServer {
    child: tokio::process::Child,
    pid: u32,
    issuer: Url,
}

impl PeerServer {
    fn start(pin: bool) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let script = std::fs::canonicalize(Path::new(PEER_DIR).join("server.mjs"))
            .context("bench/peer/server.mjs")?;
        let mut command = if pin {
            let mut c = tokio::process::Command::new("taskset");
            c.args(["-c", "1", "node"]);
            c
        } else {
            tokio::process::Command::new("node")
        };
        let child = command
            .arg(script)
            .current_dir(PEER_DIR)
            .env("PORT", port.to_string())
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting node bench/peer/server.mjs (is Node.js installed?)")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the peer exited at once"))?;
        let issuer: Url = format!("http://127.0.0.1:{port}/").parse()?;
        Ok(Self { child, pid, issuer })
    }

    /// The token endpoint from the peer's discovery document, once it answers.
    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<Url> {
        let discovery = self.issuer.join(".well-known/openid-configuration")?;
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                return Err(anyhow!("the peer exited: {status}"));
            }
            if let Ok(res) = http.get(discovery.clone()).send().await
                && res.status().is_success()
            {
                let doc: Value = res.json().await?;
                let endpoint = doc["token_endpoint"]
                    .as_str()
                    .ok_or_else(|| anyhow!("the peer's discovery has no token_endpoint"))?;
                return Ok(endpoint.parse()?);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!("the peer did not answer within 30 s"))
    }
}

/// Runs S2 against the peer: `devices` DPoP keys, each with its own refresh-token
/// family, measured like ours (closed loop, then open loop at 50% and 80%).
pub async fn run_s2(plan: &LoadPlan, devices: usize, pin: bool) -> anyhow::Result<ScenarioRun> {
    if !installed() {
        return Err(anyhow!(
            "the peer is not installed: run bench/peer/install.sh (needs Node.js and npm)"
        ));
    }
    let mut server = PeerServer::start(pin)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let token_endpoint = server.wait_ready(&http).await?;
    let mut ctx = PeerCtx {
        http,
        seed: server.issuer.join("bench/seed")?,
        token_endpoint,
        devices: Pool::new(Vec::new()),
    };
    let mut seeded = Vec::with_capacity(devices);
    for _ in 0..devices.max(1) {
        let key = DeviceKey::generate().map_err(|e| anyhow!("{e}"))?;
        let refresh_token = ctx.seed(&key).await.map_err(|e| anyhow!(e))?;
        let mut device = PeerDevice { key, refresh_token };
        // One refresh before measuring: the contract works end to end.
        ctx.refresh(&mut device)
            .await
            .map_err(|e| anyhow!("the first refresh at the peer failed: {e}"))?;
        seeded.push(device);
    }
    ctx.devices = Pool::new(seeded);
    let ctx = Arc::new(ctx);
    let max_conc = ctx.devices.len();
    let (closed, best, open) = super::measure(&ctx, plan, Scenario::S2, max_conc, server.pid).await;
    let _ = server.child.kill().await;
    Ok(ScenarioRun::measured(
        Scenario::S2,
        Some(format!(
            "peer: oidc-provider {} (in-memory adapter), DPoP-bound refresh-token rotation",
            peer_version().unwrap_or_else(|| "?".into())
        )),
        closed,
        best,
        open,
        None,
        None,
    ))
}

/// The installed oidc-provider version.
fn peer_version() -> Option<String> {
    let text = std::fs::read_to_string(
        Path::new(PEER_DIR).join("node_modules/oidc-provider/package.json"),
    )
    .ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    doc["version"].as_str().map(str::to_owned)
}
