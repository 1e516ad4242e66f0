//! Builds the application: opens the database, assembles shared state, binds the HTTP
//! server to a listener. `main` and the integration tests both go through here.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};

use crate::config::Settings;
use crate::config::decode_secret;
use crate::db::{Db, OpenError};
use crate::devices::{SecretCodeHasher, SecretCodeParams};
use crate::eaccess::{Eaccess, EaccessError};
use crate::http::{self, middleware};
use crate::linking::{self, QrFrames};
use crate::mail::{self, TransportError, WorkerHandle};
use crate::portal;
use crate::state::AppState;
use crate::tokens::access::{load_or_create_rsa_key, load_or_create_signing_key};
use crate::tokens::{self, DpopNonces, TokenIssuer};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot set up {what}: {reason}")]
    Component { what: &'static str, reason: String },
    #[error("cannot set up the eAccess client: {0}")]
    Eaccess(#[from] EaccessError),
    #[error("cannot set up mail: {0}")]
    Mail(#[from] TransportError),
    #[error("cannot start the HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound, ready-to-run devicelink server.
pub struct Application {
    port: u16,
    server: Server,
    /// The outbox workers live as long as the server.
    mail_worker: WorkerHandle,
    logout_worker: crate::provider::backchannel::LogoutWorkerHandle,
}

impl Application {
    /// Opens the database (applying migrations) and binds the server to `listener`.
    pub fn build(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let db = Db::open(&settings.database)?;
        Self::build_with_db(settings, db, listener)
    }

    /// Like [`Application::build`], with an already opened database.
    pub fn build_with_db(
        settings: Settings,
        db: Db,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let port = listener.local_addr()?.port();
        let settings = Arc::new(settings);
        let eaccess = Arc::new(Eaccess::new(settings.eaccess.clone())?);
        eaccess.spawn_discovery();
        let component = |what: &'static str| {
            move |e: &dyn std::fmt::Display| StartupError::Component {
                what,
                reason: e.to_string(),
            }
        };
        let secrets = &settings.secrets;
        let qr_frames = QrFrames::with_timing(
            &decode_secret("secrets.qr_frame_key", &secrets.qr_frame_key)?,
            settings.linking.qr_frame_step_secs,
            settings.linking.qr_frame_window_secs,
        )
        .map_err(|e| component("the QR frames")(&e))?;
        let dpop_nonces = DpopNonces::new(&decode_secret(
            "secrets.dpop_nonce_key",
            &secrets.dpop_nonce_key,
        )?)
        .map_err(|e| component("the DPoP nonces")(&e))?;
        let d = &settings.devices;
        let secret_codes = SecretCodeHasher::new(
            &decode_secret("secrets.secret_code_pepper", &secrets.secret_code_pepper)?,
            SecretCodeParams {
                m_cost_kib: d.argon2_memory_kib,
                t_cost: d.argon2_iterations,
                p_cost: d.argon2_parallelism,
            },
        )
        .map_err(|e| component("the secret-code verifier")(&e))?;
        let webauthn = linking::passkeys::build_webauthn(&settings.webauthn)
            .map_err(|e| component("WebAuthn")(&e))?;
        let now = chrono::Utc::now().naive_utc();
        let signing_key = db
            .run_blocking(|conn| Ok(load_or_create_signing_key(conn, now)))
            .map_err(|e| component("the token signing key")(&e))?
            .map_err(|e| component("the token signing key")(&e))?;
        let rsa_key = db
            .run_blocking(|conn| Ok(load_or_create_rsa_key(conn, now)))
            .map_err(|e| component("the RSA signing key")(&e))?
            .map_err(|e| component("the RSA signing key")(&e))?;
        let token_issuer = TokenIssuer::new(
            signing_key,
            &settings.server.public_url,
            settings.tokens.access_token_ttl_secs,
        );
        let rsa_public = rsa_key.public_key();
        token_issuer.replace_rsa_keys(rsa_key, vec![rsa_public]);
        let token_issuer = Arc::new(token_issuer);
        spawn_key_refresh(
            db.clone(),
            Arc::clone(&token_issuer),
            Duration::from_secs(settings.provider.key_refresh_secs),
        );
        crate::janitor::spawn(
            db.clone(),
            Duration::from_secs(settings.server.janitor_interval_secs),
        );
        let mail_transport = mail::build_transport(&settings.mail)?;
        let mail_worker = mail::spawn_worker(db.clone(), settings.mail.clone(), mail_transport);
        let logout_worker = crate::provider::backchannel::spawn_worker(
            db.clone(),
            Arc::clone(&settings),
            Arc::clone(&token_issuer),
        )
        .map_err(|e| component("the logout worker")(&e))?;
        let metrics = http::metrics::Metrics::new().map_err(|e| component("the metrics")(&e))?;
        let metrics_data = web::Data::new(metrics.clone());
        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            db,
            eaccess,
            qr_frames,
            dpop_nonces,
            secret_codes: Arc::new(secret_codes),
            webauthn: Arc::new(webauthn),
            tokens: token_issuer,
            metrics,
        });
        let csp = content_security_policy(&settings);
        let is_https = settings.server.public_url.scheme() == "https";
        let max_body = settings.server.max_body_bytes;
        let trusted_proxies = http::TrustedProxies(settings.server.trusted_proxies.clone().into());

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(middleware::uniform_errors))
                .wrap(middleware::security_headers(&csp, is_https))
                .wrap(Compress::default())
                .wrap(from_fn(http::metrics::record))
                .wrap(from_fn(crate::web::language::remember_page))
                .wrap(from_fn(crate::i18n::middleware::language))
                .wrap(from_fn(middleware::request_id))
                .app_data(state.clone())
                .app_data(metrics_data.clone())
                .app_data(trusted_proxies.clone())
                .configure(|cfg| http::configure_extractors(cfg, max_body))
                .configure(crate::ops::health::configure)
                .configure(crate::ops::metrics::configure)
                .service(http::stylesheet)
                .configure(crate::web::language::configure)
                .configure(portal::configure)
                .configure(linking::routes::configure)
                .configure(linking::pages::configure)
                .configure(linking::luxtrust::configure)
                .configure(crate::devices::pages::configure)
                .configure(crate::devices::routes::configure)
                .configure(tokens::routes::configure)
                .configure(crate::openapi::configure)
                .configure(crate::provider::configure)
                .configure(crate::app::configure)
                // Last: what no route took is a 405 (with `Allow`) or a 404.
                .service(http::unrouted::resource())
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.client_request_timeout(Duration::from_secs(10)).run();
        Ok(Self {
            port,
            server,
            mail_worker,
            logout_worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish and the
    /// outbox workers record the message in hand.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.mail_worker.shutdown().await;
        self.logout_worker.shutdown().await;
        result
    }
}

/// The page policy: no inline script, no framing, forms only to us, to eAccess and to
/// the registered portals (the consent form redirects there).
fn content_security_policy(settings: &Settings) -> String {
    let mut form_targets = vec![settings.eaccess.issuer.origin().ascii_serialization()];
    for client in &settings.provider.clients {
        for uri in &client.redirect_uris {
            if let Ok(url) = url::Url::parse(uri) {
                let origin = url.origin().ascii_serialization();
                if !form_targets.contains(&origin) {
                    form_targets.push(origin);
                }
            }
        }
    }
    let form_targets = form_targets.join(" ");
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' {form_targets}; frame-ancestors 'none'; \
         base-uri 'none'"
    )
}

/// Re-reads the signing keys every `interval`, so that a `devicelink keys rotate` run
/// elsewhere reaches this instance without a restart.
fn spawn_key_refresh(db: Db, tokens: Arc<TokenIssuer>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let now = chrono::Utc::now().naive_utc();
            match db
                .run(move |conn| Ok(crate::tokens::access::load_keys(conn, now)))
                .await
            {
                Ok(Ok(keys)) => tokens.replace_all_keys(keys),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the signing keys"),
                Err(e) => tracing::warn!(error = %e, "cannot read the signing keys"),
            }
        }
    });
}
