//! "Sign in with your mobile app": the browser shows a short-lived single-use QR code;
//! the linked app scans it (`/api/v1/provider/approvals/scan`, DPoP-signed by the device
//! key), shows which portal asks, and approves after unlocking (the ordinary unlock with
//! the secret code or biometrics, so lockout and rate limits apply) or refuses. The
//! browser polls and continues; refusal, expiry or a locked device end with an RFC 6749
//! error at the portal.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::approval_api;
use super::approval_qr as qr;
use super::flow::{error_redirect, finish_denied, issue_and_redirect, request_gone};
use super::pages::WaitingPage;
use super::rules;
use super::service::Authenticated;
use super::store::{self, RequestRow};
use crate::http::{PageError, RequestContext};
use crate::state::AppState;
use crate::web::html;
use crate::web::session::hash_token;

/// What the QR code holds: this prefix and the single-use code.
/// The path of the approval QR code's URL, `<public_url>/approve#<code>` (the code in
/// the fragment, which browsers never send; a phone camera that opens it lands on a
/// page that says to use the app).
pub const APPROVE_PATH: &str = "approve";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oidc/authorize/app", web::get().to(qr::show_code))
        .route("/oidc/authorize/app/status", web::get().to(status))
        .route("/oidc/authorize/app/frame", web::post().to(qr::next_frame))
        .route(
            "/oidc/authorize/app/continue",
            web::get().to(continue_sign_in),
        )
        .route("/static/provider-approve.js", web::get().to(script))
        .route(&format!("/{APPROVE_PATH}"), web::get().to(qr::landing))
        .route(
            "/api/v1/provider/approvals/scan",
            web::post().to(approval_api::scan),
        )
        .route(
            "/api/v1/provider/approvals/{id}/approve",
            web::post().to(approval_api::approve),
        )
        .route(
            "/api/v1/provider/approvals/{id}/refuse",
            web::post().to(approval_api::refuse),
        );
}

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/provider-approve.js"))
}

/// Where an approval stands, as the browser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Shown,
    Scanned,
    Approved,
    Refused,
    Expired,
    Locked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shown => "shown",
            Self::Scanned => "scanned",
            Self::Approved => "approved",
            Self::Refused => "refused",
            Self::Expired => "expired",
            Self::Locked => "locked",
        }
    }
}

/// The pure reading of a request's approval columns and, once scanned, the status of
/// the scanning device (`None` before a scan). An approval counts only while that device
/// is still active and the request still open: a device locked or unlinked after it
/// approved ends the sign-in as `Locked`. The QR code's own expiry no longer matters
/// once the app has decided.
pub fn outcome(row: &RequestRow, device_status: Option<&str>, now: NaiveDateTime) -> Outcome {
    match row.approval_state.as_str() {
        "refused" => Outcome::Refused,
        _ if device_status.is_some_and(|s| s != "active") => Outcome::Locked,
        _ if row.expires_at <= now => Outcome::Expired,
        "approved" => Outcome::Approved,
        _ if row.approval_expires_at.is_none_or(|t| t <= now) => Outcome::Expired,
        "scanned" => Outcome::Scanned,
        _ => Outcome::Shown,
    }
}

/// Whether the unlock behind an approval is recent enough, pure: its `auth_time` (the
/// secret code or biometric check itself, which refreshing the tokens does not renew)
/// at most `window_secs` before `now` and, when the portal sent `max_age`, at most that
/// long before (OIDC Core section 3.1.2.1; at least one second, the granularity of
/// `auth_time`). A token that does not say when it was unlocked never is.
pub fn unlock_is_fresh(
    auth_time: Option<i64>,
    now: i64,
    window_secs: i64,
    max_age: Option<i64>,
) -> bool {
    use crate::devices::step_up::{self, Operation, Unlock, Windows};
    let windows = Windows {
        credential_change_secs: 0,
        approval_secs: max_age.map_or(window_secs, |m| m.max(1).min(window_secs)),
    };
    let unlock = Unlock {
        amr: &[],
        auth_time,
    };
    let Some(now) = DateTime::from_timestamp(now, 0) else {
        return false;
    };
    step_up::check(
        Operation::ApprovePortalSignIn,
        windows,
        unlock,
        now.naive_utc(),
    )
    .is_ok()
}

#[derive(Debug, Deserialize)]
struct RequestQuery {
    request: String,
}

pub(super) fn rules_acr(row: &RequestRow) -> Vec<String> {
    row.acr_values
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The request (any status) bound to this browser, with its approval outcome.
async fn bound_outcome(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(RequestRow, Outcome), PageError> {
    let session = crate::web::current_session(state, req)
        .await?
        .ok_or_else(request_gone)?;
    let id = hash_token(id);
    let found = state
        .db
        .run(move |conn| {
            let Some(row) = store::find_request(conn, &id)? else {
                return Ok(None);
            };
            // A device row that vanished reads as unlinked.
            let device_status = match &row.device_id {
                Some(d) => Some(
                    crate::devices::store::find_device(conn, d)?
                        .map_or_else(|| "unlinked".to_owned(), |d| d.status),
                ),
                None => None,
            };
            Ok(Some((row, device_status)))
        })
        .await?;
    let (row, device_status) = found.ok_or_else(request_gone)?;
    if row.session_id_hash.as_deref() != Some(session.id_hash.as_str()) {
        return Err(request_gone());
    }
    let outcome = outcome(&row, device_status.as_deref(), now());
    Ok((row, outcome))
}

async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, outcome) = bound_outcome(&state, &req, &query.request).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"state": outcome.as_str()})))
}

