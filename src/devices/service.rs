//! What a linked device can do, as functions that run inside one `db.run` closure:
//! unlock (secret code with an atomic failure counter, or biometrics), refresh-token
//! rotation with reuse detection, locking, and self-service (new code, biometrics,
//! unlink). Routes only parse input and map [`DeviceError`].

use std::borrow::Cow;

use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use serde_json::json;
use url::Url;

use crate::accounts;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::{DbConnection, StoreError};
use crate::http::{ApiError, RequestContext};
use crate::mail;
use crate::tokens::access::{Grant, UnlockMethod, new_refresh_token, refresh_token_hash};
use crate::tokens::store::{self as token_store, RefreshTokenRow};

use super::store::{self, DeviceRow};

/// The sentence of the lock screen.
/// The sentence of `device_locked`, in the current language.
pub fn locked_message() -> String {
    crate::i18n::t("api-device-locked")
}

/// Why a device request was refused. Each maps to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown or unlinked device key")]
    InvalidDevice,
    #[error("device locked")]
    Locked,
    #[error("wrong secret code")]
    InvalidSecretCode { attempts_remaining: u32 },
    #[error("biometrics not enabled")]
    BiometricsNotEnabled,
    #[error("no pending WebAuthn ceremony")]
    NoCeremony,
    #[error("passkey refused")]
    InvalidPasskey(String),
    #[error("passkey already registered")]
    PasskeyAlreadyRegistered,
}

impl From<diesel::result::Error> for DeviceError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(err.into())
    }
}

impl From<DeviceError> for ApiError {
    fn from(err: DeviceError) -> Self {
        let (status, code, text): (StatusCode, &'static str, Cow<'static, str>) = match err {
            DeviceError::Store(e) => return e.into(),
            DeviceError::InvalidDevice => (
                StatusCode::UNAUTHORIZED,
                "invalid_device",
                crate::i18n::t("api-invalid-device").into(),
            ),
            DeviceError::Locked => (StatusCode::LOCKED, "device_locked", locked_message().into()),
            DeviceError::InvalidSecretCode { attempts_remaining } => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_secret_code",
                    crate::i18n::t_args(
                        "api-invalid-secret-code",
                        &[("attempts", attempts_remaining.into())],
                    ),
                )
                .with_field("attempts_remaining", attempts_remaining);
            }
            DeviceError::BiometricsNotEnabled => (
                StatusCode::CONFLICT,
                "biometrics_not_enabled",
                crate::i18n::t("api-biometrics-not-enabled").into(),
            ),
            DeviceError::NoCeremony => (
                StatusCode::CONFLICT,
                "no_pending_ceremony",
                crate::i18n::t("api-no-pending-ceremony").into(),
            ),
            DeviceError::InvalidPasskey(reason) => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_passkey",
                    crate::i18n::t("api-unlock-passkey-invalid"),
                )
                .with_field("reason", reason);
            }
            DeviceError::PasskeyAlreadyRegistered => (
                StatusCode::CONFLICT,
                "passkey_already_registered",
                crate::i18n::t("api-passkey-already-registered").into(),
            ),
        };
        ApiError::new(status, code, text)
    }
}

/// Refresh and unlock lifetimes, from `[tokens]`.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub refresh_idle_secs: i64,
    pub refresh_absolute_secs: i64,
}

/// Tokens to hand out: the grant to sign an access token for, and a new refresh token.
#[derive(Debug)]
pub struct Issued {
    pub grant: Grant,
    /// The refresh token itself; only its hash is stored. Secret.
    pub refresh_token: String,
}

/// The device that holds key `jkt`, if it may unlock: unknown or unlinked keys are
/// `InvalidDevice`, locked devices `Locked`.
pub fn find_unlockable(conn: &mut DbConnection, jkt: &str) -> Result<DeviceRow, DeviceError> {
    let device = store::find_live_device_by_jkt(conn, jkt)?.ok_or(DeviceError::InvalidDevice)?;
    if device.status != "active" {
        return Err(DeviceError::Locked);
    }
    Ok(device)
}

/// Where mail and audit events of a device point the citizen.
#[derive(Debug, Clone)]
pub struct Notify {
    pub public_url: Url,
    pub ctx: RequestContext,
    /// The settings (the provider's clients: whom an unlink logs out).
    pub settings: std::sync::Arc<crate::config::Settings>,
}

