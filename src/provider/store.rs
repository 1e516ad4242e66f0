//! Storage of the provider: authorization requests in flight, grants, codes, refresh
//! tokens and consents. Every state change is one conditional UPDATE, so that of racing
//! requests exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    provider_codes, provider_consents, provider_grants, provider_refresh_tokens, provider_requests,
};
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_requests)]
pub struct RequestRow {
    pub id_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub max_age: Option<i32>,
    pub acr_values: Option<String>,
    pub prompt: Option<String>,
    pub session_id_hash: Option<String>,
    pub status: String,
    pub approval_code_hash: Option<String>,
    pub approval_state: String,
    pub approval_expires_at: Option<NaiveDateTime>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub amr: Option<String>,
    pub approved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The unlock behind an approval (the sign-in's `auth_time`).
    pub unlocked_at: Option<NaiveDateTime>,
    /// Whether `acr_values` came from an essential `acr` claims request: only then does
    /// an authentication that meets none of them refuse the sign-in.
    pub acr_essential: bool,
    /// The DPoP key the code must be redeemed with (`dpop_jkt`, RFC 9449 section 10).
    pub dpop_jkt: Option<String>,
    /// The user claims asked for with the `claims` parameter, JSON.
    pub claims: Option<String>,
}

pub fn insert_request(conn: &mut DbConnection, row: &RequestRow) -> Result<(), StoreError> {
    diesel::insert_into(provider_requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A pending, unexpired request.
pub fn find_pending_request(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<RequestRow>, StoreError> {
    Ok(provider_requests::table
        .find(id_hash)
        .filter(provider_requests::status.eq("pending"))
        .filter(provider_requests::expires_at.gt(now))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// Binds the request to the browser session that will complete it.
pub fn bind_request_session(
    conn: &mut DbConnection,
    id_hash: &str,
    session_id_hash: &str,
) -> Result<(), StoreError> {
    diesel::update(provider_requests::table.find(id_hash))
        .set(provider_requests::session_id_hash.eq(session_id_hash))
        .execute(conn)?;
    Ok(())
}

/// pending -> `status` (completed | denied); true for the one caller that made it.
pub fn finish_request(
    conn: &mut DbConnection,
    id_hash: &str,
    status: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        provider_requests::table
            .find(id_hash)
            .filter(provider_requests::status.eq("pending")),
    )
    .set(provider_requests::status.eq(status))
    .execute(conn)?
        == 1)
}

pub fn delete_expired_requests(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(provider_requests::table.filter(provider_requests::expires_at.le(now)))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub scope: String,
    pub auth_time: NaiveDateTime,
    pub acr: String,
    /// JSON array.
    pub amr: String,
    pub device_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// The browser session the sign-in came from (SHA-256 of its token); `None` for a
    /// token the app exchanged. Signing out of devicelink ends these grants.
    pub session_id_hash: Option<String>,
    /// The DPoP key (RFC 7638 thumbprint) the sign-in's tokens are bound to, once the
    /// code was redeemed with a proof (RFC 9449 section 5).
    pub jkt: Option<String>,
    /// The user claims asked for with the `claims` parameter, JSON (see
    /// `rules::RequestedClaims`).
    pub claims: Option<String>,
}

/// Binds a grant's tokens to a DPoP key (RFC 9449 section 5).
pub fn bind_grant_key(
    conn: &mut DbConnection,
    grant_id: &str,
    jkt: &str,
) -> Result<(), StoreError> {
    diesel::update(provider_grants::table.find(grant_id))
        .set(provider_grants::jkt.eq(jkt))
        .execute(conn)?;
    Ok(())
}

pub fn insert_grant(conn: &mut DbConnection, row: &GrantRow) -> Result<(), StoreError> {
    diesel::insert_into(provider_grants::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_grant(conn: &mut DbConnection, id: &str) -> Result<Option<GrantRow>, StoreError> {
    Ok(provider_grants::table
        .find(id)
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes a grant: every token issued from it stops working.
pub fn revoke_grant(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        provider_grants::table
            .find(id)
            .filter(provider_grants::revoked_at.is_null()),
    )
    .set(provider_grants::revoked_at.eq(now))
    .execute(conn)?
        == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub redeemed_at: Option<NaiveDateTime>,
    /// The `dpop_jkt` of the authorization request (RFC 9449 section 10).
    pub dpop_jkt: Option<String>,
}

pub fn insert_code(conn: &mut DbConnection, row: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(provider_codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_code(conn: &mut DbConnection, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    Ok(provider_codes::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Redeems a code; true for the one caller that did.
pub fn redeem_code(
    conn: &mut DbConnection,
    code_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        provider_codes::table
            .find(code_hash)
            .filter(provider_codes::redeemed_at.is_null()),
    )
    .set(provider_codes::redeemed_at.eq(now))
    .execute(conn)?
        == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_refresh_tokens)]
pub struct RefreshRow {
    pub id_hash: String,
    pub grant_id: String,
    pub generation: i32,
    pub spent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_refresh(conn: &mut DbConnection, row: &RefreshRow) -> Result<(), StoreError> {
    diesel::insert_into(provider_refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_refresh(
    conn: &mut DbConnection,
    id_hash: &str,
) -> Result<Option<RefreshRow>, StoreError> {
    Ok(provider_refresh_tokens::table
        .find(id_hash)
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()?)
}

/// Spends a refresh token; true for the one caller that did.
pub fn spend_refresh(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        provider_refresh_tokens::table
            .find(id_hash)
            .filter(provider_refresh_tokens::spent_at.is_null()),
    )
    .set(provider_refresh_tokens::spent_at.eq(now))
    .execute(conn)?
        == 1)
}

/// Deletes grants (with their codes and refresh tokens) a day past their lifetime.
pub fn delete_expired_grants(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let cutoff = now - chrono::Duration::days(1);
    Ok(
        diesel::delete(provider_grants::table.filter(provider_grants::expires_at.le(cutoff)))
            .execute(conn)?,
    )
}

/// The scopes the citizen consented to share with `client_id`, if any.
pub fn find_consent(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(provider_consents::table
        .find((account_id, client_id))
        .select(provider_consents::scope)
        .first(conn)
        .optional()?)
}

/// Records (or widens) the citizen's consent for `client_id`.
pub fn upsert_consent(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
    scope: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let updated = diesel::update(provider_consents::table.find((account_id, client_id)))
        .set((
            provider_consents::scope.eq(scope),
            provider_consents::granted_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(provider_consents::table)
            .values((
                provider_consents::account_id.eq(account_id),
                provider_consents::client_id.eq(client_id),
                provider_consents::scope.eq(scope),
                provider_consents::granted_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Shows a new approval code for a pending request (replacing an unscanned one).
pub fn set_approval_code(
    conn: &mut DbConnection,
    id_hash: &str,
    code_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        provider_requests::table
            .find(id_hash)
            .filter(provider_requests::status.eq("pending"))
            .filter(provider_requests::approval_state.eq_any(["none", "shown"])),
    )
    .set((
        provider_requests::approval_code_hash.eq(code_hash),
        provider_requests::approval_state.eq("shown"),
        provider_requests::approval_expires_at.eq(expires_at),
    ))
    .execute(conn)?
        == 1)
}

/// shown -> scanned by `device_id`, once, while the code is valid. Returns the request.
pub fn scan_approval(
    conn: &mut DbConnection,
    code_hash: &str,
    device_id: &str,
    account_id: &str,
    now: NaiveDateTime,
) -> Result<Option<RequestRow>, StoreError> {
    let scanned = diesel::update(
        provider_requests::table
            .filter(provider_requests::approval_code_hash.eq(code_hash))
            .filter(provider_requests::approval_state.eq("shown"))
            .filter(provider_requests::status.eq("pending"))
            .filter(provider_requests::approval_expires_at.gt(now)),
    )
    .set((
        provider_requests::approval_state.eq("scanned"),
        provider_requests::device_id.eq(device_id),
        provider_requests::account_id.eq(account_id),
    ))
    .execute(conn)?;
    if scanned != 1 {
        return Ok(None);
    }
    Ok(provider_requests::table
        .filter(provider_requests::approval_code_hash.eq(code_hash))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// What the app decided about a scanned request.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'a> {
    /// Approved after the unlock at `unlocked_at`, with that unlock's `amr` (JSON).
    Approved {
        amr: &'a str,
        unlocked_at: NaiveDateTime,
    },
    Refused,
}

/// scanned -> approved | refused by the device that scanned, once, while valid.
pub fn decide_approval(
    conn: &mut DbConnection,
    id_hash: &str,
    device_id: &str,
    decision: Decision<'_>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let (state, amr, unlocked_at) = match decision {
        Decision::Approved { amr, unlocked_at } => ("approved", Some(amr), Some(unlocked_at)),
        Decision::Refused => ("refused", None, None),
    };
    Ok(diesel::update(
        provider_requests::table
            .find(id_hash)
            .filter(provider_requests::approval_state.eq("scanned"))
            .filter(provider_requests::device_id.eq(device_id))
            .filter(provider_requests::status.eq("pending"))
            .filter(provider_requests::approval_expires_at.gt(now)),
    )
    .set((
        provider_requests::approval_state.eq(state),
        provider_requests::amr.eq(amr),
        provider_requests::approved_at.eq(now),
        provider_requests::unlocked_at.eq(unlocked_at),
    ))
    .execute(conn)?
        == 1)
}

/// Any request by id (status pages of the app approval).
pub fn find_request(
    conn: &mut DbConnection,
    id_hash: &str,
) -> Result<Option<RequestRow>, StoreError> {
    Ok(provider_requests::table
        .find(id_hash)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}
