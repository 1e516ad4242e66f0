//! Unlinking a device: immediate and complete, from the browser or from the app.

use chrono::NaiveDateTime;
use diesel::Connection;
use diesel::prelude::*;
use serde_json::json;

use crate::accounts::Account;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::schema::{devices, passkeys, secret_codes};
use crate::db::{DbConnection, StoreError};
use crate::http::RequestContext;
use crate::mail::{self, DeviceUnlinkedMail, Mail, UnlinkedBy};

use super::store::DeviceRow;

/// Unlinks `device` of `account` in one transaction: the device becomes `unlinked`
/// (so every token and proof of it is refused from now on, since each path re-checks
/// the device), its passkeys and secret-code verifier are deleted, an audit event is
/// written and the email queued. Returns false when it was not live any more (someone
/// else unlinked it first).
pub fn unlink(
    conn: &mut DbConnection,
    account: &Account,
    device: &DeviceRow,
    by: UnlinkedBy,
    manage_url: &url::Url,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            devices::table
                .find(&device.id)
                .filter(devices::account_id.eq(&account.id))
                .filter(devices::status.ne("unlinked")),
        )
        .set((devices::status.eq("unlinked"), devices::unlinked_at.eq(now)))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        diesel::delete(passkeys::table.filter(passkeys::device_id.eq(&device.id))).execute(conn)?;
        diesel::delete(secret_codes::table.filter(secret_codes::device_id.eq(&device.id)))
            .execute(conn)?;
        let by_label = match by {
            UnlinkedBy::Browser => "browser",
            UnlinkedBy::App => "app",
        };
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::DeviceUnlinked,
                Some(&account.id),
                json!({"device_name": device.name, "by": by_label}),
                ctx,
                now,
            )
            .with_device(&device.id),
        )?;
        if let Ok(to) = account.email.parse::<mail::Address>() {
            mail::enqueue(
                conn,
                &Mail::device_unlinked(
                    to,
                    DeviceUnlinkedMail {
                        display_name: account.display_name(),
                        device_name: device.name.clone(),
                        unlinked_at: now,
                        by,
                        manage_url: manage_url.clone(),
                    },
                ),
                now,
            )?;
        }
        Ok(true)
    })
}
