//! Registration (`GET|POST /register`): a citizen signed in at eAccess for the first
//! time confirms their name and email address.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;

use crate::eaccess::EaccessIdentity;
use crate::http::{PageError, RequestContext};
use crate::state::AppState;
use crate::web::store::BrowserSession;
use crate::web::{current_session, form_session, html, now, see_other};

use super::callback::sign_in_failed;
use super::pages::RegisterPage;
use super::signin;

fn pending_identity(session: &BrowserSession) -> Option<EaccessIdentity> {
    serde_json::from_str(session.pending_registration.as_deref()?).ok()
}

fn register_page(
    state: &AppState,
    session: &BrowserSession,
    identity: &EaccessIdentity,
    email: String,
    problem: Option<String>,
    continue_request: Option<String>,
) -> RegisterPage {
    RegisterPage {
        continue_request,
        nav: None,
        welcome_name: format!("{} {}", identity.given_name, identity.family_name),
        email,
        csrf_token: session.csrf_token.clone(),
        terms_url: crate::web::escape_html(state.settings.portal.terms_url.as_str()),
        problem,
    }
}

#[get("/register")]
pub(super) async fn registration_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ContinueQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    if session.account_id.is_some() {
        return Ok(see_other("/dashboard"));
    }
    let Some(identity) = pending_identity(&session) else {
        return Ok(see_other("/"));
    };
    let email = identity.email.clone().unwrap_or_default();
    html(
        StatusCode::OK,
        &register_page(
            &state,
            &session,
            &identity,
            email,
            None,
            continue_request(query.into_inner().r#continue),
        ),
    )
}

/// A portal's sign-in (docs/oidc-provider.md) to resume after registering.
#[derive(Debug, Deserialize)]
struct ContinueQuery {
    r#continue: Option<String>,
}

pub(super) fn continue_request(value: Option<String>) -> Option<String> {
    value.filter(|v| {
        !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[derive(Debug, Deserialize)]
struct RegisterForm {
    r#continue: Option<String>,
    csrf_token: String,
    email: String,
    accept_terms: Option<String>,
}

#[post("/register")]
pub(super) async fn submit_registration(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RegisterForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(session) = form_session(&state, &req, &form.csrf_token).await? else {
        return Ok(see_other("/"));
    };
    if session.account_id.is_some() {
        return Ok(see_other("/dashboard"));
    }
    let Some(identity) = pending_identity(&session) else {
        return Ok(see_other("/"));
    };
    let email = form.email.trim().to_owned();
    let problem = if !signin::is_plausible_email(&email) {
        Some(super::email::invalid_email())
    } else if form.accept_terms.as_deref() != Some("yes") {
        Some(crate::i18n::t("portal-accept-terms"))
    } else {
        None
    };
    if problem.is_some() {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &register_page(
                &state,
                &session,
                &identity,
                email,
                problem,
                continue_request(form.r#continue.clone()),
            ),
        );
    }
    let product = identity
        .product()
        .ok_or_else(|| sign_in_failed("the pending identity names no known product"))?;
    let now = now();
    state
        .db
        .run(move |conn| signin::register(conn, &session, &identity, &product, &email, &ctx, now))
        .await?;
    // Came from a portal's sign-in: continue it (the request checks this session).
    if let Some(id) = continue_request(form.into_inner().r#continue) {
        let mut url =
            url::Url::parse("http://x/oidc/authorize/resume").map_err(PageError::internal)?;
        url.query_pairs_mut().append_pair("request", &id);
        return Ok(see_other(&format!(
            "{}?{}",
            url.path(),
            url.query().unwrap_or_default()
        )));
    }
    Ok(see_other("/dashboard"))
}
