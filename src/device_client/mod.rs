//! The reference device client: what the mobile app does, over HTTP only. It never
//! imports server internals; shared wire pieces come from [`crate::protocol`].

pub mod proof;

pub use proof::{DeviceKey, DeviceKeyError};
