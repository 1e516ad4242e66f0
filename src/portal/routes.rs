//! Thin handlers for the portal pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, EspaceName, ProductKind};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::OnUniqueViolation;
use crate::eaccess::{AuthOptions, EaccessError, EaccessIdentity, PendingAuth};
use crate::http::{PageError, RequestContext};
use crate::state::AppState;

use crate::web::login::{Purpose, callback_url, eaccess_unavailable, login_state};
use crate::web::nav::nav_for;
use crate::web::session::{self, SessionData};
use crate::web::store::{self, BrowserSession};
use crate::web::{csrf_failed, current_session, format_time, html, now, see_other};

use super::pages::{DashboardPage, EspaceRow, HomePage, ProductRow, RegisterPage};
use super::signin::{self, SignInOutcome};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::email::correct_email)
        .service(home)
        .service(start_sign_in)
        .service(eaccess_callback)
        .service(registration_page)
        .service(submit_registration)
        .service(dashboard)
        .service(add_espace)
        .service(sign_out);
}

fn invalid_state() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_state",
        "This sign-in is no longer valid",
        "This sign-in has expired or was already completed. Nothing was changed. Please sign in again from the home page.",
    )
}

#[get("/")]
async fn home(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    if let Some(session) = current_session(&state, &req).await? {
        if session.account_id.is_some() {
            return Ok(see_other("/dashboard"));
        }
    }
    html(StatusCode::OK, &HomePage { nav: None })
}

