//! Stateless DPoP server nonces (RFC 9449 section 8): every instance that shares the
//! secret can issue and check them, with no table and no coordination.
//!
//! A nonce is `base64url(step || HMAC-SHA256(secret, label || step)[..16])`, where `step`
//! is the 8-byte big-endian number of `step_secs` periods since the Unix epoch. It is
//! accepted during its own step and the next one, so a nonce lives between one and two
//! steps: long enough for a client's retry, short enough that a captured proof soon
//! stops being replayable (RFC 9449 section 11.1). A nonce one step ahead is accepted
//! too, so an instance whose clock runs a little behind another's does not refuse it.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::protocol;

/// Shortest secret accepted: the HMAC-SHA256 block strength (RFC 2104 section 3).
pub const MIN_SECRET_BYTES: usize = 32;
const LABEL: &[u8] = b"devicelink dpop-nonce v1\0";
const TAG_BYTES: usize = 16;
const NONCE_BYTES: usize = 8 + TAG_BYTES;
/// Longest text looked at (the real ones are 32 characters).
const MAX_NONCE_CHARS: usize = 64;

/// The secret given to [`DpopNonces::new`] is too short, or the step is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceKeyError {
    #[error("the DPoP nonce secret must have at least 32 bytes")]
    SecretTooShort,
    #[error("the DPoP nonce step must be at least one second")]
    ZeroStep,
}

/// Issues and checks server nonces. `Debug` hides the secret.
#[derive(Clone)]
pub struct DpopNonces {
    mac: Hmac<Sha256>,
    step_secs: i64,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("secret", &"<redacted>")
            .field("step_secs", &self.step_secs)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Default length of one step.
    pub const DEFAULT_STEP_SECS: u32 = 60;

    pub fn new(secret: &[u8]) -> Result<Self, NonceKeyError> {
        Self::with_step(secret, Self::DEFAULT_STEP_SECS)
    }

    pub fn with_step(secret: &[u8], step_secs: u32) -> Result<Self, NonceKeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(NonceKeyError::SecretTooShort);
        }
        if step_secs == 0 {
            return Err(NonceKeyError::ZeroStep);
        }
        let mac =
            Hmac::<Sha256>::new_from_slice(secret).map_err(|_| NonceKeyError::SecretTooShort)?;
        Ok(Self {
            mac,
            step_secs: i64::from(step_secs),
        })
    }

    fn step(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(self.step_secs)
    }

    fn tagger(&self, step: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(&step.to_be_bytes());
        mac
    }

    /// A nonce for the `DPoP-Nonce` header, valid until the end of the next step.
    pub fn issue(&self, now: DateTime<Utc>) -> String {
        let step = self.step(now);
        let tag = self.tagger(step).finalize().into_bytes();
        let mut raw = Vec::with_capacity(NONCE_BYTES);
        raw.extend_from_slice(&step.to_be_bytes());
        raw.extend_from_slice(&tag[..TAG_BYTES]);
        protocol::b64url_encode(raw)
    }

    /// Whether `nonce` was issued by a holder of the secret during the previous, the
    /// current or (clock skew between instances) the next step. The tag comparison is
    /// constant-time.
    pub fn is_valid(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        if nonce.len() > MAX_NONCE_CHARS {
            return false;
        }
        let Some(raw) = protocol::b64url_decode(nonce) else {
            return false;
        };
        let Some((step_bytes, tag)) = raw.split_first_chunk::<8>() else {
            return false;
        };
        if tag.len() != TAG_BYTES {
            return false;
        }
        let step = i64::from_be_bytes(*step_bytes);
        let current = self.step(now);
        if step.abs_diff(current) > 1 {
            return false;
        }
        self.tagger(step).verify_truncated_left(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn nonces() -> DpopNonces {
        DpopNonces::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_fresh_nonce_is_valid_now_and_during_the_next_step() {
        let n = nonces();
        let issued = at(1_700_000_000);
        let nonce = n.issue(issued);
        assert_eq!(nonce.len(), 32);
        assert!(n.is_valid(&nonce, issued));
        assert!(n.is_valid(&nonce, issued + TimeDelta::seconds(60)));
    }

    #[test]
    fn a_nonce_two_steps_old_or_ahead_is_stale_and_one_step_ahead_is_tolerated() {
        let n = nonces();
        let issued = at(1_700_000_000);
        let nonce = n.issue(issued);
        assert!(!n.is_valid(&nonce, issued + TimeDelta::seconds(121)));
        assert!(n.is_valid(&nonce, issued - TimeDelta::seconds(60)));
        assert!(!n.is_valid(&nonce, issued - TimeDelta::seconds(121)));
    }

    #[test]
    fn another_instance_with_the_same_secret_accepts_it_and_another_secret_does_not() {
        let now = at(1_700_000_000);
        let nonce = nonces().issue(now);
        assert!(nonces().is_valid(&nonce, now));
        let other = DpopNonces::new(&[8u8; 32]).unwrap();
        assert!(!other.is_valid(&nonce, now));
    }

    #[test]
    fn a_nonce_with_a_moved_step_or_a_cut_tag_is_refused() {
        let n = nonces();
        let now = at(1_700_000_000);
        let mut raw = protocol::b64url_decode(&n.issue(now)).unwrap();
        raw[7] ^= 1;
        assert!(!n.is_valid(&protocol::b64url_encode(&raw), now));
        raw[7] ^= 1;
        raw.pop();
        assert!(!n.is_valid(&protocol::b64url_encode(&raw), now));
    }

    #[test]
    fn short_secrets_and_zero_steps_are_refused() {
        assert_eq!(
            DpopNonces::new(&[1u8; 31]).err(),
            Some(NonceKeyError::SecretTooShort)
        );
        assert_eq!(
            DpopNonces::with_step(&[1u8; 32], 0).err(),
            Some(NonceKeyError::ZeroStep)
        );
        assert!(!format!("{:?}", nonces()).contains("7, 7"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_never_a_valid_nonce(text in ".{0,80}") {
            prop_assert!(!nonces().is_valid(&text, at(1_700_000_000)));
        }
    }
}
