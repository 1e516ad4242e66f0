//! What the account holder does to one device in the browser, after a fresh
//! re-authentication at eAccess (`pages::access` is the gate): unlock a device that
//! locked itself after wrong secret codes, and rename it. Each is one transaction with
//! its audit event, so a crash leaves the device either untouched or changed and
//! recorded. docs/security.md ("Step-up policy", browser operations) states the policy.

use chrono::NaiveDateTime;
use diesel::Connection;

use crate::audit::{EventKind, RequestContext};
use crate::db::{DbConnection, StoreError};
use crate::linking::rules::DeviceName;

use super::service::audit_device;
use super::store;

/// What became of a browser operation on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Not a live device of this account (another account's, unlinked, unknown).
    NotFound,
    /// "Unlock" of a device that is not locked (already unlocked, e.g. in another tab).
    NotLocked,
}

/// A live device of `account_id`, or `None`.
fn own_device(
    conn: &mut DbConnection,
    account_id: &str,
    device_id: &str,
) -> Result<Option<store::DeviceRow>, StoreError> {
    Ok(store::find_device(conn, device_id)?
        .filter(|d| d.account_id == account_id && d.status != "unlinked"))
}

/// `locked -> active`, failures back at 0, with the `device_unlocked_in_browser` event.
/// The tokens the lock revoked stay revoked: the app unlocks again with its code.
pub fn unlock_in_browser(
    conn: &mut DbConnection,
    account_id: &str,
    device_id: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<Outcome, StoreError> {
    conn.transaction(|conn| {
        let Some(device) = own_device(conn, account_id, device_id)? else {
            return Ok(Outcome::NotFound);
        };
        if !store::unlock_device(conn, device_id, now)? {
            return Ok(Outcome::NotLocked);
        }
        audit_device(conn, &device, EventKind::DeviceUnlockedInBrowser, ctx, now)?;
        tracing::info!(device = %device_id, "device unlocked in the browser");
        Ok(Outcome::Done)
    })
}

/// A new name for a live device of the account, with the `device_renamed` event.
pub fn rename(
    conn: &mut DbConnection,
    account_id: &str,
    device_id: &str,
    name: &DeviceName,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<Outcome, StoreError> {
    conn.transaction(|conn| {
        let Some(mut device) = own_device(conn, account_id, device_id)? else {
            return Ok(Outcome::NotFound);
        };
        if !store::rename_device(conn, device_id, name.as_str())? {
            return Ok(Outcome::NotFound);
        }
        name.as_str().clone_into(&mut device.name);
        audit_device(conn, &device, EventKind::DeviceRenamed, ctx, now)?;
        Ok(Outcome::Done)
    })
}
