//! Typed settings of the mock provider: loading (TOML + environment), defaults, validation.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::error::MockIdpError;
use super::products::ProductKind;

/// Where `load(None)` reads the settings, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "conf/mock-idp.toml";
/// Environment variables `DEVICELINK_MOCK_IDP__<KEY>` override keys (`__` separates levels).
pub const ENV_PREFIX: &str = "DEVICELINK_MOCK_IDP";

/// Everything the mock eAccess provider needs. Fields are public so tests can adjust them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockIdpSettings {
    /// Issuer identifier; endpoints live under its path. Without trailing slash in tokens.
    pub issuer: Url,
    /// PKCS#8 P-256 signing key (PEM); generated at first start, mode 0600.
    pub key_file: PathBuf,
    /// A retired key still listed in the JWKS (rotation); never used to sign.
    #[serde(default)]
    pub previous_key_file: Option<PathBuf>,
    /// Lifetime of authorization codes, seconds.
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_secs: u64,
    /// Lifetime of access tokens, seconds.
    #[serde(default = "default_token_lifetime")]
    pub access_token_lifetime_secs: u64,
    /// Lifetime of ID tokens, seconds.
    #[serde(default = "default_token_lifetime")]
    pub id_token_lifetime_secs: u64,
    /// How long a user may take on the login pages, seconds.
    #[serde(default = "default_login_lifetime")]
    pub login_lifetime_secs: u64,
    /// Lifetime of the single sign-on session (cookie), seconds.
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime_secs: u64,
    /// Which claims the ID token carries (`full`, the default, or `minimal`).
    #[serde(default)]
    pub id_token_claims: IdTokenClaims,
    /// Answer userinfo as a signed JWT (`application/jwt`, OIDC Core 5.3.2) instead of JSON.
    #[serde(default)]
    pub userinfo_signed: bool,
    /// Global fault switches (all off by default).
    #[serde(default)]
    pub faults: MockFaults,
    /// Registered relying parties.
    pub clients: Vec<MockClient>,
    /// Test citizens offered on the login page.
    pub identities: Vec<MockIdentity>,
}

fn default_code_lifetime() -> u64 {
    60
}
fn default_token_lifetime() -> u64 {
    300
}
fn default_login_lifetime() -> u64 {
    600
}
fn default_session_lifetime() -> u64 {
    3600
}

/// What the mock puts in its ID tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenClaims {
    /// Every claim, identity and product included (what most tests see).
    #[default]
    Full,
    /// Only the claims OIDC Core 2 requires (`iss sub aud exp iat`, `nonce` when sent),
    /// plus `auth_time` only when the request asked for it (`max_age`, or the `claims`
    /// parameter). Everything else comes from userinfo, as with a standard provider.
    Minimal,
}

/// Global fault switches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockFaults {
    /// Delay every token endpoint response by this many milliseconds.
    #[serde(default)]
    pub token_delay_ms: u64,
    /// Offer every product whatever `acr_values` / `product_hint` ask for.
    #[serde(default)]
    pub ignore_product_restrictions: bool,
    /// Report `auth_time` this many seconds before the real authentication.
    #[serde(default)]
    pub auth_time_backdate_secs: i64,
    /// Shift `iat` and `exp` of ID tokens by this many seconds (a provider clock that is
    /// ahead, or behind when negative).
    #[serde(default)]
    pub id_token_clock_skew_secs: i64,
    /// Answer from an existing session although `prompt=login` or `max_age` asks for a
    /// new authentication (as if a proxy had stripped them from the request).
    #[serde(default)]
    pub ignore_prompt_login: bool,
}

/// A registered relying party. Without `client_secret` it is a public client (PKCE required).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockClient {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Shown on the login page; defaults to the client id.
    #[serde(default)]
    pub name: Option<String>,
    /// Compared with `redirect_uri` by exact string match (of the normalized URL).
    pub redirect_uris: Vec<Url>,
    /// Allowed `post_logout_redirect_uri` values, exact match.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<Url>,
}

impl fmt::Debug for MockClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .finish()
    }
}

