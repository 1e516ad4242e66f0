//! The browser's "Link a device" page: a single-use QR code (animated frames refreshed
//! by a small script, or a static code for browsers without JavaScript), its status, and
//! "This was not me — cancel".

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::Connection;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::accounts;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::http::{ApiError, PageError, RequestContext, rate_limit};
use crate::state::AppState;
use crate::web::nav::nav_for;
use crate::web::session;
use crate::web::store::BrowserSession;
use crate::web::{NavUser, csrf_failed, current_session, html, now, see_other};

use super::rules::LinkState;
use super::store::{self, LinkCodeRow};
use super::{LinkCode, link_url, live_code, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(link_landing)
        .service(link_page)
        .service(link_status_page)
        .service(link_frame)
        .service(link_qr_png)
        .service(cancel_link_code)
        .service(link_script);
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    nav: Option<NavUser>,
    code_id: String,
    code: String,
    csrf_token: String,
    qr_data_url: String,
    ttl_minutes: i64,
    /// `<span id="countdown">5 minutes</span>`, for the translated sentence around it.
    countdown_html: String,
    is_static: bool,
}

#[derive(Template)]
#[template(path = "link_status.html")]
struct LinkStatusPage {
    nav: Option<NavUser>,
    code_id: String,
    status: &'static str,
    message: String,
    can_cancel: bool,
    /// The device is linked: offer "Unlink my device" (re-authentication as usual).
    can_unlink: bool,
    csrf_token: String,
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    /// Set after a "This was not me — cancel" that came after the link completed.
    too_late: Option<String>,
}

#[derive(Template)]
#[template(path = "link_landing.html")]
struct LandingPage {
    nav: Option<NavUser>,
}

/// Where a phone camera lands if it opens the QR code's URL instead of the app.
#[get("/link")]
async fn link_landing() -> Result<HttpResponse, PageError> {
    html(StatusCode::OK, &LandingPage { nav: None })
}

#[get("/static/link.js")]
async fn link_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/link.js"))
}

/// A signed-in session and its account, or a redirect home.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Result<(BrowserSession, accounts::Account), HttpResponse>, PageError> {
    let Some(session) = current_session(state, req).await? else {
        return Ok(Err(crate::web::continue_to::sign_in_to_continue(req)));
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(Err(crate::web::continue_to::sign_in_to_continue(req)));
    };
    let account = state
        .db
        .run(move |conn| accounts::store::find_account(conn, &account_id))
        .await?;
    Ok(account.map(|a| (session, a)).ok_or_else(|| see_other("/")))
}

fn svg_data_url(content: &str) -> Result<String, PageError> {
    let svg = render::svg(content).map_err(PageError::internal)?;
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}

#[derive(Debug, Deserialize)]
struct LinkPageQuery {
    mode: Option<String>,
    /// "Generate a new QR code": make one even if a live code could be shown again.
    new: Option<String>,
}

/// Shows this browser session's live QR code again, or a new one (which voids any
/// earlier code of the session); see `live_code`.
#[get("/devices/link")]
async fn link_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LinkPageQuery>,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match signed_in(&state, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let now = now();
    let wants_static = query.mode.as_deref() == Some("static");
    let token = session::token_from_request(&req, &state.settings);
    let live = match (&token, query.new.is_some()) {
        (Some(token), false) => live_code_of(&state, &session, token, now).await?,
        _ => None,
    };
    let live = match (live, &token) {
        // Asked for without JavaScript while an animated code is live: that row turns
        // static with a code of its own (not a second code against the limit).
        (Some((row, _)), Some(token)) if wants_static && !row.allows_static => {
            made_static(&state, row, token).await?
        }
        (live, _) => live,
    };
    let (row, code) = match live {
        Some(live) => live,
        None => {
            new_code(
                &state,
                &session,
                &account,
                token.as_deref(),
                wants_static,
                now,
            )
            .await?
        }
    };
    let is_static = row.allows_static;
    let frame = if is_static {
        code.expose().to_owned()
    } else {
        state.qr_frames.frame_at(&code, Utc::now())
    };
    let content = link_url(&state.settings.server.public_url, &frame);
    let minutes_left = ((row.expires_at - now).num_seconds().max(0) + 59) / 60;
    let page = LinkPage {
        nav: Some(nav_for(&session, account.display_name())),
        code_id: row.id,
        code: code.expose().to_owned(),
        csrf_token: session.csrf_token.clone(),
        qr_data_url: svg_data_url(content.as_str())?,
        ttl_minutes: minutes_left,
        countdown_html: format!(
            r#"<span id="countdown">{}</span>"#,
            crate::web::escape_html(&crate::i18n::t1("link-minutes", "minutes", minutes_left))
        ),
        is_static,
    };
    html(StatusCode::OK, &page)
}

