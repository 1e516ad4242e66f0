//! The server's signing keys in the database (`signing_keys`): one active key per type
//! (EC P-256 for access tokens and ES256 ID tokens, RSA for RS256/PS256 ID tokens),
//! created race-safely on the first start, rotated by `devicelink keys rotate`, and the
//! published keys verifiers may use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDateTime;

use super::keys::{KeyError, PublicKeyWithKid, SigningKey};
use super::rsa_key::{RsaPublicKey, RsaSigningKey};
use super::store::{self, SigningKeyRow};
use crate::db::{DbConnection, StoreError};

/// Why the signing key could not be had at start.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the stored signing key is not base64")]
    Encoding,
    #[error("there is no active signing key")]
    NoActiveKey,
}

fn der_of(row: &SigningKeyRow) -> Result<Vec<u8>, SigningKeyError> {
    STANDARD
        .decode(&row.private_key)
        .map_err(|_| SigningKeyError::Encoding)
}

fn decode_row(row: &SigningKeyRow) -> Result<SigningKey, SigningKeyError> {
    Ok(SigningKey::from_pkcs8(&der_of(row)?)?)
}

fn decode_rsa_row(row: &SigningKeyRow) -> Result<RsaSigningKey, SigningKeyError> {
    Ok(RsaSigningKey::from_pkcs8(&der_of(row)?)?)
}

/// A key of either type, as stored.
trait StoredKey: Sized {
    const KTY: &'static str;
    fn generate() -> Result<Self, KeyError>;
    fn decode(row: &SigningKeyRow) -> Result<Self, SigningKeyError>;
    fn kid(&self) -> &str;
    fn pkcs8(&self) -> &[u8];
}

impl StoredKey for SigningKey {
    const KTY: &'static str = store::KTY_EC;
    fn generate() -> Result<Self, KeyError> {
        SigningKey::generate()
    }
    fn decode(row: &SigningKeyRow) -> Result<Self, SigningKeyError> {
        decode_row(row)
    }
    fn kid(&self) -> &str {
        SigningKey::kid(self)
    }
    fn pkcs8(&self) -> &[u8] {
        self.pkcs8_der()
    }
}

impl StoredKey for RsaSigningKey {
    const KTY: &'static str = store::KTY_RSA;
    fn generate() -> Result<Self, KeyError> {
        RsaSigningKey::generate()
    }
    fn decode(row: &SigningKeyRow) -> Result<Self, SigningKeyError> {
        decode_rsa_row(row)
    }
    fn kid(&self) -> &str {
        RsaSigningKey::kid(self)
    }
    fn pkcs8(&self) -> &[u8] {
        self.pkcs8_der()
    }
}

fn new_row<K: StoredKey>(key: &K, now: NaiveDateTime) -> SigningKeyRow {
    SigningKeyRow {
        kid: key.kid().to_owned(),
        private_key: STANDARD.encode(key.pkcs8()),
        state: "active".to_owned(),
        created_at: now,
        retire_after: None,
        kty: K::KTY.to_owned(),
    }
}

/// The active key of type `K`, generated and stored on the first start. Safe when
/// several instances start at once: the database allows one active key per type, the
/// losers load the winner's.
fn load_or_create<K: StoredKey>(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<K, SigningKeyError> {
    if let Some(row) = store::find_active_signing_key(conn, K::KTY)? {
        return K::decode(&row);
    }
    let key = K::generate()?;
    match store::insert_signing_key(conn, &new_row(&key, now)) {
        Ok(()) => {
            tracing::info!(
                kid = key.kid(),
                kty = K::KTY,
                "generated a token signing key"
            );
            Ok(key)
        }
        Err(StoreError::UniqueViolation) => {
            let row =
                store::find_active_signing_key(conn, K::KTY)?.ok_or(StoreError::UniqueViolation)?;
            K::decode(&row)
        }
        Err(e) => Err(e.into()),
    }
}

/// The active ES256 key (access tokens, ES256 ID tokens), created on the first start.
pub fn load_or_create_signing_key(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<SigningKey, SigningKeyError> {
    load_or_create(conn, now)
}

/// The active RSA key (RS256 and PS256 ID tokens), created on the first start.
pub fn load_or_create_rsa_key(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<RsaSigningKey, SigningKeyError> {
    load_or_create(conn, now)
}

/// The public ES256 keys tokens may be verified with (active and not yet expired
/// retired).
pub fn published_keys(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<PublicKeyWithKid>, SigningKeyError> {
    store::find_published_signing_keys(conn, store::KTY_EC, now)?
        .iter()
        .map(|row| decode_row(row).map(|k| k.public_key()))
        .collect()
}

/// The public RSA keys ID tokens may be verified with (active and not yet expired
/// retired), for the JWKS.
pub fn published_rsa_keys(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<RsaPublicKey>, SigningKeyError> {
    store::find_published_signing_keys(conn, store::KTY_RSA, now)?
        .iter()
        .map(|row| decode_rsa_row(row).map(|k| k.public_key()))
        .collect()
}

/// Every key as stored now (what each instance caches).
pub struct StoredKeys {
    pub signing: SigningKey,
    pub published: Vec<PublicKeyWithKid>,
    pub rsa: RsaSigningKey,
    pub rsa_published: Vec<RsaPublicKey>,
}

/// The signing keys and the published keys, as stored now.
pub fn load_keys(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<StoredKeys, SigningKeyError> {
    let row =
        store::find_active_signing_key(conn, store::KTY_EC)?.ok_or(SigningKeyError::NoActiveKey)?;
    let rsa_row = store::find_active_signing_key(conn, store::KTY_RSA)?
        .ok_or(SigningKeyError::NoActiveKey)?;
    Ok(StoredKeys {
        signing: decode_row(&row)?,
        published: published_keys(conn, now)?,
        rsa: decode_rsa_row(&rsa_row)?,
        rsa_published: published_rsa_keys(conn, now)?,
    })
}

/// Makes new keys the signing keys (`devicelink keys rotate`): a new EC key and a new
/// RSA key. The previous ones are retired but stay published until `retire_after`,
/// which the caller sets past the expiry of every token they can have signed
/// (instances pick the new keys up within their refresh interval, so that is added
/// too). One transaction: the retirements and the inserts happen together or not at
/// all. Returns the new `kid`s, EC first.
pub fn rotate_signing_key(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    retire_after: NaiveDateTime,
) -> Result<(String, String), SigningKeyError> {
    let ec = new_row(&SigningKey::generate()?, now);
    let rsa = new_row(&RsaSigningKey::generate()?, now);
    diesel::Connection::transaction(conn, |conn| {
        for row in [&ec, &rsa] {
            store::retire_active_signing_key(conn, &row.kty, retire_after)?;
            store::insert_signing_key(conn, row)?;
        }
        Ok::<_, StoreError>(())
    })?;
    tracing::info!(kid = %ec.kid, rsa_kid = %rsa.kid, "rotated the token signing keys");
    Ok((ec.kid, rsa.kid))
}
