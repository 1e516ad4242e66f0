//! devicelink as an OpenID Connect provider for other portals: registered clients,
//! authorization (reusing the portal session or brokering to eAccess), consent, token
//! (code, refresh, RFC 8693 exchange for the app), userinfo, revocation, introspection
//! RP-initiated logout and back-channel logout. See docs/oidc-provider.md.

pub mod approval;
mod approval_api;
mod approval_qr;
mod authorize;
pub mod backchannel;
pub mod claims_request;
pub mod client_auth;
mod discovery;
mod endpoint;
pub mod exchange;
mod flow;
mod introspect;
mod logout;
pub mod pages;
pub mod par;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
mod token;
pub mod tokens;
mod userinfo;

pub use crate::config::{ClientSettings, ProviderSettings};
pub use approval_api::ApprovalsApi;
pub use backchannel::{end_device_grants, end_session_grants};
pub use routes::configure;
pub use service::after_eaccess_sign_in;

use crate::config::Settings;

/// How long a retired signing key stays published: the longest token lifetime, plus the
/// interval in which other instances may still sign with it, plus a minute of clock skew.
pub fn key_retention(settings: &Settings) -> chrono::Duration {
    let longest = settings
        .tokens
        .access_token_ttl_secs
        .max(settings.provider.id_token_ttl_secs)
        .max(settings.provider.access_token_ttl_secs);
    chrono::Duration::seconds(
        longest + i64::try_from(settings.provider.key_refresh_secs).unwrap_or(300) + 60,
    )
}

/// The demo portal `devicelink demo` registers (docs/oidc-provider.md).
pub fn demo_client(portal_url: &url::Url) -> ClientSettings {
    let at = |path: &str| {
        portal_url
            .join(path)
            .map_or_else(|_| portal_url.to_string(), String::from)
    };
    ClientSettings {
        client_id: "demo-portal".to_owned(),
        name: "Demo portal".to_owned(),
        secret: Some("demo-portal-secret-change-me".to_owned()),
        jwks: None,
        redirect_uris: vec![at("callback"), "https://oidcdebugger.com/debug".to_owned()],
        post_logout_redirect_uris: vec![portal_url.to_string()],
        scopes: vec![
            "profile".to_owned(),
            "email".to_owned(),
            "offline_access".to_owned(),
        ],
        public: false,
        audiences: vec![at("api")],
        id_token_signed_response_alg: crate::config::IdTokenAlg::default(),
        backchannel_logout_uri: None,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        fapi2: false,
    }
}
