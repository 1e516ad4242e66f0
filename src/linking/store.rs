//! Storage of QR link codes and link sessions. Every state change is one conditional
//! UPDATE, so that of racing requests exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{link_codes, link_sessions};
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = link_codes)]
pub struct LinkCodeRow {
    pub id: String,
    pub code_hash: String,
    pub account_id: String,
    pub browser_session_hash: String,
    pub status: String,
    pub link_id: Option<String>,
    pub allows_static: bool,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The code sealed for its browser session (`live_code`); `None` for older codes.
    pub code_sealed: Option<String>,
}

/// This browser session's newest active code that is not yet scanned and is valid
/// after `until`.
pub fn find_live_code(
    conn: &mut DbConnection,
    browser_session_hash: &str,
    until: NaiveDateTime,
) -> Result<Option<LinkCodeRow>, StoreError> {
    Ok(link_codes::table
        .filter(link_codes::browser_session_hash.eq(browser_session_hash))
        .filter(link_codes::status.eq("active"))
        .filter(link_codes::link_id.is_null())
        .filter(link_codes::expires_at.gt(until))
        .order(link_codes::created_at.desc())
        .select(LinkCodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Turns a live animated code into a static one (the page without JavaScript asked
/// for one) by giving the row a new code: the code that animated frames showed never
/// scans as a static code. Whether the row was still active, unscanned and animated.
pub fn make_static(
    conn: &mut DbConnection,
    id: &str,
    code_hash: &str,
    code_sealed: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_codes::table
            .filter(link_codes::id.eq(id))
            .filter(link_codes::status.eq("active"))
            .filter(link_codes::link_id.is_null())
            .filter(link_codes::allows_static.eq(false)),
    )
    .set((
        link_codes::allows_static.eq(true),
        link_codes::code_hash.eq(code_hash),
        link_codes::code_sealed.eq(code_sealed),
    ))
    .execute(conn)?
        == 1)
}

/// Inserts a new code and voids the earlier active codes of the same browser session
/// ("Generate a new QR code" replaces the previous one).
pub fn insert_link_code(conn: &mut DbConnection, row: &LinkCodeRow) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::update(
            link_codes::table
                .filter(link_codes::browser_session_hash.eq(&row.browser_session_hash))
                .filter(link_codes::status.eq("active")),
        )
        .set(link_codes::status.eq("cancelled"))
        .execute(conn)?;
        diesel::insert_into(link_codes::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })
}

