//! Linked devices and their unlock secrets: the secret-code rules and verifier, the
//! device store (devices, verifiers, passkeys), unlock with lockout, the app's tokens
//! and self-service endpoints.

mod activity;
pub mod auth;
mod contract;
mod manage;
pub mod pages;
pub mod routes;
pub mod secret_code;
pub mod service;
pub mod step_up;
pub mod store;
mod unlock;
pub mod view;

pub use contract::DevicesApi;
pub use secret_code::{SecretCode, SecretCodeError, SecretCodeHasher, SecretCodeParams};
