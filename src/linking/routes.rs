//! The device API's linking endpoints (`/api/v1/links...`). Every call carries a DPoP
//! proof signed by the device key that started the link.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::accounts::{self, ProductKind};
use crate::devices::SecretCodeError;
use crate::devices::secret_code::parse_secret_code;
use crate::http::{ApiError, RequestContext, rate_limit};
use crate::mail;
use crate::protocol::redirect_uri;
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};
use crate::tokens::{Jkt, PublicJwk};

use super::rules::{DeviceName, LinkMethod, LinkState, Platform};
use super::service::{self, LinkError, NewLink};
use super::store::{self, LinkSessionRow};
use super::{ScannedFrame, parse_link_url};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_link)
        .service(get_link)
        .service(cancel_link)
        .service(redeem_qr_code)
        .service(redeem_luxtrust_result)
        .service(set_secret_code)
        .service(passkey_options)
        .service(add_passkey)
        .service(complete_link);
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn invalid_request(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request("invalid_request", description)
}

/// The JSON view of a link for the app. A link past its expiry reads as expired even
/// before the janitor has marked it.
fn link_view(link: &LinkSessionRow, display_name: Option<String>) -> Value {
    let mut state = LinkState::parse(&link.state).unwrap_or(LinkState::Expired);
    if !state.is_terminal() && link.expires_at <= now() {
        state = LinkState::Expired;
    }
    let mut view = json!({
        "link_id": link.id,
        "state": state.as_str(),
        "method": link.method,
        "device_name": link.device_name,
        "expires_at": link.expires_at.and_utc().to_rfc3339(),
        "next": state.next_steps(),
    });
    if let Some(name) = display_name {
        view["account"] = json!({"display_name": name});
    }
    if let Some(device_id) = &link.device_id {
        view["device_id"] = json!(device_id);
    }
    if let Some(product) = &link.product {
        view["product"] = json!(product);
        if state == LinkState::Created {
            view["next"] = json!(["open_authorization_url", "redeem_luxtrust_result"]);
        }
    }
    if let Some(code) = &link.refusal {
        let refusal = super::luxtrust::Refusal::from_code(code);
        view["refusal"] = json!({"error": refusal.code(), "error_description": refusal.describe()});
    }
    view
}

#[derive(Debug, Deserialize)]
struct CreateLink {
    device_name: String,
    method: String,
    device_key: Value,
    platform: String,
    /// `luxtrust` method: `luxtrust_mobile` or `luxtrust_scan`.
    product: Option<String>,
    /// `luxtrust` method: where the outcome goes (on the allow-list).
    app_redirect_uri: Option<String>,
}

/// Starts linking this installation. The proof must be signed by `device_key`.
#[post("/api/v1/links")]
async fn create_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateLink>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let limit = state.settings.linking.link_creations_per_minute_per_address;
    let bucket = format!("link:ip:{}", ctx.ip.as_deref().unwrap_or("-"));
    let now = now();
    if let Some(retry) = state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, limit, 60, now))
        .await?
    {
        return Err(rate_limit::too_many_requests(retry));
    }
    let body = body.into_inner();
    let name = DeviceName::try_from(body.device_name.as_str())
        .map_err(|m| ApiError::bad_request("invalid_device_name", m))?;
    let platform = Platform::try_from(body.platform.as_str()).map_err(invalid_request)?;
    let (method, product, app_redirect_uri) = match body.method.as_str() {
        "qr" => (LinkMethod::Qr, None, None),
        "luxtrust" => {
            let (method, product) = match body.product.as_deref() {
                Some("luxtrust_mobile") => {
                    (LinkMethod::LuxtrustMobile, ProductKind::LuxtrustMobile)
                }
                Some("luxtrust_scan") => (LinkMethod::LuxtrustScan, ProductKind::LuxtrustScan),
                _ => {
                    return Err(invalid_request(crate::i18n::t("api-invalid-product")));
                }
            };
            let registered: Vec<String> = state
                .settings
                .linking
                .app_redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .chain(crate::app::callback_uri(&state.settings))
                .collect();
            let redirect = body
                .app_redirect_uri
                .as_deref()
                .filter(|u| redirect_uri::is_registered(&registered, u))
                .and_then(|u| url::Url::parse(u).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_redirect_uri",
                        "app_redirect_uri is missing or not registered for this app.",
                    )
                })?;
            (method, Some(product), Some(redirect))
        }
        _ => return Err(invalid_request("method must be \"qr\" or \"luxtrust\".")),
    };
    let key = PublicJwk::from_json_value(&body.device_key).map_err(|e| {
        ApiError::bad_request(
            "invalid_device_key",
            format!("device_key must be a public EC P-256 JWK: {e}"),
        )
    })?;
    let jkt = key.jkt();
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
        view["authorization_url"] = json!(super::luxtrust::authorization_url(&state, &link.id)?);
    }
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// Loads the link and checks the request's proof against the key that started it, so a
/// stolen `link_id` is useless.
async fn authorized_link(
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
async fn link_response(state: &AppState, link: &LinkSessionRow) -> Result<HttpResponse, ApiError> {
    let name = display_name_of(state, link).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(link_view(link, name)))
}

