//! The app's device-bound access tokens (RFC 9068 shape, bound to the device key with
//! `cnf.jkt`, RFC 9449 section 6) and refresh tokens. Issuing and checking are pure
//! functions of the claims and `now`; the caller re-checks the device row.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, NaiveDateTime, Utc};
use rand::RngCore as _;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::jwk::Jkt;
use super::keys::{JwtError, KeyError, PublicKeyWithKid, SigningKey, verify_jwt};
use super::rsa_key::{RsaPublicKey, RsaSigningKey};
use crate::protocol;

/// The JWT `typ` of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// How the device was unlocked (RFC 8176 `amr` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockMethod {
    /// The 6-digit secret code: hardware key plus PIN.
    SecretCode,
    /// A passkey with user verification: hardware key plus user presence/biometrics.
    Biometrics,
}

impl UnlockMethod {
    pub fn amr(self) -> [&'static str; 2] {
        match self {
            Self::SecretCode => ["hwk", "pin"],
            Self::Biometrics => ["hwk", "user"],
        }
    }

    /// The `amr` as stored with a refresh token.
    pub fn amr_json(self) -> String {
        json!(self.amr()).to_string()
    }
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub account_id: String,
    pub device_id: String,
    pub jkt: String,
    pub amr: Vec<String>,
    /// The device's token generation when issued.
    pub generation: i32,
    /// When the unlock (secret code or biometrics) behind this token happened: the start
    /// of its refresh-token family, not the last refresh.
    pub auth_time: NaiveDateTime,
}

/// The claims of a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub account_id: String,
    pub device_id: String,
    pub jkt: Jkt,
    pub amr: Vec<String>,
    pub generation: i32,
    /// The unlock time (`auth_time`, seconds). `None` only for a token issued before
    /// the claim existed; such a token proves no unlock time.
    pub auth_time: Option<i64>,
    pub iat: i64,
    pub exp: i64,
}

