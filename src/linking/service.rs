//! Linking decisions that touch the database. Each function runs inside one
//! `db.run` closure; the routes only parse input and map `LinkError`.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use serde_json::json;

use crate::accounts;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::{DbConnection, StoreError};
use crate::devices::store::{self as device_store, DeviceRow};
use crate::http::{ApiError, RequestContext};

use super::rules::{DeviceName, LinkMethod, LinkState, Platform, Step};
use super::store::{self, LinkSessionRow};

/// Why a linking step was refused. Each maps to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown link")]
    NotFound,
    #[error("link expired")]
    Expired,
    #[error("step out of order in state {0}")]
    InvalidState(String),
    #[error("device key already linked")]
    DeviceAlreadyLinked,
    #[error("QR code invalid")]
    QrInvalid,
    #[error("QR code expired")]
    QrExpired,
    #[error("QR code already used")]
    QrAlreadyUsed,
    #[error("passkey already registered")]
    PasskeyAlreadyRegistered,
    #[error("invalid LuxTrust result")]
    InvalidResult,
    #[error("device not linked")]
    DeviceNotLinked,
}

impl From<diesel::result::Error> for LinkError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(err.into())
    }
}

impl From<LinkError> for ApiError {
    fn from(err: LinkError) -> Self {
        let (status, code, text): (StatusCode, &'static str, Cow<'static, str>) = match err {
            LinkError::Store(e) => return e.into(),
            LinkError::NotFound => (
                StatusCode::NOT_FOUND,
                "link_not_found",
                crate::i18n::t("api-link-not-found").into(),
            ),
            LinkError::Expired => (
                StatusCode::GONE,
                "link_expired",
                crate::i18n::t("api-link-expired").into(),
            ),
            LinkError::InvalidState(state) => (
                StatusCode::CONFLICT,
                "invalid_link_state",
                crate::i18n::t_args("api-invalid-link-state", &[("state", state.into())]).into(),
            ),
            LinkError::DeviceAlreadyLinked => (
                StatusCode::CONFLICT,
                "device_already_linked",
                crate::i18n::t("api-device-already-linked").into(),
            ),
            LinkError::QrInvalid => (
                StatusCode::BAD_REQUEST,
                "qr_code_invalid",
                crate::i18n::t("api-qr-code-invalid").into(),
            ),
            LinkError::QrExpired => (
                StatusCode::GONE,
                "qr_code_expired",
                crate::i18n::t("api-qr-code-expired").into(),
            ),
            LinkError::QrAlreadyUsed => (
                StatusCode::CONFLICT,
                "qr_code_already_used",
                crate::i18n::t("api-qr-code-already-used").into(),
            ),
            LinkError::InvalidResult => return super::luxtrust::invalid_result(),
            LinkError::DeviceNotLinked => (
                StatusCode::NOT_FOUND,
                "device_not_linked",
                crate::i18n::t("api-device-not-linked").into(),
            ),
            LinkError::PasskeyAlreadyRegistered => (
                StatusCode::CONFLICT,
                "passkey_already_registered",
                crate::i18n::t("api-passkey-already-registered").into(),
            ),
        };
        ApiError::new(status, code, text)
    }
}

/// A new link request from the app.
pub struct NewLink {
    pub jkt: String,
    pub name: DeviceName,
    pub platform: Platform,
    pub method: LinkMethod,
    /// LuxTrust links: the product chosen and where the app wants the outcome.
    pub product: Option<accounts::ProductKind>,
    pub app_redirect_uri: Option<url::Url>,
}