/// Reserves one secret-code attempt (see [`store::reserve_attempt`]) and returns the
/// verifier and how many consecutive failures the count now holds. With no attempt
/// left the device is locked (once, with email and audit) and `Locked` returned.
pub fn reserve_attempt(
    conn: &mut DbConnection,
    device_id: &str,
    max: u32,
    notify: &Notify,
    now: NaiveDateTime,
) -> Result<(String, u32), DeviceError> {
    let max_i = i32::try_from(max).unwrap_or(i32::MAX);
    // The UPDATE's row lock is held until commit, so the count read back is this
    // request's own, not one bumped by a parallel guess in between.
    let reserved = conn.transaction(|conn| {
        if !store::reserve_attempt(conn, device_id, max_i, now)? {
            return Ok::<_, StoreError>(None);
        }
        store::find_secret_code(conn, device_id)
    })?;
    let Some(row) = reserved else {
        lock(conn, device_id, notify, now)?;
        return Err(DeviceError::Locked);
    };
    Ok((row.verifier, row.failed_attempts.max(0) as u32))
}

/// What a wrong secret code leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongCode {
    /// The citizen may try again this many times.
    Retry { attempts_remaining: u32 },
    /// That was the last attempt: the device locks.
    Lock,
}

/// The lockout rule, pure: after `failures` consecutive wrong codes (this one included)
/// with `max` allowed, either what is left or the lock.
pub fn after_wrong_code(failures: u32, max: u32) -> WrongCode {
    if failures < max {
        WrongCode::Retry {
            attempts_remaining: max - failures,
        }
    } else {
        WrongCode::Lock
    }
}

/// A reserved attempt failed: `InvalidSecretCode` with what is left, or, when this was
/// the last one, the device is locked.
pub fn record_failure(
    conn: &mut DbConnection,
    device_id: &str,
    failures: u32,
    max: u32,
    notify: &Notify,
    now: NaiveDateTime,
) -> DeviceError {
    if let WrongCode::Retry { attempts_remaining } = after_wrong_code(failures, max) {
        let recorded = store::find_device(conn, device_id).and_then(|device| match device {
            Some(device) => {
                audit_device(conn, &device, EventKind::SecretCodeFailed, &notify.ctx, now)
            }
            None => Ok(()),
        });
        if let Err(e) = recorded {
            return e.into();
        }
        return DeviceError::InvalidSecretCode { attempts_remaining };
    }
    match lock(conn, device_id, notify, now) {
        Ok(_) => DeviceError::Locked,
        Err(e) => e.into(),
    }
}

/// `active -> locked` in one transaction with the revocation of every token, the audit
/// event and the lock email. Returns whether this call locked it (only the winner of
/// racing calls writes the event and the email).
pub fn lock(
    conn: &mut DbConnection,
    device_id: &str,
    notify: &Notify,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    conn.transaction(|conn| {
        if !store::lock_device(conn, device_id)? {
            return Ok(false);
        }
        token_store::revoke_device_tokens(conn, device_id, now)?;
        let device = store::find_device(conn, device_id)?
            .ok_or_else(|| StoreError::Corrupt("locked device vanished".into()))?;
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::DeviceLocked,
                Some(&device.account_id),
                json!({"device_name": device.name, "reason": "too_many_failed_attempts"}),
                &notify.ctx,
                now,
            )
            .with_device(device_id),
        )?;
        if let Some((to, account)) = recipient(conn, &device.account_id)? {
            let lang = accounts::store::mail_language(conn, &account.id)?;
            mail::enqueue(
                conn,
                &mail::Mail::device_locked(
                    to,
                    lang,
                    mail::DeviceLockedMail {
                        display_name: account.display_name(),
                        device_name: device.name.clone(),
                        locked_at: now,
                        manage_url: manage_url(&notify.public_url, device_id)?,
                    },
                ),
                now,
            )?;
        }
        tracing::info!(device = %device_id, "device locked after too many wrong secret codes");
        Ok(true)
    })
}

