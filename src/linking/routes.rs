//! The device API's linking endpoints (`/api/v1/links...`): starting, reading,
//! cancelling a link and binding it to an account (QR code or LuxTrust result); the
//! steps after the binding are in `finish`. Every call carries a DPoP proof signed by the
//! device key that started the link. Each handler's `#[utoipa::path]` is its entry in the
//! OpenAPI contract, with its error table in `contract`.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::accounts::{self, ProductKind};
use crate::http::{ApiError, RequestContext, rate_limit};
use crate::protocol::redirect_uri;
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};
use crate::tokens::{Jkt, PublicJwk};

use super::contract::{
    CancelLinkErrors, CreateLinkErrors, GetLinkErrors, RedeemLuxtrustErrors, RedeemQrErrors,
};
use super::rules::{DeviceName, LinkMethod, Platform};
use super::service::{self, LinkError, NewLink};
use super::store::{self, LinkSessionRow};
use super::view::{LinkView, link_view};
use super::{ScannedFrame, finish, parse_link_url};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_link)
        .service(get_link)
        .service(cancel_link)
        .service(redeem_qr_code)
        .service(redeem_luxtrust_result)
        .service(finish::set_secret_code)
        .service(finish::passkey_options)
        .service(finish::add_passkey)
        .service(finish::complete_link)
        .service(super::reset::start_reset);
}

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn invalid_request(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("invalid_request", description)
}

/// "Link your device": the device's name, the method and the installation's key.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateLink {
    /// Trimmed, 1–64 characters, no control, invisible or text-direction characters.
    device_name: String,
    /// `qr` or `luxtrust`.
    #[schema(example = "qr")]
    method: String,
    #[schema(schema_with = super::view::ec_public_jwk_schema)]
    device_key: Value,
    /// `ios`, `android` or `other`.
    #[schema(example = "ios")]
    platform: String,
    /// `luxtrust` method: `luxtrust_mobile` or `luxtrust_scan`.
    product: Option<String>,
    /// `luxtrust` method: where the outcome goes (on the allow-list).
    app_redirect_uri: Option<String>,
}

/// Starts linking this installation. The proof must be signed by `device_key`.
#[utoipa::path(
    tag = "linking",
    request_body = CreateLink,
    responses(
        (status = 201, description = "The link, `state: created` (LuxTrust: with `authorization_url`).", body = LinkView),
        CreateLinkErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links")]
pub(super) async fn create_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateLink>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let now = now();
    limit_link_creations(&state, &ctx, now).await?;
    let body = body.into_inner();
    let name = DeviceName::try_from(body.device_name.as_str())
        .map_err(|m| ApiError::bad_request("invalid_device_name", m))?;
    let platform = Platform::try_from(body.platform.as_str()).map_err(invalid_request)?;
    let (method, product, app_redirect_uri) = match body.method.as_str() {
        "qr" => (LinkMethod::Qr, None, None),
        "luxtrust" => {
            let (method, product, redirect) = luxtrust_choice(
                &state,
                body.product.as_deref(),
                body.app_redirect_uri.as_deref(),
            )?;
            (method, Some(product), Some(redirect))
        }
        _ => return Err(invalid_request(crate::i18n::t("api-link-method-invalid"))),
    };
    let jkt = device_key(&body.device_key)?.jkt();
    guard::verify_request(
        &state,
        &req,
        ProofRequirements {
            expected_jkt: Some(&jkt),
            ..ProofRequirements::default()
        },
    )
    .await?;
    let new = NewLink {
        jkt: jkt.as_str().to_owned(),
        name,
        platform,
        method,
        product,
        app_redirect_uri,
    };
    let ttl = state.settings.linking.link_session_ttl_secs;
    let link = state
        .db
        .run(move |conn| Ok(service::create_link(conn, &new, ttl, &ctx, now)))
        .await??;
    let mut view = link_view(&link, None);
    if link.product.is_some() {
        view.authorization_url = Some(super::luxtrust::authorization_url(&state, &link.id)?);
    }
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// At most `linking.link_creations_per_minute_per_address` new links (and secret-code
/// resets) a minute from one address.
pub(super) async fn limit_link_creations(
    state: &AppState,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let limit = state.settings.linking.link_creations_per_minute_per_address;
    let bucket = format!("link:ip:{}", ctx.ip.as_deref().unwrap_or("-"));
    match state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, limit, 60, now))
        .await?
    {
        Some(retry) => Err(rate_limit::too_many_requests(retry)),
        None => Ok(()),
    }
}

