//! The authorization request's life, shared by the authorize pages and the app
//! approval: the request bound to this browser, its client, answering the client
//! (code or error, RFC 6749 section 4.1.2 and RFC 9207 `iss`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::config::ClientSettings;
use crate::db::StoreError;
use crate::http::{PageError, RequestContext};
use crate::state::AppState;
use crate::web::session;
use crate::web::store::BrowserSession;
use crate::web::{current_session, see_other};

use super::endpoint::{issuer, now};
use super::rules::{self, CurrentAuth};
use super::service::{self, Authenticated, CodeIssue};
use super::store::{self, RequestRow};

/// The redirect back to the portal with `params` plus `state` and `iss` (RFC 9207),
/// built with `query_pairs_mut`, never by concatenation.
pub(super) fn redirect_to_client(
    state: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    client_state: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let mut url = url::Url::parse(redirect_uri).map_err(PageError::internal)?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(s) = client_state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &issuer(state));
    }
    Ok(see_other(url.as_str()))
}

pub(super) fn error_redirect(
    state: &AppState,
    request: &RequestRow,
    code: &str,
    description: &str,
) -> Result<HttpResponse, PageError> {
    redirect_to_client(
        state,
        &request.redirect_uri,
        &[("error", code), ("error_description", description)],
        request.state.as_deref(),
    )
}

pub(super) fn current_auth(session: &BrowserSession) -> Option<(String, CurrentAuth, Vec<String>)> {
    let account = session.account_id.clone()?;
    let product = session.product_kind.clone()?;
    Some((
        account,
        CurrentAuth {
            auth_time: session.auth_time?,
            acr: rules::eaccess_acr(&product),
        },
        rules::eaccess_amr(&product),
    ))
}

pub(super) fn split(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) async fn finish_denied(state: &AppState, row: &RequestRow) -> Result<bool, StoreError> {
    let id = row.id_hash.clone();
    state
        .db
        .run(move |conn| store::finish_request(conn, &id, "denied"))
        .await
}

pub(super) async fn issue_and_redirect(
    state: &AppState,
    row: RequestRow,
    auth: Authenticated,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let settings = state.settings.clone();
    let now = now();
    let stored = row.clone();
    let code = state
        .db
        .run(move |conn| service::issue_code(conn, &settings.provider, &stored, &auth, &ctx, now))
        .await?;
    match code {
        CodeIssue::Issued(code) => redirect_to_client(
            state,
            &row.redirect_uri,
            &[("code", &code)],
            row.state.as_deref(),
        ),
        CodeIssue::Gone => Err(request_gone()),
        CodeIssue::DeviceInactive => error_redirect(
            state,
            &row,
            "access_denied",
            "the app that approved the sign-in is locked or unlinked",
        ),
    }
}

pub(super) fn request_gone() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_state",
        crate::i18n::t("provider-gone-title"),
        crate::i18n::t("provider-gone"),
    )
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct RequestQuery {
    pub(super) request: String,
}

/// The pending request `id`, if this browser's session is the one it is bound to.
pub(super) async fn bound_request(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(RequestRow, BrowserSession), PageError> {
    if id.is_empty() || id.len() > 64 {
        return Err(request_gone());
    }
    let session = current_session(state, req)
        .await?
        .ok_or_else(request_gone)?;
    let id = session::hash_token(id);
    let now = now();
    let row = state
        .db
        .run(move |conn| store::find_pending_request(conn, &id, now))
        .await?
        .ok_or_else(request_gone)?;
    if row.session_id_hash.as_deref() != Some(session.id_hash.as_str()) {
        return Err(request_gone());
    }
    Ok((row, session))
}

pub(super) fn client_of<'a>(
    state: &'a AppState,
    row: &RequestRow,
) -> Result<&'a ClientSettings, PageError> {
    state
        .settings
        .provider
        .client(&row.client_id)
        .ok_or_else(request_gone)
}
