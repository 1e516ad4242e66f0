//! The server's ES256 signing keys, their JWKS (RFC 7517 section 5) and verification of
//! the JWTs they sign (RFC 7519, RFC 7515). ring is used directly rather than
//! `jsonwebtoken`: one small compact-JWS path serves both these tokens and DPoP proofs,
//! the time is always the caller's `now`, and nothing but ES256 can ever be accepted.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwk::{JwkError, PublicJwk};
use super::jws::{self, JwsShapeError};
use crate::protocol::ES256;

/// Largest JWT [`verify_jwt`] looks at.
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// A key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key could not be generated")]
    Generate,
    #[error("the PKCS#8 document is not an ES256 (P-256) private key")]
    BadPkcs8,
    #[error("the PKCS#8 document is not an RSA private key of 2048 to 4096 bits")]
    BadRsaPkcs8,
    #[error("the claims must be a JSON object")]
    ClaimsNotAnObject,
    #[error("signing failed")]
    Sign,
}

/// Why a JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is too large")]
    TooLarge,
    #[error("the token is not a compact JWS with JSON header and claims")]
    Malformed,
    #[error("the token has the wrong `typ`")]
    WrongType,
    #[error("the token's algorithm is not ES256")]
    UnsupportedAlgorithm,
    #[error("the token names extensions it requires (`crit`) that are not supported")]
    UnsupportedCritical,
    #[error("the token's `kid` names no known key")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
}

/// An ES256 private key with its `kid` (the RFC 7638 thumbprint of its public JWK, so
/// the `kid` is stable and needs no extra storage). `Debug` shows the `kid` only.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    public: PublicJwk,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from the system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// Loads a key stored as PKCS#8 v1 or v2 DER (RFC 5958), as [`Self::pkcs8_der`] gives it.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| KeyError::BadPkcs8)?;
        let public = PublicJwk::from_uncompressed_point(pair.public_key().as_ref())
            .map_err(|_| KeyError::BadPkcs8)?;
        let kid = public.jkt().as_str().to_owned();
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            public,
            kid,
        })
    }

    /// The private key as PKCS#8 DER, for sealed storage. Secret.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn to_public_jwk(&self) -> PublicJwk {
        self.public.clone()
    }

    /// The public half, as [`verify_jwt`] and [`Jwks::from_keys`] take it.
    pub fn public_key(&self) -> PublicKeyWithKid {
        PublicKeyWithKid {
            kid: self.kid.clone(),
            jwk: self.public.clone(),
        }
    }

    /// Signs `claims` as a compact JWS with the header `{alg: ES256, kid, typ}` plus
    /// `header_extra`. `alg`, `kid` and `typ` always come from this key and `typ`, never
    /// from `header_extra` (explicit typing, RFC 8725 section 3.11).
    pub fn sign_jwt(
        &self,
        typ: &str,
        header_extra: &Map<String, Value>,
        claims: &Value,
    ) -> Result<String, KeyError> {
        if !claims.is_object() {
            return Err(KeyError::ClaimsNotAnObject);
        }
        let mut header = header_extra.clone();
        header.insert("alg".to_owned(), Value::from(ES256));
        header.insert("kid".to_owned(), Value::from(self.kid.as_str()));
        header.insert("typ".to_owned(), Value::from(typ));
        jws::sign(
            &self.pair,
            &SystemRandom::new(),
            &Value::Object(header),
            claims,
        )
        .map_err(|_| KeyError::Sign)
    }
}

/// A public key and the `kid` tokens name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyWithKid {
    pub kid: String,
    pub jwk: PublicJwk,
}