pub fn create_link(
    conn: &mut DbConnection,
    new: &NewLink,
    ttl_secs: i64,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<LinkSessionRow, LinkError> {
    if device_store::find_live_device_by_jkt(conn, &new.jkt)?.is_some() {
        return Err(LinkError::DeviceAlreadyLinked);
    }
    let row = new_row(new, None, ttl_secs, now);
    insert_started(conn, &row, None, ctx, now)?;
    Ok(row)
}

/// A link session in state `created`; `resets` names the device of a secret-code reset.
pub(super) fn new_row(
    new: &NewLink,
    resets: Option<&str>,
    ttl_secs: i64,
    now: NaiveDateTime,
) -> LinkSessionRow {
    LinkSessionRow {
        id: uuid::Uuid::new_v4().to_string(),
        device_jkt: new.jkt.clone(),
        device_name: new.name.as_str().to_owned(),
        platform: new.platform.as_str().to_owned(),
        method: new.method.as_str().to_owned(),
        state: LinkState::Created.as_str().to_owned(),
        account_id: None,
        link_code_id: None,
        secret_code_verifier: None,
        passkey: None,
        webauthn_state: None,
        device_id: None,
        created_at: now,
        updated_at: now,
        expires_at: now + Duration::seconds(ttl_secs),
        product: new.product.map(|p| p.as_str().to_owned()),
        app_redirect_uri: new.app_redirect_uri.as_ref().map(ToString::to_string),
        result_hash: None,
        pending_account_id: None,
        refusal: None,
        resets_device_id: resets.map(str::to_owned),
    }
}

/// Stores a new link session with its `link_started` event, in one transaction.
pub(super) fn insert_started(
    conn: &mut DbConnection,
    row: &LinkSessionRow,
    account_id: Option<&str>,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<(), LinkError> {
    let purpose = if row.resets_device_id.is_some() {
        "reset_secret_code"
    } else {
        "link"
    };
    conn.transaction(|conn| {
        store::insert_link_session(conn, row)?;
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::LinkStarted,
                account_id,
                json!({
                    "link_id": row.id,
                    "method": row.method,
                    "device_name": row.device_name,
                    "purpose": purpose,
                }),
                ctx,
                now,
            ),
        )
    })?;
    Ok(())
}

/// The live link session `id`; an ended one is `Expired`.
pub fn find_live(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<LinkSessionRow, LinkError> {
    let row = store::find_link_session(conn, id)?.ok_or(LinkError::NotFound)?;
    let state = LinkState::parse(&row.state).unwrap_or(LinkState::Expired);
    if matches!(
        state,
        LinkState::Expired | LinkState::Cancelled | LinkState::Refused
    ) || (row.expires_at <= now && state != LinkState::Completed)
    {
        return Err(LinkError::Expired);
    }
    Ok(row)
}

/// Refuses `step` unless the link is in a state it may run from.
pub fn check_step(row: &LinkSessionRow, step: Step) -> Result<(), LinkError> {
    let state = LinkState::parse(&row.state).unwrap_or(LinkState::Expired);
    if super::rules::apply(state, step).is_none() {
        return Err(LinkError::InvalidState(row.state.clone()));
    }
    Ok(())
}

/// Redeems a QR code for a link: atomic, so of any number of devices racing for one
/// code exactly one wins, and the link is bound to the code's account in the same
/// transaction.
pub fn redeem_qr(
    conn: &mut DbConnection,
    link_id: &str,
    code_hash: &str,
    is_static: bool,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<LinkSessionRow, LinkError> {
    conn.transaction(|conn| {
        let link = find_live(conn, link_id, now)?;
        if link.method != LinkMethod::Qr.as_str() {
            return Err(LinkError::InvalidState(link.state));
        }
        check_step(&link, Step::RedeemQr)?;
        if is_static {
            // A bare code is only accepted if it was shown as such (no-JavaScript page);
            // otherwise it was cut out of an animated frame to dodge the relay window.
            let code = store::find_link_code_by_hash(conn, code_hash)?;
            if !code.is_some_and(|c| c.allows_static) {
                return Err(LinkError::QrInvalid);
            }
        }
        if !store::redeem_link_code(conn, code_hash, link_id, now)? {
            let code = store::find_link_code_by_hash(conn, code_hash)?;
            return Err(match code {
                None => LinkError::QrInvalid,
                Some(c) if c.status == "redeemed" => LinkError::QrAlreadyUsed,
                Some(_) => LinkError::QrExpired,
            });
        }
        let code = store::find_link_code_by_hash(conn, code_hash)?.ok_or(LinkError::QrInvalid)?;
        if !store::bind_account(conn, link_id, &code.account_id, Some(&code.id), now)? {
            // Another request moved the link meanwhile; roll back the redemption too.
            return Err(LinkError::InvalidState(link.state));
        }
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::QrCodeScanned,
                Some(&code.account_id),
                json!({"link_id": link_id, "device_name": link.device_name}),
                ctx,
                now,
            ),
        )?;
        store::find_link_session(conn, link_id)?.ok_or(LinkError::NotFound)
    })
}

pub fn set_secret_code(
    conn: &mut DbConnection,
    link_id: &str,
    verifier: &str,
    now: NaiveDateTime,
) -> Result<(), LinkError> {
    let link = find_live(conn, link_id, now)?;
    check_step(&link, Step::SetSecretCode)?;
    if !store::set_secret_code(conn, link_id, verifier, now)? {
        return Err(LinkError::InvalidState(link.state));
    }
    Ok(())
}

