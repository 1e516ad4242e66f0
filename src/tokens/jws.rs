//! Compact JWS (RFC 7515 section 7.1) split and sign, ES256 only. ring does the
//! cryptography; this file only handles the three base64url parts.

use ring::rand::SecureRandom;
use ring::signature::EcdsaKeyPair;
use serde_json::{Map, Value};

use crate::protocol;

/// Why a compact JWS could not be taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsShapeError {
    TooLarge,
    Malformed,
}

/// A compact JWS whose header and payload decoded as JSON objects; not yet verified.
pub(crate) struct Compact<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`, what the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Splits `token` into its three parts (RFC 7515 section 5.2 steps 1-7). Unsecured JWS
/// (empty signature, RFC 7519 section 6) is malformed here.
pub(crate) fn split(token: &str, max_len: usize) -> Result<Compact<'_>, JwsShapeError> {
    if token.len() > max_len {
        return Err(JwsShapeError::TooLarge);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsShapeError::Malformed)?;
    let (header, claims) = signing_input
        .split_once('.')
        .ok_or(JwsShapeError::Malformed)?;
    if claims.contains('.') || signature.is_empty() {
        return Err(JwsShapeError::Malformed);
    }
    Ok(Compact {
        header: json_object(header)?,
        claims: json_object(claims)?,
        signing_input,
        signature: protocol::b64url_decode(signature).ok_or(JwsShapeError::Malformed)?,
    })
}

fn json_object(part: &str) -> Result<Map<String, Value>, JwsShapeError> {
    let bytes = protocol::b64url_decode(part).ok_or(JwsShapeError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsShapeError::Malformed),
    }
}

/// Signs `header` and `claims` with an ES256 key pair (RFC 7515 section 5.1); the
/// signature is the fixed 64-byte `r || s` of RFC 7518 section 3.4.
pub(crate) fn sign(
    pair: &EcdsaKeyPair,
    rng: &dyn SecureRandom,
    header: &Value,
    claims: &Value,
) -> Result<String, ring::error::Unspecified> {
    let input = protocol::jws_signing_input(header, claims);
    let signature = pair.sign(rng, input.as_bytes())?;
    Ok(format!("{input}.{}", protocol::b64url_encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part(v: &Value) -> String {
        protocol::b64url_encode(v.to_string())
    }

    #[test]
    fn three_parts_with_json_objects_split() {
        let token = format!(
            "{}.{}.{}",
            part(&serde_json::json!({"alg": "ES256"})),
            part(&serde_json::json!({"a": 1})),
            protocol::b64url_encode([1, 2, 3])
        );
        let compact = split(&token, 1000).unwrap();
        assert_eq!(compact.header["alg"], "ES256");
        assert_eq!(compact.claims["a"], 1);
        assert_eq!(compact.signature, vec![1, 2, 3]);
    }

    #[test]
    fn wrong_part_counts_empty_signatures_and_non_objects_are_malformed() {
        let h = part(&serde_json::json!({}));
        for token in [
            String::new(),
            h.clone(),
            format!("{h}.{h}"),
            format!("{h}.{h}."),
            format!("{h}.{h}.AQ.AQ"),
            format!("{h}.{}.AQ", part(&serde_json::json!([1]))),
            format!("{h}.{h}.A+Q"),
        ] {
            assert_eq!(
                split(&token, 1000).err(),
                Some(JwsShapeError::Malformed),
                "{token}"
            );
        }
        assert_eq!(
            split(&"a".repeat(11), 10).err(),
            Some(JwsShapeError::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn splitting_arbitrary_text_never_panics(text in "[A-Za-z0-9_.=+/-]{0,200}") {
            let _ = split(&text, 8192);
        }
    }
}