/// The LuxTrust product the app chose (Mobile or Scan only) and its registered redirect URI.
pub(super) fn luxtrust_choice(
    state: &AppState,
    product: Option<&str>,
    app_redirect_uri: Option<&str>,
) -> Result<(LinkMethod, ProductKind, url::Url), ApiError> {
    let (method, product) = match product {
        Some("luxtrust_mobile") => (LinkMethod::LuxtrustMobile, ProductKind::LuxtrustMobile),
        Some("luxtrust_scan") => (LinkMethod::LuxtrustScan, ProductKind::LuxtrustScan),
        _ => return Err(invalid_request(crate::i18n::t("api-invalid-product"))),
    };
    let registered: Vec<String> = state
        .settings
        .linking
        .app_redirect_uris
        .iter()
        .map(|u| u.as_str().to_owned())
        .chain(crate::app::callback_uri(&state.settings))
        .collect();
    let redirect = app_redirect_uri
        .filter(|u| redirect_uri::is_registered(&registered, u))
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_redirect_uri",
                crate::i18n::t("api-app-redirect-uri-invalid"),
            )
        })?;
    Ok((method, product, redirect))
}

/// The key a request names in `device_key`, as a public EC P-256 JWK.
pub(super) fn device_key(value: &Value) -> Result<PublicJwk, ApiError> {
    PublicJwk::from_json_value(value).map_err(|e| {
        ApiError::bad_request(
            "invalid_device_key",
            crate::i18n::t1("api-device-key-invalid", "reason", e.to_string()),
        )
    })
}

/// Loads the link and checks the request's proof against the key that started it, so a
/// stolen `link_id` is useless.
pub(super) async fn authorized_link(
    state: &AppState,
    req: &HttpRequest,
    link_id: &str,
) -> Result<LinkSessionRow, ApiError> {
    if uuid::Uuid::parse_str(link_id).is_err() {
        return Err(LinkError::NotFound.into());
    }
    let id = link_id.to_owned();
    let link = state
        .db
        .run(move |conn| store::find_link_session(conn, &id))
        .await?
        .ok_or(LinkError::NotFound)?;
    let jkt = Jkt::try_from(link.device_jkt.as_str()).map_err(ApiError::internal)?;
    guard::verify_request(
        state,
        req,
        ProofRequirements {
            expected_jkt: Some(&jkt),
            ..ProofRequirements::default()
        },
    )
    .await?;
    Ok(link)
}

async fn display_name_of(
    state: &AppState,
    link: &LinkSessionRow,
) -> Result<Option<String>, ApiError> {
    let Some(account_id) = link.account_id.clone() else {
        return Ok(None);
    };
    Ok(state
        .db
        .run(move |conn| accounts::store::find_account(conn, &account_id))
        .await?
        .map(|a| a.display_name()))
}

/// The `200` answer with the link as it now stands.
pub(super) async fn link_response(
    state: &AppState,
    link: &LinkSessionRow,
) -> Result<HttpResponse, ApiError> {
    let name = display_name_of(state, link).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(link_view(link, name)))
}

