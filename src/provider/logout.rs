//! `GET|POST /oidc/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::Connection;
use serde_json::{Value, json};

use crate::http::{PageError, RequestContext};
use crate::protocol::redirect_uri::is_registered;
use crate::state::AppState;
use crate::web::session;
use crate::web::{current_session, see_other};

use super::endpoint::{client_page_error, issuer, now, parse_params};

pub(super) async fn logout_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    logout(state, req, raw, ctx).await
}

pub(super) async fn logout_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    logout(state, req, body.to_vec(), ctx).await
}

/// RP-initiated logout 1.0: with a valid `id_token_hint` for the signed-in citizen the
/// devicelink session ends; the browser returns to a registered
/// `post_logout_redirect_uri` with `state`. Without a hint nothing is ended silently:
/// the citizen is sent to the portal home, where "Sign out" is one click.
pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: Vec<u8>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let params = parse_params(&raw).map_err(|_| {
        client_page_error(
            "provider-error-logout-title",
            "provider-error-logout-repeated",
        )
    })?;
    let iss = issuer(&state);
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let hint = hint.clone();
            let checked = super::endpoint::verify_id_token(&state, &hint)
                .await
                .map_err(|e| PageError::internal(anyhow::anyhow!("{e}")))?;
            let claims = checked
                .ok()
                .filter(|c| c.get("iss").and_then(Value::as_str) == Some(iss.as_str()));
            Some(claims.ok_or_else(|| {
                client_page_error(
                    "provider-error-logout-title",
                    "provider-error-logout-unverified",
                )
            })?)
        }
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("aud").and_then(Value::as_str).map(str::to_owned));
    let client_id = match (params.get("client_id"), hinted_client) {
        (Some(a), Some(b)) if *a != b => {
            return Err(client_page_error(
                "provider-error-logout-title",
                "provider-error-logout-client-mismatch",
            ));
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b,
    };
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = client_id
                .as_deref()
                .and_then(|id| state.settings.provider.client(id))
                .filter(|c| is_registered(&c.post_logout_redirect_uris, uri))
                .ok_or_else(|| {
                    client_page_error(
                        "provider-error-logout-title",
                        "provider-error-logout-unregistered",
                    )
                })?;
            let _ = client;
            Some(uri.clone())
        }
    };
    let session = current_session(&state, &req).await?;
    let mut ended = false;
    if let (Some(claims), Some(session)) = (&hint, session) {
        let sub = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        if sub.is_some() && session.account_id == sub {
            let now = now();
            let settings = std::sync::Arc::clone(&state.settings);
            state
                .db
                .run(move |conn| {
                    // One transaction: the session, its portal sign-ins (with their
                    // logout tokens, back-channel logout) and the audit event.
                    conn.transaction(|conn| {
                        if !crate::web::store::delete_session(conn, &session.id_hash)? {
                            return Ok(());
                        }
                        super::backchannel::end_session_grants(
                            conn,
                            &settings.provider,
                            &session.id_hash,
                            now,
                        )?;
                        if let Some(account) = &session.account_id {
                            crate::audit::store::insert_event(
                                conn,
                                &crate::audit::NewAuditEvent::new(
                                    crate::audit::EventKind::SignedOut,
                                    Some(account),
                                    json!({"by": "portal", "client_id": client_id}),
                                    &ctx,
                                    now,
                                ),
                            )?;
                        }
                        Ok(())
                    })
                })
                .await?;
            ended = true;
        }
    }
    let mut response = match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(PageError::internal)?;
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            see_other(url.as_str())
        }
        None => see_other("/"),
    };
    if ended {
        response
            .add_cookie(&session::removal_cookie(&state.settings))
            .map_err(PageError::internal)?;
    }
    Ok(response)
}
