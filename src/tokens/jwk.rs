//! EC P-256 public keys as JWKs (RFC 7517, RFC 7518 section 6.2), their RFC 7638
//! thumbprints (`jkt`, RFC 9449 section 6.1) and ES256 signature checks.

use std::fmt;

use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::protocol::{self, EcPublicJwk, P256_COORDINATE_LEN};

/// Largest JWK text accepted by [`PublicJwk::from_json_str`]; a P-256 key with a few
/// optional members is about 200 bytes.
pub const MAX_JWK_BYTES: usize = 1024;
/// Most members a JWK object may have (the required four plus `kid`, `use`, `alg`, ...).
const MAX_JWK_MEMBERS: usize = 12;

/// Why a JWK or a signature made with it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("the key is too large")]
    TooLarge,
    #[error("the key is not a JSON object")]
    NotAnObject,
    #[error("the key contains private material (`{0}`)")]
    PrivateMember(&'static str),
    #[error("the key type must be EC")]
    UnsupportedKeyType,
    #[error("the curve must be P-256")]
    UnsupportedCurve,
    #[error("the key's `alg` must be ES256")]
    UnsupportedAlgorithm,
    #[error("the key coordinate `{0}` is missing or not 32 bytes of base64url")]
    BadCoordinate(&'static str),
    #[error("the signature does not verify with this key")]
    BadSignature,
}

/// The RFC 7638 SHA-256 thumbprint of a public key, base64url: the `jkt` that binds
/// tokens to a device key (RFC 9449 section 6.1). 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jkt(String);

impl Jkt {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Jkt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Jkt {
    type Error = JwkError;

    /// Accepts exactly the base64url encoding of a 32-byte digest (e.g. a stored `jkt` or
    /// the `dpop_jkt` authorization parameter of RFC 9449 section 10).
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        match protocol::b64url_decode(value) {
            Some(bytes) if bytes.len() == 32 => Ok(Self(value.to_owned())),
            _ => Err(JwkError::BadCoordinate("jkt")),
        }
    }
}

/// A validated EC P-256 public key. The point itself is checked by ring when a
/// signature is verified (an off-curve point never verifies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    wire: EcPublicJwk,
    /// `0x04 || x || y`, the form ring verifies with.
    sec1: Vec<u8>,
}

impl PublicJwk {
    /// Parses a JWK from JSON text, refusing anything larger than [`MAX_JWK_BYTES`].
    pub fn from_json_str(json: &str) -> Result<Self, JwkError> {
        if json.len() > MAX_JWK_BYTES {
            return Err(JwkError::TooLarge);
        }
        let value: Value = serde_json::from_str(json).map_err(|_| JwkError::NotAnObject)?;
        Self::from_json_value(&value)
    }

