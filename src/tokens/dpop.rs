//! DPoP proof validation, RFC 9449 section 4.3, as a pure function of the proof, what
//! the request expects and `now`. Replay of `jti` is the caller's to check against the
//! database with [`jti_key`]; server nonces come from [`super::DpopNonces`].

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use url::Url;

use super::jwk::{Jkt, JwkError, PublicJwk};
use super::jws::{self, JwsShapeError};
use super::nonce::DpopNonces;
use crate::protocol::{self, DPOP_TYP, ES256};

/// Largest proof accepted; a real one is about 600 bytes.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` accepted, in characters.
pub const MAX_JTI_CHARS: usize = 128;

/// Why a DPoP proof was refused. [`DpopError::code`] is a stable detail for logs and
/// audit; [`DpopError::error`] is the RFC 9449 error code for the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("The request carries no DPoP proof.")]
    MissingProof,
    #[error("The request carries more than one DPoP proof.")]
    MultipleProofs,
    #[error("The DPoP proof is too large.")]
    TooLarge,
    #[error("The DPoP proof is not a well-formed JWT.")]
    Malformed,
    #[error("The DPoP proof's typ must be dpop+jwt.")]
    WrongType,
    #[error("The DPoP proof must be signed with ES256.")]
    UnsupportedAlgorithm,
    #[error("The DPoP proof names critical extensions that are not supported.")]
    UnsupportedCritical,
    #[error("The DPoP proof's header has no jwk.")]
    MissingJwk,
    #[error("The DPoP proof's jwk contains a private key.")]
    PrivateKeyInJwk,
    #[error("The DPoP proof's jwk is not an EC P-256 public key.")]
    InvalidJwk,
    #[error("The DPoP proof's signature does not verify with its jwk.")]
    BadSignature,
    #[error("The DPoP proof lacks the `{0}` claim.")]
    MissingClaim(&'static str),
    #[error("The DPoP proof's jti must have 1 to 128 characters.")]
    InvalidJti,
    #[error("The DPoP proof was made for another HTTP method.")]
    HtmMismatch,
    #[error("The DPoP proof was made for another URL.")]
    HtuMismatch,
    #[error("The DPoP proof is too old.")]
    IatTooOld,
    #[error("The DPoP proof was made in the future.")]
    IatInFuture,
    #[error("The DPoP proof lacks the ath claim for the access token.")]
    MissingAth,
    #[error("The DPoP proof's ath does not match the access token.")]
    AthMismatch,
    #[error("The DPoP proof must carry the server's nonce.")]
    MissingNonce,
    #[error("The DPoP proof's nonce is not valid; use the new one.")]
    InvalidNonce,
    #[error("The DPoP proof was signed by a key other than the bound one.")]
    JktMismatch,
}

impl DpopError {
    /// A stable snake_case name of the failed check.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingProof => "missing_proof",
            Self::MultipleProofs => "multiple_proofs",
            Self::TooLarge => "proof_too_large",
            Self::Malformed => "malformed_proof",
            Self::WrongType => "wrong_typ",
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::UnsupportedCritical => "unsupported_crit",
            Self::MissingJwk => "missing_jwk",
            Self::PrivateKeyInJwk => "private_key_in_jwk",
            Self::InvalidJwk => "invalid_jwk",
            Self::BadSignature => "bad_signature",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidJti => "invalid_jti",
            Self::HtmMismatch => "htm_mismatch",
            Self::HtuMismatch => "htu_mismatch",
            Self::IatTooOld => "iat_too_old",
            Self::IatInFuture => "iat_in_future",
            Self::MissingAth => "missing_ath",
            Self::AthMismatch => "ath_mismatch",
            Self::MissingNonce => "missing_nonce",
            Self::InvalidNonce => "invalid_nonce",
            Self::JktMismatch => "jkt_mismatch",
        }
    }

    /// The OAuth error code: `use_dpop_nonce` when the client should retry with the nonce
    /// sent in `DPoP-Nonce` (RFC 9449 section 8), otherwise `invalid_dpop_proof` (section
    /// 5 and 7.1). A resource server answers a [`Self::JktMismatch`] or
    /// [`Self::AthMismatch`] with `invalid_token` instead (section 7.1).
    pub fn error(self) -> &'static str {
        match self {
            Self::MissingNonce | Self::InvalidNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// How far `iat` may lie before or after `now` (RFC 9449 section 11.1). The defaults
/// (60 s past, 5 s future) allow a slow network and a slightly fast phone clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IatWindow {
    pub past: TimeDelta,
    pub future: TimeDelta,
}

