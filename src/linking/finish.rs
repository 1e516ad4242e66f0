//! The link's steps after the binding: the secret code, the optional passkey
//! (biometrics) and completion, when the device becomes linked. Mounted by
//! `routes::configure`; error tables in `contract`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, put, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use utoipa::ToSchema;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::accounts;
use crate::devices::SecretCodeError;
use crate::devices::secret_code::parse_secret_code;
use crate::http::openapi::CreationOptions;
use crate::http::{ApiError, RequestContext};
use crate::mail;
use crate::state::AppState;

use super::contract::{
    AddPasskeyErrors, CompleteLinkErrors, PasskeyOptionsErrors, SetSecretCodeErrors,
};
use super::routes::{authorized_link, now, reloaded_link_response};
use super::rules::{LinkMethod, LinkState};
use super::service::{self, LinkError};
use super::store;
use super::view::{AccountView, CompletedLink, LinkView};

/// The secret code the citizen chose (entered twice in the app).
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct SecretCodeBody {
    /// Exactly 6 ASCII digits, not easily guessed.
    #[schema(example = "482913")]
    secret_code: String,
}

/// Sets the 6-digit secret code. Stored only as an Argon2id verifier keyed with the
/// server's pepper; never logged, never returned.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    request_body = SecretCodeBody,
    responses(
        (status = 200, description = "`state: secret_code_set`.", body = LinkView),
        SetSecretCodeErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[put("/api/v1/links/{link_id}/secret-code")]
pub(super) async fn set_secret_code(
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
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    responses(
        (status = 200, description = "WebAuthn creation options (webauthn-rs `CreationChallengeResponse`).", body = CreationOptions),
        PasskeyOptionsErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links/{link_id}/passkey/options")]
pub(super) async fn passkey_options(
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

/// The authenticator's answer to the creation options.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AddPasskey {
    /// A WebAuthn `PublicKeyCredential` as JSON (`PublicKeyCredential.toJSON()`), with
    /// `clientExtensionResults` (or `extensions`, never both).
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Verifies the new passkey (user verification required) and keeps it until completion.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    request_body = AddPasskey,
    responses(
        (status = 200, description = "`state: passkey_added`.", body = LinkView),
        AddPasskeyErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links/{link_id}/passkey")]
pub(super) async fn add_passkey(
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
    let lang = crate::accounts::store::mail_language(conn, &done.account.id)?;
    let method = LinkMethod::parse(&done.device.method).unwrap_or(LinkMethod::Qr);
    let method_label = crate::i18n::with_lang(lang, || method.label());
    mail::enqueue(
        conn,
        &mail::Mail::device_linked(
            to,
            lang,
            mail::DeviceLinkedMail {
                display_name: done.account.display_name(),
                device_name: done.device.name.clone(),
                method_label,
                linked_at: now,
                manage_url,
            },
        ),
        now,
    )?;
    Ok(())
}

/// Finishes linking: only now does the device count as linked.
#[utoipa::path(
    tag = "linking",
    params(("link_id" = String, Path, description = "The link's id (a UUID).")),
    responses(
        (status = 200, description = "The device is linked.", body = CompletedLink),
        CompleteLinkErrors,
    ),
    security(("dpop_proof" = [])),
)]
#[post("/api/v1/links/{link_id}/complete")]
pub(super) async fn complete_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let link = authorized_link(&state, &req, &path).await?;
    let now = now();
    let link_id = link.id.clone();
    let manage = state.settings.server.public_url.clone();
    let product = link.product.clone();
    let done = state
        .db
        .run(move |conn| {
            Ok(service::complete(
                conn,
                &link_id,
                &ctx,
                now,
                |conn, done| {
                    if done.reset {
                        super::reset::enqueue_mail(conn, done, product.as_deref(), &manage, now)
                    } else {
                        enqueue_linked_mail(conn, done, &manage, now)
                    }
                },
            ))
        })
        .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CompletedLink {
            link_id: link.id,
            state: LinkState::Completed.as_str(),
            device_id: done.device.id.clone(),
            account: AccountView {
                display_name: done.account.display_name(),
            },
            biometrics: done.has_passkey,
            resets_secret_code: done.reset,
        }))
}
