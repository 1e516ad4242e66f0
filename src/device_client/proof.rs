//! The device's P-256 key and the DPoP proofs it signs (RFC 9449 section 4.2).

use std::fmt;

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use url::Url;

use crate::protocol::{self, DPOP_TYP, ES256, EcPublicJwk};

/// The device key could not be made, loaded or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceKeyError {
    #[error("the device key could not be generated")]
    Generate,
    #[error("the stored device key is not a base64url PKCS#8 P-256 private key")]
    BadKey,
    #[error("signing with the device key failed")]
    Sign,
}

/// The device's ES256 key pair. It is the identity of the device: tokens are bound to
/// its thumbprint. `Debug` shows the thumbprint only.
pub struct DeviceKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    jwk: EcPublicJwk,
    jkt: String,
    rng: SystemRandom,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("jkt", &self.jkt)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A fresh key from the system's random source.
    pub fn generate() -> Result<Self, DeviceKeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| DeviceKeyError::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, DeviceKeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| DeviceKeyError::BadKey)?;
        let jwk = EcPublicJwk::from_uncompressed_point(pair.public_key().as_ref())
            .ok_or(DeviceKeyError::BadKey)?;
        let jkt = jwk.thumbprint();
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            jwk,
            jkt,
            rng,
        })
    }

    /// Loads a key saved by [`Self::export_pkcs8_base64`].
    pub fn import_pkcs8_base64(text: &str) -> Result<Self, DeviceKeyError> {
        let der = protocol::b64url_decode(text.trim()).ok_or(DeviceKeyError::BadKey)?;
        Self::from_pkcs8(&der)
    }

    /// The private key as base64url PKCS#8 DER, for the client's state file. Secret.
    pub fn export_pkcs8_base64(&self) -> String {
        protocol::b64url_encode(&self.pkcs8)
    }

    pub fn public_jwk(&self) -> &EcPublicJwk {
        &self.jwk
    }

    /// The RFC 7638 thumbprint of the public key, the `jkt` the server binds to.
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// A fresh DPoP proof for one request, made now.
    pub fn proof(
        &self,
        htm: &str,
        htu: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, DeviceKeyError> {
        self.proof_at(htm, htu, access_token, nonce, Utc::now())
    }

    /// A DPoP proof made at `now` (RFC 9449 section 4.2): header `{typ, alg, jwk}`, claims
    /// `jti` (128 random bits), `htm`, `htu` without query and fragment, `iat`, and `ath`
    /// and `nonce` when given.
    pub fn proof_at(
        &self,
        htm: &str,
        htu: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, DeviceKeyError> {
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| DeviceKeyError::Sign)?;
        let mut target = htu.clone();
        target.set_query(None);
        target.set_fragment(None);
        let header = serde_json::json!({"typ": DPOP_TYP, "alg": ES256, "jwk": self.jwk});
        let mut claims = serde_json::json!({
            "jti": protocol::b64url_encode(jti),
            "htm": htm,
            "htu": target.as_str(),
            "iat": now.timestamp(),
        });
        if let Some(token) = access_token {
            claims["ath"] = protocol::access_token_hash(token).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign_jws(&header, &claims)
    }

    /// Signs any header and claims as a compact ES256 JWS (RFC 7515 section 7.1).
    pub fn sign_jws(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, DeviceKeyError> {
        let input = protocol::jws_signing_input(header, claims);
        let signature = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| DeviceKeyError::Sign)?;
        Ok(format!("{input}.{}", protocol::b64url_encode(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_key_imports_to_the_same_thumbprint() {
        let key = DeviceKey::generate().unwrap();
        let again = DeviceKey::import_pkcs8_base64(&key.export_pkcs8_base64()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(again.public_jwk(), key.public_jwk());
    }

    #[test]
    fn garbage_does_not_import() {
        assert_eq!(
            DeviceKey::import_pkcs8_base64("not-a-key").err(),
            Some(DeviceKeyError::BadKey)
        );
        assert_eq!(
            DeviceKey::import_pkcs8_base64("!!").err(),
            Some(DeviceKeyError::BadKey)
        );
    }

    #[test]
    fn the_thumbprint_is_that_of_the_public_jwk() {
        let key = DeviceKey::generate().unwrap();
        let jwk = key.public_jwk();
        assert_eq!(
            key.thumbprint(),
            protocol::ec_thumbprint(&jwk.crv, &jwk.x, &jwk.y)
        );
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn a_proof_strips_query_and_fragment_and_carries_fresh_jtis() {
        let key = DeviceKey::generate().unwrap();
        let url = Url::parse("https://dl.example/api/v1/x?a=1#f").unwrap();
        let one = key.proof("GET", &url, Some("tok"), Some("n1")).unwrap();
        let two = key.proof("GET", &url, None, None).unwrap();
        let claims = |proof: &str| -> serde_json::Value {
            let part = proof.split('.').nth(1).unwrap();
            serde_json::from_slice(&protocol::b64url_decode(part).unwrap()).unwrap()
        };
        let (c1, c2) = (claims(&one), claims(&two));
        assert_eq!(c1["htu"], "https://dl.example/api/v1/x");
        assert_eq!(c1["nonce"], "n1");
        assert_eq!(c1["ath"], protocol::access_token_hash("tok"));
        assert!(c2.get("ath").is_none() && c2.get("nonce").is_none());
        assert_ne!(c1["jti"], c2["jti"]);
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let key = DeviceKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&key.export_pkcs8_base64()));
    }
}
