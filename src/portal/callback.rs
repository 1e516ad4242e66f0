//! The one eAccess callback (`GET /auth/eaccess/callback`): takes the login state and
//! completes what its purpose names: the portal's sign-in, a re-authentication before
//! managing devices, a LuxTrust link, or a portal's sign-in through our provider.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use serde::Deserialize;
use serde_json::json;

use crate::accounts;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::eaccess::{EaccessError, EaccessIdentity, PendingAuth};
use crate::http::{PageError, RequestContext};
use crate::state::AppState;
use crate::web::login::{Purpose, callback_url, eaccess_unavailable};
use crate::web::session;
use crate::web::store;
use crate::web::{now, see_other};

use super::routes::invalid_state;
use super::signin::{self, SignInOutcome};

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// eAccess sends the browser back here. Every failure ends on the error page and
/// creates nothing.
#[get("/auth/eaccess/callback")]
pub(super) async fn eaccess_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<CallbackParams>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let params = params.into_inner();
    let state_value = params
        .state
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(invalid_state)?;
    let now = now();
    let state_hash = session::hash_token(&state_value);
    let login = state
        .db
        .run(move |conn| store::take_login_state(conn, &state_hash, now))
        .await?
        .ok_or_else(invalid_state)?;
    let purpose = Purpose::parse(&login.purpose).ok_or_else(invalid_state)?;
    if purpose == Purpose::LuxtrustLink {
        // A LuxTrust link started by the app in the system browser: no portal session.
        return crate::linking::complete_luxtrust_callback(
            &state,
            login,
            state_value,
            params.code,
            params.iss,
            params.error,
            ctx,
        )
        .await;
    }
    // A portal sign-in completes only in the browser that started it (login CSRF).
    let token = session::token_from_request(&req, &state.settings).ok_or_else(invalid_state)?;
    let session_hash = session::hash_token(&token);
    let (reauth, provider_request, next) = match purpose {
        Purpose::Reauth { device } => (Some(device), None, None),
        Purpose::Provider { request } => (None, Some(request), None),
        Purpose::SignIn { next } => (None, None, next),
        Purpose::LuxtrustLink => (None, None, None),
    };
    if login.session_id_hash != session_hash {
        return Err(invalid_state());
    }

    if let Some(error) = params.error {
        if error == "access_denied" && reauth.is_some() {
            // Cancelling "Unlink my device" at eAccess is no sign-out: the session is
            // intact, so back to the account with its menu, devices unchanged.
            return Ok(see_other("/dashboard?notice=reauth_cancelled"));
        }
        return Err(if error == "access_denied" {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "access_denied",
                crate::i18n::t("portal-signin-cancelled-title"),
                crate::i18n::t("portal-signin-cancelled"),
            )
        } else {
            tracing::warn!(error = %error.chars().take(64).collect::<String>(), "eAccess returned an error");
            PageError::new(
                StatusCode::BAD_GATEWAY,
                "eaccess_error",
                crate::i18n::t("portal-eaccess-error-title"),
                crate::i18n::t("portal-eaccess-error"),
            )
        });
    }
    let code = params
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(invalid_state)?;
    let pending = PendingAuth {
        state: state_value,
        nonce: login.nonce,
        pkce_verifier: login.pkce_verifier,
    };
    let identity = state
        .eaccess
        .complete(
            &callback_url(&state)?,
            &code,
            params.iss.as_deref(),
            &pending,
        )
        .await
        .map_err(|err| match err {
            EaccessError::Unavailable(_) => eaccess_unavailable(err),
            other => sign_in_failed(other),
        })?;
    let product = identity
        .product()
        .ok_or_else(|| sign_in_failed("the product claim names no known product"))?;
    if let Some(device) = reauth {
        // "Unlink my device" forced a new authentication: one from before this login
        // started (an eAccess session reused because prompt=login was stripped) fails.
        let skew = Duration::seconds(state.settings.eaccess.id_token_max_clock_skew_secs);
        if !crate::eaccess::claims::authenticated_since(
            identity.auth_time.naive_utc(),
            login.created_at,
            skew,
        ) {
            tracing::warn!("re-authentication answered from an older eAccess session");
            return Err(reauthentication_too_old());
        }
        return complete_reauthentication(&state, &token, identity, product, device, ctx, now)
            .await;
    }

    let settings = state.settings.clone();
    let old_hash = session::hash_token(&token);
    let outcome = state
        .db
        .run(move |conn| {
            signin::complete_sign_in(conn, &settings, &identity, &product, &old_hash, &ctx, now)
        })
        .await?;
    let (token, target) = match outcome {
        SignInOutcome::SignedIn { token } => (token, "/dashboard".to_owned()),
        SignInOutcome::MustRegister { token } => (token, "/register".to_owned()),
    };
    // Signed in for a portal's authorization request: resume it (docs/oidc-provider.md).
    let target = match provider_request {
        Some(id) => {
            let new_token = token.clone();
            let resume = {
                let id = id.clone();
                state
                    .db
                    .run(move |conn| crate::provider::after_eaccess_sign_in(conn, &id, &new_token))
                    .await?
            };
            if target == "/dashboard" {
                resume
            } else {
                // Register first, then the portal's sign-in continues.
                let mut url = url::Url::parse("http://x/register").map_err(PageError::internal)?;
                url.query_pairs_mut().append_pair("continue", &id);
                format!("{}?{}", url.path(), url.query().unwrap_or_default())
            }
        }
        // The page that asked for a sign-in (dead end: "This was not me" from an
        // e-mail while signed out); a new citizen registers first.
        None => match next {
            Some(next) if target == "/dashboard" => next,
            _ => target,
        },
    };
    let lang_cookie = crate::web::language::signed_in_lang_cookie(&state, &token).await?;
    let mut response = see_other(&target);
    response
        .add_cookie(&session::session_cookie(&state.settings, token))
        .map_err(PageError::internal)?;
    if let Some(cookie) = lang_cookie {
        response.add_cookie(&cookie).map_err(PageError::internal)?;
    }
    Ok(response)
}

