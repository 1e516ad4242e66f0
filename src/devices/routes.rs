//! The device API after linking: unlock (secret code or biometrics), token refresh,
//! `/me`, and the app's self-service (new secret code, biometrics on/off, unlink).
//! Handlers are thin: extract, call the service inside one `db.run`, map the result.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::accounts;
use crate::audit::EventKind;
use crate::db::StoreError;
use crate::http::openapi::CreationOptions;
use crate::http::{ApiError, RequestContext};
use crate::state::AppState;

use super::SecretCode;
use super::auth::{self, AuthorizedDevice, authorize};
use super::contract::{
    BiometricsOptionsErrors, ChangeSecretCodeErrors, DisableBiometricsErrors,
    EnableBiometricsErrors, MeErrors, UnlinkErrors,
};
use super::secret_code::parse_secret_code;
use super::service::{self, DeviceError, Issued, Lifetimes, Notify};
use super::step_up::{self, Operation, Unlock};
use super::store::{self, CeremonyRow, DeviceRow, PasskeyRow};
use super::view::{BiometricsView, DeviceView, EspaceView, Me, TokenResponse};

/// How long WebAuthn options of a linked device stay valid.
const CEREMONY_TTL_SECS: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::unlock::unlock)
        .service(super::unlock::unlock_biometrics_options)
        .service(super::unlock::token)
        .service(get_me)
        .service(change_secret_code)
        .service(biometrics_options)
        .service(enable_biometrics)
        .service(disable_biometrics)
        .service(unlink_device);
}

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub(super) fn lifetimes(state: &AppState) -> Lifetimes {
    Lifetimes {
        refresh_idle_secs: state.settings.tokens.refresh_token_idle_secs,
        refresh_absolute_secs: state.settings.tokens.refresh_token_absolute_secs,
    }
}

pub(super) fn notify(state: &AppState, ctx: RequestContext) -> Notify {
    Notify {
        public_url: state.settings.server.public_url.clone(),
        ctx,
        settings: std::sync::Arc::clone(&state.settings),
    }
}

/// Refuses `operation` unless the token's unlock satisfies the step-up policy.
fn require(
    state: &AppState,
    authorized: &AuthorizedDevice,
    operation: Operation,
) -> Result<(), ApiError> {
    let shown = Unlock {
        amr: &authorized.claims.amr,
        auth_time: authorized.claims.auth_time,
    };
    step_up::check(
        operation,
        step_up::Windows::of(&state.settings),
        shown,
        now(),
    )
    .map_err(|e| {
        tracing::info!(device = %authorized.device.id, ?operation, "step-up required");
        ApiError::from(e)
    })
}

fn max_attempts(state: &AppState) -> u32 {
    state.settings.devices.max_failed_attempts
}

/// The token response (RFC 6749 section 5.1, RFC 9449 section 5): never cached.
pub(super) fn token_response(state: &AppState, issued: &Issued) -> Result<HttpResponse, ApiError> {
    let access_token = state
        .tokens
        .issue(&issued.grant, Utc::now())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "DPoP",
            expires_in: state.tokens.ttl_secs(),
            refresh_token: issued.refresh_token.clone(),
            device_id: issued.grant.device_id.clone(),
            amr: issued.grant.amr.clone(),
        }))
}

/// Checks `code` against the device's verifier with an attempt reserved first, so that
/// parallel guesses never evaluate more than the allowed number. Argon2 runs on the
/// blocking pool without holding a database connection.
pub(super) async fn check_secret_code(
    state: &AppState,
    device: &DeviceRow,
    code: SecretCode,
    ctx: &RequestContext,
) -> Result<(), ApiError> {
    let max = max_attempts(state);
    let now = now();
    let id = device.id.clone();
    let who = notify(state, ctx.clone());
    let (verifier, failures) = state
        .db
        .run(move |conn| Ok(service::reserve_attempt(conn, &id, max, &who, now)))
        .await??;
    let hasher = state.secret_codes.clone();
    let (is_right, rehashed) = state
        .secret_codes
        .bounded(move || {
            let is_right = hasher.verify(&code, &verifier);
            // Raised Argon2 parameters reach old verifiers at the next right code.
            let rehashed = (is_right && hasher.needs_rehash(&verifier))
                .then(|| hasher.hash(&code).ok())
                .flatten();
            (is_right, rehashed)
        })
        .await
        .map_err(ApiError::internal)?;
    if is_right {
        if let Some(verifier) = rehashed {
            let id = device.id.clone();
            state
                .db
                .run(move |conn| store::update_verifier(conn, &id, &verifier, now))
                .await?;
        }
        return Ok(());
    }
    tracing::info!(device = %device.id, failures, "wrong secret code");
    let id = device.id.clone();
    let who = notify(state, ctx.clone());
    let err = state
        .db
        .run(move |conn| Ok(service::record_failure(conn, &id, failures, max, &who, now)))
        .await?;
    Err(err.into())
}

