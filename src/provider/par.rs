//! `POST /oidc/par`: pushed authorization requests (RFC 9126). The portal authenticates
//! as at the token endpoint and pushes the authorization parameters; devicelink checks
//! them as `/oidc/authorize` would and answers a one-time `request_uri`, which the
//! browser then carries to `/oidc/authorize` with the `client_id` alone. The parameters
//! never travel through the browser, so they can be neither read nor changed there.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::provider_pushed_requests;
use crate::db::{DbConnection, StoreError};
use crate::http::ApiError;
use crate::protocol::redirect_uri::is_registered;
use crate::state::AppState;
use crate::web::session;

use super::endpoint::{authenticated_client, form_params, no_store, now};
use super::rules::{self, AuthorizeParams};

/// The `request_uri` prefix of RFC 9126 section 2.2.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Seconds a pushed request stays usable (RFC 9126 section 2.2 suggests a short time;
/// FAPI 2.0 requires under 600).
pub const PUSHED_REQUEST_TTL_SECS: i64 = 60;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_pushed_requests)]
struct PushedRow {
    id_hash: String,
    client_id: String,
    /// The pushed parameters, a JSON object of strings.
    params: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Takes a pushed request of `client_id` once: deleted as it is read, so that of two
/// racing uses exactly one gets it. `None`: unknown, another client's, used or expired.
pub fn take_pushed_request(
    conn: &mut DbConnection,
    request_uri: &str,
    client_id: &str,
    now: NaiveDateTime,
) -> Result<Option<HashMap<String, String>>, StoreError> {
    let Some(token) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Ok(None);
    };
    let id_hash = session::hash_token(token);
    conn.transaction(|conn| {
        let row: Option<PushedRow> = provider_pushed_requests::table
            .find(&id_hash)
            .select(PushedRow::as_select())
            .first(conn)
            .optional()?;
        let deleted =
            diesel::delete(provider_pushed_requests::table.find(&id_hash)).execute(conn)?;
        Ok(row
            .filter(|r| deleted == 1 && r.client_id == client_id && r.expires_at > now)
            .and_then(|r| serde_json::from_str(&r.params).ok()))
    })
}

/// Deletes expired pushed requests (the janitor).
pub fn delete_expired_pushed_requests(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        provider_pushed_requests::table.filter(provider_pushed_requests::expires_at.le(now)),
    )
    .execute(conn)?)
}

pub(super) async fn push(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = form_params(&req, &body)?;
    let client = authenticated_client(&state, &req, &form).await?;
    // The authentication parameters are not authorization parameters.
    let mut params: HashMap<String, String> = form
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "client_secret" | "client_assertion" | "client_assertion_type"
            )
        })
        .collect();
    if params.contains_key("request_uri") {
        // RFC 9126 section 2.1.
        return Err(ApiError::bad_request(
            "invalid_request",
            "A pushed request cannot itself carry a request_uri.",
        ));
    }
    if params
        .get("client_id")
        .is_some_and(|id| *id != client.client_id)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "The client_id is not the authenticated client's.",
        ));
    }
    params.insert("client_id".into(), client.client_id.clone());
    let parsed: AuthorizeParams = serde_json::from_value(json!(params))
        .map_err(|_| ApiError::bad_request("invalid_request", "The request is not valid."))?;
    if !parsed
        .redirect_uri
        .as_deref()
        .is_some_and(|uri| is_registered(&client.redirect_uris, uri))
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "The redirect_uri is not registered for this client.",
        ));
    }
    // Refuse at once what /oidc/authorize would refuse (RFC 9126 section 2.3).
    rules::validate(&client, &parsed).map_err(|e| ApiError::bad_request(e.code, e.description))?;
    let token = session::random_token();
    let now = now();
    let row = PushedRow {
        id_hash: session::hash_token(&token),
        client_id: client.client_id.clone(),
        params: serde_json::to_string(&params).map_err(ApiError::internal)?,
        created_at: now,
        expires_at: now + Duration::seconds(PUSHED_REQUEST_TTL_SECS),
    };
    state
        .db
        .run(move |conn| {
            diesel::insert_into(provider_pushed_requests::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await?;
    Ok(no_store(HttpResponse::Created().json(json!({
        "request_uri": format!("{REQUEST_URI_PREFIX}{token}"),
        "expires_in": PUSHED_REQUEST_TTL_SECS,
    }))))
}