/// Reloads the link after a step and answers with it.
async fn reloaded_link_response(state: &AppState, link_id: &str) -> Result<HttpResponse, ApiError> {
    let id = link_id.to_owned();
    let link = state
        .db
        .run(move |conn| store::find_link_session(conn, &id))
        .await?
        .ok_or(LinkError::NotFound)?;
    link_response(state, &link).await
}

/// The link's state, for an app that polls (e.g. after the LuxTrust step).
#[get("/api/v1/links/{link_id}")]
async fn get_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    link_response(&state, &link).await
}

/// The app gives up linking.
#[delete("/api/v1/links/{link_id}")]
async fn cancel_link(
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

#[derive(Debug, Deserialize)]
struct RedeemQr {
    code: String,
}

/// Redeems the scanned QR code (a link URL or the bare frame): binds the link to the
/// account that showed the code.
#[post("/api/v1/links/{link_id}/qr")]
async fn redeem_qr_code(
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

#[derive(Debug, Deserialize)]
struct RedeemResult {
    result: String,
}

/// Trades the one-time result reference (delivered to the app's redirect URI after the
/// LuxTrust authentication) for the binding of the link to the account.
#[post("/api/v1/links/{link_id}/luxtrust")]
async fn redeem_luxtrust_result(
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

#[derive(Debug, Deserialize)]
struct SecretCodeBody {
    secret_code: String,
}

/// Sets the 6-digit secret code. Stored only as an Argon2id verifier keyed with the
/// server's pepper; never logged, never returned.
#[put("/api/v1/links/{link_id}/secret-code")]
async fn set_secret_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<SecretCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let code = parse_secret_code(&body.secret_code)?;
    let now = now();
    {
        // Refuse out-of-order calls before spending Argon2 time.
        let link = link.clone();
        state
            .db
            .run(move |conn| {
                Ok(service::find_live(conn, &link.id, now)
                    .and_then(|l| service::check_step(&l, super::rules::Step::SetSecretCode)))
            })
            .await??;
    }
    let hasher = state.secret_codes.clone();
    let verifier = state
        .secret_codes
        .bounded(move || hasher.hash(&code))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let link_id = link.id.clone();
    state
        .db
        .run(move |conn| Ok(service::set_secret_code(conn, &link_id, &verifier, now)))
        .await??;
    reloaded_link_response(&state, &link.id).await
}

impl From<SecretCodeError> for ApiError {
    fn from(err: SecretCodeError) -> Self {
        ApiError::internal(err)
    }
}

/// WebAuthn creation options for the app's passkey (user verification required).
#[post("/api/v1/links/{link_id}/passkey/options")]
async fn passkey_options(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let now = now();
    let link_id = link.id.clone();
    let account = state
        .db
        .run(move |conn| {
            let link = match service::find_live(conn, &link_id, now)
                .and_then(|l| service::check_step(&l, super::rules::Step::AddPasskey).map(|()| l))
            {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let account = match link.account_id.as_deref() {
                Some(id) => accounts::store::find_account(conn, id)?,
                None => None,
            };
            Ok(account.ok_or(LinkError::InvalidState(link.state)))
        })
        .await??;
    let handle =
        uuid::Uuid::parse_str(&account.webauthn_user_handle).map_err(ApiError::internal)?;
    let (options, registration) = state
        .webauthn
        .start_passkey_registration(handle, &account.email, &account.display_name(), None)
        .map_err(ApiError::internal)?;
    let ceremony = serde_json::to_string(&registration).map_err(ApiError::internal)?;
    let link_id = link.id.clone();
    let stored = state
        .db
        .run(move |conn| store::set_webauthn_state(conn, &link_id, &ceremony, now))
        .await?;
    if !stored {
        return Err(LinkError::InvalidState(link.state).into());
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(options))
}

#[derive(Debug, Deserialize)]
struct AddPasskey {
    credential: RegisterPublicKeyCredential,
}

/// Verifies the new passkey (user verification required) and keeps it until completion.
#[post("/api/v1/links/{link_id}/passkey")]
async fn add_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<AddPasskey>,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let ended = matches!(
        LinkState::parse(&link.state),
        Some(LinkState::Expired | LinkState::Cancelled | LinkState::Refused)
    );
    if ended || (link.state != LinkState::Completed.as_str() && link.expires_at <= now()) {
        return Err(LinkError::Expired.into());
    }
    service::check_step(&link, super::rules::Step::AddPasskey)?;
    let ceremony_json = link.webauthn_state.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "invalid_link_state",
            crate::i18n::t("api-passkey-options-first"),
        )
    })?;
    let ceremony: PasskeyRegistration =
        serde_json::from_str(&ceremony_json).map_err(ApiError::internal)?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(&body.credential, &ceremony)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            ApiError::bad_request(
                "invalid_passkey",
                crate::i18n::t("api-link-passkey-invalid"),
            )
            .with_field("reason", e.to_string())
        })?;
    let passkey_json = serde_json::to_string(&passkey).map_err(ApiError::internal)?;
    let now = now();
    let link_id = link.id.clone();
    let stored = state
        .db
        .run(move |conn| store::set_passkey(conn, &link_id, &ceremony_json, &passkey_json, now))
        .await?;
    if !stored {
        return Err(LinkError::InvalidState(link.state).into());
    }
    reloaded_link_response(&state, &link.id).await
}

