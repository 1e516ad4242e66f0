//! "Forgot your code?": a linked device sets a new secret code after a fresh LuxTrust
//! authentication in the app. It is a LuxTrust link session that names the device it
//! resets (`resets_device_id`), so it takes the same steps (`luxtrust`, `secret-code`,
//! optionally `passkey`, then `complete`) and the same checks as LuxTrust linking (fresh,
//! the product chosen, Mobile or Scan, used in the browser before) plus one more: the
//! person who authenticated is the one the device is linked to. Completing it replaces the
//! code instead of making a device: failures back to 0, a locked device unlocked, every
//! token of the device revoked, the e-mail queued in the same transaction.
//!
//! What it requires is in the step-up policy (`devices::step_up`, `ResetSecretCode`) and
//! docs/security.md: only a device key that is linked, and a LuxTrust authentication that
//! could link a new device to the same account anyway, so the reset gives no one more
//! than they could already get.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::NaiveDateTime;
use diesel::Connection;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::accounts::{self, ProductKind};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::{DbConnection, StoreError};
use crate::devices::store::{self as device_store, PasskeyRow};
use crate::http::{ApiError, RequestContext};
use crate::mail;
use crate::state::AppState;
use crate::tokens::guard::{self, ProofRequirements};

use super::contract::ResetSecretCodeErrors;
use super::routes::{device_key, limit_link_creations, luxtrust_choice, now};
use super::rules::{DeviceName, LinkMethod, Platform};
use super::service::{Completed, LinkError, NewLink, insert_started, new_row};
use super::store::{self, LinkSessionRow};
use super::view::{LinkView, link_view};

/// "Forgot your code?": the installation's key and the LuxTrust product to confirm with.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ResetSecretCode {
    /// The linked device's public key; the DPoP proof must be signed by it.
    #[schema(schema_with = super::view::ec_public_jwk_schema)]
    device_key: Value,
    /// `luxtrust_mobile` or `luxtrust_scan`.
    #[schema(example = "luxtrust_mobile")]
    product: Option<String>,
    /// Where the outcome goes (on the allow-list), as for LuxTrust linking.
    app_redirect_uri: Option<String>,
}

