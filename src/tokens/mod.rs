//! Signing keys and JWKS, DPoP proof verification and server nonces, for the device API
//! and the OIDC provider. Everything here is pure: no database, no HTTP types.

pub mod dpop;
pub mod guard;
pub mod jwk;
mod jws;
pub mod keys;
pub mod nonce;

#[cfg(test)]
mod dpop_tests;

pub use dpop::{
    DpopError, IatWindow, NonceCheck, ProofExpectations, VerifiedProof, jti_key, single_proof,
    verify_proof,
};
pub use jwk::{Jkt, JwkError, PublicJwk};
pub use keys::{Jwks, JwksEntry, JwtError, KeyError, PublicKeyWithKid, SigningKey, verify_jwt};
pub use nonce::{DpopNonces, NonceKeyError};
