//! The device API after linking: unlock (secret code or biometrics), token refresh,
//! `/me`, and the app's self-service (new secret code, biometrics on/off, unlink).
//! Handlers are thin: extract, call the service inside one `db.run`, map the result.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};

use crate::accounts;
use crate::audit::EventKind;
use crate::db::StoreError;
use crate::http::{ApiError, RequestContext, rate_limit};
use crate::linking::routes::parse_secret_code;
use crate::state::AppState;
use crate::tokens::UnlockMethod;
use crate::tokens::guard::{self, ProofRequirements};

use super::SecretCode;
use super::auth::{self, AuthorizedDevice, authorize};
use super::service::{self, DeviceError, Issued, Lifetimes, Notify};
use super::step_up::{self, Operation, Unlock};
use super::store::{self, CeremonyRow, DeviceRow, PasskeyRow};

/// How long WebAuthn options of a linked device stay valid.
const CEREMONY_TTL_SECS: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(unlock)
        .service(unlock_biometrics_options)
        .service(token)
        .service(get_me)
        .service(change_secret_code)
        .service(biometrics_options)
        .service(enable_biometrics)
        .service(disable_biometrics)
        .service(unlink_device);
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn lifetimes(state: &AppState) -> Lifetimes {
    Lifetimes {
        refresh_idle_secs: state.settings.tokens.refresh_token_idle_secs,
        refresh_absolute_secs: state.settings.tokens.refresh_token_absolute_secs,
    }
}

fn notify(state: &AppState, ctx: RequestContext) -> Notify {
    Notify {
        public_url: state.settings.server.public_url.clone(),
        ctx,
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
fn token_response(state: &AppState, issued: &Issued) -> Result<HttpResponse, ApiError> {
    let access_token = state
        .tokens
        .issue(&issued.grant, Utc::now())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(json!({
            "access_token": access_token,
            "token_type": "DPoP",
            "expires_in": state.tokens.ttl_secs(),
            "refresh_token": issued.refresh_token,
            "device_id": issued.grant.device_id,
            "amr": issued.grant.amr,
        })))
}

#[derive(Debug, Deserialize)]
struct UnlockBody {
    method: String,
    secret_code: Option<String>,
    credential: Option<Value>,
}

/// Opens the app: a proof by a linked device's key with a server nonce, and the secret
/// code or a biometric WebAuthn assertion → a DPoP-bound access token and refresh token.
#[post("/api/v1/device/unlock")]
async fn unlock(
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
                ApiError::bad_request("invalid_request", "secret_code is required.")
            })?;
            let code = SecretCode::try_from(raw).map_err(|_| {
                ApiError::bad_request(
                    "invalid_request",
                    "The secret code must be exactly 6 digits.",
                )
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
                .ok_or_else(|| ApiError::bad_request("invalid_request", "credential is required."))
                .and_then(|c| {
                    serde_json::from_value(c).map_err(|e| {
                        ApiError::bad_request(
                            "invalid_request",
                            format!("credential is not a WebAuthn assertion: {e}"),
                        )
                    })
                })?;
            unlock_with_passkey(&state, &device, &credential, ctx.clone(), now).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "method must be \"secret_code\" or \"biometrics\".",
            ));
        }
    };
    token_response(&state, &issued)
}

/// Checks `code` against the device's verifier with an attempt reserved first, so that
/// parallel guesses never evaluate more than the allowed number. Argon2 runs on the
/// blocking pool without holding a database connection.
async fn check_secret_code(
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
#[post("/api/v1/device/unlock/biometrics/options")]
async fn unlock_biometrics_options(
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

fn parse_passkeys(rows: &[PasskeyRow]) -> Result<Vec<webauthn_rs::prelude::Passkey>, ApiError> {
    rows.iter()
        .map(|r| serde_json::from_str(&r.passkey).map_err(ApiError::internal))
        .collect()
}

async fn store_ceremony(
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

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// An OAuth error of the token endpoint (RFC 6749 section 5.2): 400, no-store.
fn oauth_error(code: &'static str, description: &'static str) -> ApiError {
    ApiError::bad_request(code, description)
}

/// Rotates a refresh token (RFC 6749 section 6) presented with a proof, with a server
/// nonce, by the key it is bound to.
#[post("/api/v1/device/token")]
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    // At the token endpoint proof and nonce errors are 400 (RFC 9449 sections 5 and 8).
    let as_bad_request = |mut e: ApiError| {
        if e.status == StatusCode::UNAUTHORIZED {
            e.status = StatusCode::BAD_REQUEST;
        }
        e
    };
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

/// The account behind the token, for the app's home screen.
#[get("/api/v1/me")]
async fn get_me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, me) = auth::authorize_with(&state, &req, |conn, device| {
        let account = accounts::store::find_account(conn, &device.account_id)?
            .ok_or_else(|| StoreError::Corrupt("device without account".into()))?;
        let espaces = accounts::store::find_espaces(conn, &account.id)?;
        let linked = store::count_live_devices(conn, &account.id)?;
        let biometrics = store::has_passkey(conn, &device.id)?;
        Ok(json!({
            "display_name": account.display_name(),
            "espaces": espaces.iter().map(|e| json!({"kind": e.kind, "name": e.name})).collect::<Vec<_>>(),
            "linked_devices": linked,
            "device": {"id": device.id, "name": device.name, "biometrics": biometrics},
        }))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(me))
}

#[derive(Debug, Deserialize)]
struct ChangeSecretCode {
    current_secret_code: String,
    new_secret_code: String,
}

/// A new secret code; the current one is required and counts as an attempt
/// ([`Operation::ChangeSecretCode`]).
#[put("/api/v1/device/secret-code")]
async fn change_secret_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ChangeSecretCode>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let AuthorizedDevice { device, .. } = authorize(&state, &req).await?;
    let current = SecretCode::try_from(body.current_secret_code.as_str()).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            "current_secret_code must be exactly 6 digits.",
        )
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
#[post("/api/v1/device/biometrics/options")]
async fn biometrics_options(
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

#[derive(Debug, Deserialize)]
struct EnableBiometrics {
    credential: RegisterPublicKeyCredential,
}

/// Verifies the new passkey and makes it the device's biometric unlock (replacing an
/// earlier one).
#[post("/api/v1/device/biometrics")]
async fn enable_biometrics(
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
            ApiError::bad_request(
                "invalid_passkey",
                "The passkey could not be verified. Biometrics (user verification) are required.",
            )
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
        .json(json!({"biometrics": true})))
}

/// Turns biometrics off: the device's passkeys are deleted. Any valid token
/// ([`Operation::DisableBiometrics`]): it only removes a way in.
#[delete("/api/v1/device/biometrics")]
async fn disable_biometrics(
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
#[delete("/api/v1/device")]
async fn unlink_device(
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
