//! Typed settings: embedded defaults (`conf/default.toml`), an optional file, then
//! `DEVICELINK__SECTION__KEY` environment variables. Validated once at start so that a
//! bad value stops the process with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

mod checks;
mod mail;
mod provider;
#[cfg(test)]
mod tests;

pub use mail::{MailSettings, MailTransportKind, SmtpTls};
pub use provider::{ClientSettings, IdTokenAlg, ProviderSettings, SUPPORTED_SCOPES};

/// The embedded defaults; also the documentation of every key.
pub const DEFAULT_TOML: &str = include_str!("../../conf/default.toml");

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
    pub provider: ProviderSettings,
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
    /// `max_age` sent with every plain sign-in: an eAccess session older than this is not
    /// reused silently, and `max_age` obliges eAccess to put `auth_time` in the ID token
    /// (OIDC Core section 3.1.2.1), also when it does not support the `claims` parameter.
    pub sign_in_max_age_secs: u64,
    /// Which claims carry what (`[eaccess.claims]`).
    pub claims: EaccessClaimNames,
}

/// The names of the claims devicelink reads from eAccess (`[eaccess.claims]`). The
/// defaults are the bundled mock's (docs/mock-idp.md); a real eAccess that names them
/// otherwise works by configuration alone. Each is looked up in the ID token first and
/// in the userinfo response otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EaccessClaimNames {
    /// The authentication product (`luxtrust_mobile`, `luxtrust_scan`, ...).
    pub product: String,
    /// The serial number of that product.
    pub product_serial: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
}

impl EaccessClaimNames {
    fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("eaccess.claims.product", &self.product),
            ("eaccess.claims.product_serial", &self.product_serial),
            ("eaccess.claims.given_name", &self.given_name),
            ("eaccess.claims.family_name", &self.family_name),
            ("eaccess.claims.email", &self.email),
        ]
    }
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
        if !(60..=86_400).contains(&self.eaccess.sign_in_max_age_secs) {
            return Err(ConfigError::invalid(
                "eaccess.sign_in_max_age_secs",
                "must be between 60 and 86400 seconds",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (key, name) in self.eaccess.claims.all() {
            if name.is_empty() || name.len() > 100 || !name.chars().all(|c| c.is_ascii_graphic()) {
                return Err(ConfigError::invalid(
                    key,
                    "must be a claim name of 1 to 100 printable ASCII characters",
                ));
            }
            if !names.insert(name) {
                return Err(ConfigError::invalid(
                    key,
                    format!("`{name}` is already used for another claim"),
                ));
            }
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