    /// Parses a JWK already decoded as JSON (e.g. the `jwk` header of a DPoP proof, whose
    /// size the caller bounded). Private members are refused (RFC 9449 section 4.3 step 7),
    /// and `alg`, when present, must be ES256. Other optional members are ignored as
    /// RFC 7517 section 4 asks.
    pub fn from_json_value(value: &Value) -> Result<Self, JwkError> {
        let Value::Object(members) = value else {
            return Err(JwkError::NotAnObject);
        };
        if members.len() > MAX_JWK_MEMBERS {
            return Err(JwkError::TooLarge);
        }
        // RFC 7518 section 6.2.2: `d` is the EC private key; the RSA and symmetric private
        // members are refused too so a confused key can never be taken as public.
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if members.contains_key(private) {
                return Err(JwkError::PrivateMember(private));
            }
        }
        if str_member(members, "kty") != Some("EC") {
            return Err(JwkError::UnsupportedKeyType);
        }
        if str_member(members, "crv") != Some("P-256") {
            return Err(JwkError::UnsupportedCurve);
        }
        if members.get("alg").is_some_and(|alg| alg != protocol::ES256) {
            return Err(JwkError::UnsupportedAlgorithm);
        }
        let x = coordinate(members, "x")?;
        let y = coordinate(members, "y")?;
        let mut sec1 = Vec::with_capacity(1 + 2 * P256_COORDINATE_LEN);
        sec1.push(0x04);
        sec1.extend_from_slice(&x.1);
        sec1.extend_from_slice(&y.1);
        Ok(Self {
            wire: EcPublicJwk {
                kty: "EC".to_owned(),
                crv: "P-256".to_owned(),
                x: x.0,
                y: y.0,
            },
            sec1,
        })
    }

    /// Builds the JWK of an uncompressed SEC1 point, as ring's key pairs expose it.
    pub fn from_uncompressed_point(point: &[u8]) -> Result<Self, JwkError> {
        let wire =
            EcPublicJwk::from_uncompressed_point(point).ok_or(JwkError::BadCoordinate("x"))?;
        Ok(Self {
            wire,
            sec1: point.to_vec(),
        })
    }

    /// The RFC 7638 thumbprint (section 3.2: `{"crv","kty","x","y"}` in that order).
    pub fn jkt(&self) -> Jkt {
        Jkt(self.wire.thumbprint())
    }

    /// The public members `{kty, crv, x, y}`.
    pub fn wire(&self) -> &EcPublicJwk {
        &self.wire
    }

    /// The JWK as a JSON object with the public members only.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "kty": self.wire.kty,
            "crv": self.wire.crv,
            "x": self.wire.x,
            "y": self.wire.y,
        })
    }

    /// Verifies an ES256 signature: `sig` is the 64-byte `r || s` of RFC 7518
    /// section 3.4 (not DER). ring also rejects points that are not on the curve.
    pub fn verify_es256(&self, message: &[u8], sig: &[u8]) -> Result<(), JwkError> {
        if sig.len() != 2 * P256_COORDINATE_LEN {
            return Err(JwkError::BadSignature);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.sec1)
            .verify(message, sig)
            .map_err(|_| JwkError::BadSignature)
    }
}

fn str_member<'a>(members: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    members.get(name).and_then(Value::as_str)
}

