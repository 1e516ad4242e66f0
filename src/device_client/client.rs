//! The reference app: walks the device API over HTTP exactly as the mobile app does,
//! signing a fresh DPoP proof for every request and answering WebAuthn ceremonies with
//! a software passkey that performs user verification.

use crate::i18n::Lang;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs_proto::{CreationChallengeResponse, UserVerificationPolicy};

use super::proof::{DeviceKey, DeviceKeyError};

// After linking: unlock, tokens, the account, self-service (a child module, so it
// keeps the client's private state private).
mod unlocked;

/// What went wrong talking to devicelink.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// devicelink answered with an error envelope.
    #[error("{status} {error}: {description}")]
    Api {
        status: u16,
        error: String,
        description: String,
        body: Value,
    },
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("device key: {0}")]
    Key(#[from] DeviceKeyError),
    #[error("passkey: {0}")]
    Passkey(String),
    #[error("state file: {0}")]
    State(String),
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// The API error code, if devicelink answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What the app keeps on the phone (here: a JSON state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceState {
    pub server: Url,
    /// The device key, PKCS#8, base64. On a phone it would live in the secure enclave.
    pub device_key: String,
    pub webauthn_origin: Url,
    pub device_name: Option<String>,
    pub link_id: Option<String>,
    pub device_id: Option<String>,
    /// The software authenticator (CBOR, base64) holding the passkey, if biometrics are on.
    pub authenticator: Option<String>,
    /// The current access token (DPoP-bound, short-lived) after an unlock. Secret.
    #[serde(default)]
    pub access_token: Option<String>,
    /// The current refresh token (single use, rotated by [`DeviceClient::refresh`]). Secret.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A request body.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// The reference device client.
pub struct DeviceClient {
    http: reqwest::Client,
    key: DeviceKey,
    pub state: DeviceState,
    nonce: Option<String>,
    /// Sent with every request (e.g. what a proxy in front of the server would add).
    extra_headers: reqwest::header::HeaderMap,
}

/// The origin the reference app presents in WebAuthn ceremonies. A real app presents
/// its platform origin (`ios:bundle-id:...`); the software authenticator used here only
/// accepts web origins whose host is the relying-party id, so it presents the portal's.
pub const DEFAULT_APP_ORIGIN: &str = "http://localhost:8080";

/// The language the reference app asks the server's sentences in, like a phone's system
/// language: `DEVICELINK_LANG`, else the locale (`LC_ALL`, `LANG`), when it names French,
/// German or English; otherwise English (the reference app is a developer's tool).
pub fn app_language() -> Lang {
    ["DEVICELINK_LANG", "LC_ALL", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find_map(|value| {
            let primary = value.split(['_', '-', '.']).next().unwrap_or("").to_owned();
            Lang::from_code(&primary)
        })
        .unwrap_or(Lang::En)
}

impl DeviceClient {
    /// A fresh installation with a new device key.
    pub fn new(server: Url, webauthn_origin: Url) -> Result<Self, ClientError> {
        let key = DeviceKey::generate()?;
        let state = DeviceState {
            server,
            device_key: key.export_pkcs8_base64(),
            webauthn_origin,
            device_name: None,
            link_id: None,
            device_id: None,
            authenticator: None,
            access_token: None,
            refresh_token: None,
        };
        Ok(Self::from_state(state, key))
    }

    fn from_state(state: DeviceState, key: DeviceKey) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_static(app_language().code()),
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "devicelink-reference-app/",
                env!("CARGO_PKG_VERSION")
            ))
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            key,
            state,
            nonce: None,
            extra_headers: reqwest::header::HeaderMap::new(),
        }
    }

    /// Sends `name: value` with every request from now on.
    pub fn set_header(&mut self, name: &'static str, value: &str) -> Result<(), ClientError> {
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| ClientError::Usage(format!("bad header value: {e}")))?;
        self.extra_headers.insert(name, value);
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::State(format!("cannot read {}: {e}", path.display())))?;
        let state: DeviceState = serde_json::from_str(&text).map_err(|e| {
            ClientError::State(format!("{} is not a state file: {e}", path.display()))
        })?;
        let key = DeviceKey::import_pkcs8_base64(&state.device_key)?;
        Ok(Self::from_state(state, key))
    }

    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        let text = serde_json::to_string_pretty(&self.state)
            .map_err(|e| ClientError::State(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ClientError::State(e.to_string()))?;
        }
        std::fs::write(path, text)
            .map_err(|e| ClientError::State(format!("cannot write {}: {e}", path.display())))?;
        Ok(())
    }

    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    pub fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.state
            .server
            .join(path)
            .map_err(|e| ClientError::Usage(format!("bad server URL: {e}")))
    }

    /// A DPoP proof for one request (exposed so tests can tamper with it).
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<String, ClientError> {
        Ok(self
            .key
            .proof(method, url, access_token, self.nonce.as_deref())?)
    }

    /// Sends one signed request; retries once if the server asks for a DPoP nonce.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        access_token: Option<&str>,
    ) -> Result<Value, ClientError> {
        let payload = body.map_or(Payload::Empty, Payload::Json);
        self.send(method, path, payload, access_token).await
    }

    /// Like [`DeviceClient::call`] with an `application/x-www-form-urlencoded` body (the
    /// token endpoint).
    pub async fn call_form(
        &mut self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, ClientError> {
        self.send(method, path, Payload::Form(form), None).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Payload<'_>,
        access_token: Option<&str>,
    ) -> Result<Value, ClientError> {
        let url = self.url(path)?;
        for attempt in 0..2 {
            let proof = self.proof(method.as_str(), &url, access_token)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(self.extra_headers.clone())
                .header("DPoP", proof);
            if let Some(token) = access_token {
                request = request.header("Authorization", format!("DPoP {token}"));
            }
            match body {
                Payload::Empty => {}
                Payload::Json(json) => request = request.json(json),
                Payload::Form(form) => request = request.form(form),
            }
            let response = request.send().await?;
            if let Some(nonce) = response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
            {
                self.nonce = Some(nonce.to_owned());
            }
            let status = response.status().as_u16();
            let text = response.text().await?;
            let value: Value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            if (200..300).contains(&status) {
                return Ok(value);
            }
            let error = value["error"]
                .as_str()
                .unwrap_or("unknown_error")
                .to_owned();
            if error == "use_dpop_nonce" && attempt == 0 && self.nonce.is_some() {
                continue;
            }
            return Err(ClientError::Api {
                status,
                error,
                description: value["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body: value,
            });
        }
        Err(ClientError::Usage(
            "the server kept asking for a new DPoP nonce".into(),
        ))
    }

    pub(crate) fn link_path(&self, suffix: &str) -> Result<String, ClientError> {
        let id = self
            .state
            .link_id
            .as_deref()
            .ok_or_else(|| ClientError::Usage("no link in progress".into()))?;
        Ok(format!("/api/v1/links/{id}{suffix}"))
    }

    /// "Link your device": name the device, choose the QR method.
    pub async fn start_qr_link(&mut self, device_name: &str) -> Result<Value, ClientError> {
        let body = json!({
            "device_name": device_name,
            "method": "qr",
            "platform": "other",
            "device_key": self.key.public_jwk(),
        });
        let link = self
            .call(Method::POST, "/api/v1/links", Some(&body), None)
            .await?;
        self.state.link_id = link["link_id"].as_str().map(str::to_owned);
        self.state.device_name = Some(device_name.to_owned());
        Ok(link)
    }

    /// Sends what the camera read (the link URL or the bare frame).
    pub async fn redeem_qr(&mut self, scanned: &str) -> Result<Value, ClientError> {
        let path = self.link_path("/qr")?;
        self.call(Method::POST, &path, Some(&json!({"code": scanned})), None)
            .await
    }

    pub async fn set_secret_code(&mut self, secret_code: &str) -> Result<Value, ClientError> {
        let path = self.link_path("/secret-code")?;
        self.call(
            Method::PUT,
            &path,
            Some(&json!({"secret_code": secret_code})),
            None,
        )
        .await
    }

    /// Creates a passkey with user verification (biometrics) and registers it.
    pub async fn add_passkey(&mut self) -> Result<Value, ClientError> {
        self.add_passkey_with(true).await
    }

    /// Like [`DeviceClient::add_passkey`]; `verify_user = false` makes an authenticator that
    /// skips user verification (the server must refuse it).
    pub async fn add_passkey_with(&mut self, verify_user: bool) -> Result<Value, ClientError> {
        let options_path = self.link_path("/passkey/options")?;
        let options = self.call(Method::POST, &options_path, None, None).await?;
        let mut options: CreationChallengeResponse = serde_json::from_value(options)
            .map_err(|e| ClientError::Passkey(format!("unreadable options: {e}")))?;
        let (mut token, _) =
            SoftToken::new(verify_user).map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        if !verify_user {
            if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
                sel.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
            }
        }
        let credential = token
            .do_registration(self.state.webauthn_origin.clone(), options)
            .map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        let path = self.link_path("/passkey")?;
        let result = self
            .call(
                Method::POST,
                &path,
                Some(&json!({"credential": credential})),
                None,
            )
            .await?;
        let cbor = token
            .to_cbor()
            .map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        self.state.authenticator = Some(STANDARD.encode(cbor));
        Ok(result)
    }

    /// Finishes linking; the device is linked from now on.
    pub async fn complete(&mut self) -> Result<Value, ClientError> {
        let path = self.link_path("/complete")?;
        let done = self.call(Method::POST, &path, None, None).await?;
        self.state.device_id = done["device_id"].as_str().map(str::to_owned);
        Ok(done)
    }

    /// The whole QR method: start, redeem, secret code, optional biometrics, complete.
    pub async fn link_with_qr(
        &mut self,
        device_name: &str,
        scanned: &str,
        secret_code: &str,
        biometrics: bool,
    ) -> Result<Value, ClientError> {
        self.start_qr_link(device_name).await?;
        self.redeem_qr(scanned).await?;
        self.set_secret_code(secret_code).await?;
        if biometrics {
            self.add_passkey().await?;
        }
        self.complete().await
    }
}
