//! Builds the application: opens the database, assembles shared state, binds the HTTP
//! server to a listener. `main` and the integration tests both go through here.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};

use crate::config::Settings;
use crate::db::{Db, OpenError};
use crate::eaccess::{Eaccess, EaccessError};
use crate::http::{self, middleware};
use crate::mail::{self, TransportError, WorkerHandle};
use crate::portal;

/// State shared by every request handler of one server instance. Holds nothing another
/// instance would need: sessions, ceremonies and counters live in the database.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub eaccess: Arc<Eaccess>,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
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
    /// The outbox worker lives as long as the server.
    mail_worker: WorkerHandle,
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
        let mail_transport = mail::build_transport(&settings.mail)?;
        let mail_worker = mail::spawn_worker(db.clone(), settings.mail.clone(), mail_transport);
        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            db,
            eaccess,
        });
        let csp = content_security_policy(&settings);
        let is_https = settings.server.public_url.scheme() == "https";
        let max_body = settings.server.max_body_bytes;

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::security_headers(&csp, is_https))
                .wrap(Compress::default())
                .wrap(from_fn(middleware::request_id))
                .app_data(state.clone())
                .configure(|cfg| http::configure_extractors(cfg, max_body))
                .configure(http::health::configure)
                .service(http::stylesheet)
                .configure(portal::configure)
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish and the mail
    /// worker record the message in hand.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.mail_worker.shutdown().await;
        result
    }
}

/// The page policy: no inline script, no framing, forms only to us and to eAccess.
fn content_security_policy(settings: &Settings) -> String {
    let eaccess = settings.eaccess.issuer.origin().ascii_serialization();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' {eaccess}; frame-ancestors 'none'; \
         base-uri 'none'"
    )
}
