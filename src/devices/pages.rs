//! "Unlink my device" in the browser: after a fresh re-authentication at eAccess, the
//! list of linked devices and the account's recent activity; unlink one or several
//! (also a lost phone — the device itself is not needed).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, Account};
use crate::audit;
use crate::db::StoreError;
use crate::eaccess::AuthOptions;
use crate::http::{PageError, RequestContext};
use crate::linking::rules::{DeviceName, LinkMethod};
use crate::mail::UnlinkedBy;
use crate::state::AppState;
use crate::web::continue_to;
use crate::web::login::{Purpose, redirect_to_eaccess};
use crate::web::nav::nav_for;
use crate::web::session;
use crate::web::store::BrowserSession;
use crate::web::{NavUser, csrf_failed, current_session, format_time, html, now, see_other};

use super::activity;
use super::manage;
use super::store::{self, DeviceRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(devices_page)
        .service(unlock_device)
        .service(rename_device)
        .service(devices_json)
        .service(start_reauthentication)
        .service(review_unlink)
        .service(confirm_unlink);
}

/// Whether the session re-authenticated recently enough to manage devices.
pub fn is_fresh(session: &BrowserSession, window_minutes: i64, now: NaiveDateTime) -> bool {
    session
        .reauth_at
        .is_some_and(|at| at <= now && now - at < Duration::minutes(window_minutes))
}

struct DeviceView {
    id: String,
    name: String,
    method: String,
    linked_at: String,
    last_used: String,
    biometrics: bool,
    locked: bool,
    preselected: bool,
}

struct ActivityView {
    at: String,
    what: String,
    ip: String,
    user_agent: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    nav: Option<NavUser>,
    csrf_token: String,
    devices: Vec<DeviceView>,
    activity: Vec<ActivityView>,
    unlinked: usize,
    /// A sentence about the last browser operation, and whether it was refused.
    notice: Option<(String, bool)>,
    /// Some device is locked: say how it comes back.
    any_locked: bool,
    /// The activity filter's choices: (device id, name, selected).
    activity_devices: Vec<(String, String, bool)>,
    newer_url: Option<String>,
    older_url: Option<String>,
    activity_page_number: i64,
}

#[derive(Template)]
#[template(path = "devices_confirm.html")]
struct ConfirmPage {
    nav: Option<NavUser>,
    csrf_token: String,
    devices: Vec<DeviceView>,
}

fn device_view(d: &DeviceRow, biometrics: bool, preselect: Option<&str>) -> DeviceView {
    DeviceView {
        id: d.id.clone(),
        name: d.name.clone(),
        method: LinkMethod::parse(&d.method).map_or_else(
            || crate::i18n::t("devices-method-unknown"),
            LinkMethod::label,
        ),
        linked_at: format_time(d.linked_at),
        last_used: d
            .last_used_at
            .map_or_else(|| crate::i18n::t("devices-never-used"), format_time),
        biometrics,
        locked: d.status == "locked",
        preselected: preselect == Some(d.id.as_str()),
    }
}

/// The signed-in session and account, if the re-authentication is fresh.
enum Access {
    Granted(Box<(BrowserSession, Account)>),
    Redirect(HttpResponse),
}

async fn access(
    state: &AppState,
    req: &HttpRequest,
    device: Option<&str>,
) -> Result<Access, PageError> {
    let Some(session) = current_session(state, req).await? else {
        return Ok(Access::Redirect(continue_to::sign_in_to_continue(req)));
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(Access::Redirect(continue_to::sign_in_to_continue(req)));
    };
    if !is_fresh(&session, state.settings.portal.manage_window_minutes, now()) {
        let mut target = "/auth/reauth".to_owned();
        if let Some(id) = device.filter(|d| uuid::Uuid::parse_str(d).is_ok()) {
            target.push_str("?device=");
            target.push_str(id);
        }
        return Ok(Access::Redirect(see_other(&target)));
    }
    let account = state
        .db
        .run(move |conn| accounts::store::find_account(conn, &account_id))
        .await?;
    Ok(match account {
        Some(account) => Access::Granted(Box::new((session, account))),
        None => Access::Redirect(see_other("/")),
    })
}