async fn continue_sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let (row, outcome) = bound_outcome(&state, &req, &query.request).await?;
    if row.status != "pending" {
        return Err(request_gone());
    }
    let (code, description) = match outcome {
        Outcome::Approved => {
            // The sign-in's auth_time is the unlock behind the approval, not the
            // moment the app approved (nor the last refresh of its tokens).
            let (Some(account_id), Some(device_id), Some(unlocked_at)) = (
                row.account_id.clone(),
                row.device_id.clone(),
                row.unlocked_at,
            ) else {
                return Err(request_gone());
            };
            let amr = row
                .amr
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            let auth = Authenticated {
                account_id,
                auth_time: unlocked_at,
                acr: rules::ACR_DEVICE.to_owned(),
                amr,
                device_id: Some(device_id),
            };
            return issue_and_redirect(&state, row, auth, ctx).await;
        }
        Outcome::Shown | Outcome::Scanned => {
            let scanned = outcome == Outcome::Scanned;
            let client_name = state
                .settings
                .provider
                .client(&row.client_id)
                .map_or_else(|| row.client_id.clone(), |c| c.name.clone());
            return html(
                StatusCode::OK,
                &WaitingPage {
                    nav: None,
                    client_name,
                    request_id: query.request.clone(),
                    state: if scanned { "scanned" } else { "shown" },
                    status: crate::i18n::t(if scanned {
                        "provider-app-scanned"
                    } else {
                        "provider-app-shown"
                    }),
                },
            );
        }
        Outcome::Refused => (
            "access_denied",
            "the citizen refused the sign-in in the app",
        ),
        Outcome::Locked => (
            "access_denied",
            "the app that was asked to approve is locked or unlinked",
        ),
        Outcome::Expired => (
            "login_required",
            "the sign-in with the app was not approved in time",
        ),
    };
    if !finish_denied(&state, &row).await? {
        return Err(request_gone());
    }
    error_redirect(&state, &row, code, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(state: &str, expires_in: i64) -> RequestRow {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        RequestRow {
            id_hash: "r".into(),
            client_id: "c".into(),
            redirect_uri: "https://p/cb".into(),
            scope: "openid".into(),
            state: None,
            nonce: None,
            code_challenge: None,
            max_age: None,
            acr_values: None,
            acr_essential: false,
            dpop_jkt: None,
            claims: None,
            prompt: None,
            session_id_hash: None,
            status: "pending".into(),
            approval_code_hash: None,
            approval_state: state.into(),
            approval_expires_at: Some(now + Duration::seconds(expires_in)),
            device_id: None,
            account_id: None,
            amr: None,
            approved_at: None,
            unlocked_at: None,
            created_at: now,
            expires_at: now + Duration::seconds(600),
        }
    }

    #[test]
    fn the_outcome_follows_state_expiry_and_device_status() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        assert_eq!(outcome(&row("shown", 60), None, now), Outcome::Shown);
        assert_eq!(
            outcome(&row("scanned", 60), Some("active"), now),
            Outcome::Scanned
        );
        assert_eq!(
            outcome(&row("scanned", 60), Some("locked"), now),
            Outcome::Locked
        );
        assert_eq!(
            outcome(&row("scanned", 0), Some("active"), now),
            Outcome::Expired
        );
        assert_eq!(
            outcome(&row("approved", 0), Some("active"), now),
            Outcome::Approved
        );
        assert_eq!(
            outcome(&row("refused", 60), Some("active"), now),
            Outcome::Refused
        );
    }

    #[test]
    fn an_approval_counts_only_while_the_device_is_active_and_the_request_open() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        for status in ["locked", "unlinked"] {
            assert_eq!(
                outcome(&row("approved", 60), Some(status), now),
                Outcome::Locked,
                "{status}"
            );
        }
        let mut stale = row("approved", 60);
        stale.expires_at = now;
        assert_eq!(outcome(&stale, Some("active"), now), Outcome::Expired);
        // A refusal stays a refusal whatever happened to the device since.
        assert_eq!(
            outcome(&row("refused", 60), Some("locked"), now),
            Outcome::Refused
        );
    }

    #[test]
    fn only_a_recent_unlock_approves() {
        let now = 1_700_000_000;
        assert!(unlock_is_fresh(Some(now), now, 120, None));
        assert!(unlock_is_fresh(Some(now - 120), now, 120, None));
        assert!(!unlock_is_fresh(Some(now - 121), now, 120, None));
        // No auth_time (a token from before the claim): never.
        assert!(!unlock_is_fresh(None, now, 120, None));
        // max_age shortens the window, down to the one-second granularity.
        assert!(unlock_is_fresh(Some(now - 30), now, 120, Some(30)));
        assert!(!unlock_is_fresh(Some(now - 31), now, 120, Some(30)));
        assert!(unlock_is_fresh(Some(now - 1), now, 120, Some(0)));
        assert!(!unlock_is_fresh(Some(now - 2), now, 120, Some(0)));
        // ...but never lengthens it.
        assert!(!unlock_is_fresh(Some(now - 200), now, 120, Some(600)));
    }
}