impl MockClient {
    /// A confidential client (`client_secret_basic` or `client_secret_post`).
    pub fn confidential(client_id: &str, client_secret: &str, redirect_uris: Vec<Url>) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            name: None,
            post_logout_redirect_uris: origins_of(&redirect_uris),
            redirect_uris,
        }
    }

    /// A public client (`none`): PKCE S256 is required.
    pub fn public(client_id: &str, redirect_uris: Vec<Url>) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: None,
            name: None,
            post_logout_redirect_uris: origins_of(&redirect_uris),
            redirect_uris,
        }
    }

    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.client_id)
    }
}

/// The root URL (`scheme://host:port/`) of each redirect URI, without duplicates.
fn origins_of(uris: &[Url]) -> Vec<Url> {
    let mut roots: Vec<Url> = Vec::new();
    for uri in uris {
        let mut root = uri.clone();
        root.set_path("/");
        root.set_query(None);
        root.set_fragment(None);
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    roots
}

/// A test citizen.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockIdentity {
    /// Login handle used by the form and scripts (`identity` field), e.g. `marie`.
    pub id: String,
    /// Stable subject identifier, opaque.
    pub sub: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    #[serde(default)]
    pub products: Vec<MockProduct>,
    /// Fault switch: the login of this identity always fails with this error.
    #[serde(default)]
    pub fault: Option<IdentityFault>,
    /// Fault switch: ID tokens for this identity are already expired.
    #[serde(default)]
    pub expired_id_token: bool,
    /// Fault switch: ID tokens for this identity carry a wrong `iss`.
    #[serde(default)]
    pub wrong_issuer_id_token: bool,
    /// Fault switch: ID tokens for this identity carry a `nonce` other than the request's.
    #[serde(default)]
    pub wrong_nonce_id_token: bool,
}

impl MockIdentity {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    pub fn product(&self, kind: ProductKind) -> Option<&MockProduct> {
        self.products.iter().find(|product| product.kind == kind)
    }
}

/// An authentication product owned by an identity.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockProduct {
    pub kind: ProductKind,
    pub serial: String,
}

/// The error an identity's login is forced to return (RFC 6749 §4.1.2.1 codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityFault {
    ServerError,
    TemporarilyUnavailable,
}

