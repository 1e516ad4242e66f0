//! Signing keys and JWKS, DPoP proof verification and server nonces, for the device API
//! and the OIDC provider, the app's access and refresh tokens. The protocol pieces are
//! pure; `store` holds the diesel code, `guard` and `routes` the HTTP glue.

pub mod access;
pub mod dpop;
pub mod guard;
pub mod jwk;
mod jws;
pub mod key_store;
pub mod keys;
pub mod nonce;
pub mod routes;
pub mod rsa_key;
pub mod store;

#[cfg(test)]
mod dpop_tests;

pub use access::{AccessClaims, AccessTokenError, Grant, TokenIssuer, UnlockMethod};
pub use dpop::{
    DpopError, IatWindow, NonceCheck, ProofExpectations, VerifiedProof, jti_key, single_proof,
    verify_proof,
};
pub use jwk::{Jkt, JwkError, PublicJwk};
pub use keys::{Jwks, JwksEntry, JwtError, KeyError, PublicKeyWithKid, SigningKey, verify_jwt};
pub use nonce::{DpopNonces, NonceKeyError};
pub use routes::JwksApi;
pub use rsa_key::{RsaAlg, RsaPublicKey, RsaSigningKey, verify_rsa_jwt};
