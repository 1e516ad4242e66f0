//! The application state: what every request handler of one instance shares. Features
//! import it; start-up builds it ([`crate::startup`]) and nothing else does.

use std::sync::Arc;

use webauthn_rs::prelude::Webauthn;

use crate::config::Settings;
use crate::db::Db;
use crate::devices::SecretCodeHasher;
use crate::eaccess::Eaccess;
use crate::http::metrics::Metrics;
use crate::linking::QrFrames;
use crate::tokens::{DpopNonces, TokenIssuer};

/// State shared by every request handler of one server instance. Holds nothing another
/// instance would need: sessions, ceremonies and counters live in the database.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub eaccess: Arc<Eaccess>,
    /// Makes and checks the animated QR frames (HMAC key from `secrets.qr_frame_key`).
    pub qr_frames: QrFrames,
    /// Stateless DPoP server nonces, valid on every instance.
    pub dpop_nonces: DpopNonces,
    /// Argon2id verifier of secret codes, keyed with the pepper.
    pub secret_codes: Arc<SecretCodeHasher>,
    /// The WebAuthn relying party.
    pub webauthn: Arc<Webauthn>,
    /// Signs and checks the app's access tokens (key shared through the database).
    pub tokens: Arc<TokenIssuer>,
    /// This instance's Prometheus instruments (`GET /metrics`).
    pub metrics: Metrics,
}
