//! The provider's RSA key for ID tokens (RS256, the algorithm OIDC Discovery section 3
//! makes mandatory, and PS256). The key is generated with the `rsa` crate and then
//! used only through ring: ring's RSA signing is constant-time, while the `rsa` crate's
//! private-key operations are not (RUSTSEC-2023-0071). Generating a key happens once,
//! offline of any request, so that timing exposes nothing to the network.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use rsa::pkcs8::EncodePrivateKey as _;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256};

use super::jws::{self, JwsShapeError};
use super::keys::{JwtError, KeyError, MAX_JWT_BYTES};
use crate::protocol;

/// Size of generated keys in bits (NIST SP 800-57: 2048 is good beyond 2030 for
/// signatures whose lifetime is minutes).
pub const RSA_BITS: usize = 2048;

/// The RSA signature schemes devicelink signs with (RFC 7518 section 3.3 and 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaAlg {
    Rs256,
    Ps256,
}

impl RsaAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }
}

/// The public half as a JWK (RFC 7518 section 6.3.1), with the `kid` tokens name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    pub kid: String,
    /// base64url of the modulus, big-endian without leading zeros.
    pub n: String,
    /// base64url of the public exponent.
    pub e: String,
}

/// An RSA private key with its `kid` (the RFC 7638 thumbprint of its public JWK).
/// `Debug` shows the `kid` only.
pub struct RsaSigningKey {
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
    public: RsaPublicKey,
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("kid", &self.public.kid)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    /// A fresh 2048-bit key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
            .map_err(|_| KeyError::Generate)?;
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8(der.as_bytes())
    }

    /// Loads a key stored as PKCS#8 DER, as [`Self::pkcs8_der`] gives it.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError::BadRsaPkcs8)?;
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let n = protocol::b64url_encode(&components.n);
        let e = protocol::b64url_encode(&components.e);
        // RFC 7638 section 3.2: the required members in lexicographic order, no spaces.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = protocol::b64url_encode(Sha256::digest(thumbprint_input.as_bytes()));
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            public: RsaPublicKey { kid, n, e },
        })
    }

    /// The private key as PKCS#8 DER, for storage. Secret.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    pub fn public_key(&self) -> RsaPublicKey {
        self.public.clone()
    }

    /// Signs `claims` as a compact JWS with the header `{alg, kid, typ}`.
    pub fn sign_jwt(&self, alg: RsaAlg, typ: &str, claims: &Value) -> Result<String, KeyError> {
        if !claims.is_object() {
            return Err(KeyError::ClaimsNotAnObject);
        }
        let header = json!({"alg": alg.as_str(), "kid": self.public.kid, "typ": typ});
        let input = protocol::jws_signing_input(&header, claims);
        let mut signature = vec![0; self.pair.public().modulus_len()];
        let padding: &dyn ring::signature::RsaEncoding = match alg {
            RsaAlg::Rs256 => &RSA_PKCS1_SHA256,
            RsaAlg::Ps256 => &RSA_PSS_SHA256,
        };
        self.pair
            .sign(
                padding,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{input}.{}", protocol::b64url_encode(signature)))
    }
}

/// Verifies an RS256 or PS256 JWT signed by one of `keys` (the `kid` picks it) and
/// returns its claims. The algorithm must be RS256 or PS256 (never taken from a key or
/// trusted beyond that, RFC 8725 section 3.1); `typ` must be `expected_typ` ignoring
/// case; no `crit`. Time and audience claims are the caller's.
pub fn verify_rsa_jwt(
    token: &str,
    keys: &[RsaPublicKey],
    expected_typ: &str,
) -> Result<Map<String, Value>, JwtError> {
    let compact = jws::split(token, MAX_JWT_BYTES).map_err(|e| match e {
        JwsShapeError::TooLarge => JwtError::TooLarge,
        JwsShapeError::Malformed => JwtError::Malformed,
    })?;
    let params = match compact.header.get("alg").and_then(Value::as_str) {
        Some("RS256") => &RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &RSA_PSS_2048_8192_SHA256,
        _ => return Err(JwtError::UnsupportedAlgorithm),
    };
    let kid = super::keys::typed_kid(&compact, expected_typ)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(JwtError::UnknownKey)?;
    let (Some(n), Some(e)) = (
        protocol::b64url_decode(&key.n),
        protocol::b64url_decode(&key.e),
    ) else {
        return Err(JwtError::BadSignature);
    };
    RsaPublicKeyComponents { n, e }
        .verify(params, compact.signing_input.as_bytes(), &compact.signature)
        .map_err(|_| JwtError::BadSignature)?;
    Ok(compact.claims)
}

