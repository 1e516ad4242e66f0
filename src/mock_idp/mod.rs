//! Mock eAccess: a strict OpenID Connect provider standing in for the State authentication
//! portal in tests and the demo. A separate system: it imports nothing from devicelink and
//! talks to it only over HTTP. State is in memory, so run a single instance.
//!
//! See `docs/mock-idp.md` for endpoints, claims, identities and the scripting contract.

mod authorize;
mod error;
mod flow;
mod keys;
mod pages;
mod products;
mod routes;
pub mod script;
mod settings;
mod store;
mod token;
mod userinfo;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};

pub use error::MockIdpError;
pub use products::{ACR_HIGH, ACR_PRODUCT_PREFIX, ACR_SUBSTANTIAL, ProductKind};
pub use routes::SESSION_COOKIE;
pub use settings::{
    DEFAULT_CONFIG_PATH, IdTokenClaims, IdentityFault, MockClient, MockFaults, MockIdentity,
    MockIdpSettings, MockProduct, default_identities,
};

use flow::IdpState;
use keys::SigningKeys;

/// A running mock eAccess server.
pub struct MockIdp {
    port: u16,
    server: Server,
}

impl MockIdp {
    /// Validate the settings, load or create the signing key, and start serving on
    /// `listener` (bind port 0 in tests).
    pub fn build(settings: MockIdpSettings, listener: TcpListener) -> Result<Self, MockIdpError> {
        settings.validate()?;
        let keys = SigningKeys::load_or_generate(
            &settings.key_file,
            settings.previous_key_file.as_deref(),
        )?;
        let port = listener.local_addr().map_err(MockIdpError::Server)?.port();
        let csp = content_security_policy(&settings);
        let state = web::Data::new(IdpState::new(settings, keys));
        let base_path = state.base_path.clone();
        tracing::info!(issuer = %state.issuer_id, kid = state.keys.kid(), port, "mock eAccess listening");
        let csp = Arc::new(csp);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(
                    DefaultHeaders::new()
                        .add(("Content-Security-Policy", csp.as_str()))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer")),
                )
                .service(web::scope(&base_path).configure(routes::configure))
        })
        .workers(2)
        .listen(listener)
        .map_err(MockIdpError::Server)?
        .run();
        Ok(Self { port, server })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until the server is stopped (signal or drop of the runtime).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// CSP for the pages. `form-action` must also allow the relying parties' origins: the
/// login forms answer with a 303 to the redirect URI, and browsers apply `form-action`
/// to redirects after a form submission.
fn content_security_policy(settings: &MockIdpSettings) -> String {
    let mut form_action = vec!["'self'".to_owned()];
    for uri in settings
        .clients
        .iter()
        .flat_map(|client| &client.redirect_uris)
    {
        let origin = uri.origin().ascii_serialization();
        if !form_action.contains(&origin) {
            form_action.push(origin);
        }
    }
    format!(
        "default-src 'none'; style-src 'self'; form-action {}; frame-ancestors 'none'; base-uri 'none'",
        form_action.join(" ")
    )
}
