//! The app's side of "Sign in with your mobile app" (device API): scan the portal's QR
//! code, then approve after a fresh unlock or refuse. Mounted by `approval::configure`;
//! each handler's `#[utoipa::path]` and error table are its entry in the OpenAPI contract.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::Connection as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::approval::{APPROVE_PATH, now, unlock_is_fresh};
use super::approval_qr as qr;
use super::pages::scope_items;
use super::service;
use super::store;
use crate::devices::auth;
use crate::http::openapi::{Body, api_errors};
use crate::http::{ApiError, RequestContext};
use crate::linking::{QrError, ScannedFrame};
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};

api_errors!(ScanErrors, Body::Json, {
    401 => ["invalid_dpop_proof", "invalid_device"],
    404 => ["invalid_approval"],
    410 => ["qr_code_expired"],
    423 => ["device_locked"],
});

api_errors!(ApproveErrors, Body::None, {
    401 => ["invalid_token", "invalid_dpop_proof", "unlock_required"],
    404 => ["invalid_approval"],
});

api_errors!(RefuseErrors, Body::None, {
    401 => ["invalid_dpop_proof"],
    404 => ["invalid_approval"],
});

/// The approval endpoints' part of the contract.
#[derive(utoipa::OpenApi)]
#[openapi(paths(scan, approve, refuse))]
pub struct ApprovalsApi;

/// The portal that asks, as the app shows it before approving.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScannedApproval {
    /// The id to approve or refuse with.
    pub approval_id: String,
    pub client_id: String,
    pub client_name: String,
    /// What the portal will receive, in the app's language, e.g. "Your name".
    pub shares: Vec<String>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// What the camera read.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ScanBody {
    /// `<public_url>/approve#<frame>` or the bare frame.
    code: String,
}

/// The app scanned the QR code: a proof by a linked, active device key claims it.
#[utoipa::path(
    post,
    path = "/api/v1/provider/approvals/scan",
    tag = "approvals",
    request_body = ScanBody,
    responses(
        (status = 200, description = "The portal asking; approve or refuse it.", body = ScannedApproval),
        ScanErrors,
    ),
    security(("dpop_proof" = [])),
)]
pub(super) async fn scan(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ScanBody>,
) -> Result<HttpResponse, ApiError> {
    let proof = guard::verify_request(&state, &req, ProofRequirements::default()).await?;
    // Only the bare frame or our own URL: a code inside another server's URL is not
    // ours. An animated frame counts within its window (anti-relay), a bare code only
    // if it was shown statically.
    let frame = crate::linking::qr::parse_scanned(
        &body.code,
        &state.settings.server.public_url,
        APPROVE_PATH,
    )
    .map_err(|_| invalid_approval())?;
    let code_hash = match state.qr_frames.check(&frame, Utc::now()) {
        Ok(ScannedFrame::Animated { code, .. }) => qr::approval_code_hash(&code, false),
        Ok(ScannedFrame::Static(code)) => qr::approval_code_hash(&code, true),
        Err(QrError::Expired) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "qr_code_expired",
                crate::i18n::t("api-approval-qr-expired"),
            ));
        }
        Err(QrError::Invalid) => return Err(invalid_approval()),
    };
    let jkt = proof.jkt.as_str().to_owned();
    let now = now();
    let row = state
        .db
        .run(move |conn| {
            let device = crate::devices::service::find_unlockable(conn, &jkt);
            let device = match device {
                Ok(d) => d,
                Err(e) => return Ok(Err(ApiError::from(e))),
            };
            Ok(Ok(store::scan_approval(
                conn,
                &code_hash,
                &device.id,
                &device.account_id,
                now,
            )?))
        })
        .await??
        .ok_or_else(invalid_approval)?;
    let client = state.settings.provider.client(&row.client_id);
    let scope: Vec<String> = row.scope.split(' ').map(str::to_owned).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ScannedApproval {
            client_name: client.map_or_else(|| row.client_id.clone(), |c| c.name.clone()),
            approval_id: row.id_hash,
            client_id: row.client_id,
            shares: scope_items(&scope),
            expires_at: row.approval_expires_at.map(|t| t.and_utc().to_rfc3339()),
        }))
}

