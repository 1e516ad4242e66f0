//! devicelink: link a citizen's phone to their portal account, then open the app with a
//! 6-digit secret code or biometrics. See docs/architecture.md for the module map.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod bench;
pub mod config;
pub mod db;
pub mod demo_portal;
pub mod device_client;
pub mod devices;
pub mod eaccess;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod i18n;
pub mod janitor;
pub mod linking;
pub mod mail;
pub mod mock_idp;
pub mod openapi;
pub mod ops;
pub mod portal;
pub mod protocol;
pub mod provider;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod web;

pub use startup::Application;
pub use state::AppState;