pub fn find_link_code(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<LinkCodeRow>, StoreError> {
    Ok(link_codes::table
        .find(id)
        .select(LinkCodeRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_link_code_by_hash(
    conn: &mut DbConnection,
    code_hash: &str,
) -> Result<Option<LinkCodeRow>, StoreError> {
    Ok(link_codes::table
        .filter(link_codes::code_hash.eq(code_hash))
        .select(LinkCodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Redeems an active, unexpired code for `link_id`. Returns whether this call won.
pub fn redeem_link_code(
    conn: &mut DbConnection,
    code_hash: &str,
    link_id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let won = diesel::update(
        link_codes::table
            .filter(link_codes::code_hash.eq(code_hash))
            .filter(link_codes::status.eq("active"))
            .filter(link_codes::expires_at.gt(now)),
    )
    .set((
        link_codes::status.eq("redeemed"),
        link_codes::link_id.eq(link_id),
    ))
    .execute(conn)?;
    Ok(won == 1)
}

/// What "This was not me — cancel" found, decided in one transaction.
#[derive(Debug)]
pub enum CancelOutcome {
    /// The code (and the link it started, if any) is cancelled.
    Cancelled(LinkCodeRow),
    /// Too late: the link had already completed; nothing was changed.
    AlreadyLinked { device_id: Option<String> },
    /// The code was no longer active, redeemed or this browser's: nothing to void.
    NothingLeft,
}

/// Cancels a code from the browser that made it, and the link it started, unless that
/// link already completed. Check and cancel are one transaction, in this order: the
/// link session first (a conditional UPDATE that a concurrent completion either
/// precedes, and then this call sees `completed`, or waits behind and then fails), then
/// the code, conditional on the `link_id` read (a redemption racing in between makes
/// this call start again on the new state).
pub fn cancel_link_code(
    conn: &mut DbConnection,
    id: &str,
    browser_session_hash: &str,
    now: NaiveDateTime,
) -> Result<CancelOutcome, StoreError> {
    // A redemption can slip in between the read and the write at most once: a code is
    // redeemed once.
    for _ in 0..2 {
        let outcome = conn.transaction::<_, StoreError, _>(|conn| {
            let Some(code) = find_link_code(conn, id)?
                .filter(|c| c.browser_session_hash == browser_session_hash)
                .filter(|c| c.status == "active" || c.status == "redeemed")
            else {
                return Ok(Some(CancelOutcome::NothingLeft));
            };
            if let Some(link_id) = &code.link_id {
                if !end_live(conn, link_id, "cancelled", now)? {
                    let link = find_link_session(conn, link_id)?;
                    if let Some(link) = link.filter(|l| l.state == "completed") {
                        return Ok(Some(CancelOutcome::AlreadyLinked {
                            device_id: link.device_id,
                        }));
                    }
                }
            }
            let target = link_codes::table
                .find(id)
                .filter(link_codes::status.eq_any(["active", "redeemed"]));
            let updated = match &code.link_id {
                Some(link_id) => diesel::update(target.filter(link_codes::link_id.eq(link_id)))
                    .set(link_codes::status.eq("cancelled"))
                    .execute(conn)?,
                None => diesel::update(target.filter(link_codes::link_id.is_null()))
                    .set(link_codes::status.eq("cancelled"))
                    .execute(conn)?,
            };
            if updated == 0 {
                // Redeemed meanwhile: look again.
                return Ok(None);
            }
            Ok(find_link_code(conn, id)?.map(CancelOutcome::Cancelled))
        })?;
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    }
    Ok(CancelOutcome::NothingLeft)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = link_sessions)]
pub struct LinkSessionRow {
    pub id: String,
    pub device_jkt: String,
    pub device_name: String,
    pub platform: String,
    pub method: String,
    pub state: String,
    pub account_id: Option<String>,
    pub link_code_id: Option<String>,
    pub secret_code_verifier: Option<String>,
    pub passkey: Option<String>,
    pub webauthn_state: Option<String>,
    pub device_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub product: Option<String>,
    pub app_redirect_uri: Option<String>,
    pub result_hash: Option<String>,
    pub pending_account_id: Option<String>,
    pub refusal: Option<String>,
    /// A "Forgot your code?" link: the linked device whose secret code it replaces.
    pub resets_device_id: Option<String>,
}

pub fn insert_link_session(
    conn: &mut DbConnection,
    row: &LinkSessionRow,
) -> Result<(), StoreError> {
    diesel::insert_into(link_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_link_session(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<LinkSessionRow>, StoreError> {
    Ok(link_sessions::table
        .find(id)
        .select(LinkSessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a live link session from `from` to `to`; returns whether this call won.
pub fn transition(
    conn: &mut DbConnection,
    id: &str,
    from: &[&str],
    to: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq_any(from))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq(to),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

pub fn bind_account(
    conn: &mut DbConnection,
    id: &str,
    account_id: &str,
    link_code_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("created"))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq("account_bound"),
        link_sessions::account_id.eq(account_id),
        link_sessions::link_code_id.eq(link_code_id),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

pub fn set_secret_code(
    conn: &mut DbConnection,
    id: &str,
    verifier: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("account_bound"))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq("secret_code_set"),
        link_sessions::secret_code_verifier.eq(verifier),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Keeps the WebAuthn registration ceremony state while the app creates its passkey.
pub fn set_webauthn_state(
    conn: &mut DbConnection,
    id: &str,
    state: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("secret_code_set"))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::webauthn_state.eq(state),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Takes the ceremony state (single use) and stores the new passkey.
pub fn set_passkey(
    conn: &mut DbConnection,
    id: &str,
    expected_webauthn_state: &str,
    passkey: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("secret_code_set"))
            .filter(link_sessions::webauthn_state.eq(expected_webauthn_state))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq("passkey_added"),
        link_sessions::passkey.eq(passkey),
        link_sessions::webauthn_state.eq(None::<String>),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

pub fn complete(
    conn: &mut DbConnection,
    id: &str,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq_any(["secret_code_set", "passkey_added"]))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq("completed"),
        link_sessions::device_id.eq(device_id),
        // The verifier and passkey now live with the device.
        link_sessions::secret_code_verifier.eq(None::<String>),
        link_sessions::passkey.eq(None::<String>),
        link_sessions::webauthn_state.eq(None::<String>),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Link sessions past their expiry that never completed, for the janitor.
pub fn find_abandoned(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<LinkSessionRow>, StoreError> {
    Ok(link_sessions::table
        .filter(link_sessions::expires_at.le(now))
        .filter(link_sessions::state.ne_all(["completed", "expired", "cancelled", "refused"]))
        .limit(limit)
        .select(LinkSessionRow::as_select())
        .load(conn)?)
}

/// Marks an abandoned session expired and forgets its secrets; returns whether this
/// call did it (several instances may run the janitor).
pub fn expire(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<bool, StoreError> {
    end_live(conn, id, "expired", now)
}

/// Cancels a live link session (from the app, or when the browser voids its code).
pub fn cancel(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<bool, StoreError> {
    end_live(conn, id, "cancelled", now)
}

/// Moves a link that has not ended into the terminal state `to`, forgetting its secrets.
fn end_live(
    conn: &mut DbConnection,
    id: &str,
    to: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.ne_all(["completed", "expired", "cancelled", "refused"])),
    )
    .set((
        link_sessions::state.eq(to),
        link_sessions::secret_code_verifier.eq(None::<String>),
        link_sessions::passkey.eq(None::<String>),
        link_sessions::webauthn_state.eq(None::<String>),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Records what eAccess vouched for on a LuxTrust link: the account and the hash of the
/// one-time result reference the app must present. Only from `created`, only once.
pub fn set_luxtrust_result(
    conn: &mut DbConnection,
    id: &str,
    account_id: &str,
    result_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("created"))
            .filter(link_sessions::result_hash.is_null())
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::pending_account_id.eq(account_id),
        link_sessions::result_hash.eq(result_hash),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Trades the result reference for the binding: single use (the hash is cleared).
pub fn bind_luxtrust(
    conn: &mut DbConnection,
    id: &str,
    result_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let Some(link) = find_link_session(conn, id)? else {
        return Ok(false);
    };
    let Some(account_id) = link.pending_account_id else {
        return Ok(false);
    };
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("created"))
            .filter(link_sessions::result_hash.eq(result_hash))
            .filter(link_sessions::expires_at.gt(now)),
    )
    .set((
        link_sessions::state.eq("account_bound"),
        link_sessions::account_id.eq(account_id),
        link_sessions::result_hash.eq(None::<String>),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Refuses a link with a stable reason code (terminal).
pub fn refuse(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        link_sessions::table
            .find(id)
            .filter(link_sessions::state.eq("created")),
    )
    .set((
        link_sessions::state.eq("refused"),
        link_sessions::refusal.eq(reason),
        link_sessions::result_hash.eq(None::<String>),
        link_sessions::pending_account_id.eq(None::<String>),
        link_sessions::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}