/// This session's live code and the code itself, if it can be shown again.
async fn live_code_of(
    state: &AppState,
    session: &BrowserSession,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<(LinkCodeRow, LinkCode)>, PageError> {
    let hash = session.id_hash.clone();
    let until = now + Duration::seconds(live_code::MIN_LEFT_SECS);
    let row = state
        .db
        .run(move |conn| store::find_live_code(conn, &hash, until))
        .await?;
    Ok(row.and_then(|row| live_code::reusable(&row, token, now).map(|code| (row, code))))
}

/// The live animated `row` as a static code with a new code value, if it still was live.
async fn made_static(
    state: &AppState,
    mut row: LinkCodeRow,
    token: &str,
) -> Result<Option<(LinkCodeRow, LinkCode)>, PageError> {
    let code = LinkCode::generate();
    row.code_hash = code.hash();
    row.code_sealed = live_code::seal(token, &row.id, &code);
    row.allows_static = true;
    let (id, hash, sealed) = (
        row.id.clone(),
        row.code_hash.clone(),
        row.code_sealed.clone(),
    );
    let done = state
        .db
        .run(move |conn| store::make_static(conn, &id, &hash, sealed.as_deref()))
        .await?;
    Ok(done.then_some((row, code)))
}

/// A new code for the page, voiding the session's earlier ones. Bounded per account, so
/// a script in a signed-in browser cannot mint codes without end.
async fn new_code(
    state: &AppState,
    session: &BrowserSession,
    account: &accounts::Account,
    token: Option<&str>,
    is_static: bool,
    now: NaiveDateTime,
) -> Result<(LinkCodeRow, LinkCode), PageError> {
    let limit = state.settings.linking.link_creations_per_minute_per_account;
    let bucket = format!("link:account:{}", account.id);
    if let Some(retry) = state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, limit, 60, now))
        .await?
    {
        return Err(PageError::too_many_requests(retry));
    }
    let code = LinkCode::generate();
    let id = uuid::Uuid::new_v4().to_string();
    let row = LinkCodeRow {
        code_sealed: token.and_then(|token| live_code::seal(token, &id, &code)),
        id,
        code_hash: code.hash(),
        account_id: account.id.clone(),
        browser_session_hash: session.id_hash.clone(),
        status: "active".to_owned(),
        link_id: None,
        allows_static: is_static,
        created_at: now,
        expires_at: now + Duration::seconds(state.settings.linking.qr_code_ttl_secs),
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| store::insert_link_code(conn, &stored))
        .await?;
    Ok((row, code))
}

/// Where a code stands, for the page and its script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeStatus {
    Waiting,
    Scanned,
    Linked,
    Expired,
    Cancelled,
}

impl CodeStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Scanned => "scanned",
            Self::Linked => "linked",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    fn message(self, device_name: Option<&str>) -> String {
        let unnamed = crate::i18n::t("link-a-device");
        let device = device_name.unwrap_or(&unnamed);
        match self {
            Self::Waiting => crate::i18n::t("link-status-waiting"),
            Self::Scanned => crate::i18n::t1("link-status-scanned", "device", device),
            Self::Linked => crate::i18n::t1("link-status-linked", "device", device),
            Self::Expired => crate::i18n::t("link-status-expired"),
            Self::Cancelled => crate::i18n::t("link-status-cancelled"),
        }
    }
}

