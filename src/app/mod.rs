//! The phone web app (docs/app.md): the reference implementation of the device API in
//! the browser, served at `/app/` from files compiled into the binary (`static/app/`,
//! `locales/<lang>/app.ftl`). The app talks to the server only over HTTP, like any app.

mod assets;
mod routes;

pub use routes::configure;

use crate::config::Settings;

/// Where devicelink sends the browser back after a LuxTrust link started in the web app.
pub const CALLBACK_PATH: &str = "/app/link-callback";

/// `<public_url>/app/link-callback`: it joins `linking.app_redirect_uris` wherever they
/// are checked. It is this server's own page, so it may be plain http (a loopback demo),
/// which the settings refuse for the apps' URIs.
pub fn callback_uri(settings: &Settings) -> Option<String> {
    let url = settings.server.public_url.join(CALLBACK_PATH).ok()?;
    Some(url.into())
}
