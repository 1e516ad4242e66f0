//! The `[provider]` settings: lifetimes, rate limits and the portals (clients) that may
//! use devicelink as their OpenID Connect provider.

use serde::Deserialize;

use super::ConfigError;

/// `[provider]` in conf/default.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub id_token_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub code_ttl_secs: i64,
    pub request_ttl_secs: i64,
    pub approval_ttl_secs: i64,
    /// How recent the app's unlock (secret code or biometrics) must be to approve a
    /// sign-in: the `auth_time` of its access token, which a refresh does not renew.
    pub approval_unlock_window_secs: i64,
    pub token_requests_per_minute_per_client: u32,
    pub token_requests_per_minute_per_address: u32,
    pub key_refresh_secs: u64,
    pub clients: Vec<ClientSettings>,
    /// Delivery of logout tokens (`[provider.backchannel_logout]`).
    pub backchannel_logout: BackchannelLogoutSettings,
}

/// `[provider.backchannel_logout]`: the outbox worker that delivers logout tokens (OIDC
/// Back-Channel Logout 1.0) to the portals that registered a `backchannel_logout_uri`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackchannelLogoutSettings {
    /// Seconds a logout token is valid (`exp - iat`).
    pub token_ttl_secs: i64,
    /// Seconds to wait for a portal's answer.
    pub timeout_secs: u64,
    pub poll_interval_ms: u64,
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    /// Seconds a worker holds a row while it sends (then another may take it over).
    pub lock_secs: u64,
}

/// One registered portal (`[[provider.clients]]`).
#[expect(
    clippy::struct_excessive_bools,
    reason = "each flag is one registered client metadata value (RFC 7591, RFC 9126, RFC 9449), read from the configuration"
)]
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub client_id: String,
    /// The portal's name as citizens know it (consent page, app approval, activity list).
    pub name: String,
    /// The client secret (`client_secret_basic` / `client_secret_post`). Secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// An inline JWK Set (JSON text) of the portal's keys, for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the portal may ask for; `openid` is always allowed.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A public client (no secret, e.g. a single-page app): PKCE S256 is required.
    #[serde(default)]
    pub public: bool,
    /// The portal APIs (`aud` values) the mobile app may exchange its token for (RFC 8693).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Where the portal takes logout tokens (OIDC Back-Channel Logout 1.0 section 2.2):
    /// absolute, https (http only on a loopback host), no fragment.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// How this portal's ID tokens are signed (OIDC Dynamic Client Registration 2:
    /// `id_token_signed_response_alg`); RS256 when not set, as OIDC Core 15.1 expects.
    #[serde(default)]
    pub id_token_signed_response_alg: IdTokenAlg,
    /// Authorization requests must be pushed to `/oidc/par` first (RFC 9126 section 6).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// The token endpoint requires a DPoP proof and every token is bound to its key
    /// (RFC 9449 section 5.2 client metadata `dpop_bound_access_tokens`).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The FAPI 2.0 Security Profile (docs/oidc-provider.md "FAPI 2.0"): PAR, PKCE S256,
    /// `private_key_jwt`, DPoP-bound tokens, codes valid 60 s at most, https redirects.
    #[serde(default)]
    pub fapi2: bool,
}

/// FAPI 2.0 Security Profile 5.3.2.1: authorization codes live 60 seconds at most.
pub const FAPI2_MAX_CODE_TTL_SECS: i64 = 60;

/// The JWS algorithms a portal may choose for its ID tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum IdTokenAlg {
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "PS256")]
    Ps256,
    #[serde(rename = "ES256")]
    Es256,
}

impl IdTokenAlg {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Ps256, Self::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
        }
    }
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.public)
            .field("backchannel_logout_uri", &self.backchannel_logout_uri)
            .finish_non_exhaustive()
    }
}

/// The scopes devicelink knows.
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

impl ProviderSettings {
    /// Checks the `[provider]` values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ranges: [(&'static str, i64, i64, i64); 7] = [
            (
                "provider.id_token_ttl_secs",
                self.id_token_ttl_secs,
                30,
                3600,
            ),
            (
                "provider.access_token_ttl_secs",
                self.access_token_ttl_secs,
                30,
                3600,
            ),
            (
                "provider.refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
                60,
                365 * 24 * 3600,
            ),
            ("provider.code_ttl_secs", self.code_ttl_secs, 10, 600),
            ("provider.request_ttl_secs", self.request_ttl_secs, 60, 3600),
            (
                "provider.approval_ttl_secs",
                self.approval_ttl_secs,
                30,
                600,
            ),
            (
                "provider.approval_unlock_window_secs",
                self.approval_unlock_window_secs,
                1,
                600,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(invalid(key, format!("must be between {min} and {max}")));
            }
        }
        if self.token_requests_per_minute_per_client == 0 {
            return Err(invalid(
                "provider.token_requests_per_minute_per_client",
                "must be at least 1",
            ));
        }
        if self.token_requests_per_minute_per_address == 0 {
            return Err(invalid(
                "provider.token_requests_per_minute_per_address",
                "must be at least 1",
            ));
        }
        if !(1..=300).contains(&self.key_refresh_secs) {
            return Err(invalid(
                "provider.key_refresh_secs",
                "must be between 1 and 300",
            ));
        }
        self.backchannel_logout.validate()?;
        let mut seen = std::collections::HashSet::new();
        for client in &self.clients {
            client.validate()?;
            if !seen.insert(client.client_id.as_str()) {
                return Err(invalid(
                    "provider.clients.client_id",
                    format!("`{}` is registered twice", client.client_id),
                ));
            }
        }
        Ok(())
    }

    /// The registered client `client_id`, if any.
    pub fn client(&self, client_id: &str) -> Option<&ClientSettings> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

