//! Linking a device to an account: single-use QR link codes and their anti-relay
//! animated frames, link sessions (a state machine), the device API's link endpoints and
//! the browser's "Link a device" page.

mod contract;
mod finish;
mod live_code;
pub mod luxtrust;
pub mod pages;
pub mod passkeys;
pub mod qr;
pub mod render;
mod reset;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
pub mod view;

pub use contract::LinkingApi;
pub use luxtrust::complete_callback as complete_luxtrust_callback;
pub use qr::{LinkCode, QrError, QrFrames, ScannedFrame, link_url, parse_link_url};
