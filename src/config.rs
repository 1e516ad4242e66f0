//! Typed settings: embedded defaults (`conf/default.toml`), an optional file, then
//! `DEVICELINK__SECTION__KEY` environment variables. Validated once at start so that a
//! bad value stops the process with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// The embedded defaults; also the documentation of every key.
pub const DEFAULT_TOML: &str = include_str!("../conf/default.toml");

/// A setting that cannot be used, with the key it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl ConfigError {
    fn invalid(key: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            problem: problem.into(),
        }
    }
}

/// All settings of the devicelink server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub eaccess: EaccessSettings,
    pub portal: PortalSettings,
    pub linking: LinkingSettings,
    pub devices: DeviceSettings,
    pub webauthn: WebauthnSettings,
    pub dpop: DpopSettings,
    pub tokens: TokenSettings,
    pub secrets: SecretSettings,
    pub mail: MailSettings,
    pub provider: crate::provider::ProviderSettings,
    pub metrics: MetricsSettings,
    pub demo: DemoSettings,
}

/// What `devicelink demo` starts besides the server (`[demo]`); `serve` ignores it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Start the demo portal, a relying party of the provider, when no client is configured.
    pub portal: bool,
    /// The demo portal's address: it listens there, and `<portal_url>callback` is the
    /// demo client's redirect URI.
    pub portal_url: Url,
}

/// The Prometheus endpoint `GET /metrics` (`[metrics]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// When set, scrapers must send `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("enabled", &self.enabled)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkingSettings {
    pub qr_code_ttl_secs: i64,
    pub qr_frame_step_secs: u32,
    pub qr_frame_window_secs: u32,
    pub link_session_ttl_secs: i64,
    pub qr_redemptions_per_minute: u32,
    pub link_creations_per_minute_per_address: u32,
    pub link_creations_per_minute_per_account: u32,
    pub luxtrust_max_auth_age_secs: i64,
    pub app_redirect_uris: Vec<Url>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSettings {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub max_failed_attempts: u32,
}

/// Device-bound access and refresh tokens of the app, and unlock rate limits (`[tokens]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub access_token_ttl_secs: i64,
    pub refresh_token_idle_secs: i64,
    pub refresh_token_absolute_secs: i64,
    pub unlock_per_minute_per_device: u32,
    pub unlock_per_minute_per_address: u32,
    pub credential_change_window_secs: i64,
}

impl TokenSettings {
    /// Checks the `[tokens]` values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3600).contains(&self.access_token_ttl_secs) {
            return Err(ConfigError::invalid(
                "tokens.access_token_ttl_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(60..=365 * 24 * 3600).contains(&self.refresh_token_idle_secs) {
            return Err(ConfigError::invalid(
                "tokens.refresh_token_idle_secs",
                "must be between 60 and 31536000 (one year)",
            ));
        }
        if !(self.refresh_token_idle_secs..=2 * 365 * 24 * 3600)
            .contains(&self.refresh_token_absolute_secs)
        {
            return Err(ConfigError::invalid(
                "tokens.refresh_token_absolute_secs",
                "must be at least tokens.refresh_token_idle_secs and at most 63072000 (two years)",
            ));
        }
        if self.unlock_per_minute_per_device == 0 {
            return Err(ConfigError::invalid(
                "tokens.unlock_per_minute_per_device",
                "must be at least 1",
            ));
        }
        if self.unlock_per_minute_per_address == 0 {
            return Err(ConfigError::invalid(
                "tokens.unlock_per_minute_per_address",
                "must be at least 1",
            ));
        }
        if !(10..=3600).contains(&self.credential_change_window_secs) {
            return Err(ConfigError::invalid(
                "tokens.credential_change_window_secs",
                "must be between 10 and 3600",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSettings {
    pub rp_id: String,
    pub rp_name: String,
    pub web_origin: Url,
    pub app_origins: Vec<Url>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopSettings {
    pub iat_past_secs: i64,
    pub iat_future_secs: i64,
}

/// Server-side secrets (base64). Never printed.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    pub qr_frame_key: String,
    pub dpop_nonce_key: String,
    pub secret_code_pepper: String,
}

impl std::fmt::Debug for SecretSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSettings { <redacted> }")
    }
}

/// The demo secrets shipped in conf/default.toml; `serve` refuses them.
const DEMO_SECRET_PREFIX: &str = "ZGVtby1vbmx5";

/// Decodes a base64 secret of at least 32 bytes.
pub fn decode_secret(key: &'static str, value: &str) -> Result<Vec<u8>, ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| ConfigError::invalid(key, "must be base64"))?;
    if bytes.len() < 32 {
        return Err(ConfigError::invalid(
            key,
            "must decode to at least 32 bytes",
        ));
    }
    Ok(bytes)
}

/// How outgoing mail leaves the server.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// One `.eml` file per message under `mail.file_dir` (demo, pickup folders).
    File,
    /// An SMTP relay.
    Smtp,
    /// Kept in memory and never delivered; tests only, refused by `serve`.
    Memory,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (usually port 587); the upgrade is required.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption; only for a relay on this machine.
    None,
}

/// The outbox worker and its transport (`[mail]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub from: String,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    #[serde(default)]
    pub smtp_username: Option<String>,
    #[serde(default)]
    pub smtp_password: Option<String>,
    pub poll_interval_ms: u64,
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    pub lock_secs: u64,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("file_dir", &self.file_dir)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_secs", &self.backoff_base_secs)
            .field("lock_secs", &self.lock_secs)
            .finish()
    }
}

