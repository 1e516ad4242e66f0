//! Linking a device to an account. For now the pure QR pieces: the single-use link code
//! and its anti-relay animated frames; link sessions, store and routes come later.

pub mod qr;

pub use qr::{LinkCode, QrError, QrFrames, ScannedFrame, link_url, parse_link_url};