fn coordinate(
    members: &Map<String, Value>,
    name: &'static str,
) -> Result<(String, Vec<u8>), JwkError> {
    let text = str_member(members, name).ok_or(JwkError::BadCoordinate(name))?;
    match protocol::b64url_decode(text) {
        // RFC 7518 section 6.2.1.2: the full-length coordinate, even with leading zeros.
        Some(bytes) if bytes.len() == P256_COORDINATE_LEN => Ok((text.to_owned(), bytes)),
        _ => Err(JwkError::BadCoordinate(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

    // RFC 9449 section 4.1's example proof key.
    const RFC_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    const RFC_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";

    fn rfc_jwk() -> Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": RFC_X, "y": RFC_Y})
    }

    fn key_pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    #[test]
    fn the_rfc_9449_example_key_parses_and_has_the_rfc_thumbprint() {
        let jwk = PublicJwk::from_json_value(&rfc_jwk()).unwrap();
        assert_eq!(
            jwk.jkt().as_str(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn member_order_and_optional_members_do_not_change_the_thumbprint() {
        let text = format!(
            r#"{{"y":"{RFC_Y}","use":"sig","kid":"k1","x":"{RFC_X}","crv":"P-256","kty":"EC"}}"#
        );
        let jwk = PublicJwk::from_json_str(&text).unwrap();
        assert_eq!(
            jwk.jkt(),
            PublicJwk::from_json_value(&rfc_jwk()).unwrap().jkt()
        );
    }

    #[test]
    fn a_key_with_private_material_is_refused() {
        let mut value = rfc_jwk();
        value["d"] = Value::from("AAAA");
        assert_eq!(
            PublicJwk::from_json_value(&value),
            Err(JwkError::PrivateMember("d"))
        );
    }

    #[test]
    fn other_key_types_and_curves_are_refused() {
        let mut rsa = rfc_jwk();
        rsa["kty"] = Value::from("RSA");
        assert_eq!(
            PublicJwk::from_json_value(&rsa),
            Err(JwkError::UnsupportedKeyType)
        );
        let mut p384 = rfc_jwk();
        p384["crv"] = Value::from("P-384");
        assert_eq!(
            PublicJwk::from_json_value(&p384),
            Err(JwkError::UnsupportedCurve)
        );
        let mut alg = rfc_jwk();
        alg["alg"] = Value::from("ES384");
        assert_eq!(
            PublicJwk::from_json_value(&alg),
            Err(JwkError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn coordinates_must_be_exactly_32_bytes_of_unpadded_base64url() {
        for bad in [
            "",
            "AAAA",
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs=",
            "l8tFrhx+34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFsAA",
        ] {
            let mut value = rfc_jwk();
            value["x"] = Value::from(bad);
            assert_eq!(
                PublicJwk::from_json_value(&value),
                Err(JwkError::BadCoordinate("x")),
                "{bad:?}"
            );
        }
        let mut number = rfc_jwk();
        number["y"] = Value::from(5);
        assert_eq!(
            PublicJwk::from_json_value(&number),
            Err(JwkError::BadCoordinate("y"))
        );
    }

    #[test]
    fn oversized_text_and_non_objects_are_refused() {
        let big = format!(r#"{{"kty":"EC","pad":"{}"}}"#, "a".repeat(MAX_JWK_BYTES));
        assert_eq!(PublicJwk::from_json_str(&big), Err(JwkError::TooLarge));
        assert_eq!(PublicJwk::from_json_str("[]"), Err(JwkError::NotAnObject));
        assert_eq!(PublicJwk::from_json_str("{"), Err(JwkError::NotAnObject));
    }

    #[test]
    fn a_signature_verifies_only_with_the_signing_key_and_message() {
        let rng = SystemRandom::new();
        let pair = key_pair();
        let jwk = PublicJwk::from_uncompressed_point(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(&rng, b"hello").unwrap();
        assert_eq!(jwk.verify_es256(b"hello", sig.as_ref()), Ok(()));
        assert_eq!(
            jwk.verify_es256(b"hullo", sig.as_ref()),
            Err(JwkError::BadSignature)
        );
        let other = PublicJwk::from_uncompressed_point(key_pair().public_key().as_ref()).unwrap();
        assert_eq!(
            other.verify_es256(b"hello", sig.as_ref()),
            Err(JwkError::BadSignature)
        );
        assert_eq!(
            jwk.verify_es256(b"hello", &sig.as_ref()[..63]),
            Err(JwkError::BadSignature)
        );
    }

    #[test]
    fn a_point_off_the_curve_never_verifies() {
        let mut value = rfc_jwk();
        value["y"] = Value::from(protocol::b64url_encode([1u8; 32]));
        let jwk = PublicJwk::from_json_value(&value).unwrap();
        assert_eq!(
            jwk.verify_es256(b"m", &[1u8; 64]),
            Err(JwkError::BadSignature)
        );
    }

    #[test]
    fn a_parsed_key_round_trips_through_its_json() {
        let jwk = PublicJwk::from_json_value(&rfc_jwk()).unwrap();
        assert_eq!(PublicJwk::from_json_value(&jwk.to_json()).unwrap(), jwk);
    }

    #[test]
    fn a_jkt_must_be_a_base64url_sha256_digest() {
        assert!(Jkt::try_from("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I").is_ok());
        assert!(Jkt::try_from("0ZcOCORZNYy").is_err());
        assert!(Jkt::try_from("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = PublicJwk::from_json_str(&text);
        }

        #[test]
        fn any_32_byte_coordinates_parse_and_round_trip(x in any::<[u8; 32]>(), y in any::<[u8; 32]>()) {
            let value = serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": protocol::b64url_encode(x), "y": protocol::b64url_encode(y),
            });
            let jwk = PublicJwk::from_json_value(&value).unwrap();
            prop_assert_eq!(jwk.to_json(), value);
            prop_assert_eq!(jwk.jkt().as_str().len(), 43);
        }

        #[test]
        fn coordinates_of_other_lengths_are_refused(x in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assume!(x.len() != 32);
            let value = serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": protocol::b64url_encode(&x), "y": RFC_Y,
            });
            prop_assert_eq!(PublicJwk::from_json_value(&value), Err(JwkError::BadCoordinate("x")));
        }
    }
}