impl RsaPublicKey {
    /// The JWKS entry (RFC 7517 section 4): `alg` is RS256, the key also verifies PS256
    /// tokens (a JWK names one algorithm at most; RFC 7517 section 4.4 makes it optional).
    pub fn jwks_entry(&self) -> Map<String, Value> {
        let Value::Object(map) = json!({
            "kty": "RSA", "n": self.n, "e": self.e, "use": "sig", "alg": "RS256", "kid": self.kid,
        }) else {
            unreachable!("a JSON object literal")
        };
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> &'static RsaSigningKey {
        static KEY: std::sync::OnceLock<RsaSigningKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| RsaSigningKey::generate().unwrap())
    }

    fn verify(token: &str, params: &'static ring::signature::RsaParameters) -> bool {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let public = key().public_key();
        RsaPublicKeyComponents {
            n: protocol::b64url_decode(&public.n).unwrap(),
            e: protocol::b64url_decode(&public.e).unwrap(),
        }
        .verify(
            params,
            input.as_bytes(),
            &protocol::b64url_decode(sig).unwrap(),
        )
        .is_ok()
    }

    #[test]
    fn rs256_and_ps256_tokens_verify_with_the_public_key_and_carry_the_header() {
        let claims = json!({"sub": "a"});
        for (alg, scheme) in [
            (RsaAlg::Rs256, &RSA_PKCS1_2048_8192_SHA256),
            (RsaAlg::Ps256, &RSA_PSS_2048_8192_SHA256),
        ] {
            let token = key().sign_jwt(alg, "JWT", &claims).unwrap();
            assert!(verify(&token, scheme), "{alg:?}");
            let header = token.split('.').next().unwrap();
            let header: Value =
                serde_json::from_slice(&protocol::b64url_decode(header).unwrap()).unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], key().kid());
        }
    }

    #[test]
    fn the_key_is_2048_bits_and_survives_a_pkcs8_round_trip_with_its_kid() {
        let again = RsaSigningKey::from_pkcs8(key().pkcs8_der()).unwrap();
        assert_eq!(again.kid(), key().kid());
        assert_eq!(
            protocol::b64url_decode(&key().public_key().n)
                .unwrap()
                .len(),
            256
        );
        assert!(RsaSigningKey::from_pkcs8(b"not a key").is_err());
        let shown = format!("{:?}", key());
        assert!(shown.contains("<redacted>") && shown.contains(key().kid()));
    }

    #[test]
    fn own_tokens_verify_and_tampering_or_other_algorithms_do_not() {
        let claims = json!({"sub": "a"});
        let keys = [key().public_key()];
        for alg in [RsaAlg::Rs256, RsaAlg::Ps256] {
            let token = key().sign_jwt(alg, "JWT", &claims).unwrap();
            assert_eq!(
                Value::Object(verify_rsa_jwt(&token, &keys, "jwt").unwrap()),
                claims
            );
            assert_eq!(
                verify_rsa_jwt(&token, &keys, "at+jwt"),
                Err(JwtError::WrongType)
            );
            assert_eq!(
                verify_rsa_jwt(&token, &[], "JWT"),
                Err(JwtError::UnknownKey)
            );
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = protocol::b64url_encode(json!({"sub": "b"}).to_string());
            parts[1] = &forged;
            assert_eq!(
                verify_rsa_jwt(&parts.join("."), &keys, "JWT"),
                Err(JwtError::BadSignature)
            );
        }
        let header = json!({"alg": "HS256", "kid": key().kid(), "typ": "JWT"});
        let hs = format!(
            "{}.{}.AA",
            protocol::b64url_encode(header.to_string()),
            protocol::b64url_encode(claims.to_string())
        );
        assert_eq!(
            verify_rsa_jwt(&hs, &keys, "JWT"),
            Err(JwtError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn the_jwks_entry_has_public_members_only() {
        let entry = key().public_key().jwks_entry();
        assert_eq!(entry["kty"], "RSA");
        assert_eq!(entry["use"], "sig");
        assert!(!entry.contains_key("d") && !entry.contains_key("p"));
    }
}