impl MailSettings {
    /// Checks the `[mail]` values that types alone cannot.
    pub fn validate(&self, profile: Profile) -> Result<(), ConfigError> {
        if profile == Profile::Production && self.transport == MailTransportKind::Memory {
            return Err(ConfigError::invalid(
                "mail.transport",
                "`memory` never delivers mail and is for tests only; use `smtp` or `file`",
            ));
        }
        self.from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::invalid(
                "mail.from",
                format!("must be an address like `MyPortal <no-reply@myportal.example>`: {e}"),
            )
        })?;
        if self.transport == MailTransportKind::File && self.file_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("mail.file_dir", "must name a folder"));
        }
        if self.transport == MailTransportKind::Smtp {
            self.validate_smtp(profile)?;
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError::invalid(
                "mail.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ConfigError::invalid(
                "mail.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if !(1..=3600).contains(&self.backoff_base_secs) {
            return Err(ConfigError::invalid(
                "mail.backoff_base_secs",
                "must be between 1 and 3600",
            ));
        }
        // A send is abandoned after half the lock, so the lock must leave room for an
        // SMTP conversation.
        if !(10..=3600).contains(&self.lock_secs) {
            return Err(ConfigError::invalid(
                "mail.lock_secs",
                "must be between 10 and 3600",
            ));
        }
        Ok(())
    }

    fn validate_smtp(&self, profile: Profile) -> Result<(), ConfigError> {
        let host = self.smtp_host.trim();
        if host.is_empty() || host.contains(['/', '@']) || host.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "mail.smtp_host",
                "must be a host name or IP address",
            ));
        }
        if self.smtp_port == 0 {
            return Err(ConfigError::invalid("mail.smtp_port", "must not be 0"));
        }
        match (&self.smtp_username, &self.smtp_password) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "mail.smtp_password",
                    "must be set when mail.smtp_username is",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "mail.smtp_username",
                    "must be set when mail.smtp_password is",
                ));
            }
            _ => {}
        }
        let is_local_relay = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
        if profile == Profile::Production && self.smtp_tls == SmtpTls::None && !is_local_relay {
            return Err(ConfigError::invalid(
                "mail.smtp_tls",
                "`none` is only allowed for a relay on this machine (localhost)",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub reauth_max_age_secs: i64,
    pub manage_window_minutes: i64,
    pub terms_url: Url,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub max_body_bytes: usize,
    pub janitor_interval_secs: u64,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub min_idle: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("min_idle", &self.min_idle)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EaccessSettings {
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: String,
    pub discovery_retry_secs: u64,
    pub http_timeout_secs: u64,
    pub login_timeout_secs: i64,
    pub id_token_max_clock_skew_secs: i64,
}

impl std::fmt::Debug for EaccessSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EaccessSettings")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// How strictly to check the settings: `serve` is production, `demo` and tests are local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Local,
    Production,
}

impl Settings {
    /// Loads the embedded defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::invalid(
                    "--config",
                    format!("the file {} does not exist", path.display()),
                ));
            }
            builder = builder.add_source(config::File::from(path.to_path_buf()));
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("DEVICELINK")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        Ok(settings)
    }

    /// Checks the values that types alone cannot.
    pub fn validate(&self, profile: Profile) -> Result<(), ConfigError> {
        let server = &self.server;
        check_base_url("server.public_url", &server.public_url, profile)?;
        if server.max_body_bytes < 1024 || server.max_body_bytes > 10 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "must be between 1024 and 10485760",
            ));
        }
        if !(1..=3600).contains(&server.janitor_interval_secs) {
            return Err(ConfigError::invalid(
                "server.janitor_interval_secs",
                "must be between 1 and 3600",
            ));
        }
        if server.shutdown_timeout_secs > 300 {
            return Err(ConfigError::invalid(
                "server.shutdown_timeout_secs",
                "must be at most 300",
            ));
        }
        let db = &self.database;
        DatabaseKind::from_url(&db.url)?;
        if db.pool_size == 0 || db.pool_size > 512 {
            return Err(ConfigError::invalid(
                "database.pool_size",
                "must be between 1 and 512",
            ));
        }
        if db.min_idle > db.pool_size {
            return Err(ConfigError::invalid(
                "database.min_idle",
                "must not exceed database.pool_size",
            ));
        }
        if db.connect_timeout_secs == 0 || db.connect_timeout_secs > 120 {
            return Err(ConfigError::invalid(
                "database.connect_timeout_secs",
                "must be between 1 and 120",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;
        check_base_url("eaccess.issuer", &self.eaccess.issuer, profile)?;
        if self.eaccess.client_id.trim().is_empty() {
            return Err(ConfigError::invalid(
                "eaccess.client_id",
                "must not be empty",
            ));
        }
        if profile == Profile::Production && self.eaccess.client_secret == "devicelink-demo-secret"
        {
            return Err(ConfigError::invalid(
                "eaccess.client_secret",
                "the demo secret cannot be used with `serve`; set the secret eAccess gave you",
            ));
        }
        if !(1..=300).contains(&self.eaccess.discovery_retry_secs) {
            return Err(ConfigError::invalid(
                "eaccess.discovery_retry_secs",
                "must be between 1 and 300",
            ));
        }
        if !(0..=600).contains(&self.eaccess.id_token_max_clock_skew_secs) {
            return Err(ConfigError::invalid(
                "eaccess.id_token_max_clock_skew_secs",
                "must be between 0 and 600",
            ));
        }
        if !(1..=120).contains(&self.eaccess.http_timeout_secs) {
            return Err(ConfigError::invalid(
                "eaccess.http_timeout_secs",
                "must be between 1 and 120",
            ));
        }
        if !(60..=3600).contains(&self.eaccess.login_timeout_secs) {
            return Err(ConfigError::invalid(
                "eaccess.login_timeout_secs",
                "must be between 60 and 3600",
            ));
        }
        self.validate_linking(profile)?;
        let portal = &self.portal;
        if !(1..=24 * 60).contains(&portal.session_idle_minutes) {
            return Err(ConfigError::invalid(
                "portal.session_idle_minutes",
                "must be between 1 and 1440",
            ));
        }
        if !(10..=3600).contains(&portal.reauth_max_age_secs) {
            return Err(ConfigError::invalid(
                "portal.reauth_max_age_secs",
                "must be between 10 and 3600",
            ));
        }
        if !(1..=120).contains(&portal.manage_window_minutes) {
            return Err(ConfigError::invalid(
                "portal.manage_window_minutes",
                "must be between 1 and 120",
            ));
        }
        if !(1..=7 * 24).contains(&portal.session_absolute_hours) {
            return Err(ConfigError::invalid(
                "portal.session_absolute_hours",
                "must be between 1 and 168",
            ));
        }
        self.mail.validate(profile)?;
        self.tokens.validate()?;
        self.provider.validate()?;
        let portal = &self.demo.portal_url;
        if !matches!(portal.scheme(), "http" | "https")
            || portal.host_str().is_none()
            || !portal.path().ends_with('/')
        {
            return Err(ConfigError::invalid(
                "demo.portal_url",
                "must be an http(s) URL ending with \"/\", e.g. http://127.0.0.1:8090/",
            ));
        }
        Ok(())
    }
}

impl Settings {
    fn validate_linking(&self, profile: Profile) -> Result<(), ConfigError> {
        let l = &self.linking;
        if !(30..=600).contains(&l.qr_code_ttl_secs) {
            return Err(ConfigError::invalid(
                "linking.qr_code_ttl_secs",
                "must be between 30 and 600 (ten minutes at most)",
            ));
        }
        if l.qr_frame_step_secs == 0 || l.qr_frame_step_secs > l.qr_frame_window_secs {
            return Err(ConfigError::invalid(
                "linking.qr_frame_step_secs",
                "must be at least 1 and at most linking.qr_frame_window_secs",
            ));
        }
        if l.qr_frame_window_secs > 120 {
            return Err(ConfigError::invalid(
                "linking.qr_frame_window_secs",
                "must be at most 120",
            ));
        }
        if !(60..=3600).contains(&l.link_session_ttl_secs) {
            return Err(ConfigError::invalid(
                "linking.link_session_ttl_secs",
                "must be between 60 and 3600",
            ));
        }
        if !(10..=3600).contains(&l.luxtrust_max_auth_age_secs) {
            return Err(ConfigError::invalid(
                "linking.luxtrust_max_auth_age_secs",
                "must be between 10 and 3600",
            ));
        }
        if l.app_redirect_uris.iter().any(|u| {
            u.fragment().is_some() || matches!(u.scheme(), "http" | "javascript" | "data" | "file")
        }) {
            return Err(ConfigError::invalid(
                "linking.app_redirect_uris",
                "each must be an https URL or a custom scheme, without a fragment",
            ));
        }
        if l.link_creations_per_minute_per_address == 0 {
            return Err(ConfigError::invalid(
                "linking.link_creations_per_minute_per_address",
                "must be at least 1",
            ));
        }
        if l.link_creations_per_minute_per_account == 0 {
            return Err(ConfigError::invalid(
                "linking.link_creations_per_minute_per_account",
                "must be at least 1",
            ));
        }
        if l.qr_redemptions_per_minute == 0 {
            return Err(ConfigError::invalid(
                "linking.qr_redemptions_per_minute",
                "must be at least 1",
            ));
        }
        let d = &self.devices;
        if d.argon2_memory_kib < 8 || d.argon2_iterations == 0 || d.argon2_parallelism == 0 {
            return Err(ConfigError::invalid(
                "devices.argon2_memory_kib",
                "Argon2 parameters must be positive (memory at least 8 KiB)",
            ));
        }
        if !(1..=10).contains(&d.max_failed_attempts) {
            return Err(ConfigError::invalid(
                "devices.max_failed_attempts",
                "must be between 1 and 10",
            ));
        }
        if profile == Profile::Production && d.argon2_memory_kib < 19456 {
            return Err(ConfigError::invalid(
                "devices.argon2_memory_kib",
                "must be at least 19456 (OWASP minimum) with `serve`",
            ));
        }
        if !(0..=600).contains(&self.dpop.iat_past_secs)
            || !(0..=600).contains(&self.dpop.iat_future_secs)
        {
            return Err(ConfigError::invalid(
                "dpop.iat_past_secs",
                "DPoP iat windows must be between 0 and 600 seconds",
            ));
        }
        let w = &self.webauthn;
        let origin_ok = w
            .web_origin
            .domain()
            .is_some_and(|d| d == w.rp_id || d.ends_with(&format!(".{}", w.rp_id)));
        if !origin_ok {
            return Err(ConfigError::invalid(
                "webauthn.web_origin",
                "its host must be webauthn.rp_id or a subdomain of it",
            ));
        }
        let s = &self.secrets;
        for (key, value) in [
            ("secrets.qr_frame_key", &s.qr_frame_key),
            ("secrets.dpop_nonce_key", &s.dpop_nonce_key),
            ("secrets.secret_code_pepper", &s.secret_code_pepper),
        ] {
            decode_secret(key, value)?;
            if profile == Profile::Production && value.starts_with(DEMO_SECRET_PREFIX) {
                return Err(ConfigError::invalid(
                    key,
                    "the demo secret cannot be used with `serve`; generate your own",
                ));
            }
        }
        Ok(())
    }
}

fn check_base_url(key: &'static str, url: &Url, profile: Profile) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(key, "must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must not carry a query or a fragment",
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::invalid(key, "must name a host"));
    }
    if profile == Profile::Production && url.scheme() != "https" && !is_loopback(url) {
        return Err(ConfigError::invalid(
            key,
            "must use https outside the loopback interface",
        ));
    }
    Ok(())
}

