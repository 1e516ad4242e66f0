//! The QR code of "Sign in with your mobile app": its page, the animated frames the
//! page's script asks for, and the landing page of the code's URL. The code is shown as
//! HMAC frames with the link QR code's window (`linking::qr`), so that a relayed photo
//! goes stale; only the page shown without JavaScript makes a code that stays the same.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::approval::{APPROVE_PATH, now, rules_acr};
use super::flow::{bound_request, client_of, request_gone};
use super::pages::{AppApprovalPage, ApproveLandingPage};
use super::{rules, store};
use crate::http::{ApiError, PageError};
use crate::linking::LinkCode;
use crate::state::AppState;
use crate::web::html;
use crate::web::session::hash_token;

pub(super) async fn landing() -> Result<HttpResponse, PageError> {
    html(StatusCode::OK, &ApproveLandingPage { nav: None })
}

#[derive(Debug, Deserialize)]
pub(super) struct ShowQuery {
    request: String,
    /// `static=1`: a code that does not change, for a browser without JavaScript.
    #[serde(rename = "static")]
    is_static: Option<String>,
}

/// The stored hash of an approval code. A code shown as animated frames and one shown
/// statically (no JavaScript) hash differently, so that the code read out of an
/// animated frame, relayed bare, finds no request: only the frame within its window
/// counts, as for the link QR code.
pub(super) fn approval_code_hash(code: &LinkCode, is_static: bool) -> String {
    if is_static {
        hash_token(&format!("static:{}", code.expose()))
    } else {
        hash_token(code.expose())
    }
}

/// The QR code's text: `<public_url>/approve#<frame or bare code>`.
fn approval_url(state: &AppState, frame: &str) -> String {
    let mut content = state.settings.server.public_url.clone();
    let path = format!("{}/{APPROVE_PATH}", content.path().trim_end_matches('/'));
    content.set_path(&path);
    content.set_fragment(Some(frame));
    content.to_string()
}

fn qr_png(content: &str) -> Result<String, anyhow::Error> {
    Ok(STANDARD.encode(crate::linking::render::png(content)?))
}

pub(super) async fn show_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    let (row, _) = bound_request(&state, &req, &query.request).await?;
    let client = client_of(&state, &row)?.clone();
    if !rules::admits_device(&rules_acr(&row)) {
        return Err(request_gone());
    }
    let is_static = query.is_static.is_some();
    let code = LinkCode::generate();
    let ttl = state.settings.provider.approval_ttl_secs;
    let expires_at = now() + Duration::seconds(ttl);
    let (id, code_hash) = (row.id_hash.clone(), approval_code_hash(&code, is_static));
    let shown = state
        .db
        .run(move |conn| store::set_approval_code(conn, &id, &code_hash, expires_at))
        .await?;
    if !shown {
        return Err(request_gone());
    }
    let frame = if is_static {
        code.expose().to_owned()
    } else {
        state.qr_frames.frame_at(&code, Utc::now())
    };
    let png = qr_png(&approval_url(&state, &frame)).map_err(PageError::internal)?;
    html(
        StatusCode::OK,
        &AppApprovalPage {
            nav: None,
            client_name: client.name,
            request_id: query.request.clone(),
            qr_png: png,
            ttl_minutes: (ttl + 59) / 60,
            code: if is_static {
                String::new()
            } else {
                code.expose().to_owned()
            },
            step_ms: i64::from(state.settings.linking.qr_frame_step_secs) * 1000,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct FrameBody {
    request: String,
    code: String,
}

/// The page's script asks for the next animated frame of its code (same browser,
/// code still shown): a PNG data URL, never cached.
pub(super) async fn next_frame(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<FrameBody>,
) -> Result<HttpResponse, ApiError> {
    let gone = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_approval",
            crate::i18n::t("api-approval-not-shown"),
        )
    };
    let (row, _) = bound_request(&state, &req, &body.request)
        .await
        .map_err(|_| gone())?;
    let code = LinkCode::try_from(body.code.as_str()).map_err(|_| gone())?;
    let expected = approval_code_hash(&code, false);
    let is_shown = row.approval_state == "shown"
        && row.approval_expires_at.is_some_and(|t| t > now())
        && row
            .approval_code_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(expected.as_bytes())));
    if !is_shown {
        return Err(gone());
    }
    let frame = state.qr_frames.frame_at(&code, Utc::now());
    let png = qr_png(&approval_url(&state, &frame)).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"png": png})))
}