/// Devices (with whether each has biometrics) and one page of the account's activity
/// (one row more than a page, telling whether an older page exists).
async fn load(
    state: &AppState,
    account_id: &str,
    page: activity::Page,
) -> Result<(Vec<(DeviceRow, bool)>, Vec<audit::AuditEvent>), PageError> {
    let id = account_id.to_owned();
    Ok(state
        .db
        .run(move |conn| {
            let mut devices = Vec::new();
            for d in store::find_live_devices(conn, &id)? {
                let biometrics = store::has_passkey(conn, &d.id)?;
                devices.push((d, biometrics));
            }
            let activity = audit::store::find_page_for_account(
                conn,
                &id,
                page.device.as_deref(),
                page.offset(),
                page.size + 1,
            )?;
            Ok((devices, activity))
        })
        .await?)
}

#[derive(Debug, Deserialize)]
struct DevicesQuery {
    device: Option<String>,
    unlinked: Option<usize>,
    /// What a browser operation just did or why it was refused: one of the fixed
    /// codes of [`notice_for`], never text of the query's own.
    done: Option<String>,
    /// The activity's page (1 = newest) and device filter.
    activity_page: Option<i64>,
    activity_device: Option<String>,
}

/// The sentence for a `done` code of the device list, and whether it is a refusal.
fn notice_for(code: &str) -> Option<(String, bool)> {
    let (key, refused) = match code {
        "unlocked" => ("devices-unlocked-notice", false),
        "not_locked" => ("devices-not-locked-notice", false),
        "renamed" => ("devices-renamed-notice", false),
        "not_found" => ("devices-not-found-notice", true),
        other => match other
            .strip_prefix("name_")
            .and_then(crate::linking::rules::DeviceNameError::from_code)
        {
            Some(err) => (err.key(), true),
            None => return None,
        },
    };
    Some((crate::i18n::t(key), refused))
}

#[get("/devices")]
async fn devices_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DevicesQuery>,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match access(&state, &req, query.device.as_deref()).await? {
        Access::Granted(granted) => *granted,
        Access::Redirect(r) => return Ok(r),
    };
    let activity_page =
        activity::Page::from_query(query.activity_page, query.activity_device.as_deref());
    let (devices, mut events) = load(&state, &account.id, activity_page.clone()).await?;
    let older = activity_page.older(events.len());
    events.truncate(usize::try_from(activity_page.size).unwrap_or(0));
    let page = DevicesPage {
        activity_devices: devices
            .iter()
            .map(|(d, _)| {
                let selected = activity_page.device.as_deref() == Some(d.id.as_str());
                (d.id.clone(), d.name.clone(), selected)
            })
            .collect(),
        newer_url: activity_page.newer(),
        older_url: older,
        activity_page_number: activity_page.number,
        nav: Some(nav_for(&session, account.display_name())),
        csrf_token: session.csrf_token.clone(),
        devices: devices
            .iter()
            .map(|(d, b)| device_view(d, *b, query.device.as_deref()))
            .collect(),
        activity: events
            .into_iter()
            .map(|e| {
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or_default();
                ActivityView {
                    at: format_time(e.at),
                    what: activity::describe(&e.kind, &details),
                    ip: e.ip.unwrap_or_else(|| "—".to_owned()),
                    user_agent: e
                        .user_agent
                        .as_deref()
                        .map_or_else(|| "—".to_owned(), activity::short_user_agent),
                }
            })
            .collect(),
        unlinked: query.unlinked.unwrap_or(0).min(100),
        notice: query.done.as_deref().and_then(notice_for),
        any_locked: devices.iter().any(|(d, _)| d.status == "locked"),
    };
    html(StatusCode::OK, &page)
}