/// Starts a secret-code reset of this (linked, possibly locked) device.
#[utoipa::path(
    tag = "linking",
    request_body = ResetSecretCode,
    responses(
        (status = 201, description = "A LuxTrust link that resets this device's secret code, `state: created`, with `authorization_url` and `resets_secret_code: true`.", body = LinkView),
        ResetSecretCodeErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/device/secret-code/reset")]
pub(super) async fn start_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResetSecretCode>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let now = now();
    limit_link_creations(&state, &ctx, now).await?;
    let (method, product, redirect) = luxtrust_choice(
        &state,
        body.product.as_deref(),
        body.app_redirect_uri.as_deref(),
    )?;
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
    let ttl = state.settings.linking.link_session_ttl_secs;
    let jkt = jkt.as_str().to_owned();
    let link = state
        .db
        .run(move |conn| {
            Ok(create(
                conn,
                &jkt,
                (method, product, redirect),
                ttl,
                &ctx,
                now,
            ))
        })
        .await??;
    let mut view = link_view(&link, None);
    view.authorization_url = Some(super::luxtrust::authorization_url(&state, &link.id)?);
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

/// The reset link of the live device holding `jkt`; `DeviceNotLinked` without one.
fn create(
    conn: &mut DbConnection,
    jkt: &str,
    (method, product, redirect): (LinkMethod, ProductKind, url::Url),
    ttl_secs: i64,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<LinkSessionRow, LinkError> {
    let device =
        device_store::find_live_device_by_jkt(conn, jkt)?.ok_or(LinkError::DeviceNotLinked)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("device {}: {what}", device.id));
    let new = NewLink {
        jkt: jkt.to_owned(),
        name: DeviceName::try_from(device.name.as_str()).map_err(|_| corrupt("name"))?,
        platform: Platform::try_from(device.platform.as_str()).map_err(|_| corrupt("platform"))?,
        method,
        product: Some(product),
        app_redirect_uri: Some(redirect),
    };
    let row = new_row(&new, Some(&device.id), ttl_secs, now);
    insert_started(conn, &row, Some(&device.account_id), ctx, now)?;
    Ok(row)
}

/// Whether the account LuxTrust vouched for may reset the device `device_id`: only its own.
pub fn same_account(
    conn: &mut DbConnection,
    device_id: &str,
    account_id: &str,
) -> Result<bool, StoreError> {
    Ok(device_store::find_device(conn, device_id)?
        .is_some_and(|device| device.status != "unlinked" && device.account_id == account_id))
}

/// Completes a reset link inside `service::complete`'s transaction: the new verifier,
/// the failures at 0, unlocked, every token revoked, a passkey made in this link replacing
/// the earlier ones, the link completed and audited.
pub(super) fn apply(
    conn: &mut DbConnection,
    link: &LinkSessionRow,
    device_id: &str,
    verifier: &str,
    account: accounts::Account,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<Completed, LinkError> {
    let live = device_store::find_device(conn, device_id)?.filter(|d| {
        d.status != "unlinked" && d.jkt == link.device_jkt && d.account_id == account.id
    });
    if live.is_none() || !device_store::update_verifier(conn, device_id, verifier, now)? {
        return Err(LinkError::DeviceNotLinked);
    }
    device_store::unlock_device(conn, device_id, now)?;
    crate::tokens::store::revoke_device_tokens(conn, device_id, now)?;
    if let Some(json) = &link.passkey {
        let credential_id =
            super::passkeys::credential_id_of(json).ok_or(LinkError::PasskeyAlreadyRegistered)?;
        device_store::delete_passkeys(conn, device_id)?;
        let row = PasskeyRow {
            id: uuid::Uuid::new_v4().to_string(),
            device_id: device_id.to_owned(),
            credential_id,
            passkey: json.clone(),
            created_at: now,
            last_used_at: None,
        };
        match conn.transaction(|conn| device_store::insert_passkey(conn, &row)) {
            Ok(()) => {}
            Err(StoreError::UniqueViolation) => return Err(LinkError::PasskeyAlreadyRegistered),
            Err(e) => return Err(e.into()),
        }
    }
    if !store::complete(conn, &link.id, device_id, now)? {
        return Err(LinkError::InvalidState(link.state.clone()));
    }
    let device = device_store::find_device(conn, device_id)?.ok_or(LinkError::DeviceNotLinked)?;
    audit::store::insert_event(
        conn,
        &NewAuditEvent::new(
            EventKind::SecretCodeReset,
            Some(&account.id),
            json!({
                "device_name": device.name,
                "product": link.product,
                "new_passkey": link.passkey.is_some(),
            }),
            ctx,
            now,
        )
        .with_device(device_id),
    )?;
    let has_passkey = device_store::has_passkey(conn, device_id)?;
    Ok(Completed {
        device,
        account,
        has_passkey,
        reset: true,
    })
}

/// Queues "The secret code of your mobile device was changed" in the reset's transaction.
pub(super) fn enqueue_mail(
    conn: &mut DbConnection,
    done: &Completed,
    product: Option<&str>,
    public_url: &url::Url,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let Ok(to) = done.account.email.parse::<mail::Address>() else {
        tracing::warn!(account = %done.account.id, "the account's email address cannot receive mail");
        return Ok(());
    };
    let mut manage_url = public_url
        .join("/devices")
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    manage_url
        .query_pairs_mut()
        .append_pair("device", &done.device.id);
    let lang = accounts::store::mail_language(conn, &done.account.id)?;
    let method = product
        .and_then(LinkMethod::parse)
        .unwrap_or(LinkMethod::LuxtrustMobile);
    let product_label = crate::i18n::with_lang(lang, || method.label());
    mail::enqueue(
        conn,
        &mail::Mail::secret_code_reset(
            to,
            lang,
            mail::SecretCodeResetMail {
                display_name: done.account.display_name(),
                device_name: done.device.name.clone(),
                product_label,
                reset_at: now,
                manage_url,
            },
        ),
        now,
    )?;
    Ok(())
}
