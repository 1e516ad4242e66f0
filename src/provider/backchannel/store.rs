//! Storage of back-channel logout: the grants a sign-out or an unlink ends, and the
//! logout outbox. Every state change of a row is one conditional UPDATE, so when several
//! workers (or server instances) race for a row exactly one of them wins.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::{logout_outbox, provider_grants};
use crate::db::{DbConnection, StoreError};
use crate::mail::OutboxStatus;
use crate::provider::store::GrantRow;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

/// The live grants of sign-ins made from the browser session `session_id_hash`.
pub fn find_live_session_grants(
    conn: &mut DbConnection,
    session_id_hash: &str,
    now: NaiveDateTime,
) -> Result<Vec<GrantRow>, StoreError> {
    Ok(provider_grants::table
        .filter(provider_grants::session_id_hash.eq(session_id_hash))
        .filter(provider_grants::revoked_at.is_null())
        .filter(provider_grants::expires_at.gt(now))
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// The live grants of sign-ins approved on `device_id` and of tokens it exchanged.
pub fn find_live_device_grants(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<GrantRow>, StoreError> {
    Ok(provider_grants::table
        .filter(provider_grants::device_id.eq(device_id))
        .filter(provider_grants::revoked_at.is_null())
        .filter(provider_grants::expires_at.gt(now))
        .select(GrantRow::as_select())
        .load(conn)?)
}

#[derive(Debug, Insertable)]
#[diesel(table_name = logout_outbox)]
pub struct NewLogout<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub subject: &'a str,
    pub sid: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// One row of the logout outbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = logout_outbox)]
pub struct LogoutRow {
    pub id: String,
    pub client_id: String,
    pub subject: String,
    pub sid: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

pub fn insert_logout(conn: &mut DbConnection, row: &NewLogout<'_>) -> Result<(), StoreError> {
    diesel::insert_into(logout_outbox::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_logout(conn: &mut DbConnection, id: &str) -> Result<Option<LogoutRow>, StoreError> {
    Ok(logout_outbox::table
        .find(id)
        .select(LogoutRow::as_select())
        .first(conn)
        .optional()?)
}

/// Claims the next due row until `locked_until`, or `None` when nothing is due. Due
/// means pending with `next_attempt_at` reached, or sending with a claim that ran out
/// (its worker died mid-send).
pub fn claim_next_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    locked_until: NaiveDateTime,
) -> Result<Option<LogoutRow>, StoreError> {
    let candidates: Vec<String> = logout_outbox::table
        .filter(is_due(now))
        .order((
            logout_outbox::next_attempt_at.asc(),
            logout_outbox::created_at.asc(),
        ))
        .limit(16)
        .select(logout_outbox::id)
        .load(conn)?;
    for id in candidates {
        // The same condition again, atomically: another worker may have claimed the row
        // since the SELECT; then this UPDATE changes nothing and we move on.
        let claimed = diesel::update(
            logout_outbox::table
                .filter(logout_outbox::id.eq(&id))
                .filter(is_due(now)),
        )
        .set((
            logout_outbox::status.eq(SENDING),
            logout_outbox::locked_until.eq(Some(locked_until)),
        ))
        .execute(conn)?;
        if claimed == 1 {
            return find_logout(conn, &id);
        }
    }
    Ok(None)
}

/// Marks a row delivered (counting this attempt) if this worker's claim still holds it.
pub fn update_sent(
    conn: &mut DbConnection,
    id: &str,
    claim: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let changed = diesel::update(claimed_by(id, claim))
        .set((
            logout_outbox::status.eq(SENT),
            logout_outbox::attempts.eq(logout_outbox::attempts + 1),
            logout_outbox::sent_at.eq(Some(now)),
            logout_outbox::locked_until.eq(None::<NaiveDateTime>),
            logout_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// What became of a failed attempt.
#[derive(Debug)]
pub struct Failure<'a> {
    pub attempts: i32,
    pub last_error: &'a str,
    /// Given up for good (`dead`) rather than retried at `next_attempt_at`.
    pub is_dead: bool,
    pub next_attempt_at: NaiveDateTime,
}

/// Records a failed attempt, if this worker's claim still holds the row: back to
/// pending for a retry, or dead.
pub fn update_failed(
    conn: &mut DbConnection,
    id: &str,
    claim: NaiveDateTime,
    failure: &Failure<'_>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(claimed_by(id, claim))
        .set((
            logout_outbox::status.eq(if failure.is_dead { DEAD } else { PENDING }),
            logout_outbox::attempts.eq(failure.attempts),
            logout_outbox::last_error.eq(Some(failure.last_error)),
            logout_outbox::next_attempt_at.eq(failure.next_attempt_at),
            logout_outbox::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The logout outbox at a glance (the shape of the mail outbox's).
pub fn count_by_status(conn: &mut DbConnection) -> Result<OutboxStatus, StoreError> {
    let counts: Vec<(String, i64)> = logout_outbox::table
        .group_by(logout_outbox::status)
        .select((logout_outbox::status, count_star()))
        .load(conn)?;
    let mut status = OutboxStatus::default();
    for (state, n) in counts {
        match state.as_str() {
            PENDING => status.pending = n,
            SENDING => status.sending = n,
            SENT => status.sent = n,
            DEAD => status.dead = n,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown logout outbox status {other:?}"
                )));
            }
        }
    }
    status.oldest_pending_at = logout_outbox::table
        .filter(logout_outbox::status.eq_any([PENDING, SENDING]))
        .select(min(logout_outbox::created_at))
        .first(conn)?;
    Ok(status)
}

/// Pending with `next_attempt_at` reached, or sending with a claim that ran out.
#[diesel::dsl::auto_type]
fn is_due(now: NaiveDateTime) -> _ {
    let pending: &'static str = PENDING;
    let sending: &'static str = SENDING;
    logout_outbox::status
        .eq(pending)
        .and(logout_outbox::next_attempt_at.le(now))
        .or(logout_outbox::status
            .eq(sending)
            .and(logout_outbox::locked_until.le(now)))
}

/// The row `id`, still in the claim that set `locked_until = claim`.
#[diesel::dsl::auto_type]
#[expect(
    clippy::elidable_lifetime_names,
    reason = "auto_type names the lifetime in the type alias it generates"
)]
fn claimed_by<'a>(id: &'a str, claim: NaiveDateTime) -> _ {
    let sending: &'static str = SENDING;
    logout_outbox::table.filter(
        logout_outbox::id
            .eq(id)
            .and(logout_outbox::status.eq(sending))
            .and(logout_outbox::locked_until.eq(claim)),
    )
}