/// Queues "A mobile device was linked to your account" in the linking transaction, so
/// the email exists exactly when the link does.
fn enqueue_linked_mail(
    conn: &mut crate::db::DbConnection,
    done: &service::Completed,
    public_url: &url::Url,
    now: NaiveDateTime,
) -> Result<(), crate::db::StoreError> {
    let Ok(to) = done.account.email.parse::<mail::Address>() else {
        tracing::warn!(account = %done.account.id, "the account's email address cannot receive mail");
        return Ok(());
    };
    let mut manage_url = public_url
        .join("/devices")
        .map_err(|e| crate::db::StoreError::Corrupt(e.to_string()))?;
    manage_url
        .query_pairs_mut()
        .append_pair("device", &done.device.id);
    let method_label = LinkMethod::parse(&done.device.method).map_or("QR code", LinkMethod::label);
    mail::enqueue(
        conn,
        &mail::Mail::device_linked(
            to,
            mail::DeviceLinkedMail {
                display_name: done.account.display_name(),
                device_name: done.device.name.clone(),
                method_label: method_label.to_owned(),
                linked_at: now,
                manage_url,
            },
        ),
        now,
    )?;
    Ok(())
}

/// Finishes linking: only now does the device count as linked.
#[post("/api/v1/links/{link_id}/complete")]
async fn complete_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let now = now();
    let link_id = link.id.clone();
    let manage = state.settings.server.public_url.clone();
    let done = state
        .db
        .run(move |conn| {
            Ok(service::complete(
                conn,
                &link_id,
                &ctx,
                now,
                |conn, done| enqueue_linked_mail(conn, done, &manage, now),
            ))
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "link_id": link.id,
            "state": "completed",
            "device_id": done.device.id,
            "account": {"display_name": done.account.display_name()},
            "biometrics": done.has_passkey,
        })))
}