/// The code's status and, once scanned, the device that scanned it.
async fn code_status(
    state: &AppState,
    code: &LinkCodeRow,
    now: NaiveDateTime,
) -> Result<(CodeStatus, Option<String>), PageError> {
    match code.status.as_str() {
        "active" if code.expires_at > now => Ok((CodeStatus::Waiting, None)),
        "active" | "expired" => Ok((CodeStatus::Expired, None)),
        "redeemed" => {
            let Some(link_id) = code.link_id.clone() else {
                return Ok((CodeStatus::Cancelled, None));
            };
            let link = state
                .db
                .run(move |conn| store::find_link_session(conn, &link_id))
                .await?;
            let Some(link) = link else {
                return Ok((CodeStatus::Cancelled, None));
            };
            let status = match LinkState::parse(&link.state) {
                Some(LinkState::Completed) => CodeStatus::Linked,
                Some(LinkState::Cancelled | LinkState::Refused) => CodeStatus::Cancelled,
                Some(LinkState::Expired) => CodeStatus::Expired,
                _ if link.expires_at <= now => CodeStatus::Expired,
                _ => CodeStatus::Scanned,
            };
            Ok((status, Some(link.device_name)))
        }
        _ => Ok((CodeStatus::Cancelled, None)),
    }
}

/// A code of this browser session, or 404.
async fn own_code(
    state: &AppState,
    session: &BrowserSession,
    code_id: &str,
) -> Result<Option<LinkCodeRow>, PageError> {
    if uuid::Uuid::parse_str(code_id).is_err() {
        return Ok(None);
    }
    let id = code_id.to_owned();
    let row = state
        .db
        .run(move |conn| store::find_link_code(conn, &id))
        .await?;
    Ok(row.filter(|r| r.browser_session_hash == session.id_hash))
}