impl Default for IatWindow {
    fn default() -> Self {
        Self {
            past: TimeDelta::seconds(60),
            future: TimeDelta::seconds(5),
        }
    }
}

/// Whether the proof must carry a server nonce, and how to check it (RFC 9449 section 8).
#[derive(Clone, Copy, Default)]
pub enum NonceCheck<'a> {
    #[default]
    NotRequired,
    /// A nonce issued by [`DpopNonces`] and still valid.
    Server(&'a DpopNonces),
    /// Any other rule, e.g. a nonce stored with a ceremony.
    Verifier(&'a dyn Fn(&str) -> bool),
}

/// What the request at hand expects of its proof.
pub struct ProofExpectations<'a> {
    /// The request's HTTP method, e.g. `POST`.
    pub htm: &'a str,
    /// The request's URL as the client addressed it (the public base URL plus the path).
    pub htu: &'a Url,
    pub iat_window: IatWindow,
    /// The access token sent with the request; `ath` is then required (section 4.3 step 12).
    pub access_token: Option<&'a str>,
    pub nonce: NonceCheck<'a>,
    /// The key the token or session is bound to, if any (section 4.3 step 12).
    pub expected_jkt: Option<&'a Jkt>,
}

impl<'a> ProofExpectations<'a> {
    /// Expectations for a request without access token, nonce or binding, default window.
    pub fn new(htm: &'a str, htu: &'a Url) -> Self {
        Self {
            htm,
            htu,
            iat_window: IatWindow::default(),
            access_token: None,
            nonce: NonceCheck::NotRequired,
            expected_jkt: None,
        }
    }
}

/// A proof that passed every check but replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The thumbprint of the proof's key (RFC 9449 section 6.1).
    pub jkt: Jkt,
    pub jti: String,
    pub iat: DateTime<Utc>,
}

impl VerifiedProof {
    /// Until when the `jti` must be remembered: after `iat + past` the proof is refused
    /// as too old anyway (RFC 9449 section 11.1).
    pub fn jti_expires_at(&self, window: IatWindow) -> DateTime<Utc> {
        self.iat + window.past
    }
}

/// Picks the single `DPoP` header of a request (RFC 9449 section 4.3 step 1).
pub fn single_proof<'h>(values: impl IntoIterator<Item = &'h str>) -> Result<&'h str, DpopError> {
    let mut values = values.into_iter();
    let first = values.next().ok_or(DpopError::MissingProof)?;
    if values.next().is_some() {
        return Err(DpopError::MultipleProofs);
    }
    Ok(first)
}

/// The key under which the caller records a used `jti`: SHA-256 hex of `jkt '.' jti`, so
/// the database stores no proof material and two keys' `jti`s never collide (`jkt` is
/// base64url and has no '.').
pub fn jti_key(jkt: &Jkt, jti: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(jkt.as_str().as_bytes());
    hash.update(b".");
    hash.update(jti.as_bytes());
    hex::encode(hash.finalize())
}