/// Verifies a JWT signed by one of `keys` and returns its claims object.
///
/// Checks the shape, `alg` = ES256 (RFC 8725 section 3.1: the algorithm is never taken
/// from the token), `typ` equal to `expected_typ` ignoring ASCII case (RFC 7515 section
/// 4.1.9), no `crit` (RFC 7515 section 4.1.11), and the signature of the key named by
/// `kid`. Time and audience claims (`exp`, `nbf`, `iss`, `aud`) are the caller's to
/// check against its own `now`.
pub fn verify_jwt(
    token: &str,
    keys: &[PublicKeyWithKid],
    expected_typ: &str,
) -> Result<Map<String, Value>, JwtError> {
    let compact = jws::split(token, MAX_JWT_BYTES).map_err(|e| match e {
        JwsShapeError::TooLarge => JwtError::TooLarge,
        JwsShapeError::Malformed => JwtError::Malformed,
    })?;
    if compact.header.get("alg").and_then(Value::as_str) != Some(ES256) {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    let kid = typed_kid(&compact, expected_typ)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(JwtError::UnknownKey)?;
    key.jwk
        .verify_es256(compact.signing_input.as_bytes(), &compact.signature)
        .map_err(|_| JwtError::BadSignature)?;
    Ok(compact.claims)
}

/// The header checks every JWT verification shares, once `alg` is settled: `typ` equal
/// to `expected_typ` ignoring ASCII case (RFC 7515 section 4.1.9), no `crit` (section
/// 4.1.11), and the `kid` that names the key.
pub(super) fn typed_kid<'a>(
    compact: &'a jws::Compact<'_>,
    expected_typ: &str,
) -> Result<&'a str, JwtError> {
    let typ = compact.header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|typ| typ.eq_ignore_ascii_case(expected_typ)) {
        return Err(JwtError::WrongType);
    }
    if compact.header.contains_key("crit") {
        return Err(JwtError::UnsupportedCritical);
    }
    compact
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::UnknownKey)
}

/// A JWK Set (RFC 7517 section 5), as served at the `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<JwksEntry>,
}

/// One signing key of a [`Jwks`]: the public EC members plus `use`, `alg` and `kid`
/// (RFC 7517 sections 4.2, 4.4, 4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwksEntry {
    pub kty: String,
    /// The EC members (empty for the RSA keys of the same set, which carry `n`, `e`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub crv: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub x: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub y: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
}