pub(super) fn parse_passkeys(
    rows: &[PasskeyRow],
) -> Result<Vec<webauthn_rs::prelude::Passkey>, ApiError> {
    rows.iter()
        .map(|r| serde_json::from_str(&r.passkey).map_err(ApiError::internal))
        .collect()
}

pub(super) async fn store_ceremony(
    state: &AppState,
    device_id: &str,
    purpose: &'static str,
    ceremony: &impl serde::Serialize,
) -> Result<(), ApiError> {
    let now = now();
    let row = CeremonyRow {
        id: uuid::Uuid::new_v4().to_string(),
        device_id: device_id.to_owned(),
        purpose: purpose.to_owned(),
        state: serde_json::to_string(ceremony).map_err(ApiError::internal)?,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(CEREMONY_TTL_SECS),
    };
    state
        .db
        .run(move |conn| store::put_ceremony(conn, &row))
        .await?;
    Ok(())
}

/// The account behind the token, for the app's home screen.
#[utoipa::path(
    tag = "device",
    responses((status = 200, description = "The account and this device.", body = Me), MeErrors),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[get("/api/v1/me")]
pub(super) async fn get_me(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, me) = auth::authorize_with(&state, &req, |conn, device| {
        let account = accounts::store::find_account(conn, &device.account_id)?
            .ok_or_else(|| StoreError::Corrupt("device without account".into()))?;
        let espaces = accounts::store::find_espaces(conn, &account.id)?;
        let linked = store::count_live_devices(conn, &account.id)?;
        let biometrics = store::has_passkey(conn, &device.id)?;
        Ok(Me {
            display_name: account.display_name(),
            espaces: espaces
                .iter()
                .map(|e| EspaceView {
                    kind: e.kind.clone(),
                    name: e.name.clone(),
                })
                .collect(),
            linked_devices: linked,
            device: DeviceView {
                id: device.id.clone(),
                name: device.name.clone(),
                biometrics,
                linked_at: device.linked_at.and_utc().to_rfc3339(),
            },
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(me))
}

/// A new secret code, with the current one.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ChangeSecretCode {
    /// 6 digits; counts as an attempt (same counter and lock as unlock).
    #[schema(example = "482913")]
    current_secret_code: String,
    /// 6 digits, not easily guessed.
    #[schema(example = "125634")]
    new_secret_code: String,
}

/// A new secret code; the current one is required and counts as an attempt
/// ([`Operation::ChangeSecretCode`]).
#[utoipa::path(
    tag = "device",
    request_body = ChangeSecretCode,
    responses((status = 204, description = "The new code is set."), ChangeSecretCodeErrors),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[put("/api/v1/device/secret-code")]
pub(super) async fn change_secret_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ChangeSecretCode>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let AuthorizedDevice { device, .. } = authorize(&state, &req).await?;
    let current = SecretCode::try_from(body.current_secret_code.as_str()).map_err(|_| {
        ApiError::bad_request("invalid_request", crate::i18n::t("api-current-code-format"))
    })?;
    let new = parse_secret_code(&body.new_secret_code)?;
    check_secret_code(&state, &device, current, &ctx).await?;
    let hasher = state.secret_codes.clone();
    let verifier = state
        .secret_codes
        .bounded(move || hasher.hash(&new))
        .await
        .map_err(ApiError::internal)??;
    let now = now();
    state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            conn.transaction(|conn| {
                if !store::update_verifier(conn, &device.id, &verifier, now)? {
                    return Ok(Err(DeviceError::InvalidDevice));
                }
                service::audit_device(conn, &device, EventKind::SecretCodeChanged, &ctx, now)?;
                Ok(Ok(()))
            })
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// WebAuthn creation options to turn biometrics on (user verification required).
#[utoipa::path(
    tag = "device",
    responses(
        (status = 200, description = "WebAuthn creation options (the device's credentials excluded); the token must come from a secret-code unlock of the last `tokens.credential_change_window_secs`.", body = CreationOptions),
        BiometricsOptionsErrors,
    ),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[post("/api/v1/device/biometrics/options")]
pub(super) async fn biometrics_options(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let authorized = authorize(&state, &req).await?;
    require(&state, &authorized, Operation::AddPasskey)?;
    let AuthorizedDevice { device, .. } = authorized;
    let account_id = device.account_id.clone();
    let device_id = device.id.clone();
    let (account, existing) = state
        .db
        .run(move |conn| {
            let account = accounts::store::find_account(conn, &account_id)?
                .ok_or_else(|| StoreError::Corrupt("device without account".into()))?;
            Ok((account, store::find_passkeys(conn, &device_id)?))
        })
        .await?;
    let exclude = parse_passkeys(&existing)?
        .iter()
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let handle =
        uuid::Uuid::parse_str(&account.webauthn_user_handle).map_err(ApiError::internal)?;
    let (options, ceremony) = state
        .webauthn
        .start_passkey_registration(
            handle,
            &account.email,
            &account.display_name(),
            Some(exclude),
        )
        .map_err(ApiError::internal)?;
    store_ceremony(&state, &device.id, "register", &ceremony).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(options))
}

