//! devicelink as a relying party of eAccess (OpenID Connect): discovery with retry,
//! authorization requests with PKCE/state/nonce, and full ID-token validation.
//! Only HTTP crosses this wall; the bundled mock is reached the same way as the real one.

pub mod claims;
mod userinfo;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthenticationContextClass, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, LanguageTag, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

pub use claims::EaccessIdentity;

use crate::config::EaccessSettings;

/// Provider metadata beyond the core fields: RFC 9207 and RP-initiated logout.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExtraMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type EaccessMetadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Why talking to eAccess failed. `Unavailable` is ours to retry; the others mean the
/// answer must not be trusted.
#[derive(Debug, thiserror::Error)]
pub enum EaccessError {
    #[error("eAccess is unreachable: {0}")]
    Unavailable(String),
    #[error("the authorization response is not valid: {0}")]
    InvalidResponse(String),
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("eAccess refused the code exchange: {0}")]
    TokenRefused(String),
}

/// The `claims` request parameter (OIDC Core 5.5): `auth_time` is essential.
const AUTH_TIME_ESSENTIAL: &str = r#"{"id_token":{"auth_time":{"essential":true}}}"#;

/// What to ask eAccess for in one authorization request.
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Always authenticate again (`prompt=login`), never reuse an eAccess session.
    pub force_login: bool,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// Restrict the products offered (`product_hint` and product `acr_values`).
    pub products: Vec<crate::accounts::ProductKind>,
}

/// The secrets of an authorization request in flight, kept server-side until the callback.
#[derive(Clone)]
pub struct PendingAuth {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The eAccess relying party: a cache of the provider's metadata (refetched on unknown
/// signing keys) and an HTTP client that never follows redirects.
pub struct Eaccess {
    settings: EaccessSettings,
    http: reqwest::Client,
    metadata: RwLock<Option<Arc<EaccessMetadata>>>,
}

impl Eaccess {
    pub fn new(settings: EaccessSettings) -> Result<Self, EaccessError> {
        let http = reqwest::Client::builder()
            // Never follow redirects from the provider (SSRF hardening; openidconnect docs).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.http_timeout_secs))
            .build()
            .map_err(|e| EaccessError::Unavailable(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            metadata: RwLock::new(None),
        })
    }

    pub fn issuer(&self) -> &Url {
        &self.settings.issuer
    }

    /// Whether discovery has succeeded (for `/readyz`).
    pub fn is_discovered(&self) -> bool {
        self.metadata.read().is_ok_and(|m| m.is_some())
    }

    /// Fetches discovery and the JWKS again, replacing the cached copy.
    pub async fn discover(&self) -> Result<Arc<EaccessMetadata>, EaccessError> {
        // Issuers are compared as exact strings (OIDC Discovery §4.3); configured URLs
        // are written without a trailing slash.
        let issuer = IssuerUrl::new(
            self.settings
                .issuer
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        )
        .map_err(|e| EaccessError::Unavailable(e.to_string()))?;
        let metadata = EaccessMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| EaccessError::Unavailable(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        if let Ok(mut slot) = self.metadata.write() {
            *slot = Some(Arc::clone(&metadata));
        }
        Ok(metadata)
    }

    async fn metadata(&self) -> Result<Arc<EaccessMetadata>, EaccessError> {
        let cached = self.metadata.read().ok().and_then(|m| m.clone());
        match cached {
            Some(m) => Ok(m),
            None => self.discover().await,
        }
    }

    /// Tries discovery now and, until it succeeds, every `discovery_retry_secs`,
    /// logging clearly while eAccess is unreachable. The server serves meanwhile.
    pub fn spawn_discovery(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let retry = Duration::from_secs(this.settings.discovery_retry_secs);
            loop {
                match this.discover().await {
                    Ok(_) => {
                        tracing::info!(issuer = %this.settings.issuer, "eAccess discovery succeeded");
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(
                            issuer = %this.settings.issuer,
                            error = %err,
                            retry_secs = retry.as_secs(),
                            "eAccess is unreachable; sign-in is unavailable until discovery succeeds"
                        );
                        tokio::time::sleep(retry).await;
                    }
                }
            }
        });
    }