impl Jwks {
    pub fn from_keys(keys: &[PublicKeyWithKid]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| {
                    let wire = k.jwk.wire();
                    JwksEntry {
                        kty: wire.kty.clone(),
                        crv: wire.crv.clone(),
                        x: wire.x.clone(),
                        y: wire.y.clone(),
                        use_: "sig".to_owned(),
                        alg: ES256.to_owned(),
                        kid: k.kid.clone(),
                    }
                })
                .collect(),
        }
    }

    /// The EC keys back, validated, for a verifier that fetched this set (the RSA keys
    /// of ID tokens are skipped).
    pub fn public_keys(&self) -> Result<Vec<PublicKeyWithKid>, JwkError> {
        self.keys
            .iter()
            .filter(|entry| entry.kty == "EC")
            .map(|entry| {
                let value = serde_json::json!({
                    "kty": entry.kty, "crv": entry.crv, "x": entry.x, "y": entry.y,
                    "alg": entry.alg,
                });
                Ok(PublicKeyWithKid {
                    kid: entry.kid.clone(),
                    jwk: PublicJwk::from_json_value(&value)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::b64url_encode;

    const TYP: &str = "at+jwt";

    fn claims() -> Value {
        serde_json::json!({"sub": "device-1", "exp": 2_000_000_000})
    }

    #[test]
    fn a_signed_jwt_verifies_with_its_key_and_returns_the_claims() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign_jwt(TYP, &Map::new(), &claims()).unwrap();
        let got = verify_jwt(&token, &[key.public_key()], TYP).unwrap();
        assert_eq!(Value::Object(got), claims());
    }

    #[test]
    fn the_header_carries_alg_kid_and_typ_which_extras_cannot_override() {
        let key = SigningKey::generate().unwrap();
        let mut extra = Map::new();
        extra.insert("alg".to_owned(), Value::from("none"));
        extra.insert("cty".to_owned(), Value::from("x"));
        let token = key.sign_jwt(TYP, &extra, &claims()).unwrap();
        let compact = jws::split(&token, MAX_JWT_BYTES).unwrap();
        assert_eq!(compact.header["alg"], "ES256");
        assert_eq!(compact.header["kid"], key.kid());
        assert_eq!(compact.header["typ"], TYP);
        assert_eq!(compact.header["cty"], "x");
    }

    #[test]
    fn the_kid_is_the_thumbprint_and_survives_a_pkcs8_round_trip() {
        let key = SigningKey::generate().unwrap();
        assert_eq!(key.kid(), key.to_public_jwk().jkt().as_str());
        let again = SigningKey::from_pkcs8(key.pkcs8_der()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
    }

    #[test]
    fn the_key_is_chosen_by_kid_and_unknown_kids_are_refused() {
        let old = SigningKey::generate().unwrap();
        let new = SigningKey::generate().unwrap();
        let token = old.sign_jwt(TYP, &Map::new(), &claims()).unwrap();
        let both = [new.public_key(), old.public_key()];
        assert!(verify_jwt(&token, &both, TYP).is_ok());
        assert_eq!(
            verify_jwt(&token, &[new.public_key()], TYP),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn a_key_listed_under_the_wrong_kid_does_not_verify() {
        let signer = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let token = signer.sign_jwt(TYP, &Map::new(), &claims()).unwrap();
        let impostor = PublicKeyWithKid {
            kid: signer.kid().to_owned(),
            jwk: other.to_public_jwk(),
        };
        assert_eq!(
            verify_jwt(&token, &[impostor], TYP),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn the_wrong_typ_and_other_algorithms_are_refused() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign_jwt("JWT", &Map::new(), &claims()).unwrap();
        assert_eq!(
            verify_jwt(&token, &[key.public_key()], TYP),
            Err(JwtError::WrongType)
        );
        let header = serde_json::json!({"alg": "none", "kid": key.kid(), "typ": TYP});
        let unsigned = format!(
            "{}.{}.AA",
            b64url_encode(header.to_string()),
            b64url_encode(claims().to_string())
        );
        assert_eq!(
            verify_jwt(&unsigned, &[key.public_key()], TYP),
            Err(JwtError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign_jwt(TYP, &Map::new(), &claims()).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64url_encode(serde_json::json!({"sub": "admin"}).to_string());
        parts[1] = &forged;
        assert_eq!(
            verify_jwt(&parts.join("."), &[key.public_key()], TYP),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn critical_extensions_are_refused() {
        let key = SigningKey::generate().unwrap();
        let mut extra = Map::new();
        extra.insert("crit".to_owned(), serde_json::json!(["exp"]));
        let token = key.sign_jwt(TYP, &extra, &claims()).unwrap();
        assert_eq!(
            verify_jwt(&token, &[key.public_key()], TYP),
            Err(JwtError::UnsupportedCritical)
        );
    }

    #[test]
    fn the_jwks_lists_public_members_use_alg_and_kid_and_round_trips() {
        let key = SigningKey::generate().unwrap();
        let jwks = Jwks::from_keys(&[key.public_key()]);
        let json = serde_json::to_value(&jwks).unwrap();
        let entry = &json["keys"][0];
        assert_eq!(entry["use"], "sig");
        assert_eq!(entry["alg"], "ES256");
        assert_eq!(entry["kid"], key.kid());
        assert_eq!(entry["kty"], "EC");
        assert!(entry.get("d").is_none());
        let parsed: Jwks = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.public_keys().unwrap(), vec![key.public_key()]);
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let key = SigningKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>") && shown.contains(key.kid()));
        assert!(!shown.contains(&b64url_encode(key.pkcs8_der())));
    }
}