fn invalid_approval() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_approval",
        crate::i18n::t("api-invalid-approval"),
    )
}

/// What became of an approval attempt.
enum Approval {
    Approved,
    UnlockRequired,
    Invalid,
}

/// The app approves after a fresh unlock: its access token (with a proof) shows the
/// device and when and how it was unlocked (`auth_time`, `amr`). Approving also records
/// the consent, in the same transaction.
#[utoipa::path(
    post,
    path = "/api/v1/provider/approvals/{id}/approve",
    tag = "approvals",
    params(("id" = String, Path, description = "`approval_id` of the scan.")),
    responses((status = 204, description = "Approved; the browser continues the sign-in."), ApproveErrors),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
pub(super) async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let authorized = auth::authorize(&state, &req).await?;
    let id = path.into_inner();
    if id.is_empty() || id.len() > 64 {
        return Err(invalid_approval());
    }
    let now = now();
    let device_id = authorized.device.id.clone();
    let account_id = authorized.device.account_id.clone();
    let amr = json!(authorized.claims.amr).to_string();
    let auth_time = authorized.claims.auth_time;
    let unlocked_at = auth_time
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc());
    let window = state.settings.provider.approval_unlock_window_secs;
    let settings = state.settings.clone();
    let approval = state
        .db
        .run(move |conn| {
            let Some(row) = store::find_request(conn, &id)? else {
                return Ok(Approval::Invalid);
            };
            if row.device_id.as_deref() != Some(device_id.as_str()) {
                return Ok(Approval::Invalid);
            }
            let max_age = row.max_age.map(i64::from);
            let is_fresh = unlock_is_fresh(auth_time, now.and_utc().timestamp(), window, max_age);
            let Some(unlocked_at) = unlocked_at.filter(|_| is_fresh) else {
                return Ok(Approval::UnlockRequired);
            };
            let name = settings
                .provider
                .client(&row.client_id)
                .map_or_else(|| row.client_id.clone(), |c| c.name.clone());
            conn.transaction(|conn| {
                if !store::decide_approval(
                    conn,
                    &id,
                    &device_id,
                    store::Decision::Approved {
                        amr: &amr,
                        unlocked_at,
                    },
                    now,
                )? {
                    return Ok(Approval::Invalid);
                }
                service::record_consent(
                    conn,
                    &account_id,
                    &row.client_id,
                    &name,
                    &row.scope,
                    &ctx,
                    now,
                )?;
                Ok(Approval::Approved)
            })
        })
        .await?;
    match approval {
        Approval::Approved => Ok(HttpResponse::NoContent().finish()),
        Approval::UnlockRequired => Err(crate::devices::step_up::UnlockRequired.into()),
        Approval::Invalid => Err(invalid_approval()),
    }
}

/// The app refuses: the portal gets `access_denied`.
#[utoipa::path(
    post,
    path = "/api/v1/provider/approvals/{id}/refuse",
    tag = "approvals",
    params(("id" = String, Path, description = "`approval_id` of the scan.")),
    responses((status = 204, description = "Refused; the portal gets `access_denied`."), RefuseErrors),
    security(("dpop_proof" = [])),
)]
pub(super) async fn refuse(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let proof = guard::verify_request(&state, &req, ProofRequirements::default()).await?;
    let jkt = proof.jkt.as_str().to_owned();
    let id = path.into_inner();
    let now = now();
    let decided = state
        .db
        .run(move |conn| {
            let Some(device) = crate::devices::store::find_live_device_by_jkt(conn, &jkt)? else {
                return Ok(false);
            };
            store::decide_approval(conn, &id, &device.id, store::Decision::Refused, now)
        })
        .await?;
    if !decided {
        return Err(invalid_approval());
    }
    Ok(HttpResponse::NoContent().finish())
}