fn recipient(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Option<(mail::Address, accounts::Account)>, StoreError> {
    let Some(account) = accounts::store::find_account(conn, account_id)? else {
        return Ok(None);
    };
    match account.email.parse::<mail::Address>() {
        Ok(to) => Ok(Some((to, account))),
        Err(_) => {
            tracing::warn!(account = %account_id, "the account's email address cannot receive mail");
            Ok(None)
        }
    }
}

fn manage_url(public_url: &Url, device_id: &str) -> Result<Url, StoreError> {
    let mut url = public_url
        .join("/devices")
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    url.query_pairs_mut().append_pair("device", device_id);
    Ok(url)
}

/// The device unlocked: (for the secret code) reset the failure count, and start a new
/// refresh-token family, in one transaction. A device locked or unlinked meanwhile is
/// refused.
pub fn grant_unlock(
    conn: &mut DbConnection,
    device_id: &str,
    method: UnlockMethod,
    lifetimes: Lifetimes,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<Issued, DeviceError> {
    conn.transaction(|conn| {
        let device = store::find_device(conn, device_id)?.ok_or(DeviceError::InvalidDevice)?;
        match device.status.as_str() {
            "active" => {}
            "locked" => return Err(DeviceError::Locked),
            _ => return Err(DeviceError::InvalidDevice),
        }
        if method == UnlockMethod::SecretCode {
            store::reset_attempts(conn, device_id, now)?;
        }
        store::touch_device(conn, device_id, now)?;
        // The activity list shows each opening of the app.
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::DeviceUnlocked,
                Some(&device.account_id),
                json!({"device_name": device.name, "amr": method.amr()}),
                ctx,
                now,
            )
            .with_device(&device.id),
        )?;
        let (refresh_token, id_hash) = new_refresh_token();
        token_store::insert_refresh_token(
            conn,
            &RefreshTokenRow {
                id_hash,
                device_id: device.id.clone(),
                family_id: uuid::Uuid::new_v4().to_string(),
                generation: 0,
                jkt: device.jkt.clone(),
                amr: method.amr_json(),
                spent_at: None,
                revoked_at: None,
                created_at: now,
                last_used_at: now,
                expires_at: now + Duration::seconds(lifetimes.refresh_absolute_secs),
                idle_expires_at: now + Duration::seconds(lifetimes.refresh_idle_secs),
                auth_time: now,
            },
        )?;
        Ok(Issued {
            grant: Grant {
                account_id: device.account_id,
                device_id: device.id,
                jkt: device.jkt,
                amr: method.amr().iter().map(|s| (*s).to_owned()).collect(),
                generation: device.token_generation,
                auth_time: now,
            },
            refresh_token,
        })
    })
}

