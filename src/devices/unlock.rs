//! Opening the app: `POST /api/v1/device/unlock` with the secret code or a passkey
//! assertion, the biometric unlock's options, and `POST /api/v1/device/token`
//! (refresh, token exchange). Each answers DPoP-bound tokens (RFC 9449).

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use crate::http::openapi::RequestOptions;
use crate::http::{ApiError, RequestContext, rate_limit};
use crate::state::AppState;
use crate::tokens::UnlockMethod;
use crate::tokens::guard::{self, ProofRequirements};

use super::SecretCode;
use super::contract::{TokenErrors, UnlockErrors, UnlockOptionsErrors};
use super::routes::{
    check_secret_code, lifetimes, now, parse_passkeys, store_ceremony, token_response,
};
use super::service::{self, DeviceError, Issued};
use super::store::{self, DeviceRow};
use super::view::TokenResponse;

/// How the citizen opens the app.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UnlockBody {
    /// `secret_code` or `biometrics`.
    #[schema(example = "secret_code")]
    method: String,
    /// `secret_code` method: 6 digits.
    #[schema(example = "482913")]
    secret_code: Option<String>,
    /// `biometrics` method: the WebAuthn assertion (`PublicKeyCredential.toJSON()`) for
    /// the options of `POST /api/v1/device/unlock/biometrics/options`.
    #[schema(value_type = Option<Object>)]
    credential: Option<Value>,
}

/// Opens the app: a proof by a linked device's key with a server nonce, and the secret
/// code or a biometric WebAuthn assertion → a DPoP-bound access token and refresh token.
#[utoipa::path(
    tag = "device",
    request_body = UnlockBody,
    responses(
        (status = 200, description = "DPoP-bound tokens; `Cache-Control: no-store`.", body = TokenResponse),
        UnlockErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/device/unlock")]
pub(super) async fn unlock(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<UnlockBody>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let proof = guard::verify_request(
        &state,
        &req,
        ProofRequirements {
            require_nonce: true,
            ..ProofRequirements::default()
        },
    )
    .await?;
    let jkt = proof.jkt.as_str().to_owned();
    let limits = &state.settings.tokens;
    let buckets = [
        (
            format!("unlock:key:{jkt}"),
            limits.unlock_per_minute_per_device,
        ),
        (
            format!("unlock:ip:{}", ctx.ip.as_deref().unwrap_or("-")),
            limits.unlock_per_minute_per_address,
        ),
    ];
    let now = now();
    let device = state
        .db
        .run(move |conn| {
            for (bucket, limit) in &buckets {
                if let Some(retry) = rate_limit::hit(conn, bucket, *limit, 60, now)? {
                    return Ok(Err(rate_limit::too_many_requests(retry)));
                }
            }
            Ok(service::find_unlockable(conn, &jkt).map_err(ApiError::from))
        })
        .await??;
    let body = body.into_inner();
    let issued = match body.method.as_str() {
        "secret_code" => {
            let raw = body.secret_code.as_deref().ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_request",
                    crate::i18n::t("api-secret-code-required"),
                )
            })?;
            let code = SecretCode::try_from(raw).map_err(|_| {
                ApiError::bad_request("invalid_request", crate::i18n::t("api-secret-code-format"))
            })?;
            check_secret_code(&state, &device, code, &ctx).await?;
            let id = device.id.clone();
            let lifetimes = lifetimes(&state);
            let ctx = ctx.clone();
            state
                .db
                .run(move |conn| {
                    Ok(service::grant_unlock(
                        conn,
                        &id,
                        UnlockMethod::SecretCode,
                        lifetimes,
                        &ctx,
                        now,
                    ))
                })
                .await??
        }
        "biometrics" => {
            let credential: PublicKeyCredential = body
                .credential
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_request",
                        crate::i18n::t("api-credential-required"),
                    )
                })
                .and_then(|c| {
                    serde_json::from_value(c).map_err(|e| {
                        ApiError::bad_request(
                            "invalid_request",
                            crate::i18n::t1("api-credential-invalid", "reason", e.to_string()),
                        )
                    })
                })?;
            unlock_with_passkey(&state, &device, &credential, ctx.clone(), now).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                crate::i18n::t("api-unlock-method-invalid"),
            ));
        }
    };
    token_response(&state, &issued)
}