/// Why an access token was refused. All map to `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token is not valid: {0}")]
    Jwt(#[from] JwtError),
    #[error("the access token was not issued here for this API")]
    WrongIssuerOrAudience,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token lacks the `{0}` claim")]
    MissingClaim(&'static str),
}

/// The signing key and the published keys as this instance last read them.
#[derive(Debug)]
struct CachedKeys {
    signing: Arc<SigningKey>,
    published: Vec<PublicKeyWithKid>,
}

/// Signs and checks access tokens for one issuer and audience. The keys are cached in
/// memory and replaced by [`Self::replace_keys`] (a background refresh reads them from
/// the database every `provider.key_refresh_secs`), so that a rotation reaches every
/// instance without a restart and verification never reads the database for a known key.
#[derive(Debug)]
pub struct TokenIssuer {
    keys: RwLock<CachedKeys>,
    /// The RSA key of RS256/PS256 ID tokens and the published RSA keys; `None` until
    /// [`Self::replace_rsa_keys`] (start-up sets it before serving).
    rsa: RwLock<Option<(Arc<RsaSigningKey>, Vec<RsaPublicKey>)>>,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenIssuer {
    /// `issuer` is the public URL (without trailing slash); the audience is `<issuer>/api`.
    pub fn new(key: SigningKey, issuer: &url::Url, ttl_secs: i64) -> Self {
        let issuer = issuer.as_str().trim_end_matches('/').to_owned();
        let published = vec![key.public_key()];
        Self {
            keys: RwLock::new(CachedKeys {
                signing: Arc::new(key),
                published,
            }),
            rsa: RwLock::new(None),
            audience: format!("{issuer}/api"),
            issuer,
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The issuer (`iss`): the public URL without trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .signing,
        )
    }

    pub fn public_key(&self) -> PublicKeyWithKid {
        self.signing_key().public_key()
    }

    /// The published keys as last read: what tokens are verified with first.
    pub fn cached_keys(&self) -> Vec<PublicKeyWithKid> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .published
            .clone()
    }

    /// Takes the keys just read from the database.
    pub fn replace_keys(&self, signing: SigningKey, published: Vec<PublicKeyWithKid>) {
        let mut slot = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if slot.signing.kid() != signing.kid() {
            tracing::info!(kid = signing.kid(), "now signing tokens with a new key");
        }
        *slot = CachedKeys {
            signing: Arc::new(signing),
            published,
        };
    }

    /// The RSA key new RS256/PS256 ID tokens are signed with.
    pub fn rsa_key(&self) -> Option<Arc<RsaSigningKey>> {
        self.rsa
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(key, _)| Arc::clone(key))
    }

    /// The published RSA keys as last read (for the JWKS).
    pub fn cached_rsa_keys(&self) -> Vec<RsaPublicKey> {
        self.rsa
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, published)| published.clone())
            .unwrap_or_default()
    }

    /// Takes the RSA keys just read from the database.
    pub fn replace_rsa_keys(&self, signing: RsaSigningKey, published: Vec<RsaPublicKey>) {
        let mut slot = self.rsa.write().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|(k, _)| k.kid() != signing.kid()) {
            tracing::info!(
                kid = signing.kid(),
                "now signing ID tokens with a new RSA key"
            );
        }
        *slot = Some((Arc::new(signing), published));
    }

    /// Takes every key just read from the database.
    pub fn replace_all_keys(&self, keys: StoredKeys) {
        self.replace_keys(keys.signing, keys.published);
        self.replace_rsa_keys(keys.rsa, keys.rsa_published);
    }

    /// A signed access token for `grant`, valid from `now` for the configured TTL.
    pub fn issue(&self, grant: &Grant, now: DateTime<Utc>) -> Result<String, KeyError> {
        let iat = now.timestamp();
        let claims = json!({
            "iss": self.issuer,
            "sub": grant.account_id,
            "aud": self.audience,
            "client_id": "devicelink-app",
            "device_id": grant.device_id,
            "cnf": {"jkt": grant.jkt},
            "amr": grant.amr,
            "gen": grant.generation,
            "auth_time": grant.auth_time.and_utc().timestamp(),
            "iat": iat,
            "exp": iat + self.ttl_secs,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        self.signing_key()
            .sign_jwt(ACCESS_TOKEN_TYP, &Map::new(), &claims)
    }

    /// Verifies signature, `typ`, `iss`, `aud`, `exp` and the claims the API needs.
    pub fn verify(
        &self,
        token: &str,
        keys: &[PublicKeyWithKid],
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AccessTokenError> {
        let claims = verify_jwt(token, keys, ACCESS_TOKEN_TYP)?;
        self.check_claims(&claims, now)
    }

    /// The claim checks of [`Self::verify`], pure.
    pub fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AccessTokenError> {
        let text = |name: &'static str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .ok_or(AccessTokenError::MissingClaim(name))
        };
        let int = |name: &'static str| {
            claims
                .get(name)
                .and_then(Value::as_i64)
                .ok_or(AccessTokenError::MissingClaim(name))
        };
        if text("iss")? != self.issuer || text("aud")? != self.audience {
            return Err(AccessTokenError::WrongIssuerOrAudience);
        }
        let exp = int("exp")?;
        if exp <= now.timestamp() {
            return Err(AccessTokenError::Expired);
        }
        let jkt = claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .and_then(|j| Jkt::try_from(j).ok())
            .ok_or(AccessTokenError::MissingClaim("cnf"))?;
        let amr = claims
            .get("amr")
            .and_then(Value::as_array)
            .ok_or(AccessTokenError::MissingClaim("amr"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        Ok(AccessClaims {
            account_id: text("sub")?.to_owned(),
            device_id: text("device_id")?.to_owned(),
            jkt,
            amr,
            generation: i32::try_from(int("gen")?)
                .map_err(|_| AccessTokenError::MissingClaim("gen"))?,
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
            iat: int("iat")?,
            exp,
        })
    }
}

/// A new refresh token (256 random bits, base64url) and the hash stored for it.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = protocol::b64url_encode(bytes);
    let hash = refresh_token_hash(&token);
    (token, hash)
}

/// SHA-256 hex of a refresh token: what the database keeps.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub use super::key_store::{
    SigningKeyError, StoredKeys, load_keys, load_or_create_rsa_key, load_or_create_signing_key,
    published_keys, published_rsa_keys, rotate_signing_key,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(ttl: i64) -> TokenIssuer {
        TokenIssuer::new(
            SigningKey::generate().unwrap(),
            &"https://devicelink.example/".parse().unwrap(),
            ttl,
        )
    }

    fn grant() -> Grant {
        Grant {
            account_id: "acc".into(),
            device_id: "dev".into(),
            jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
            amr: vec!["hwk".into(), "pin".into()],
            generation: 3,
            auth_time: at(1_699_999_000).naive_utc(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims_until_it_expires() {
        let i = issuer(300);
        let token = i.issue(&grant(), at(1_700_000_000)).unwrap();
        let keys = [i.public_key()];
        let claims = i.verify(&token, &keys, at(1_700_000_299)).unwrap();
        assert_eq!(claims.account_id, "acc");
        assert_eq!(claims.device_id, "dev");
        assert_eq!(claims.jkt.as_str(), grant().jkt);
        assert_eq!(claims.amr, ["hwk", "pin"]);
        assert_eq!(claims.generation, 3);
        assert_eq!(claims.exp - claims.iat, 300);
        // The unlock time travels separately from the issue time.
        assert_eq!(claims.auth_time, Some(1_699_999_000));
        assert_eq!(claims.iat, 1_700_000_000);
        assert_eq!(
            i.verify(&token, &keys, at(1_700_000_300)),
            Err(AccessTokenError::Expired)
        );
    }

    #[test]
    fn a_token_without_auth_time_proves_no_unlock_time() {
        let i = issuer(300);
        let claims = json!({
            "iss": "https://devicelink.example", "aud": "https://devicelink.example/api",
            "sub": "acc", "device_id": "dev", "cnf": {"jkt": grant().jkt},
            "amr": ["hwk", "pin"], "gen": 3, "iat": 1_700_000_000, "exp": 1_700_000_300,
        });
        let Value::Object(map) = claims else {
            unreachable!()
        };
        let checked = i.check_claims(&map, at(1_700_000_001)).unwrap();
        assert_eq!(checked.auth_time, None);
    }

    #[test]
    fn another_issuer_or_key_is_refused() {
        let a = issuer(300);
        let b = TokenIssuer::new(
            SigningKey::generate().unwrap(),
            &"https://other.example".parse().unwrap(),
            300,
        );
        let token = a.issue(&grant(), at(1_700_000_000)).unwrap();
        assert_eq!(
            b.verify(&token, &[b.public_key()], at(1_700_000_001)),
            Err(AccessTokenError::Jwt(JwtError::UnknownKey))
        );
        assert_eq!(
            b.verify(&token, &[a.public_key()], at(1_700_000_001)),
            Err(AccessTokenError::WrongIssuerOrAudience)
        );
    }

    #[test]
    fn unlock_methods_name_their_amr() {
        assert_eq!(UnlockMethod::SecretCode.amr_json(), r#"["hwk","pin"]"#);
        assert_eq!(UnlockMethod::Biometrics.amr(), ["hwk", "user"]);
    }

    #[test]
    fn refresh_tokens_are_random_and_only_their_hash_is_kept() {
        let (t1, h1) = new_refresh_token();
        let (t2, _) = new_refresh_token();
        assert_ne!(t1, t2);
        assert_eq!(t1.len(), 43);
        assert_eq!(h1, refresh_token_hash(&t1));
        assert_eq!(h1.len(), 64);
    }
}