impl ClientSettings {
    /// Whether `/oidc/authorize` takes only pushed requests from this portal.
    pub fn requires_par(&self) -> bool {
        self.require_pushed_authorization_requests || self.fapi2
    }

    /// Whether the token endpoint takes only DPoP-bound requests from this portal.
    pub fn requires_dpop(&self) -> bool {
        self.dpop_bound_access_tokens || self.fapi2
    }

    /// Whether every authorization request must carry PKCE S256.
    pub fn requires_pkce(&self) -> bool {
        self.public || self.fapi2
    }

    /// How long this portal's authorization codes live, given the configured lifetime.
    pub fn code_ttl_secs(&self, configured: i64) -> i64 {
        if self.fapi2 {
            configured.min(FAPI2_MAX_CODE_TTL_SECS)
        } else {
            configured
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let id = &self.client_id;
        if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(
                "provider.clients.client_id",
                "must be 1 to 128 printable ASCII characters",
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(invalid(
                "provider.clients.name",
                format!("client `{id}`: must be 1 to 100 characters"),
            ));
        }
        match (self.public, &self.secret, &self.jwks) {
            (true, None, None) => {}
            (true, _, _) => {
                return Err(invalid(
                    "provider.clients.public",
                    format!("client `{id}`: a public client has neither secret nor jwks"),
                ));
            }
            (false, Some(secret), None) => {
                if secret.len() < 16 {
                    return Err(invalid(
                        "provider.clients.secret",
                        format!("client `{id}`: must be at least 16 characters"),
                    ));
                }
            }
            (false, None, Some(jwks)) => {
                if self.public_keys().is_none_or(|k| k.is_empty()) {
                    return Err(invalid(
                        "provider.clients.jwks",
                        format!(
                            "client `{id}`: must be a JWK Set (JSON) with at least one EC P-256 or RSA key: {jwks:.0}"
                        ),
                    ));
                }
            }
            (false, _, _) => {
                return Err(invalid(
                    "provider.clients.secret",
                    format!("client `{id}`: set exactly one of secret or jwks (or public = true)"),
                ));
            }
        }
        if self.fapi2 && (self.public || self.jwks.is_none()) {
            return Err(invalid(
                "provider.clients.fapi2",
                format!(
                    "client `{id}`: the FAPI 2.0 profile requires private_key_jwt: register its jwks, no secret (FAPI 2.0 Security Profile 5.3.2.1)"
                ),
            ));
        }
        if self.fapi2 {
            for uri in &self.redirect_uris {
                let loopback = url::Url::parse(uri).ok().is_some_and(|u| {
                    u.scheme() == "http"
                        && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
                });
                if !uri.starts_with("https://") && !loopback {
                    return Err(invalid(
                        "provider.clients.redirect_uris",
                        format!(
                            "client `{id}`: the FAPI 2.0 profile requires https redirect URIs (http only on a loopback host): `{uri}`"
                        ),
                    ));
                }
            }
        }
        if self.redirect_uris.is_empty() {
            return Err(invalid(
                "provider.clients.redirect_uris",
                format!("client `{id}`: at least one redirect URI is needed"),
            ));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            let parsed = url::Url::parse(uri).map_err(|_| {
                invalid(
                    "provider.clients.redirect_uris",
                    format!("client `{id}`: `{uri}` is not an absolute URL"),
                )
            })?;
            if parsed.fragment().is_some() || !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "provider.clients.redirect_uris",
                    format!("client `{id}`: `{uri}` must be http(s) without a fragment"),
                ));
            }
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_backchannel_logout_uri(uri).map_err(|problem| {
                invalid(
                    "provider.clients.backchannel_logout_uri",
                    format!("client `{id}`: `{uri}` {problem}"),
                )
            })?;
        }
        for scope in &self.scopes {
            if !SUPPORTED_SCOPES.contains(&scope.as_str()) {
                return Err(invalid(
                    "provider.clients.scopes",
                    format!("client `{id}`: unknown scope `{scope}`"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the client may ask for `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        scope == "openid" || self.scopes.iter().any(|s| s == scope)
    }

    /// The keys of `jwks` usable for `private_key_jwt` (EC P-256 via our JWK parser, RSA
    /// via jsonwebtoken).
    pub fn public_keys(&self) -> Option<Vec<jsonwebtoken::jwk::Jwk>> {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(self.jwks.as_deref()?).ok()?;
        Some(
            set.keys
                .into_iter()
                .filter(|k| match &k.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec) => {
                        // The checks of our own JWK parser (tokens::jwk) on these members.
                        ec.curve == jsonwebtoken::jwk::EllipticCurve::P256
                            && crate::protocol::is_p256_coordinate(&ec.x)
                            && crate::protocol::is_p256_coordinate(&ec.y)
                    }
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => true,
                    _ => false,
                })
                .collect(),
        )
    }
}

/// Back-Channel Logout 1.0 section 2.2: an absolute URL without fragment; https, or
/// http on a loopback host (a portal on the same machine, tests).
fn check_backchannel_logout_uri(uri: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(uri).map_err(|_| "is not an absolute URL")?;
    if url.fragment().is_some() {
        return Err("must not carry a fragment");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if super::is_loopback(&url) => Ok(()),
        "http" => Err("must be https (http only on a loopback host)"),
        _ => Err("must be an https URL"),
    }
}

impl BackchannelLogoutSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let checks: [(&'static str, i64, i64, i64); 5] = [
            (
                "provider.backchannel_logout.token_ttl_secs",
                self.token_ttl_secs,
                30,
                600,
            ),
            (
                "provider.backchannel_logout.timeout_secs",
                int(self.timeout_secs),
                1,
                60,
            ),
            (
                "provider.backchannel_logout.poll_interval_ms",
                int(self.poll_interval_ms),
                10,
                60_000,
            ),
            (
                "provider.backchannel_logout.max_attempts",
                i64::from(self.max_attempts),
                1,
                100,
            ),
            (
                "provider.backchannel_logout.backoff_base_secs",
                int(self.backoff_base_secs),
                1,
                3600,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(invalid(key, format!("must be between {min} and {max}")));
            }
        }
        // A send gives up after timeout_secs; the claim must outlast it, so that no other
        // worker takes a row over while its token may still be on its way.
        if self.lock_secs < 2 * self.timeout_secs || self.lock_secs > 3600 {
            return Err(invalid(
                "provider.backchannel_logout.lock_secs",
                "must be at least twice timeout_secs and at most 3600",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_backchannel_logout_uri as check;

    #[test]
    fn a_backchannel_logout_uri_is_absolute_https_or_loopback_http_without_fragment() {
        assert!(check("https://portal.example/logout?x=1").is_ok());
        assert!(check("http://127.0.0.1:9/backchannel").is_ok());
        assert!(check("http://[::1]:9/backchannel").is_ok());
        assert!(check("http://localhost/backchannel").is_ok());
        assert!(check("http://portal.example/logout").is_err());
        assert!(check("https://portal.example/logout#frag").is_err());
        assert!(check("/logout").is_err());
        assert!(check("ftp://portal.example/logout").is_err());
        assert!(check("javascript:alert(1)").is_err());
    }
}

#[cfg(test)]
mod fapi2_tests {
    use super::*;

    fn client() -> ClientSettings {
        ClientSettings {
            client_id: "fapi".into(),
            name: "FAPI portal".into(),
            secret: None,
            jwks: Some(
                r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k"}]}"#.into(),
            ),
            redirect_uris: vec!["https://portal.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec![],
            public: false,
            audiences: vec![],
            backchannel_logout_uri: None,
            id_token_signed_response_alg: IdTokenAlg::default(),
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            fapi2: true,
        }
    }

    #[test]
    fn the_fapi2_profile_implies_par_dpop_pkce_and_a_short_code() {
        let c = client();
        assert!(c.validate().is_ok());
        assert!(c.requires_par() && c.requires_dpop() && c.requires_pkce());
        assert_eq!(c.code_ttl_secs(300), 60);
        assert_eq!(c.code_ttl_secs(30), 30);
        let plain = ClientSettings { fapi2: false, ..c };
        assert!(!plain.requires_par() && !plain.requires_dpop() && !plain.requires_pkce());
        assert_eq!(plain.code_ttl_secs(300), 300);
    }

    #[test]
    fn the_fapi2_profile_refuses_secrets_public_clients_and_plain_http() {
        let mut secret = client();
        secret.jwks = None;
        secret.secret = Some("0123456789abcdef0123".into());
        assert!(
            secret
                .validate()
                .unwrap_err()
                .to_string()
                .contains("private_key_jwt")
        );
        let mut http = client();
        http.redirect_uris = vec!["http://portal.example/cb".into()];
        assert!(http.validate().unwrap_err().to_string().contains("https"));
        let mut loopback = client();
        loopback.redirect_uris = vec!["http://127.0.0.1:9/cb".into()];
        assert!(loopback.validate().is_ok());
    }
}
