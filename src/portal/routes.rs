//! Thin handlers for the portal pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, route, web};
use diesel::Connection;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, EspaceKind, EspaceName, ProductKind};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::OnUniqueViolation;
use crate::eaccess::AuthOptions;
use crate::http::{PageError, RequestContext};
use crate::state::AppState;
use crate::web::continue_to;
use crate::web::login::{Purpose, callback_url, eaccess_unavailable, login_state};
use crate::web::nav::nav_for;
use crate::web::session::{self, SessionData};
use crate::web::store::{self, BrowserSession};
use crate::web::{current_session, form_session, format_time, html, now, see_other};

use super::pages::{DashboardPage, EspaceRow, HelpPage, HomePage, ProductRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::email::correct_email)
        .service(home)
        .service(help)
        .service(start_sign_in)
        .service(super::callback::eaccess_callback)
        .service(super::register::registration_page)
        .service(super::register::submit_registration)
        .service(dashboard)
        .service(add_espace)
        .service(sign_out);
}

pub(super) fn invalid_state() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_state",
        crate::i18n::t("portal-invalid-state-title"),
        crate::i18n::t("portal-invalid-state"),
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

impl NextQuery {
    /// The allow-listed page to continue to after signing in, if any.
    fn page(&self) -> Option<String> {
        self.next
            .as_deref()
            .and_then(continue_to::safe_next)
            .map(str::to_owned)
    }
}

/// `HEAD /` answers like `GET`, without a body.
#[route("/", method = "GET", method = "HEAD")]
pub(super) async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = query.page();
    if let Some(session) = current_session(&state, &req).await? {
        if session.account_id.is_some() {
            return Ok(see_other(next.as_deref().unwrap_or("/dashboard")));
        }
    }
    let signed_out = req
        .cookie(continue_to::NOTICE_COOKIE)
        .is_some_and(|c| c.value() == continue_to::SIGNED_OUT);
    let notice = if next.is_some() {
        Some(crate::i18n::t("home-sign-in-to-continue"))
    } else if signed_out {
        Some(crate::i18n::t("home-signed-out"))
    } else {
        None
    };
    let sign_in_url = next.as_deref().map_or_else(
        || "/auth/login".to_owned(),
        |page| continue_to::with_next("/auth/login", page),
    );
    let mut response = html(
        StatusCode::OK,
        &HomePage {
            nav: None,
            notice,
            sign_in_url,
        },
    )?;
    if signed_out {
        let secure = state.settings.server.public_url.scheme() == "https";
        response
            .add_cookie(&continue_to::notice_removal(secure))
            .map_err(PageError::internal)?;
    }
    Ok(response)
}

/// `GET /help`: for everyone, signed in or not (then with the account's menu).
#[route("/help", method = "GET", method = "HEAD")]
async fn help(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let nav = crate::web::nav::signed_in_nav(&state, &req).await?;
    html(StatusCode::OK, &HelpPage { nav })
}

/// Starts a sign-in: a pre-authentication session binds the `state`, so a callback
/// can only complete in the browser that started it (login CSRF).
#[get("/auth/login")]
async fn start_sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = query.page();
    let existing = current_session(&state, &req).await?;
    if existing.as_ref().is_some_and(|s| s.account_id.is_some()) {
        return Ok(see_other(next.as_deref().unwrap_or("/dashboard")));
    }
    let purpose = Purpose::SignIn { next };
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
                &login_state(&pending, session_hash, &purpose, &settings, now),
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

async fn render_dashboard(
    state: &AppState,
    session: BrowserSession,
    account_id: String,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    render_dashboard_with(state, session, account_id, status, problem, None, None).await
}

/// The dashboard, with a problem of the e-mail correction form if there was one.
pub(super) async fn render_dashboard_with(
    state: &AppState,
    session: BrowserSession,
    account_id: String,
    status: StatusCode,
    problem: Option<String>,
    email_problem: Option<(String, String)>,
    notice: Option<String>,
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
        .map_or_else(|| "eAccess".to_owned(), ProductKind::label);
    let email_unusable = !crate::mail::is_sendable_address(&account.email);
    let (email_problem, email) = match email_problem {
        Some((problem, typed)) => (Some(problem), typed),
        None => (None, account.email.clone()),
    };
    let page = DashboardPage {
        nav: Some(nav_for(&session, account.display_name())),
        email_unusable: email_unusable || email_problem.is_some(),
        notice,
        email,
        email_problem,
        display_name: account.display_name(),
        product_label,
        espaces: espaces
            .into_iter()
            .map(|e| EspaceRow {
                name: e.name,
                kind: crate::i18n::t(if e.kind == EspaceKind::Private.as_str() {
                    "dashboard-espace-private"
                } else {
                    "dashboard-espace-business"
                }),
            })
            .collect(),
        products: products
            .into_iter()
            .map(|p| ProductRow {
                label: p.kind.parse::<ProductKind>().map_or_else(
                    |_| crate::i18n::t("portal-unknown-product"),
                    ProductKind::label,
                ),
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

#[derive(Debug, Deserialize)]
pub(super) struct DashboardQuery {
    notice: Option<String>,
}

#[get("/dashboard")]
pub(super) async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(continue_to::sign_in_to_continue(&req));
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(continue_to::sign_in_to_continue(&req));
    };
    // Only notices we name: the query never puts its own text on the page.
    let notice = match query.notice.as_deref() {
        Some("reauth_cancelled") => Some(crate::i18n::t("dashboard-reauth-cancelled")),
        _ => None,
    };
    render_dashboard_with(
        &state,
        session,
        account_id,
        StatusCode::OK,
        None,
        None,
        notice,
    )
    .await
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
    let Some(session) = form_session(&state, &req, &form.csrf_token).await? else {
        return Ok(see_other("/"));
    };
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
                Some(crate::i18n::t(problem)),
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
            Some(crate::i18n::t("portal-espace-duplicate")),
        )
        .await;
    }
    Ok(see_other("/dashboard"))
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    csrf_token: String,
}

/// Ends the portal session, and with it the portals' sign-ins made from it (each portal
/// that registered a `backchannel_logout_uri` gets a logout token, queued in the same
/// transaction), then the eAccess session (RP-initiated logout).
#[post("/auth/logout")]
async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignOutForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(session) = form_session(&state, &req, &form.csrf_token).await? else {
        return Ok(see_other("/"));
    };
    let hint = session.id_token_hint.clone();
    let now = now();
    let settings = std::sync::Arc::clone(&state.settings);
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                if store::delete_session(conn, &session.id_hash)? {
                    crate::provider::end_session_grants(
                        conn,
                        &settings.provider,
                        &session.id_hash,
                        now,
                    )?;
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
    let secure = state.settings.server.public_url.scheme() == "https";
    response
        .add_cookie(&session::removal_cookie(&state.settings))
        .map_err(PageError::internal)?;
    response
        .add_cookie(&continue_to::signed_out_cookie(secure))
        .map_err(PageError::internal)?;
    Ok(response)
}