    fn client(&self, metadata: &EaccessMetadata, redirect: &Url) -> impl ClientOps + use<> {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()))
    }

    /// Builds the authorization URL (code flow, PKCE S256, `state`, `nonce`).
    pub async fn authorization_request(
        &self,
        redirect: &Url,
        options: &AuthOptions,
    ) -> Result<(Url, PendingAuth), EaccessError> {
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.split_whitespace() {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.to_owned()));
            }
        }
        if options.force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        // `max_age` on every request obliges eAccess to report `auth_time` (OIDC Core
        // 3.1.2.1); the `claims` parameter asks for it as essential where supported.
        let max_age = options
            .max_age
            .unwrap_or(self.settings.sign_in_max_age_secs);
        request = request.set_max_age(Duration::from_secs(max_age));
        if metadata.claims_parameter_supported() == Some(true) {
            request = request.add_extra_param("claims", AUTH_TIME_ESSENTIAL);
        }
        if !options.products.is_empty() {
            let hint = options
                .products
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            for product in &options.products {
                request = request.add_auth_context_value(AuthenticationContextClass::new(format!(
                    "urn:eaccess:product:{}",
                    product.as_str()
                )));
            }
            request = request.add_extra_param("product_hint", hint);
        }
        // eAccess's pages speak the citizen's language: the one of the request in hand
        // (the switcher's choice, `Accept-Language`, or a portal's `ui_locales`).
        request = request.add_ui_locale(LanguageTag::new(crate::i18n::current().code().to_owned()));
        let (url, state, nonce) = request.url();
        Ok((
            url,
            PendingAuth {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Completes the callback: checks `iss` (RFC 9207), exchanges the code with the PKCE
    /// verifier, validates the ID token (signature via JWKS — refetched once on an unknown
    /// key —, `iss`, `aud`, `exp`, `nonce`) and reads the identity.
    pub async fn complete(
        &self,
        redirect: &Url,
        code: &str,
        iss_param: Option<&str>,
        pending: &PendingAuth,
    ) -> Result<EaccessIdentity, EaccessError> {
        let metadata = self.metadata().await?;
        let expected_issuer = metadata.issuer().as_str();
        match iss_param {
            Some(iss) if iss != expected_issuer => {
                return Err(EaccessError::InvalidResponse(
                    "the iss parameter names another issuer".into(),
                ));
            }
            None if metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported =>
            {
                return Err(EaccessError::InvalidResponse(
                    "the iss parameter is missing although eAccess advertises it".into(),
                ));
            }
            _ => {}
        }
        let client = self.client(&metadata, redirect);
        let (id_token, access_token) = client
            .exchange(&self.http, code, &pending.pkce_verifier)
            .await?;
        let id_token = id_token.ok_or_else(|| {
            EaccessError::InvalidIdToken("the token response carries no ID token".into())
        })?;
        let nonce = Nonce::new(pending.nonce.clone());
        let skew = chrono::TimeDelta::seconds(self.settings.id_token_max_clock_skew_secs);
        let verified = match claims::verify(&client.verifier(&metadata, skew), &id_token, &nonce) {
            Ok(verified) => verified,
            Err(claims::VerifyFailure::UnknownKey) => {
                // eAccess may have rotated its keys since we cached the JWKS.
                let fresh = self.discover().await?;
                let client = self.client(&fresh, redirect);
                claims::verify(&client.verifier(&fresh, skew), &id_token, &nonce)
                    .map_err(|e| EaccessError::InvalidIdToken(e.to_string()))?
            }
            Err(e) => return Err(EaccessError::InvalidIdToken(e.to_string())),
        };
        let names = &self.settings.claims;
        let info = if claims::needs_userinfo(&verified, names)
            && metadata.userinfo_endpoint().is_some()
        {
            let fetched = match access_token {
                Some(token) => {
                    userinfo::fetch(&self.http, &metadata, &self.settings.client_id, &token).await
                }
                None => Err(EaccessError::InvalidResponse(
                    "the token response carries no access token".into(),
                )),
            };
            match fetched {
                Ok(info) => Some(info),
                // Only the optional e-mail was missing: the sign-in goes on without it
                // (the registration page asks), rather than failing on userinfo.
                Err(error) if !claims::lacks_required(&verified, names) => {
                    tracing::warn!(%error, "eAccess userinfo failed; signing in without the e-mail");
                    None
                }
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        claims::identity(&verified, info.as_ref(), names)
            .map_err(|e| EaccessError::InvalidIdToken(e.to_string()))
    }

    /// Where to send the browser to end the eAccess session (RP-initiated logout).
    pub fn end_session_url(&self, id_token_hint: Option<&str>, post_logout: &Url) -> Option<Url> {
        let metadata = self.metadata.read().ok().and_then(|m| m.clone())?;
        let mut url = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            query
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("post_logout_redirect_uri", post_logout.as_str());
        }
        Some(url)
    }
}

/// The two operations we need from the configured openidconnect client, so that its
/// long typestate type stays in one place.
trait ClientOps {
    async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
    ) -> Result<(Option<claims::RawIdToken>, Option<String>), EaccessError>;
    fn verifier(
        &self,
        metadata: &EaccessMetadata,
        skew: chrono::TimeDelta,
    ) -> openidconnect::core::CoreIdTokenVerifier<'_>;
}

/// The ID-token algorithms accepted: every asymmetric one eAccess's discovery lists that
/// openidconnect verifies (RS*, PS*, ES256/ES384, EdDSA). Never `none`, never an HMAC
/// keyed with the client secret. RS256 when the list names none of them (it is
/// mandatory to implement, OIDC Discovery section 3).
fn accepted_id_token_algs(metadata: &EaccessMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    let algs: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| {
            matches!(
                alg,
                A::RsaSsaPkcs1V15Sha256
                    | A::RsaSsaPkcs1V15Sha384
                    | A::RsaSsaPkcs1V15Sha512
                    | A::RsaSsaPssSha256
                    | A::RsaSsaPssSha384
                    | A::RsaSsaPssSha512
                    | A::EcdsaP256Sha256
                    | A::EcdsaP384Sha384
                    | A::EdDsa
            )
        })
        .cloned()
        .collect();
    if algs.is_empty() {
        vec![A::RsaSsaPkcs1V15Sha256]
    } else {
        algs
    }
}

impl<HasDevice, HasIntrospection, HasRevocation, HasUserInfo> ClientOps
    for CoreClient<
        openidconnect::EndpointSet,
        HasDevice,
        HasIntrospection,
        HasRevocation,
        openidconnect::EndpointMaybeSet,
        HasUserInfo,
    >
where
    HasDevice: openidconnect::EndpointState,
    HasIntrospection: openidconnect::EndpointState,
    HasRevocation: openidconnect::EndpointState,
    HasUserInfo: openidconnect::EndpointState,
{
    async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
    ) -> Result<(Option<claims::RawIdToken>, Option<String>), EaccessError> {
        let response = self
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| EaccessError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    EaccessError::TokenRefused(r.error().to_string())
                }
                openidconnect::RequestTokenError::Request(r) => {
                    EaccessError::Unavailable(error_chain(&r))
                }
                other => EaccessError::TokenRefused(error_chain(&other)),
            })?;
        Ok((
            response.id_token().cloned(),
            Some(response.access_token().secret().clone()),
        ))
    }

    fn verifier(
        &self,
        metadata: &EaccessMetadata,
        skew: chrono::TimeDelta,
    ) -> openidconnect::core::CoreIdTokenVerifier<'_> {
        // openidconnect allows only RS256 unless told otherwise.
        self.id_token_verifier()
            .set_allowed_algs(accepted_id_token_algs(metadata))
            .set_issue_time_verifier_fn(move |iat| {
                claims::check_issue_time(iat, chrono::Utc::now(), skew)
            })
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
