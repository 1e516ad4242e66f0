//! The phone web app (docs/app.md): the reference implementation of the device API in
//! the browser, served at `/app/` from files compiled into the binary (`static/app/`,
//! `locales/<lang>/app.ftl`). The app talks to the server only over HTTP, like any app.

mod assets;
mod routes;

pub use routes::configure;

/// Where eAccess (through devicelink) brings the browser back after a LuxTrust link:
/// `<public_url>/app/link-callback`, always one of the app redirect URIs.
pub use crate::config::APP_CALLBACK_PATH as CALLBACK_PATH;