impl IdentityFault {
    pub fn error_code(self) -> &'static str {
        match self {
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl MockIdpSettings {
    /// Load from a TOML file (default `conf/mock-idp.toml`) plus environment overrides
    /// `DEVICELINK_MOCK_IDP__KEY` (nested: `DEVICELINK_MOCK_IDP__FAULTS__TOKEN_DELAY_MS`),
    /// then validate. Errors name the offending key.
    pub fn load(path: Option<&Path>) -> Result<Self, MockIdpError> {
        let path = path.unwrap_or_else(|| Path::new(DEFAULT_CONFIG_PATH));
        let settings: Self = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|source| MockIdpError::Load {
                path: path.to_owned(),
                source,
            })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Built-in default identities plus one confidential client; for tests and the demo.
    pub fn for_local(
        issuer: Url,
        client_id: &str,
        client_secret: &str,
        redirect_uris: Vec<Url>,
        key_file: PathBuf,
    ) -> Self {
        Self {
            issuer,
            key_file,
            previous_key_file: None,
            code_lifetime_secs: default_code_lifetime(),
            access_token_lifetime_secs: default_token_lifetime(),
            id_token_lifetime_secs: default_token_lifetime(),
            login_lifetime_secs: default_login_lifetime(),
            session_lifetime_secs: default_session_lifetime(),
            id_token_claims: IdTokenClaims::default(),
            userinfo_signed: false,
            faults: MockFaults::default(),
            clients: vec![MockClient::confidential(
                client_id,
                client_secret,
                redirect_uris,
            )],
            identities: default_identities(),
        }
    }

    /// Register one more relying party.
    #[must_use]
    pub fn with_client(mut self, client: MockClient) -> Self {
        self.clients.push(client);
        self
    }

    pub fn client(&self, client_id: &str) -> Option<&MockClient> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    pub fn identity(&self, id: &str) -> Option<&MockIdentity> {
        self.identities.iter().find(|identity| identity.id == id)
    }

    /// The issuer identifier as it appears in `iss`: the URL without a trailing slash.
    pub fn issuer_id(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// The path prefix of every endpoint ("" for an issuer without path).
    pub fn base_path(&self) -> String {
        self.issuer.path().trim_end_matches('/').to_owned()
    }

    /// Check what serde cannot: URLs, uniqueness, lifetimes.
    pub fn validate(&self) -> Result<(), MockIdpError> {
        if !matches!(self.issuer.scheme(), "http" | "https")
            || self.issuer.query().is_some()
            || self.issuer.fragment().is_some()
        {
            return Err(MockIdpError::setting(
                "issuer",
                "must be an http(s) URL without query or fragment",
            ));
        }
        for (key, value) in [
            ("code_lifetime_secs", self.code_lifetime_secs),
            (
                "access_token_lifetime_secs",
                self.access_token_lifetime_secs,
            ),
            ("id_token_lifetime_secs", self.id_token_lifetime_secs),
            ("login_lifetime_secs", self.login_lifetime_secs),
            ("session_lifetime_secs", self.session_lifetime_secs),
        ] {
            if value == 0 || value > 86_400 {
                return Err(MockIdpError::setting(key, "must be 1 to 86400 seconds"));
            }
        }
        if self.clients.is_empty() {
            return Err(MockIdpError::setting("clients", "register at least one"));
        }
        let mut client_ids = HashSet::new();
        for (i, client) in self.clients.iter().enumerate() {
            let key = |field: &str| format!("clients[{i}].{field}");
            if client.client_id.is_empty() || !client_ids.insert(client.client_id.as_str()) {
                return Err(MockIdpError::setting(
                    key("client_id"),
                    "must be non-empty and unique",
                ));
            }
            if client.client_secret.as_deref() == Some("") {
                return Err(MockIdpError::setting(
                    key("client_secret"),
                    "must not be empty (omit it for a public client)",
                ));
            }
            if client.redirect_uris.is_empty() {
                return Err(MockIdpError::setting(
                    key("redirect_uris"),
                    "register at least one",
                ));
            }
            // RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment.
            if client
                .redirect_uris
                .iter()
                .chain(&client.post_logout_redirect_uris)
                .any(|uri| uri.fragment().is_some() || uri.cannot_be_a_base())
            {
                return Err(MockIdpError::setting(
                    key("redirect_uris"),
                    "URIs must be absolute and have no fragment",
                ));
            }
        }
        if self.identities.is_empty() {
            return Err(MockIdpError::setting("identities", "define at least one"));
        }
        let (mut ids, mut subs) = (HashSet::new(), HashSet::new());
        for (i, identity) in self.identities.iter().enumerate() {
            let key = |field: &str| format!("identities[{i}].{field}");
            let is_handle = !identity.id.is_empty()
                && identity
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !is_handle || !ids.insert(identity.id.as_str()) {
                return Err(MockIdpError::setting(
                    key("id"),
                    "must be unique and use only letters, digits, '_' or '-'",
                ));
            }
            if identity.sub.is_empty() || !subs.insert(identity.sub.as_str()) {
                return Err(MockIdpError::setting(
                    key("sub"),
                    "must be non-empty and unique",
                ));
            }
            let mut kinds = HashSet::new();
            for (j, product) in identity.products.iter().enumerate() {
                if product.serial.is_empty() || !kinds.insert(product.kind) {
                    return Err(MockIdpError::setting(
                        key(&format!("products[{j}]")),
                        "one product per kind, with a non-empty serial",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn identity(
    id: &str,
    sub: &str,
    given_name: &str,
    family_name: &str,
    products: &[(ProductKind, &str)],
) -> MockIdentity {
    MockIdentity {
        id: id.to_owned(),
        sub: sub.to_owned(),
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
        email: format!("{id}@example.lu"),
        products: products
            .iter()
            .map(|&(kind, serial)| MockProduct {
                kind,
                serial: serial.to_owned(),
            })
            .collect(),
        fault: None,
        expired_id_token: false,
        wrong_issuer_id_token: false,
        wrong_nonce_id_token: false,
    }
}

/// The built-in test citizens; `conf/mock-idp.toml` lists the same ones.
pub fn default_identities() -> Vec<MockIdentity> {
    use ProductKind::{EidCard, LuxtrustMobile, LuxtrustScan, LuxtrustToken};
    let mut broken = identity(
        "broken",
        "eaccess-0badc0de-5e7e-4e40-9a1b-3f00d15ea5e0",
        "Bernard",
        "Broken",
        &[(LuxtrustMobile, "LTM-0000-0000")],
    );
    broken.fault = Some(IdentityFault::ServerError);
    vec![
        identity(
            "marie",
            "eaccess-5f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93",
            "Marie",
            "Schmit",
            &[
                (LuxtrustMobile, "LTM-1001-2002"),
                (LuxtrustToken, "LTT-3003-4004"),
                (EidCard, "EID-0123456789"),
            ],
        ),
        identity(
            "jean",
            "eaccess-9a2b7c4d-1e3f-4a5b-8c6d-0e1f2a3b4c5d",
            "Jean",
            "Weber",
            &[(LuxtrustScan, "LTS-5005-6006")],
        ),
        identity(
            "sophie",
            "eaccess-3c8e1f62-7b4a-4d09-b5e2-6a1f0c9d8e74",
            "Sophie",
            "Muller",
            &[(EidCard, "EID-9876543210")],
        ),
        identity(
            "luc",
            "eaccess-7e4d2b19-c6a8-4f3e-a1d5-2b9c8e7f6a05",
            "Luc",
            "Hoffmann",
            &[
                (LuxtrustMobile, "LTM-7007-8008"),
                (LuxtrustScan, "LTS-9009-1010"),
            ],
        ),
        broken,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> MockIdpSettings {
        MockIdpSettings::for_local(
            Url::parse("http://127.0.0.1:9000").unwrap(),
            "portal",
            "s3cret",
            vec![Url::parse("http://127.0.0.1:8000/callback").unwrap()],
            PathBuf::from("var/key.pem"),
        )
    }

    #[test]
    fn local_settings_are_valid() {
        local().validate().unwrap();
    }

    #[test]
    fn the_shipped_config_file_is_valid_and_lists_the_default_identities() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
        let settings = MockIdpSettings::load(Some(&path)).unwrap();
        assert_eq!(settings.identities, default_identities());
    }

    /// `std::env::set_var` is unsafe in edition 2024, so the test runs itself again in a
    /// child process with the variables set.
    #[test]
    fn environment_variables_override_the_file_and_errors_name_the_key() {
        const CHILD: &str = "MOCK_IDP_ENV_TEST_CHILD";
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
        match std::env::var(CHILD).as_deref() {
            Ok("override") => {
                let settings = MockIdpSettings::load(Some(&path)).unwrap();
                assert_eq!(settings.code_lifetime_secs, 7);
                assert_eq!(settings.faults.token_delay_ms, 250);
                assert_eq!(settings.issuer.as_str(), "http://127.0.0.1:9999/");
            }
            Ok("invalid") => {
                let error = MockIdpSettings::load(Some(&path)).unwrap_err().to_string();
                assert!(error.contains("code_lifetime_secs"), "{error}");
            }
            _ => {
                let exe = std::env::current_exe().unwrap();
                let run = |mode: &str, vars: &[(&str, &str)]| {
                    let status = std::process::Command::new(&exe)
                        .args(["--exact", "mock_idp::settings::tests::environment_variables_override_the_file_and_errors_name_the_key"])
                        .env(CHILD, mode)
                        .envs(vars.iter().copied())
                        .stdout(std::process::Stdio::null())
                        .status()
                        .unwrap();
                    assert!(status.success(), "child run {mode} failed");
                };
                run(
                    "override",
                    &[
                        ("DEVICELINK_MOCK_IDP__CODE_LIFETIME_SECS", "7"),
                        ("DEVICELINK_MOCK_IDP__FAULTS__TOKEN_DELAY_MS", "250"),
                        ("DEVICELINK_MOCK_IDP__ISSUER", "http://127.0.0.1:9999"),
                    ],
                );
                run(
                    "invalid",
                    &[("DEVICELINK_MOCK_IDP__CODE_LIFETIME_SECS", "0")],
                );
            }
        }
    }

    #[test]
    fn a_duplicate_identity_is_refused_naming_the_key() {
        let mut settings = local();
        settings.identities.push(settings.identities[0].clone());
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("identities[5].id"), "{error}");
    }

    #[test]
    fn the_debug_output_redacts_client_secrets() {
        let debug = format!("{:?}", local());
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn post_logout_uris_default_to_the_redirect_origins() {
        let settings = local();
        assert_eq!(
            settings.clients[0].post_logout_redirect_uris,
            vec![Url::parse("http://127.0.0.1:8000/").unwrap()]
        );
    }
}