/// Starts a sign-in: a pre-authentication session binds the `state`, so a callback
/// can only complete in the browser that started it (login CSRF).
#[get("/auth/login")]
async fn start_sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let existing = current_session(&state, &req).await?;
    if existing.as_ref().is_some_and(|s| s.account_id.is_some()) {
        return Ok(see_other("/dashboard"));
    }
    let redirect = callback_url(&state)?;
    let (url, pending) = state
        .eaccess
        .authorization_request(&redirect, &AuthOptions::default())
        .await
        .map_err(eaccess_unavailable)?;

    let settings = state.settings.clone();
    let now = now();
    let reuse = existing
        .filter(|s| s.pending_registration.is_none())
        .map(|s| s.id_hash);
    let new_token = state
        .db
        .run(move |conn| {
            let (session_hash, token) = match reuse {
                Some(hash) => (hash, None),
                None => {
                    let token = session::create(conn, &settings, SessionData::anonymous(), now)?;
                    (session::hash_token(&token), Some(token))
                }
            };
            store::insert_login_state(
                conn,
                &login_state(&pending, session_hash, &Purpose::SignIn, &settings, now),
                now,
            )?;
            Ok(token)
        })
        .await?;
    let mut response = see_other(url.as_str());
    if let Some(token) = new_token {
        response
            .add_cookie(&session::session_cookie(&state.settings, token))
            .map_err(PageError::internal)?;
    }
    Ok(response)
}

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
async fn eaccess_callback(
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
    let (reauth, provider_request) = match purpose {
        Purpose::Reauth { device } => (Some(device), None),
        Purpose::Provider { request } => (None, Some(request)),
        Purpose::SignIn | Purpose::LuxtrustLink => (None, None),
    };
    if login.session_id_hash != session_hash {
        return Err(invalid_state());
    }

    if let Some(error) = params.error {
        return Err(if error == "access_denied" {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "access_denied",
                "Sign-in cancelled",
                "You cancelled the sign-in at eAccess. Nothing was changed; you can sign in again whenever you like.",
            )
        } else {
            tracing::warn!(error = %error.chars().take(64).collect::<String>(), "eAccess returned an error");
            PageError::new(
                StatusCode::BAD_GATEWAY,
                "eaccess_error",
                "eAccess could not sign you in",
                "The State authentication portal (eAccess) reported a problem. Nothing was changed. Please try again in a few minutes.",
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
        None => target,
    };
    let mut response = see_other(&target);
    response
        .add_cookie(&session::session_cookie(&state.settings, token))
        .map_err(PageError::internal)?;
    Ok(response)
}

fn reauthentication_too_old() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "reauthentication_too_old",
        "Please authenticate again",
        "The authentication at eAccess is not recent enough to manage your devices. Please try again.",
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
            "That was another person",
            "You confirmed your identity as someone else than the person signed in. For your security, devices can only be managed by the account holder. Nothing was changed.",
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

fn sign_in_failed(cause: impl std::fmt::Display) -> PageError {
    tracing::warn!(cause = %cause, "eAccess sign-in refused");
    PageError::new(
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
        "We could not confirm your identity",
        "The answer from eAccess could not be verified, so nothing was changed. Please sign in again.",
    )
}

fn pending_identity(session: &BrowserSession) -> Option<EaccessIdentity> {
    serde_json::from_str(session.pending_registration.as_deref()?).ok()
}

fn register_page(
    state: &AppState,
    session: &BrowserSession,
    identity: &EaccessIdentity,
    email: String,
    problem: Option<&'static str>,
    continue_request: Option<String>,
) -> RegisterPage {
    RegisterPage {
        continue_request,
        nav: None,
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        email,
        csrf_token: session.csrf_token.clone(),
        terms_url: state.settings.portal.terms_url.to_string(),
        problem,
    }
}

#[get("/register")]
async fn registration_page(
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

fn continue_request(value: Option<String>) -> Option<String> {
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
async fn submit_registration(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RegisterForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    if session.account_id.is_some() {
        return Ok(see_other("/dashboard"));
    }
    let Some(identity) = pending_identity(&session) else {
        return Ok(see_other("/"));
    };
    let email = form.email.trim().to_owned();
    let problem = if !signin::is_plausible_email(&email) {
        Some(super::email::INVALID_EMAIL)
    } else if form.accept_terms.as_deref() != Some("yes") {
        Some("To create your account, accept the terms of use.")
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

pub(super) async fn render_dashboard(
    state: &AppState,
    session: BrowserSession,
    account_id: String,
    status: StatusCode,
    problem: Option<&'static str>,
) -> Result<HttpResponse, PageError> {
    render_dashboard_with(state, session, account_id, status, problem, None).await
}

/// The dashboard, with a problem of the e-mail correction form if there was one.
pub(super) async fn render_dashboard_with(
    state: &AppState,
    session: BrowserSession,
    account_id: String,
    status: StatusCode,
    problem: Option<&'static str>,
    email_problem: Option<(&'static str, String)>,
) -> Result<HttpResponse, PageError> {
    let id = account_id.clone();
    let loaded = state
        .db
        .run(move |conn| {
            let Some(account) = accounts::store::find_account(conn, &id)? else {
                return Ok(None);
            };
            let espaces = accounts::store::find_espaces(conn, &id)?;
            let products = accounts::store::find_products(conn, &id)?;
            Ok(Some((account, espaces, products)))
        })
        .await?;
    let Some((account, espaces, products)) = loaded else {
        return Ok(see_other("/"));
    };
    let product_label = session
        .product_kind
        .as_deref()
        .and_then(|k| k.parse::<ProductKind>().ok())
        .map_or("eAccess", ProductKind::label);
    let email_unusable = !crate::mail::is_sendable_address(&account.email);
    let (email_problem, email) = match email_problem {
        Some((problem, typed)) => (Some(problem), typed),
        None => (None, account.email.clone()),
    };
    let page = DashboardPage {
        nav: Some(nav_for(&session, account.display_name())),
        email_unusable: email_unusable || email_problem.is_some(),
        email,
        email_problem,
        display_name: account.display_name(),
        product_label,
        espaces: espaces
            .into_iter()
            .map(|e| EspaceRow {
                name: e.name,
                kind: e.kind,
            })
            .collect(),
        products: products
            .into_iter()
            .map(|p| ProductRow {
                label: p
                    .kind
                    .parse::<ProductKind>()
                    .map_or("Unknown product", ProductKind::label),
                serial: p.serial,
                first_used: format_time(p.first_used_at),
                last_used: format_time(p.last_used_at),
            })
            .collect(),
        csrf_token: session.csrf_token.clone(),
        problem,
    };
    html(status, &page)
}

#[get("/dashboard")]
async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(see_other("/"));
    };
    render_dashboard(&state, session, account_id, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
struct EspaceForm {
    csrf_token: String,
    name: String,
}

#[post("/espaces")]
async fn add_espace(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<EspaceForm>,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let Some(account_id) = session.account_id.clone() else {
        return Ok(see_other("/"));
    };
    let name = match EspaceName::try_from(form.name.as_str()) {
        Ok(name) => name,
        Err(problem) => {
            return render_dashboard(
                &state,
                session,
                account_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problem),
            )
            .await;
        }
    };
    let id = account_id.clone();
    let now = now();
    let inserted = state
        .db
        .run(move |conn| {
            accounts::store::insert_business_espace(conn, &id, &name, now).on_unique_violation(())
        })
        .await?;
    if inserted.is_err() {
        return render_dashboard(
            &state,
            session,
            account_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("You already have an eSpace with this name."),
        )
        .await;
    }
    Ok(see_other("/dashboard"))
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    csrf_token: String,
}

/// Ends the portal session, then the eAccess session (RP-initiated logout).
#[post("/auth/logout")]
async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let hint = session.id_token_hint.clone();
    let now = now();
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                if store::delete_session(conn, &session.id_hash)? {
                    if let Some(account_id) = &session.account_id {
                        audit::store::insert_event(
                            conn,
                            &NewAuditEvent::new(
                                EventKind::SignedOut,
                                Some(account_id),
                                json!({}),
                                &ctx,
                                now,
                            ),
                        )?;
                    }
                }
                Ok(())
            })
        })
        .await?;
    let after_logout = state.settings.server.public_url.clone();
    let target = state
        .eaccess
        .end_session_url(hint.as_deref(), &after_logout)
        .map_or_else(|| "/".to_owned(), |u| u.to_string());
    let mut response = see_other(&target);
    response
        .add_cookie(&session::removal_cookie(&state.settings))
        .map_err(PageError::internal)?;
    Ok(response)
}