fn reauthentication_too_old() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "reauthentication_too_old",
        crate::i18n::t("portal-reauth-too-old-title"),
        crate::i18n::t("portal-reauth-too-old"),
    )
}

/// The citizen re-authenticated to manage devices: it must be the same person, just now.
async fn complete_reauthentication(
    state: &AppState,
    token: &str,
    identity: EaccessIdentity,
    product: accounts::AuthProduct,
    device: Option<String>,
    ctx: RequestContext,
    now: NaiveDateTime,
) -> Result<HttpResponse, PageError> {
    let settings = state.settings.clone();
    let token = token.to_owned();
    let session = state
        .db
        .run(move |conn| session::load(conn, &settings, &token, now))
        .await?
        .ok_or_else(invalid_state)?;
    let account_id = session.account_id.clone().ok_or_else(invalid_state)?;
    let id = account_id.clone();
    let account = state
        .db
        .run(move |conn| accounts::store::find_account(conn, &id))
        .await?
        .ok_or_else(invalid_state)?;
    if account.eaccess_sub != identity.sub {
        tracing::warn!(account = %account.id, "re-authentication by another identity refused");
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "reauthentication_mismatch",
            crate::i18n::t("portal-reauth-mismatch-title"),
            crate::i18n::t("portal-reauth-mismatch"),
        ));
    }
    let max_age = Duration::seconds(state.settings.portal.reauth_max_age_secs);
    if now - identity.auth_time.naive_utc() > max_age {
        return Err(reauthentication_too_old());
    }
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                accounts::store::record_product_use(conn, &account.id, &product, now)?;
                store::set_reauthenticated(conn, &session.id_hash, now)?;
                audit::store::insert_event(
                    conn,
                    &NewAuditEvent::new(
                        EventKind::Reauthenticated,
                        Some(&account.id),
                        json!({"product": product.kind.as_str()}),
                        &ctx,
                        now,
                    ),
                )
            })
        })
        .await?;
    Ok(see_other(&match device {
        Some(id) => format!("/devices?device={id}"),
        None => "/devices".to_owned(),
    }))
}

pub(super) fn sign_in_failed(cause: impl std::fmt::Display) -> PageError {
    tracing::warn!(cause = %cause, "eAccess sign-in refused");
    PageError::new(
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
        crate::i18n::t("portal-sign-in-failed-title"),
        crate::i18n::t("portal-sign-in-failed"),
    )
}