/// Whether a URL points at this machine (plain http is tolerated there).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A SQLite file at this path.
    Sqlite(PathBuf),
    Postgres,
}

impl DatabaseKind {
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConfigError::invalid(
                    "database.url",
                    "a sqlite:// URL needs a file path, e.g. sqlite://var/devicelink.db",
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(ConfigError::invalid(
                "database.url",
                "must start with sqlite:// or postgres://",
            ))
        }
    }
}

/// A database URL with its password hidden, safe to print.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_load_and_validate() {
        let settings = Settings::load(None).expect("defaults load");
        settings
            .validate(Profile::Local)
            .expect("defaults are valid");
    }

    #[test]
    fn the_demo_defaults_are_refused_in_production() {
        let settings = Settings::load(None).expect("defaults load");
        let err = settings.validate(Profile::Production).unwrap_err();
        assert!(err.to_string().contains("eaccess.client_secret"), "{err}");
    }

    #[test]
    fn a_demo_portal_url_must_be_a_folder_url() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings
            .validate(Profile::Local)
            .expect("the defaults are valid");
        settings.demo.portal_url = Url::parse("http://127.0.0.1:8090/portal").unwrap();
        let err = settings.validate(Profile::Local).unwrap_err();
        assert!(err.to_string().contains("demo.portal_url"), "{err}");
    }

    #[test]
    fn a_database_url_with_an_unknown_scheme_names_the_key() {
        let err = DatabaseKind::from_url("mysql://x").unwrap_err();
        assert!(err.to_string().contains("database.url"));
    }

    #[test]
    fn plain_http_is_refused_in_production_except_on_loopback() {
        let remote = Url::parse("http://portal.example").unwrap();
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert!(check_base_url("k", &remote, Profile::Production).is_err());
        assert!(check_base_url("k", &local, Profile::Production).is_ok());
        assert!(check_base_url("k", &remote, Profile::Local).is_ok());
    }

    #[test]
    fn the_memory_mail_transport_is_refused_in_production() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.mail.transport = MailTransportKind::Memory;
        settings
            .mail
            .validate(Profile::Local)
            .expect("fine for tests");
        let err = settings.mail.validate(Profile::Production).unwrap_err();
        assert!(err.to_string().contains("mail.transport"), "{err}");
    }

    #[test]
    fn a_bad_mail_setting_names_its_key() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.mail.from = "not an address".into();
        let err = settings.mail.validate(Profile::Local).unwrap_err();
        assert!(err.to_string().contains("mail.from"), "{err}");

        let mut settings = Settings::load(None).expect("defaults load");
        settings.mail.transport = MailTransportKind::Smtp;
        settings.mail.smtp_username = Some("mailer".into());
        let err = settings.mail.validate(Profile::Local).unwrap_err();
        assert!(err.to_string().contains("mail.smtp_password"), "{err}");

        settings.mail.smtp_password = Some("hunter2".into());
        settings.mail.smtp_host = "smtp.example.lu".into();
        settings.mail.smtp_tls = SmtpTls::None;
        let err = settings.mail.validate(Profile::Production).unwrap_err();
        assert!(err.to_string().contains("mail.smtp_tls"), "{err}");
    }

    #[test]
    fn the_smtp_password_is_redacted_in_debug_output() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.mail.smtp_password = Some("hunter2".into());
        let printed = format!("{:?}", settings.mail);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn bad_token_and_lockout_settings_name_their_key() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.devices.max_failed_attempts = 11;
        let err = settings.validate(Profile::Local).unwrap_err();
        assert!(
            err.to_string().contains("devices.max_failed_attempts"),
            "{err}"
        );

        let mut settings = Settings::load(None).expect("defaults load");
        settings.tokens.access_token_ttl_secs = 0;
        let err = settings.validate(Profile::Local).unwrap_err();
        assert!(
            err.to_string().contains("tokens.access_token_ttl_secs"),
            "{err}"
        );

        let mut settings = Settings::load(None).expect("defaults load");
        settings.tokens.refresh_token_absolute_secs = settings.tokens.refresh_token_idle_secs - 1;
        let err = settings.validate(Profile::Local).unwrap_err();
        assert!(
            err.to_string()
                .contains("tokens.refresh_token_absolute_secs"),
            "{err}"
        );
    }

    #[test]
    fn passwords_are_hidden_in_printed_database_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