/// The status page (works without JavaScript).
#[get("/devices/link/{code_id}")]
async fn link_status_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match signed_in(&state, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let code = own_code(&state, &session, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let (status, device) = code_status(&state, &code, now()).await?;
    let message = match status {
        CodeStatus::Linked if query.too_late.is_some() => crate::i18n::t1(
            "link-status-too-late",
            "device",
            device
                .as_deref()
                .map_or_else(|| crate::i18n::t("link-a-device"), str::to_owned),
        ),
        _ => status.message(device.as_deref()),
    };
    let page = LinkStatusPage {
        nav: Some(nav_for(&session, account.display_name())),
        code_id: code.id.clone(),
        status: status.as_str(),
        message,
        can_cancel: matches!(status, CodeStatus::Waiting | CodeStatus::Scanned),
        can_unlink: status == CodeStatus::Linked,
        csrf_token: session.csrf_token.clone(),
    };
    html(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
struct FrameRequest {
    code: String,
}

fn frame_error(status: StatusCode, code: &'static str, text: String) -> ApiError {
    ApiError::new(status, code, text)
}

/// The script's poll: a fresh animated frame while waiting, and the status. The code
/// comes from the page itself (the server keeps only its hash).
#[post("/devices/link/{code_id}/frame")]
async fn link_frame(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<FrameRequest>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || {
        frame_error(
            StatusCode::NOT_FOUND,
            "not_found",
            crate::i18n::t("link-frame-not-found"),
        )
    };
    let session = current_session(&state, &req)
        .await
        .map_err(|_| ApiError::unavailable(anyhow::anyhow!("session lookup failed")))?
        .filter(|s| s.account_id.is_some())
        .ok_or_else(|| {
            frame_error(
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                crate::i18n::t("link-frame-not-signed-in"),
            )
        })?;
    let csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session::csrf_matches(&session, csrf) {
        return Err(frame_error(
            StatusCode::FORBIDDEN,
            "invalid_csrf",
            crate::i18n::t("link-frame-csrf"),
        ));
    }
    let row = own_code(&state, &session, &path)
        .await
        .map_err(|_| ApiError::unavailable(anyhow::anyhow!("code lookup failed")))?
        .ok_or_else(not_found)?;
    let code = LinkCode::try_from(body.code.as_str()).map_err(|_| not_found())?;
    if !bool::from(code.hash().as_bytes().ct_eq(row.code_hash.as_bytes())) {
        return Err(not_found());
    }
    let now = now();
    let (status, device) = code_status(&state, &row, now)
        .await
        .map_err(|_| ApiError::unavailable(anyhow::anyhow!("status lookup failed")))?;
    let mut body = json!({
        "status": status.as_str(),
        "message": status.message(device.as_deref()),
    });
    if matches!(status, CodeStatus::Waiting | CodeStatus::Scanned) {
        body["expires_in"] = json!((row.expires_at - now).num_seconds().max(0));
    }
    if let Some(device) = device {
        body["device_name"] = json!(device);
    }
    if status == CodeStatus::Waiting && !row.allows_static {
        let frame = state.qr_frames.frame_at(&code, Utc::now());
        let content = link_url(&state.settings.server.public_url, &frame);
        body["qr"] = json!(
            svg_data_url(content.as_str())
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        );
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

#[derive(Debug, Deserialize)]
struct PngQuery {
    c: String,
}

/// The current QR frame as a PNG (for screenshots and image-based tools).
#[get("/devices/link/{code_id}/qr.png")]
async fn link_qr_png(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PngQuery>,
) -> Result<HttpResponse, PageError> {
    let (session, _) = match signed_in(&state, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    let row = own_code(&state, &session, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let code = LinkCode::try_from(query.c.as_str()).map_err(|_| PageError::not_found())?;
    if !bool::from(code.hash().as_bytes().ct_eq(row.code_hash.as_bytes())) {
        return Err(PageError::not_found());
    }
    let frame = if row.allows_static {
        code.expose().to_owned()
    } else {
        state.qr_frames.frame_at(&code, Utc::now())
    };
    let content = link_url(&state.settings.server.public_url, &frame);
    let png = render::png(content.as_str()).map_err(PageError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "no-store"))
        .body(png))
}

#[derive(Debug, Deserialize)]
struct CancelForm {
    csrf_token: String,
}

/// "This was not me — cancel": voids the code and the link it started.
#[post("/devices/link/{code_id}/cancel")]
async fn cancel_link_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CancelForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match signed_in(&state, &req).await? {
        Ok(v) => v,
        Err(redirect) => return Ok(redirect),
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let code = own_code(&state, &session, &path)
        .await?
        .ok_or_else(PageError::not_found)?;
    let now = now();
    let session_hash = session.id_hash.clone();
    let code_id = code.id.clone();
    let outcome = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let outcome = store::cancel_link_code(conn, &code_id, &session_hash, now)?;
                if let store::CancelOutcome::Cancelled(cancelled) = &outcome {
                    audit::store::insert_event(
                        conn,
                        &NewAuditEvent::new(
                            EventKind::LinkCancelled,
                            Some(&account.id),
                            json!({"link_code_id": code_id, "link_id": cancelled.link_id, "by": "browser"}),
                            &ctx,
                            now,
                        ),
                    )?;
                }
                Ok(outcome)
            })
        })
        .await?;
    if let store::CancelOutcome::AlreadyLinked { .. } = outcome {
        // Never "Nothing was linked": the status page says it was, and how to undo it.
        return Ok(see_other(&format!("/devices/link/{}?too_late=1", code.id)));
    }
    Ok(see_other(&format!("/devices/link/{}", code.id)))
}