/// The same list as JSON, for the signed-in (and freshly re-authenticated) browser.
#[get("/devices.json")]
async fn devices_json(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let account = match access(&state, &req, None).await? {
        Access::Granted(granted) => granted.1,
        Access::Redirect(r) => return Ok(r),
    };
    let (devices, events) = load(&state, &account.id, activity::Page::newest(50)).await?;
    let devices: Vec<_> = devices
        .iter()
        .map(|(d, biometrics)| {
            json!({
                "id": d.id,
                "name": d.name,
                "method": d.method,
                "linked_at": d.linked_at.and_utc().to_rfc3339(),
                "last_used_at": d.last_used_at.map(|t| t.and_utc().to_rfc3339()),
                "biometrics": biometrics,
                "state": d.status,
            })
        })
        .collect();
    let activity: Vec<_> = events
        .iter()
        .map(|e| {
            let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
            json!({
                "at": e.at.and_utc().to_rfc3339(),
                "kind": e.kind,
                "description": activity::describe(&e.kind, &details),
                "ip": e.ip,
                "user_agent": e.user_agent,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"devices": devices, "activity": activity})))
}

#[derive(Debug, Deserialize)]
struct ReauthQuery {
    device: Option<String>,
}

/// Sends the citizen to eAccess to authenticate again (`prompt=login`, `max_age=0`),
/// whatever session they already have.
#[get("/auth/reauth")]
async fn start_reauthentication(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ReauthQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/"));
    };
    if session.account_id.is_none() {
        return Ok(see_other("/"));
    }
    let options = AuthOptions {
        force_login: true,
        max_age: Some(0),
        products: Vec::new(),
    };
    let device = query
        .device
        .as_deref()
        .filter(|d| uuid::Uuid::parse_str(d).is_ok())
        .map(str::to_owned);
    redirect_to_eaccess(
        &state,
        &options,
        session.id_hash.clone(),
        Purpose::Reauth { device },
        PageError::unavailable,
    )
    .await
}

/// The device ids of a form with repeated `device` fields (and its CSRF token).
fn parse_selection(body: &[u8]) -> (String, Vec<String>) {
    let mut csrf = String::new();
    let mut ids = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "csrf_token" => csrf = value.into_owned(),
            "device" if ids.len() < 50 && uuid::Uuid::parse_str(&value).is_ok() => {
                ids.push(value.into_owned());
            }
            _ => {}
        }
    }
    ids.sort();
    ids.dedup();
    (csrf, ids)
}

/// The chosen devices that belong to the account and are still linked.
async fn selected(
    state: &AppState,
    account_id: &str,
    ids: Vec<String>,
) -> Result<Vec<DeviceRow>, PageError> {
    let id = account_id.to_owned();
    Ok(state
        .db
        .run(move |conn| {
            Ok(store::find_live_devices(conn, &id)?
                .into_iter()
                .filter(|d| ids.contains(&d.id))
                .collect())
        })
        .await?)
}

/// Step 1: show which devices will be unlinked, and ask to confirm.
#[post("/devices/unlink")]
async fn review_unlink(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match access(&state, &req, None).await? {
        Access::Granted(granted) => *granted,
        Access::Redirect(r) => return Ok(r),
    };
    let (csrf, ids) = parse_selection(&body);
    if !session::csrf_matches(&session, &csrf) {
        return Err(csrf_failed());
    }
    let devices = selected(&state, &account.id, ids).await?;
    if devices.is_empty() {
        return Ok(see_other("/devices"));
    }
    let page = ConfirmPage {
        nav: Some(nav_for(&session, account.display_name())),
        csrf_token: session.csrf_token.clone(),
        devices: devices
            .iter()
            .map(|d| device_view(d, false, None))
            .collect(),
    };
    html(StatusCode::OK, &page)
}

/// Step 2: unlink them, at once and completely.
#[post("/devices/unlink/confirm")]
async fn confirm_unlink(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let (session, account) = match access(&state, &req, None).await? {
        Access::Granted(granted) => *granted,
        Access::Redirect(r) => return Ok(r),
    };
    let (csrf, ids) = parse_selection(&body);
    if !session::csrf_matches(&session, &csrf) {
        return Err(csrf_failed());
    }
    let devices = selected(&state, &account.id, ids).await?;
    let notify = super::service::Notify {
        public_url: state.settings.server.public_url.clone(),
        ctx,
        settings: std::sync::Arc::clone(&state.settings),
    };
    let account_id = account.id.clone();
    let now = now();
    let unlinked = state
        .db
        .run(move |conn| {
            let mut n = 0;
            for device in devices.iter().filter(|d| d.account_id == account_id) {
                match super::service::unlink(conn, &device.id, UnlinkedBy::Browser, &notify, now) {
                    Ok(()) => n += 1,
                    // Unlinked meanwhile (from the app or another tab): nothing to do.
                    Err(super::service::DeviceError::InvalidDevice) => {}
                    Err(super::service::DeviceError::Store(e)) => return Err(e),
                    Err(other) => return Err(StoreError::Corrupt(other.to_string())),
                }
            }
            Ok(n)
        })
        .await?;
    Ok(see_other(&format!("/devices?unlinked={unlinked}")))
}