/// What the confirmation email and the response need about a completed link.
pub struct Completed {
    pub device: DeviceRow,
    pub account: accounts::Account,
    pub has_passkey: bool,
    /// A secret-code reset of a device already linked, not a new device.
    pub reset: bool,
}

/// Makes the device active: device, verifier and passkey rows, the link marked
/// completed, the audit event — and, through `in_transaction`, the confirmation email
/// in the outbox — all in one transaction. Until this commits nothing is linked.
pub fn complete(
    conn: &mut DbConnection,
    link_id: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
    in_transaction: impl FnOnce(&mut DbConnection, &Completed) -> Result<(), StoreError>,
) -> Result<Completed, LinkError> {
    conn.transaction(|conn| {
        let link = find_live(conn, link_id, now)?;
        check_step(&link, Step::Complete)?;
        let account_id = link
            .account_id
            .clone()
            .ok_or_else(|| LinkError::InvalidState(link.state.clone()))?;
        let verifier = link
            .secret_code_verifier
            .clone()
            .ok_or_else(|| LinkError::InvalidState(link.state.clone()))?;
        let account = accounts::store::find_account(conn, &account_id)?.ok_or(LinkError::NotFound)?;
        if let Some(device_id) = link.resets_device_id.as_deref() {
            let done = super::reset::apply(conn, &link, device_id, &verifier, account, ctx, now)?;
            in_transaction(conn, &done)?;
            return Ok(done);
        }
        let device = DeviceRow {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: account_id.clone(),
            jkt: link.device_jkt.clone(),
            name: link.device_name.clone(),
            platform: link.platform.clone(),
            method: link.method.clone(),
            status: "active".to_owned(),
            linked_at: now,
            last_used_at: None,
            unlinked_at: None,
            token_generation: 0,
        };
        let passkey = match &link.passkey {
            Some(json) => Some((
                super::passkeys::credential_id_of(json).ok_or(LinkError::PasskeyAlreadyRegistered)?,
                json.clone(),
            )),
            None => None,
        };
        let inserted = conn.transaction(|conn| {
            device_store::insert_device(
                conn,
                &device,
                &verifier,
                passkey.as_ref().map(|(id, pk)| (id.as_str(), pk.as_str())),
                now,
            )
        });
        match inserted {
            Ok(()) => {}
            Err(StoreError::UniqueViolation) => {
                return Err(
                    if device_store::find_live_device_by_jkt(conn, &device.jkt)?.is_some() {
                        LinkError::DeviceAlreadyLinked
                    } else {
                        LinkError::PasskeyAlreadyRegistered
                    },
                );
            }
            Err(e) => return Err(e.into()),
        }
        if !store::complete(conn, link_id, &device.id, now)? {
            return Err(LinkError::InvalidState(link.state));
        }
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::DeviceLinked,
                Some(&account_id),
                json!({"device_name": device.name, "method": device.method, "biometrics": passkey.is_some()}),
                ctx,
                now,
            )
            .with_device(&device.id),
        )?;
        let done = Completed {
            device,
            account,
            has_passkey: passkey.is_some(),
            reset: false,
        };
        in_transaction(conn, &done)?;
        Ok(done)
    })
}

/// Cancels a link from the app that started it.
pub fn cancel(
    conn: &mut DbConnection,
    link_id: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<(), LinkError> {
    conn.transaction(|conn| {
        let link = find_live(conn, link_id, now)?;
        if link.state == LinkState::Completed.as_str() || !store::cancel(conn, link_id, now)? {
            return Err(LinkError::InvalidState(link.state));
        }
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::LinkCancelled,
                link.account_id.as_deref(),
                json!({"link_id": link_id, "by": "app"}),
                ctx,
                now,
            ),
        )?;
        Ok(())
    })
}

/// Expires abandoned links (forgetting their secrets) and records each in the audit
/// trail; safe to run on every instance at once.
pub fn expire_abandoned(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    let mut expired = 0;
    for link in store::find_abandoned(conn, now, 200)? {
        let did = conn.transaction(|conn| {
            if !store::expire(conn, &link.id, now)? {
                return Ok(false);
            }
            audit::store::insert_event(
                conn,
                &NewAuditEvent::new(
                    EventKind::LinkAbandoned,
                    link.account_id.as_deref(),
                    json!({"link_id": link.id, "state": link.state, "device_name": link.device_name}),
                    &RequestContext::default(),
                    now,
                ),
            )?;
            Ok::<_, StoreError>(true)
        })?;
        if did {
            expired += 1;
        }
    }
    Ok(expired)
}
