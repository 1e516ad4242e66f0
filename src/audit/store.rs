//! Storage of audit events.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{EventKind, RequestContext};
use crate::db::schema::audit_events;
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub account_id: Option<String>,
    pub device_id: Option<String>,
    pub kind: String,
    pub details: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub at: NaiveDateTime,
}

impl NewAuditEvent {
    pub fn new(
        kind: EventKind,
        account_id: Option<&str>,
        details: serde_json::Value,
        ctx: &RequestContext,
        at: NaiveDateTime,
    ) -> Self {
        Self {
            account_id: account_id.map(str::to_owned),
            device_id: None,
            kind: kind.as_str().to_owned(),
            details: details.to_string(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            request_id: ctx.request_id.clone(),
            at,
        }
    }

    #[must_use]
    pub fn with_device(mut self, device_id: &str) -> Self {
        self.device_id = Some(device_id.to_owned());
        self
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub account_id: Option<String>,
    pub device_id: Option<String>,
    pub kind: String,
    pub details: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub at: NaiveDateTime,
}

pub fn insert_event(conn: &mut DbConnection, event: &NewAuditEvent) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

/// The newest events of an account, newest first.
/// One page of an account's events, newest first, optionally of one device only:
/// `limit` rows from `offset`.
pub fn find_page_for_account(
    conn: &mut DbConnection,
    account_id: &str,
    device_id: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut query = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .into_boxed();
    if let Some(device_id) = device_id {
        query = query.filter(audit_events::device_id.eq(device_id));
    }
    Ok(query
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

pub fn find_recent_for_account(
    conn: &mut DbConnection,
    account_id: &str,
    limit: i64,
) -> Result<Vec<AuditEvent>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}
