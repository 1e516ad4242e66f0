//! Storage of browser sessions and of eAccess sign-ins in flight.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{browser_sessions, oidc_login_states};
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = browser_sessions)]
pub struct BrowserSession {
    pub id_hash: String,
    pub account_id: Option<String>,
    pub csrf_token: String,
    pub eaccess_sub: Option<String>,
    pub auth_time: Option<NaiveDateTime>,
    pub acr: Option<String>,
    pub product_kind: Option<String>,
    pub product_serial: Option<String>,
    pub id_token_hint: Option<String>,
    pub pending_registration: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub reauth_at: Option<NaiveDateTime>,
}

/// Records a fresh re-authentication at eAccess for device management.
pub fn set_reauthenticated(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(browser_sessions::table.find(id_hash))
        .set(browser_sessions::reauth_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn insert_session(conn: &mut DbConnection, session: &BrowserSession) -> Result<(), StoreError> {
    diesel::insert_into(browser_sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

/// The session with this id hash, if it has not reached its absolute expiry.
pub fn find_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<BrowserSession>, StoreError> {
    Ok(browser_sessions::table
        .find(id_hash)
        .filter(browser_sessions::expires_at.gt(now))
        .select(BrowserSession::as_select())
        .first(conn)
        .optional()?)
}

pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(browser_sessions::table.find(id_hash))
        .set(browser_sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Deletes a session; returns whether it existed (so only one sign-out wins).
pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(browser_sessions::table.find(id_hash)).execute(conn)? == 1)
}

pub fn delete_expired_sessions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(browser_sessions::table.filter(browser_sessions::expires_at.le(now)))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_login_states)]
pub struct LoginState {
    pub state_hash: String,
    pub session_id_hash: String,
    pub purpose: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Stores a sign-in in flight and clears expired ones on the way.
pub fn insert_login_state(
    conn: &mut DbConnection,
    state: &LoginState,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::delete(oidc_login_states::table.filter(oidc_login_states::expires_at.le(now)))
        .execute(conn)?;
    diesel::insert_into(oidc_login_states::table)
        .values(state)
        .execute(conn)?;
    Ok(())
}

/// Takes a sign-in in flight out of the store: of any number of callbacks presenting the
/// same `state`, exactly one gets it (the one whose DELETE removes the row).
pub fn take_login_state(
    conn: &mut DbConnection,
    state_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<LoginState>, StoreError> {
    conn.transaction(|conn| {
        let found = oidc_login_states::table
            .find(state_hash)
            .select(LoginState::as_select())
            .first(conn)
            .optional()?;
        let Some(found) = found else { return Ok(None) };
        let deleted = diesel::delete(oidc_login_states::table.find(state_hash)).execute(conn)?;
        if deleted != 1 || found.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(found))
    })
}

/// Turns a registration session into a signed-in one.
pub fn bind_account(
    conn: &mut DbConnection,
    id_hash: &str,
    account_id: &str,
) -> Result<(), StoreError> {
    diesel::update(browser_sessions::table.find(id_hash))
        .set((
            browser_sessions::account_id.eq(account_id),
            browser_sessions::pending_registration.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}