#[derive(Debug, Deserialize)]
struct DeviceForm {
    csrf_token: String,
    /// The new name (rename only).
    name: Option<String>,
}

/// A device id from the path: a UUID, else no device of anyone's.
fn device_id(path: &str) -> Option<String> {
    uuid::Uuid::parse_str(path)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The device list after a browser operation, saying what became of it.
fn back_to_list(outcome: manage::Outcome, done: &str) -> HttpResponse {
    see_other(&format!(
        "/devices?done={}",
        match outcome {
            manage::Outcome::Done => done,
            manage::Outcome::NotLocked => "not_locked",
            manage::Outcome::NotFound => "not_found",
        }
    ))
}

/// "Unlock this device": a device locked by wrong secret codes works again, after the
/// account holder re-authenticated (the policy in docs/security.md).
#[post("/devices/{device_id}/unlock")]
async fn unlock_device(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<DeviceForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(id) = device_id(&path) else {
        return Ok(back_to_list(manage::Outcome::NotFound, ""));
    };
    let (session, account) = match access(&state, &req, Some(&id)).await? {
        Access::Granted(granted) => *granted,
        Access::Redirect(r) => return Ok(r),
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let now = now();
    let outcome = state
        .db
        .run(move |conn| manage::unlock_in_browser(conn, &account.id, &id, &ctx, now))
        .await?;
    Ok(back_to_list(outcome, "unlocked"))
}

/// "Rename": a new name for a device, with the same rules as at linking.
#[post("/devices/{device_id}/rename")]
async fn rename_device(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<DeviceForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(id) = device_id(&path) else {
        return Ok(back_to_list(manage::Outcome::NotFound, ""));
    };
    let (session, account) = match access(&state, &req, Some(&id)).await? {
        Access::Granted(granted) => *granted,
        Access::Redirect(r) => return Ok(r),
    };
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(csrf_failed());
    }
    let name = match DeviceName::try_from(form.name.as_deref().unwrap_or("")) {
        Ok(name) => name,
        Err(err) => return Ok(see_other(&format!("/devices?done=name_{}", err.code()))),
    };
    let now = now();
    let outcome = state
        .db
        .run(move |conn| manage::rename(conn, &account.id, &id, &name, &ctx, now))
        .await?;
    Ok(back_to_list(outcome, "renamed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_keeps_only_device_ids_and_the_csrf_token() {
        let id = "6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93";
        let body = format!("csrf_token=abc&device={id}&device={id}&device=junk&other=1");
        let (csrf, ids) = parse_selection(body.as_bytes());
        assert_eq!(csrf, "abc");
        assert_eq!(ids, vec![id.to_owned()]);
    }

    #[test]
    fn only_named_notices_reach_the_page() {
        for code in [
            "unlocked",
            "not_locked",
            "renamed",
            "not_found",
            "name_empty",
            "name_too_long",
        ] {
            assert!(notice_for(code).is_some(), "{code}");
        }
        for code in ["", "<script>", "name_", "name_x", "unlinked"] {
            assert!(notice_for(code).is_none(), "{code}");
        }
        assert!(notice_for("name_empty").is_some_and(|(_, refused)| refused));
        assert!(notice_for("unlocked").is_some_and(|(_, refused)| !refused));
    }

    #[test]
    fn a_device_id_is_a_uuid() {
        let id = "6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93";
        assert_eq!(device_id(id).as_deref(), Some(id));
        assert_eq!(device_id("../x"), None);
    }
}