/// Why a refresh was refused: always `invalid_grant` (RFC 6749 section 5.2).
#[derive(Debug, thiserror::Error)]
#[error("invalid_grant: {0}")]
pub struct InvalidGrant(pub &'static str);

/// Rotates a refresh token presented with a proof by key `jkt`. Each token works once;
/// presenting a spent one revokes every token of the device (committed, then refused).
/// The new tokens keep the family's `auth_time`: refreshing proves possession of the
/// device key, not that the citizen unlocked the app again.
pub fn refresh(
    conn: &mut DbConnection,
    token: &str,
    jkt: &str,
    lifetimes: Lifetimes,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<Result<Issued, InvalidGrant>, StoreError> {
    let id_hash = refresh_token_hash(token);
    conn.transaction(|conn| {
        let Some(row) = token_store::find_refresh_token(conn, &id_hash)? else {
            return Ok(Err(InvalidGrant("The refresh token is not valid.")));
        };
        if row.jkt != jkt {
            return Ok(Err(InvalidGrant(
                "The refresh token is bound to another device key.",
            )));
        }
        if row.revoked_at.is_some() {
            return Ok(Err(InvalidGrant(
                "The refresh token was revoked. Open the app with your secret code or biometrics.",
            )));
        }
        let Some(device) = store::find_device(conn, &row.device_id)? else {
            return Ok(Err(InvalidGrant("The refresh token is not valid.")));
        };
        if device.status != "active" {
            return Ok(Err(InvalidGrant(
                "This device is locked or unlinked; its tokens no longer work.",
            )));
        }
        if !token_store::spend_refresh_token(conn, &id_hash, now)? {
            // A spent token came back: it was copied, or two requests raced. Either way
            // the family can no longer be trusted (RFC 9700 section 4.14.2).
            let revoked = token_store::revoke_device_tokens(conn, &device.id, now)?;
            audit::store::insert_event(
                conn,
                &NewAuditEvent::new(
                    EventKind::RefreshTokenReused,
                    Some(&device.account_id),
                    json!({"device_name": device.name, "family_id": row.family_id, "revoked": revoked}),
                    ctx,
                    now,
                )
                .with_device(&device.id),
            )?;
            tracing::warn!(device = %device.id, "a spent refresh token was presented; the device's tokens are revoked");
            return Ok(Err(InvalidGrant(
                "The refresh token was already used. For your security every token of this device was revoked; open the app with your secret code or biometrics.",
            )));
        }
        if row.expires_at <= now || row.idle_expires_at <= now {
            return Ok(Err(InvalidGrant(
                "The refresh token has expired. Open the app with your secret code or biometrics.",
            )));
        }
        store::touch_device(conn, &device.id, now)?;
        let (refresh_token, new_hash) = new_refresh_token();
        let idle = (now + Duration::seconds(lifetimes.refresh_idle_secs)).min(row.expires_at);
        token_store::insert_refresh_token(
            conn,
            &RefreshTokenRow {
                id_hash: new_hash,
                device_id: device.id.clone(),
                family_id: row.family_id.clone(),
                generation: row.generation + 1,
                jkt: row.jkt.clone(),
                amr: row.amr.clone(),
                spent_at: None,
                revoked_at: None,
                created_at: now,
                last_used_at: now,
                expires_at: row.expires_at,
                idle_expires_at: idle,
                // A refresh is no new unlock: the family keeps the time of the one
                // that started it.
                auth_time: row.auth_time,
            },
        )?;
        let amr: Vec<String> = serde_json::from_str(&row.amr).unwrap_or_default();
        Ok(Ok(Issued {
            grant: Grant {
                account_id: device.account_id,
                device_id: device.id,
                jkt: device.jkt,
                amr,
                generation: device.token_generation,
                auth_time: row.auth_time,
            },
            refresh_token,
        }))
    })
}

/// The app unlinks its own device (see [`unlink`]).
pub fn unlink_self(
    conn: &mut DbConnection,
    device_id: &str,
    notify: &Notify,
    now: NaiveDateTime,
) -> Result<(), DeviceError> {
    unlink(conn, device_id, mail::UnlinkedBy::App, notify, now)
}

/// Unlinks a device, from the app or from the browser (without the device): `unlinked`,
/// verifier and passkeys deleted, every token revoked (and access tokens refused at once,
/// since each use re-reads the device), audit event and email, in one transaction.
/// `InvalidDevice` when it was not live any more (someone unlinked it first).
pub fn unlink(
    conn: &mut DbConnection,
    device_id: &str,
    by: mail::UnlinkedBy,
    notify: &Notify,
    now: NaiveDateTime,
) -> Result<(), DeviceError> {
    let by_label = match by {
        mail::UnlinkedBy::App => "app",
        mail::UnlinkedBy::Browser => "browser",
    };
    conn.transaction(|conn| {
        if !store::unlink_device(conn, device_id, now)? {
            return Err(DeviceError::InvalidDevice);
        }
        let device = store::find_device(conn, device_id)?.ok_or(DeviceError::InvalidDevice)?;
        let passkeys = store::delete_passkeys(conn, device_id)?;
        store::delete_secret_code(conn, device_id)?;
        token_store::revoke_device_tokens(conn, device_id, now)?;
        // What portals obtained through this device stops working too; portals with a
        // backchannel_logout_uri are sent a logout token (queued here, in the unlink's
        // transaction).
        crate::provider::end_device_grants(conn, &notify.settings.provider, device_id, now)?;
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::DeviceUnlinked,
                Some(&device.account_id),
                json!({"device_name": device.name, "by": by_label, "passkeys_deleted": passkeys}),
                &notify.ctx,
                now,
            )
            .with_device(device_id),
        )?;
        if let Some((to, account)) = recipient(conn, &device.account_id)? {
            let lang = accounts::store::mail_language(conn, &account.id)?;
            mail::enqueue(
                conn,
                &mail::Mail::device_unlinked(
                    to,
                    lang,
                    mail::DeviceUnlinkedMail {
                        display_name: account.display_name(),
                        device_name: device.name.clone(),
                        unlinked_at: now,
                        by,
                        manage_url: manage_url(&notify.public_url, device_id)?,
                    },
                ),
                now,
            )?;
        }
        Ok(())
    })
}

/// Records a self-service change of the device in the audit trail.
pub fn audit_device(
    conn: &mut DbConnection,
    device: &DeviceRow,
    kind: EventKind,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    audit::store::insert_event(
        conn,
        &NewAuditEvent::new(
            kind,
            Some(&device.account_id),
            json!({"device_name": device.name}),
            ctx,
            now,
        )
        .with_device(&device.id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_codes_count_down_and_the_last_one_locks() {
        assert_eq!(
            after_wrong_code(1, 5),
            WrongCode::Retry {
                attempts_remaining: 4
            }
        );
        assert_eq!(
            after_wrong_code(4, 5),
            WrongCode::Retry {
                attempts_remaining: 1
            }
        );
        assert_eq!(after_wrong_code(5, 5), WrongCode::Lock);
        assert_eq!(after_wrong_code(6, 5), WrongCode::Lock);
        assert_eq!(after_wrong_code(1, 1), WrongCode::Lock);
    }

    #[test]
    fn the_locked_error_carries_the_lock_screen_sentence() {
        let api: ApiError = DeviceError::Locked.into();
        assert_eq!(api.status, StatusCode::LOCKED);
        assert_eq!(api.code, "device_locked");
        assert_eq!(api.description, locked_message());
        let api: ApiError = DeviceError::InvalidSecretCode {
            attempts_remaining: 2,
        }
        .into();
        assert_eq!(api.status, StatusCode::UNAUTHORIZED);
        assert_eq!(api.extra.unwrap()["attempts_remaining"], 2);
    }
}