/// Checks a DPoP proof, RFC 9449 section 4.3, steps in the RFC's order.
pub fn verify_proof(
    proof: &str,
    expect: &ProofExpectations<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedProof, DpopError> {
    // Step 2: a well-formed JWS (the size bound keeps parsing cheap).
    let compact = jws::split(proof, MAX_PROOF_BYTES).map_err(|e| match e {
        JwsShapeError::TooLarge => DpopError::TooLarge,
        JwsShapeError::Malformed => DpopError::Malformed,
    })?;
    let header = &compact.header;
    // Step 4: explicit type; media types compare case-insensitively (RFC 7515 4.1.9).
    if !str_claim(header, "typ").is_some_and(|typ| typ.eq_ignore_ascii_case(DPOP_TYP)) {
        return Err(DpopError::WrongType);
    }
    // Step 5: an asymmetric algorithm, never "none" or a MAC; we support ES256 only.
    if str_claim(header, "alg") != Some(ES256) {
        return Err(DpopError::UnsupportedAlgorithm);
    }
    // RFC 7515 section 4.1.11: unknown critical extensions make the JWS invalid.
    if header.contains_key("crit") {
        return Err(DpopError::UnsupportedCritical);
    }
    // Step 7: a public key, no private member.
    let jwk = header.get("jwk").ok_or(DpopError::MissingJwk)?;
    let jwk = PublicJwk::from_json_value(jwk).map_err(|e| match e {
        JwkError::PrivateMember(_) => DpopError::PrivateKeyInJwk,
        _ => DpopError::InvalidJwk,
    })?;
    // Step 6: the signature, with the key from the header.
    jwk.verify_es256(compact.signing_input.as_bytes(), &compact.signature)
        .map_err(|_| DpopError::BadSignature)?;

    let claims = &compact.claims;
    // Step 3: the required claims.
    let jti = str_claim(claims, "jti").ok_or(DpopError::MissingClaim("jti"))?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(DpopError::InvalidJti);
    }
    let htm = str_claim(claims, "htm").ok_or(DpopError::MissingClaim("htm"))?;
    let htu = str_claim(claims, "htu").ok_or(DpopError::MissingClaim("htu"))?;
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or(DpopError::MissingClaim("iat"))?;

    // Step 8: methods are case-sensitive (RFC 9110 section 9.1).
    if htm != expect.htm {
        return Err(DpopError::HtmMismatch);
    }
    // Step 9.
    if !same_target_uri(htu, expect.htu) {
        return Err(DpopError::HtuMismatch);
    }
    // Step 10.
    check_nonce(claims, expect.nonce, now)?;
    // Step 11.
    let now_secs = now.timestamp();
    if iat < now_secs.saturating_sub(expect.iat_window.past.num_seconds()) {
        return Err(DpopError::IatTooOld);
    }
    if iat > now_secs.saturating_add(expect.iat_window.future.num_seconds()) {
        return Err(DpopError::IatInFuture);
    }
    let iat = DateTime::from_timestamp(iat, 0).ok_or(DpopError::Malformed)?;
    // Step 12: the access token hash, compared in constant time.
    if let Some(token) = expect.access_token {
        let ath = str_claim(claims, "ath").ok_or(DpopError::MissingAth)?;
        let expected = protocol::access_token_hash(token);
        if !bool::from(ath.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(DpopError::AthMismatch);
        }
    }
    // Step 12: the key the token (or session) is bound to.
    let jkt = jwk.jkt();
    if let Some(bound) = expect.expected_jkt {
        if !bool::from(jkt.as_str().as_bytes().ct_eq(bound.as_str().as_bytes())) {
            return Err(DpopError::JktMismatch);
        }
    }
    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

fn check_nonce(
    claims: &Map<String, Value>,
    check: NonceCheck<'_>,
    now: DateTime<Utc>,
) -> Result<(), DpopError> {
    if matches!(check, NonceCheck::NotRequired) {
        return Ok(());
    }
    let nonce = str_claim(claims, "nonce").ok_or(DpopError::MissingNonce)?;
    let is_valid = match check {
        NonceCheck::NotRequired => true,
        NonceCheck::Server(nonces) => nonces.is_valid(nonce, now),
        NonceCheck::Verifier(verify) => verify(nonce),
    };
    if is_valid {
        Ok(())
    } else {
        Err(DpopError::InvalidNonce)
    }
}

fn str_claim<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    map.get(name).and_then(Value::as_str)
}

/// A NumericDate (RFC 7519 section 2): seconds, possibly fractional; truncated.
fn numeric_date(value: &Value) -> Option<i64> {
    if let Some(secs) = value.as_i64() {
        return Some(secs);
    }
    let secs = value.as_f64()?;
    // Outside +-2^53 a float no longer counts whole seconds; no real iat is there.
    (secs.is_finite() && secs.abs() < 9_007_199_254_740_992.0).then(|| secs.trunc() as i64)
}

/// RFC 9449 section 4.3 step 9: compare `htu` with the request URL without query and
/// fragment, after the syntax- and scheme-based normalization of RFC 3986 sections
/// 6.2.2 and 6.2.3 (the `url` crate lowercases scheme and host, drops default ports and
/// resolves dot segments when parsing).
pub fn same_target_uri(htu: &str, request: &Url) -> bool {
    let Ok(claimed) = Url::parse(htu) else {
        return false;
    };
    claimed.scheme() == request.scheme()
        && claimed.host_str() == request.host_str()
        && claimed.port_or_known_default() == request.port_or_known_default()
        && normalized_path(&claimed) == normalized_path(request)
}

/// An empty path and "/" are the same for http(s) (RFC 3986 section 6.2.3).
fn normalized_path(url: &Url) -> &str {
    match url.path() {
        "" => "/",
        path => path,
    }
}