/// The authenticator's answer to the creation options.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct EnableBiometrics {
    /// A WebAuthn `PublicKeyCredential` as JSON (`PublicKeyCredential.toJSON()`).
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Verifies the new passkey and makes it the device's biometric unlock (replacing an
/// earlier one).
#[utoipa::path(
    tag = "device",
    request_body = EnableBiometrics,
    responses(
        (status = 200, description = "Biometrics are on (the new passkey replaces an earlier one).", body = BiometricsView),
        EnableBiometricsErrors,
    ),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[post("/api/v1/device/biometrics")]
pub(super) async fn enable_biometrics(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<EnableBiometrics>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let authorized = authorize(&state, &req).await?;
    // Checked again at the end of the ceremony: the options may have been fetched with
    // a token whose unlock has aged out since.
    require(&state, &authorized, Operation::AddPasskey)?;
    let AuthorizedDevice { device, .. } = authorized;
    let now = now();
    let id = device.id.clone();
    let ceremony = state
        .db
        .run(move |conn| store::take_ceremony(conn, &id, "register", now))
        .await?
        .ok_or(DeviceError::NoCeremony)?;
    let ceremony: PasskeyRegistration =
        serde_json::from_str(&ceremony.state).map_err(ApiError::internal)?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(&body.credential, &ceremony)
        .map_err(|e| {
            tracing::info!(device = %device.id, error = %e, "passkey registration refused");
            ApiError::bad_request("invalid_passkey", crate::i18n::t("api-passkey-invalid"))
                .with_field("reason", e.to_string())
        })?;
    let row = PasskeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        device_id: device.id.clone(),
        credential_id: crate::protocol::b64url_encode(passkey.cred_id().as_ref() as &[u8]),
        passkey: serde_json::to_string(&passkey).map_err(ApiError::internal)?,
        created_at: now,
        last_used_at: None,
    };
    state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            let result = conn.transaction(|conn| {
                store::delete_passkeys(conn, &device.id)?;
                store::insert_passkey(conn, &row)?;
                service::audit_device(conn, &device, EventKind::BiometricsEnabled, &ctx, now)
            });
            match result {
                Ok(()) => Ok(Ok(())),
                Err(StoreError::UniqueViolation) => Ok(Err(DeviceError::PasskeyAlreadyRegistered)),
                Err(e) => Err(e),
            }
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BiometricsView { biometrics: true }))
}

/// Turns biometrics off: the device's passkeys are deleted. Any valid token
/// ([`Operation::DisableBiometrics`]): it only removes a way in.
#[utoipa::path(
    tag = "device",
    responses((status = 204, description = "Biometrics are off (idempotent)."), DisableBiometricsErrors),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[delete("/api/v1/device/biometrics")]
pub(super) async fn disable_biometrics(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let AuthorizedDevice { device, .. } = authorize(&state, &req).await?;
    let now = now();
    state
        .db
        .run(move |conn| {
            use diesel::Connection as _;
            conn.transaction(|conn| {
                if store::delete_passkeys(conn, &device.id)? > 0 {
                    service::audit_device(conn, &device, EventKind::BiometricsDisabled, &ctx, now)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The app unlinks its own device; every token and proof of it is refused from now on.
/// Any valid token ([`Operation::UnlinkDevice`]).
#[utoipa::path(
    tag = "device",
    responses((status = 204, description = "The device is unlinked."), UnlinkErrors),
    security(("dpop_token" = [], "dpop_proof" = [])),
)]
#[delete("/api/v1/device")]
pub(super) async fn unlink_device(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let AuthorizedDevice { device, .. } = authorize(&state, &req).await?;
    let who = notify(&state, ctx);
    let now = now();
    state
        .db
        .run(move |conn| Ok(service::unlink_self(conn, &device.id, &who, now)))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
