//! Starting an eAccess login, for every feature that sends the browser to eAccess:
//! the portal's sign-in, re-authentication before managing devices, a LuxTrust link
//! started by the app, and a portal's sign-in through our OpenID provider. They share
//! one callback (`CALLBACK_PATH`, handled by the portal), which dispatches on the
//! login's [`Purpose`].

use actix_web::HttpResponse;
use chrono::{Duration, NaiveDateTime};
use url::Url;

use crate::config::Settings;
use crate::eaccess::{AuthOptions, EaccessError, PendingAuth};
use crate::http::PageError;
use crate::state::AppState;

use super::page::{now, see_other};
use super::session;
use super::store::{self, LoginState};

/// The path eAccess redirects back to; registered at eAccess as `<public_url>` + this.
pub const CALLBACK_PATH: &str = "/auth/eaccess/callback";

/// Why a login was started: what its callback completes. Stored as text with the
/// login state (`oidc_login_states.purpose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// The portal's sign-in; `next` is the allow-listed page to continue to
    /// ([`super::continue_to::safe_next`]), else the dashboard.
    SignIn { next: Option<String> },
    /// Re-authentication before managing devices; `device` is the one to unlink next.
    Reauth { device: Option<String> },
    /// A LuxTrust link started by the app in the system browser (no portal session).
    LuxtrustLink,
    /// A portal's sign-in through our OpenID provider: the pending request's id.
    Provider { request: String },
}

impl Purpose {
    pub fn as_stored(&self) -> String {
        match self {
            Self::SignIn { next: None } => "sign_in".to_owned(),
            Self::SignIn { next: Some(next) } => format!("sign_in:{next}"),
            Self::Reauth { device: None } => "reauth".to_owned(),
            Self::Reauth {
                device: Some(device),
            } => format!("reauth:{device}"),
            Self::LuxtrustLink => "link".to_owned(),
            Self::Provider { request } => format!("provider:{request}"),
        }
    }

    /// The purpose a stored login names; `None` for anything we never write.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored.split_once(':') {
            None => match stored {
                "sign_in" => Some(Self::SignIn { next: None }),
                "reauth" => Some(Self::Reauth { device: None }),
                "link" => Some(Self::LuxtrustLink),
                _ => None,
            },
            Some(("reauth", device)) if !device.is_empty() => Some(Self::Reauth {
                device: Some(device.to_owned()),
            }),
            Some(("sign_in", next)) => {
                super::continue_to::safe_next(next).map(|next| Self::SignIn {
                    next: Some(next.to_owned()),
                })
            }
            Some(("provider", request)) if !request.is_empty() => Some(Self::Provider {
                request: request.to_owned(),
            }),
            Some(_) => None,
        }
    }
}

/// `<public_url>/auth/eaccess/callback`.
pub fn callback_url(state: &AppState) -> Result<Url, PageError> {
    state
        .settings
        .server
        .public_url
        .join(CALLBACK_PATH)
        .map_err(PageError::internal)
}

/// The login state to keep for `pending`: only the hash of its `state`, bound to the
/// browser session (or link session) `session_id_hash`, expiring with the eAccess login
/// timeout.
pub fn login_state(
    pending: &PendingAuth,
    session_id_hash: String,
    purpose: &Purpose,
    settings: &Settings,
    now: NaiveDateTime,
) -> LoginState {
    LoginState {
        state_hash: session::hash_token(&pending.state),
        session_id_hash,
        purpose: purpose.as_stored(),
        nonce: pending.nonce.clone(),
        pkce_verifier: pending.pkce_verifier.clone(),
        created_at: now,
        expires_at: now + Duration::seconds(settings.eaccess.login_timeout_secs),
    }
}

/// eAccess did not answer (discovery or the request could not be built).
pub fn eaccess_unavailable(err: EaccessError) -> PageError {
    PageError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "eaccess_unavailable",
        crate::i18n::t("page-eaccess-unavailable-title"),
        crate::i18n::t("page-eaccess-unavailable"),
    )
    .with_cause(err)
}

/// How a feature's page tells that eAccess cannot be reached.
pub type Unavailable = fn(EaccessError) -> PageError;

/// Sends the browser to eAccess with `options`: records the login state for
/// `session_id_hash` and `purpose`, then answers the redirect.
pub async fn redirect_to_eaccess(
    state: &AppState,
    options: &AuthOptions,
    session_id_hash: String,
    purpose: Purpose,
    unavailable: Unavailable,
) -> Result<HttpResponse, PageError> {
    let redirect = callback_url(state)?;
    let (url, pending) = state
        .eaccess
        .authorization_request(&redirect, options)
        .await
        .map_err(unavailable)?;
    let now = now();
    let login = login_state(&pending, session_id_hash, &purpose, &state.settings, now);
    state
        .db
        .run(move |conn| store::insert_login_state(conn, &login, now))
        .await?;
    Ok(see_other(url.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_purpose_reads_back_as_written() {
        for purpose in [
            Purpose::SignIn { next: None },
            Purpose::SignIn {
                next: Some("/devices?device=0b6c3f9e-64c4-4f5e-9d1c-0c1f6f2b8a11".into()),
            },
            Purpose::Reauth { device: None },
            Purpose::Reauth {
                device: Some("0b6c3f9e-64c4-4f5e-9d1c-0c1f6f2b8a11".into()),
            },
            Purpose::LuxtrustLink,
            Purpose::Provider {
                request: "abc".into(),
            },
        ] {
            assert_eq!(Purpose::parse(&purpose.as_stored()), Some(purpose));
        }
    }

    #[test]
    fn the_stored_forms_do_not_change() {
        // Logins in flight during an upgrade were written by the previous version.
        assert_eq!(Purpose::SignIn { next: None }.as_stored(), "sign_in");
        assert_eq!(Purpose::LuxtrustLink.as_stored(), "link");
        assert_eq!(
            Purpose::parse("reauth:d1"),
            Some(Purpose::Reauth {
                device: Some("d1".into())
            })
        );
        assert_eq!(
            Purpose::parse("provider:r1"),
            Some(Purpose::Provider {
                request: "r1".into()
            })
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for stored in [
            "",
            "provider",
            "provider:",
            "reauth:",
            "link:x",
            "sign_in:x",
            "sign_in:",
            "sign_in://evil.example/",
            "other",
        ] {
            assert_eq!(Purpose::parse(stored), None, "{stored}");
        }
    }
}
