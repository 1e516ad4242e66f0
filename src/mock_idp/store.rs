//! In-memory state of the mock: pending logins, codes, access tokens, SSO sessions.
//!
//! One process only (documented): everything lives in a mutex-guarded map with expiry.
//! Codes, access tokens and session ids are random and stored under their SHA-256.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::authorize::{AuthorizationRequest, SsoSession};
use super::settings::MockProduct;

type Hash = [u8; 32];

/// A random URL-safe value with 256 bits of entropy.
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(value: &str) -> Hash {
    Sha256::digest(value.as_bytes()).into()
}

/// A login in progress on the mock's pages.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    pub request: AuthorizationRequest,
    pub step: Option<ProductStep>,
    expires_at: DateTime<Utc>,
}

/// The product step: who, with what, and the code the page shows (Scan, Token).
#[derive(Clone, Debug)]
pub struct ProductStep {
    pub identity_id: String,
    pub product: MockProduct,
    pub code: Option<String>,
    pub failed_attempts: u32,
}

/// What an authorization code stands for.
#[derive(Clone, Debug)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scope: String,
    pub identity_id: String,
    pub product: MockProduct,
    pub auth_time: DateTime<Utc>,
    /// Whether the ID token must carry `auth_time` (see `AuthorizationRequest`).
    pub auth_time_requested: bool,
    pub expires_at: DateTime<Utc>,
    /// Set once redeemed: the hash of the access token issued for it.
    redeemed_with: Option<Hash>,
}

impl CodeGrant {
    pub fn new(
        request: &AuthorizationRequest,
        session: &SsoSession,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.as_str().to_owned(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            scope: request.scope.clone(),
            identity_id: session.identity_id.clone(),
            product: session.product.clone(),
            auth_time: session.auth_time,
            auth_time_requested: request.auth_time_requested,
            expires_at,
            redeemed_with: None,
        }
    }

    pub fn is_redeemed(&self) -> bool {
        self.redeemed_with.is_some()
    }
}

/// What an access token stands for.
#[derive(Clone, Debug)]
pub struct AccessGrant {
    pub client_id: String,
    pub identity_id: String,
    pub product: MockProduct,
    pub auth_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct StoredSession {
    session: SsoSession,
    expires_at: DateTime<Utc>,
}

/// Why a code cannot be redeemed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedeemError<P> {
    NotFound,
    Refused(P),
}

#[derive(Default)]
struct Inner {
    pending: HashMap<String, PendingLogin>,
    codes: HashMap<Hash, CodeGrant>,
    access_tokens: HashMap<Hash, AccessGrant>,
    sessions: HashMap<Hash, StoredSession>,
}

impl Inner {
    fn purge(&mut self, now: DateTime<Utc>, keep_redeemed: Duration) {
        self.pending.retain(|_, login| login.expires_at > now);
        // Redeemed codes stay known while their access token lives, to detect reuse.
        self.codes.retain(|_, code| {
            code.expires_at > now || (code.is_redeemed() && code.expires_at + keep_redeemed > now)
        });
        self.access_tokens.retain(|_, grant| grant.expires_at > now);
        self.sessions.retain(|_, stored| stored.expires_at > now);
    }
}

/// The mock's whole state.
pub struct Store {
    inner: Mutex<Inner>,
    keep_redeemed: Duration,
}

impl Store {
    pub fn new(access_token_lifetime: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            keep_redeemed: access_token_lifetime,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The maps stay consistent even if a holder panicked: every update is one insert
        // or remove.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn insert_pending(
        &self,
        request: AuthorizationRequest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> String {
        let id = random_token();
        let mut inner = self.lock();
        inner.purge(now, self.keep_redeemed);
        inner.pending.insert(
            id.clone(),
            PendingLogin {
                request,
                step: None,
                expires_at,
            },
        );
        id
    }

    pub fn find_pending(&self, id: &str, now: DateTime<Utc>) -> Option<PendingLogin> {
        self.lock()
            .pending
            .get(id)
            .filter(|login| login.expires_at > now)
            .cloned()
    }

    pub fn update_pending_step(&self, id: &str, step: ProductStep) {
        if let Some(login) = self.lock().pending.get_mut(id) {
            login.step = Some(step);
        }
    }

    /// Remove a pending login (finished either way); `None` if unknown or expired.
    pub fn take_pending(&self, id: &str, now: DateTime<Utc>) -> Option<PendingLogin> {
        self.lock()
            .pending
            .remove(id)
            .filter(|login| login.expires_at > now)
    }

    /// Store a code grant; returns the code.
    pub fn insert_code(&self, grant: CodeGrant, now: DateTime<Utc>) -> String {
        let code = random_token();
        let mut inner = self.lock();
        inner.purge(now, self.keep_redeemed);
        inner.codes.insert(hash(&code), grant);
        code
    }

    /// Redeem a code in one step, under one lock: `check` decides, and on success the code
    /// is marked redeemed and the access grant is stored under `access_token`. On refusal,
    /// `consequence` says whether to revoke the access token already issued for the code
    /// (reuse, RFC 6749 §4.1.2) or to delete the code (failed PKCE proof).
    pub fn redeem_code<P>(
        &self,
        code: &str,
        access_token: &str,
        check: impl FnOnce(&CodeGrant) -> Result<AccessGrant, P>,
        consequence: impl FnOnce(&P) -> RefusalConsequence,
    ) -> Result<CodeGrant, RedeemError<P>> {
        let code_hash = hash(code);
        let mut inner = self.lock();
        let Some(grant) = inner.codes.get(&code_hash) else {
            return Err(RedeemError::NotFound);
        };
        match check(grant) {
            Ok(access) => {
                let token_hash = hash(access_token);
                let mut grant = grant.clone();
                grant.redeemed_with = Some(token_hash);
                inner.codes.insert(code_hash, grant.clone());
                inner.access_tokens.insert(token_hash, access);
                Ok(grant)
            }
            Err(problem) => {
                match consequence(&problem) {
                    RefusalConsequence::RevokeTokens => {
                        if let Some(token_hash) = grant.redeemed_with {
                            inner.access_tokens.remove(&token_hash);
                        }
                    }
                    RefusalConsequence::BurnCode => {
                        inner.codes.remove(&code_hash);
                    }
                    RefusalConsequence::None => {}
                }
                Err(RedeemError::Refused(problem))
            }
        }
    }

    pub fn find_access_token(&self, token: &str, now: DateTime<Utc>) -> Option<AccessGrant> {
        self.lock()
            .access_tokens
            .get(&hash(token))
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }

    /// Start a session; returns the cookie value.
    pub fn insert_session(
        &self,
        session: SsoSession,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> String {
        let id = random_token();
        let mut inner = self.lock();
        inner.purge(now, self.keep_redeemed);
        inner.sessions.insert(
            hash(&id),
            StoredSession {
                session,
                expires_at,
            },
        );
        id
    }

    pub fn find_session(&self, cookie: &str, now: DateTime<Utc>) -> Option<SsoSession> {
        self.lock()
            .sessions
            .get(&hash(cookie))
            .filter(|stored| stored.expires_at > now)
            .map(|stored| stored.session.clone())
    }

    pub fn delete_session(&self, cookie: &str) {
        self.lock().sessions.remove(&hash(cookie));
    }
}

/// What a refused redemption does to the stored code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalConsequence {
    None,
    RevokeTokens,
    BurnCode,
}
