//! The reference device client: what the mobile app does, over HTTP only. It never
//! imports server internals; shared wire pieces come from [`crate::protocol`].

pub mod camera;
pub mod cli;
pub mod client;
pub mod luxtrust;
pub mod proof;

pub use client::{ClientError, DEFAULT_APP_ORIGIN, DeviceClient, DeviceState, Exchange, Observer};
pub use luxtrust::LuxtrustOutcome;
pub use proof::{DeviceKey, DeviceKeyError};
