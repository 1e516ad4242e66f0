//! Storage of the outbox. Every state change is one conditional UPDATE, so when several
//! workers (or server instances) race for a message exactly one of them wins.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::outbox;
use crate::db::{DbConnection, StoreError};

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutboxMessage<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// One row of the outbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// The state of the outbox at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub dead: i64,
    /// When the oldest message still waiting for delivery was queued.
    pub oldest_pending_at: Option<NaiveDateTime>,
}

/// What happened to a failed send.
#[derive(Debug)]
pub struct Failure<'a> {
    pub attempts: i32,
    pub last_error: &'a str,
    /// Given up for good (`dead`) rather than retried at `next_attempt_at`.
    pub is_dead: bool,
    pub next_attempt_at: NaiveDateTime,
}

pub fn insert_message(
    conn: &mut DbConnection,
    message: &NewOutboxMessage<'_>,
) -> Result<(), StoreError> {
    diesel::insert_into(outbox::table)
        .values(message)
        .execute(conn)?;
    Ok(())
}

pub fn find_message(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<OutboxMessage>, StoreError> {
    Ok(outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()?)
}

/// Claims the next due message for this worker until `locked_until`, or `None` when
/// nothing is due. Due means pending with `next_attempt_at` reached, or sending with a
/// claim that ran out (its worker died mid-send).
pub fn claim_next_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    locked_until: NaiveDateTime,
) -> Result<Option<OutboxMessage>, StoreError> {
    let candidates: Vec<String> = outbox::table
        .filter(is_due(now))
        .order((outbox::next_attempt_at.asc(), outbox::created_at.asc()))
        .limit(16)
        .select(outbox::id)
        .load(conn)?;
    for id in candidates {
        // The same condition again, atomically: another worker may have claimed the
        // message since the SELECT; then this UPDATE changes nothing and we move on.
        let claimed = diesel::update(outbox::table.filter(outbox::id.eq(&id)).filter(is_due(now)))
            .set((
                outbox::status.eq(SENDING),
                outbox::locked_until.eq(Some(locked_until)),
            ))
            .execute(conn)?;
        if claimed == 1 {
            return find_message(conn, &id);
        }
    }
    Ok(None)
}

/// Marks a message sent (counting this attempt), if this worker's claim
/// (`locked_until`) still holds it. Returns whether it did.
pub fn update_sent(
    conn: &mut DbConnection,
    id: &str,
    claim: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let changed = diesel::update(claimed_by(id, claim))
        .set((
            outbox::status.eq(SENT),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::sent_at.eq(Some(now)),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records a failed send, if this worker's claim still holds the message: back to
/// pending for a retry, or dead. Returns whether it did.
pub fn update_failed(
    conn: &mut DbConnection,
    id: &str,
    claim: NaiveDateTime,
    failure: &Failure<'_>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(claimed_by(id, claim))
        .set((
            outbox::status.eq(if failure.is_dead { DEAD } else { PENDING }),
            outbox::attempts.eq(failure.attempts),
            outbox::last_error.eq(Some(failure.last_error)),
            outbox::next_attempt_at.eq(failure.next_attempt_at),
            outbox::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

pub fn count_by_status(conn: &mut DbConnection) -> Result<OutboxStatus, StoreError> {
    let counts: Vec<(String, i64)> = outbox::table
        .group_by(outbox::status)
        .select((outbox::status, count_star()))
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
                    "unknown outbox status {other:?}"
                )));
            }
        }
    }
    status.oldest_pending_at = outbox::table
        .filter(outbox::status.eq_any([PENDING, SENDING]))
        .select(min(outbox::created_at))
        .first(conn)?;
    Ok(status)
}

/// What an operator may see of a dead message: never its body.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct DeadMessage {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The most recent `limit` dead messages, newest first.
pub fn find_dead(conn: &mut DbConnection, limit: i64) -> Result<Vec<DeadMessage>, StoreError> {
    Ok(outbox::table
        .filter(outbox::status.eq(DEAD))
        .order(outbox::created_at.desc())
        .limit(limit)
        .select(DeadMessage::as_select())
        .load(conn)?)
}

/// Pending with `next_attempt_at` reached, or sending with a claim that ran out.
#[diesel::dsl::auto_type]
fn is_due(now: NaiveDateTime) -> _ {
    let pending: &'static str = PENDING;
    let sending: &'static str = SENDING;
    outbox::status
        .eq(pending)
        .and(outbox::next_attempt_at.le(now))
        .or(outbox::status.eq(sending).and(outbox::locked_until.le(now)))
}

/// The message `id`, still in the claim that set `locked_until = claim`. A worker whose
/// claim ran out and was taken over no longer matches, so it cannot overwrite the
/// outcome of the newer claim.
#[diesel::dsl::auto_type]
#[expect(
    clippy::elidable_lifetime_names,
    reason = "auto_type names the lifetime in the type alias it generates"
)]
fn claimed_by<'a>(id: &'a str, claim: NaiveDateTime) -> _ {
    let sending: &'static str = SENDING;
    outbox::table.filter(
        outbox::id
            .eq(id)
            .and(outbox::status.eq(sending))
            .and(outbox::locked_until.eq(claim)),
    )
}