/// Reloads the link after a step and answers with it.
pub(super) async fn reloaded_link_response(
    state: &AppState,
    link_id: &str,
) -> Result<HttpResponse, ApiError> {
    let id = link_id.to_owned();
    let link = state
        .db
        .run(move |conn| store::find_link_session(conn, &id))
        .await?
        .ok_or(LinkError::NotFound)?;
    link_response(state, &link).await
}

/// The link's state, for an app that polls (e.g. after the LuxTrust step).
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    responses(
        (status = 200, description = "The link as it stands (also once ended).", body = LinkView),
        GetLinkErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[get("/api/v1/links/{link_id}")]
pub(super) async fn get_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    link_response(&state, &link).await
}

/// The app gives up linking.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    responses((status = 204, description = "The link is cancelled."), CancelLinkErrors),
    security(("dpop_proof" = [])),
)]
#[delete("/api/v1/links/{link_id}")]
pub(super) async fn cancel_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let now = now();
    state
        .db
        .run(move |conn| Ok(service::cancel(conn, &link.id, &ctx, now)))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// What the camera read.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RedeemQr {
    /// The link URL `<public_url>/link#<frame>` or the bare frame (or, from the
    /// no-JavaScript page, the bare 22-character code).
    code: String,
}

/// Redeems the scanned QR code (a link URL or the bare frame): binds the link to the
/// account that showed the code.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    request_body = RedeemQr,
    responses(
        (status = 200, description = "`state: account_bound`, with `account`.", body = LinkView),
        RedeemQrErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links/{link_id}/qr")]
pub(super) async fn redeem_qr_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<RedeemQr>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let limit = state.settings.linking.qr_redemptions_per_minute;
    let buckets = [
        format!("qr:key:{}", link.device_jkt),
        format!("qr:ip:{}", ctx.ip.as_deref().unwrap_or("-")),
    ];
    let now = now();
    if let Some(retry) = state
        .db
        .run(move |conn| {
            for bucket in &buckets {
                if let Some(retry) = rate_limit::hit(conn, bucket, limit, 60, now)? {
                    return Ok(Some(retry));
                }
            }
            Ok(None)
        })
        .await?
    {
        return Err(rate_limit::too_many_requests(retry));
    }

    let frame = parse_link_url(&body.code, &state.settings.server.public_url)
        .map_err(|_| LinkError::QrInvalid)?;
    let scanned = state
        .qr_frames
        .check(&frame, Utc::now())
        .map_err(|e| match e {
            super::QrError::Expired => LinkError::QrExpired,
            super::QrError::Invalid => LinkError::QrInvalid,
        })?;
    let is_static = matches!(scanned, ScannedFrame::Static(_));
    let code_hash = scanned.code().hash();
    let link_id = link.id.clone();
    let bound = state
        .db
        .run(move |conn| {
            Ok(service::redeem_qr(
                conn, &link_id, &code_hash, is_static, &ctx, now,
            ))
        })
        .await??;
    link_response(&state, &bound).await
}

/// The one-time reference eAccess's outcome brought to the app's redirect URI.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RedeemResult {
    /// `result` of the redirect; works once.
    result: String,
}

/// Trades the one-time result reference (delivered to the app's redirect URI after the
/// LuxTrust authentication) for the binding of the link to the account.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    request_body = RedeemResult,
    responses(
        (status = 200, description = "`state: account_bound`, with `account`.", body = LinkView),
        RedeemLuxtrustErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links/{link_id}/luxtrust")]
pub(super) async fn redeem_luxtrust_result(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<RedeemResult>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    if body.result.is_empty() || body.result.len() > 128 {
        return Err(super::luxtrust::invalid_result());
    }
    let result_hash = crate::web::session::hash_token(&body.result);
    let now = now();
    let link_id = link.id.clone();
    let bound = state
        .db
        .run(move |conn| {
            Ok(super::luxtrust::bind(
                conn,
                &link_id,
                &result_hash,
                &ctx,
                now,
            ))
        })
        .await??;
    link_response(&state, &bound).await
}
