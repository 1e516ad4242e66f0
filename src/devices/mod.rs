//! Devices and their unlock secrets. For now the pure secret-code rules and verifier;
//! the store and routes come with the unlock feature.

pub mod secret_code;

pub use secret_code::{SecretCode, SecretCodeError, SecretCodeHasher, SecretCodeParams};
