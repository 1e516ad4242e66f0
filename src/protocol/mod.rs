//! Wire pieces shared by the server and the reference device client: base64url, the EC
//! public JWK members, the RFC 7638 thumbprint and the DPoP constants. Pure functions and
//! plain data only, so `device_client` can use them without importing server internals.

pub mod redirect_uri;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `typ` header of a DPoP proof (RFC 9449 section 4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// The only JWS algorithm devicelink signs or accepts: ECDSA P-256 with SHA-256
/// (RFC 7518 section 3.4).
pub const ES256: &str = "ES256";
/// The HTTP header carrying a DPoP proof (RFC 9449 section 4.1).
pub const DPOP_HEADER: &str = "DPoP";
/// The HTTP header carrying a server nonce (RFC 9449 section 8.1).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// Length of the raw P-256 coordinates `x` and `y` (RFC 7518 section 6.2.1.2).
pub const P256_COORDINATE_LEN: usize = 32;

/// Base64url without padding (RFC 7515 section 2).
pub fn b64url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url without padding: no `=`, no whitespace, no non-canonical trailing bits.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Whether `text` is a P-256 coordinate as RFC 7518 section 6.2.1.2 writes it: strict
/// base64url of the full 32 bytes, leading zeros included.
pub fn is_p256_coordinate(text: &str) -> bool {
    b64url_decode(text).is_some_and(|bytes| bytes.len() == P256_COORDINATE_LEN)
}

/// The public members of an EC P-256 JWK (RFC 7518 section 6.2.1), as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcPublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl EcPublicJwk {
    /// Builds the JWK of an uncompressed SEC1 point `0x04 || x || y`, as ring returns it.
    pub fn from_uncompressed_point(point: &[u8]) -> Option<Self> {
        match point {
            [0x04, rest @ ..] if rest.len() == 2 * P256_COORDINATE_LEN => {
                let (x, y) = rest.split_at(P256_COORDINATE_LEN);
                Some(Self {
                    kty: "EC".to_owned(),
                    crv: "P-256".to_owned(),
                    x: b64url_encode(x),
                    y: b64url_encode(y),
                })
            }
            _ => None,
        }
    }

    /// The RFC 7638 thumbprint of this key, see [`ec_thumbprint`].
    pub fn thumbprint(&self) -> String {
        ec_thumbprint(&self.crv, &self.x, &self.y)
    }
}

/// RFC 7638 section 3.2: SHA-256 over the required members of an EC key in lexicographic
/// order (`crv`, `kty`, `x`, `y`), without whitespace, then base64url (RFC 9449 section 6.1
/// uses this value as `jkt`). The members are base64url or fixed names, so nothing needs
/// JSON escaping; they are still serialized through serde to be safe.
pub fn ec_thumbprint(crv: &str, x: &str, y: &str) -> String {
    let json = format!(
        r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
        json_string(crv),
        json_string(x),
        json_string(y)
    );
    b64url_encode(Sha256::digest(json.as_bytes()))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The `ath` claim: base64url of SHA-256 of the ASCII access token (RFC 9449 section 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64url_encode(Sha256::digest(access_token.as_bytes()))
}

/// The JWS Signing Input `BASE64URL(header) || '.' || BASE64URL(payload)`
/// (RFC 7515 section 5.1, step 5).
pub fn jws_signing_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        b64url_encode(header.to_string()),
        b64url_encode(claims.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7638_example_thumbprint_is_reproduced_for_an_ec_key() {
        // RFC 7638 section 3.1 gives an RSA example only; this EC vector is RFC 9449
        // section 4.1's proof key, whose thumbprint the RFC shows in section 6.1 (jkt).
        let jkt = ec_thumbprint(
            "P-256",
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        );
        assert_eq!(jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    }

    #[test]
    fn base64url_decoding_refuses_padding_and_other_alphabets() {
        assert_eq!(b64url_decode("AQ"), Some(vec![1]));
        assert_eq!(b64url_decode("AQ=="), None);
        assert_eq!(b64url_decode("A+/"), None);
        assert_eq!(b64url_decode("AR"), None, "non-canonical trailing bits");
    }

    #[test]
    fn only_uncompressed_points_of_the_right_length_become_a_jwk() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let jwk = EcPublicJwk::from_uncompressed_point(&point).expect("valid shape");
        assert_eq!((jwk.kty.as_str(), jwk.crv.as_str()), ("EC", "P-256"));
        point[0] = 0x02;
        assert!(EcPublicJwk::from_uncompressed_point(&point).is_none());
        assert!(EcPublicJwk::from_uncompressed_point(&[0x04; 10]).is_none());
    }
}