/// Verifies a biometric assertion against this device's own passkeys (the ceremony
/// allowed only them), stores the passkey's new counter, and grants the unlock.
async fn unlock_with_passkey(
    state: &AppState,
    device: &DeviceRow,
    credential: &PublicKeyCredential,
    ctx: RequestContext,
    now: NaiveDateTime,
) -> Result<Issued, ApiError> {
    let id = device.id.clone();
    let (ceremony, passkeys) = state
        .db
        .run(move |conn| {
            let passkeys = store::find_passkeys(conn, &id)?;
            if passkeys.is_empty() {
                return Ok(Err(DeviceError::BiometricsNotEnabled));
            }
            let ceremony = store::take_ceremony(conn, &id, "unlock", now)?;
            Ok(ceremony
                .map(|c| (c, passkeys))
                .ok_or(DeviceError::NoCeremony))
        })
        .await??;
    let ceremony: PasskeyAuthentication =
        serde_json::from_str(&ceremony.state).map_err(ApiError::internal)?;
    let result = state
        .webauthn
        .finish_passkey_authentication(credential, &ceremony)
        .map_err(|e| {
            tracing::info!(device = %device.id, error = %e, "biometric unlock refused");
            DeviceError::InvalidPasskey(e.to_string())
        })?;
    let mut updated = None;
    for row in passkeys {
        let mut passkey: webauthn_rs::prelude::Passkey =
            serde_json::from_str(&row.passkey).map_err(ApiError::internal)?;
        if passkey.cred_id() == result.cred_id() {
            if passkey.update_credential(&result).unwrap_or(false) {
                updated = Some((
                    row.id.clone(),
                    serde_json::to_string(&passkey).map_err(ApiError::internal)?,
                ));
            } else {
                updated = Some((row.id.clone(), row.passkey.clone()));
            }
            break;
        }
    }
    let Some((passkey_id, passkey_json)) = updated else {
        return Err(DeviceError::InvalidPasskey("credential of another device".into()).into());
    };
    let id = device.id.clone();
    let lifetimes = lifetimes(state);
    Ok(state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            // The counter is stored only if the unlock is granted, in one transaction.
            conn.transaction(|conn| {
                store::update_passkey(conn, &passkey_id, &passkey_json, now)?;
                service::grant_unlock(conn, &id, UnlockMethod::Biometrics, lifetimes, &ctx, now)
            })
            .map_or_else(
                |e| match e {
                    DeviceError::Store(s) => Err(s),
                    other => Ok(Err(other)),
                },
                |issued| Ok(Ok(issued)),
            )
        })
        .await??)
}

/// WebAuthn request options for unlocking with biometrics: user verification required,
/// only this device's passkeys allowed. The ceremony is kept server-side, single use.
#[utoipa::path(
    tag = "device",
    responses(
        (status = 200, description = "WebAuthn request options; the ceremony is kept 5 minutes, single use.", body = RequestOptions),
        UnlockOptionsErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/device/unlock/biometrics/options")]
pub(super) async fn unlock_biometrics_options(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = guard::verify_request(&state, &req, ProofRequirements::default()).await?;
    let jkt = proof.jkt.as_str().to_owned();
    let (device, passkeys) = state
        .db
        .run(move |conn| {
            let device = match service::find_unlockable(conn, &jkt) {
                Ok(d) => d,
                Err(e) => return Ok(Err(e)),
            };
            let passkeys = store::find_passkeys(conn, &device.id)?;
            Ok(Ok((device, passkeys)))
        })
        .await??;
    let passkeys = parse_passkeys(&passkeys)?;
    if passkeys.is_empty() {
        return Err(DeviceError::BiometricsNotEnabled.into());
    }
    let (options, ceremony) = state
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(ApiError::internal)?;
    store_ceremony(&state, &device.id, "unlock", &ceremony).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(options))
}

/// A refresh (RFC 6749 section 6), as `application/x-www-form-urlencoded`.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct TokenForm {
    /// `refresh_token`.
    #[schema(example = "refresh_token")]
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// An OAuth error of the token endpoint (RFC 6749 section 5.2): 400, no-store.
fn oauth_error(code: &'static str, description: &'static str) -> ApiError {
    ApiError::bad_request(code, description)
}

/// Rotates a refresh token (RFC 6749 section 6) presented with a proof, with a server
/// nonce, by the key it is bound to.
#[utoipa::path(
    tag = "device",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "New tokens (the refresh token presented is spent); the unlock's `auth_time` and `amr` are kept.", body = TokenResponse),
        TokenErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/device/token")]
pub(super) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    // At the token endpoint proof and nonce errors are 400 (RFC 9449 sections 5 and 8).
    let as_bad_request = guard::at_token_endpoint;
    let proof = guard::check_request(
        &state,
        &req,
        ProofRequirements {
            require_nonce: true,
            ..ProofRequirements::default()
        },
    )
    .map_err(as_bad_request)?;
    let form = form.into_inner();
    if form.grant_type.as_deref() != Some("refresh_token") {
        return Err(oauth_error(
            "unsupported_grant_type",
            "Only grant_type=refresh_token is supported here.",
        ));
    }
    let Some(refresh_token) = form
        .refresh_token
        .filter(|t| !t.is_empty() && t.len() <= 256)
    else {
        return Err(oauth_error("invalid_request", "refresh_token is required."));
    };
    let lifetimes = lifetimes(&state);
    let now = now();
    // One database hop: the proof's jti, then the rotation.
    let issued = state
        .db
        .run(move |conn| {
            if let Err(replayed) = proof.remember(conn)? {
                return Ok(Err(as_bad_request(replayed)));
            }
            let jkt = proof.proof.jkt.as_str();
            let outcome = service::refresh(conn, &refresh_token, jkt, lifetimes, &ctx, now)?;
            Ok(outcome.map_err(|e| oauth_error("invalid_grant", e.0)))
        })
        .await??;
    token_response(&state, &issued)
}
