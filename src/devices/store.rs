//! Storage of linked devices, their secret-code verifiers, passkeys and WebAuthn
//! ceremonies. State changes are conditional UPDATEs, so racing requests have one winner.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{device_ceremonies, devices, passkeys, secret_codes};
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub account_id: String,
    pub jkt: String,
    pub name: String,
    pub platform: String,
    pub method: String,
    pub status: String,
    pub linked_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub unlinked_at: Option<NaiveDateTime>,
    pub token_generation: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = secret_codes)]
pub struct SecretCodeRow {
    pub device_id: String,
    pub verifier: String,
    pub failed_attempts: i32,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub device_id: String,
    pub credential_id: String,
    pub passkey: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// The device (active or locked) that holds this key, if any.
pub fn find_live_device_by_jkt(
    conn: &mut DbConnection,
    jkt: &str,
) -> Result<Option<DeviceRow>, StoreError> {
    Ok(devices::table
        .filter(devices::jkt.eq(jkt))
        .filter(devices::status.ne("unlinked"))
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_device(conn: &mut DbConnection, id: &str) -> Result<Option<DeviceRow>, StoreError> {
    Ok(devices::table
        .find(id)
        .select(DeviceRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every device of an account that is not unlinked, newest first.
pub fn find_live_devices(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<DeviceRow>, StoreError> {
    Ok(devices::table
        .filter(devices::account_id.eq(account_id))
        .filter(devices::status.ne("unlinked"))
        .order(devices::linked_at.desc())
        .select(DeviceRow::as_select())
        .load(conn)?)
}

/// Creates the device with its verifier and optional passkey. A key that is already
/// live, or a passkey credential already registered anywhere, fails with
/// `StoreError::UniqueViolation` (the database enforces both).
pub fn insert_device(
    conn: &mut DbConnection,
    device: &DeviceRow,
    verifier: &str,
    passkey: Option<(&str, &str)>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(devices::table)
        .values(device)
        .execute(conn)?;
    diesel::insert_into(secret_codes::table)
        .values(&SecretCodeRow {
            device_id: device.id.clone(),
            verifier: verifier.to_owned(),
            failed_attempts: 0,
            updated_at: now,
        })
        .execute(conn)?;
    if let Some((credential_id, passkey)) = passkey {
        diesel::insert_into(passkeys::table)
            .values(&PasskeyRow {
                id: uuid::Uuid::new_v4().to_string(),
                device_id: device.id.clone(),
                credential_id: credential_id.to_owned(),
                passkey: passkey.to_owned(),
                created_at: now,
                last_used_at: None,
            })
            .execute(conn)?;
    }
    Ok(())
}

pub fn has_passkey(conn: &mut DbConnection, device_id: &str) -> Result<bool, StoreError> {
    let n: i64 = passkeys::table
        .filter(passkeys::device_id.eq(device_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn find_secret_code(
    conn: &mut DbConnection,
    device_id: &str,
) -> Result<Option<SecretCodeRow>, StoreError> {
    Ok(secret_codes::table
        .find(device_id)
        .select(SecretCodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Reserves one secret-code attempt of an active device before the code is checked:
/// one conditional UPDATE, so of any number of parallel guesses at most `max` get a
/// reservation. Returns false when none is left (or the device is not active).
pub fn reserve_attempt(
    conn: &mut DbConnection,
    device_id: &str,
    max: i32,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let active = devices::table
        .filter(devices::id.eq(device_id))
        .filter(devices::status.eq("active"))
        .select(devices::id);
    Ok(diesel::update(
        secret_codes::table
            .filter(secret_codes::device_id.eq_any(active))
            .filter(secret_codes::failed_attempts.lt(max)),
    )
    .set((
        secret_codes::failed_attempts.eq(secret_codes::failed_attempts + 1),
        secret_codes::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// A right code was given: the count of consecutive failures starts again.
pub fn reset_attempts(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(secret_codes::table.find(device_id))
        .set((
            secret_codes::failed_attempts.eq(0),
            secret_codes::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces the verifier (new secret code) and resets the failure count.
pub fn update_verifier(
    conn: &mut DbConnection,
    device_id: &str,
    verifier: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(secret_codes::table.find(device_id))
        .set((
            secret_codes::verifier.eq(verifier),
            secret_codes::failed_attempts.eq(0),
            secret_codes::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// `active -> locked`; returns whether this call locked it.
pub fn lock_device(conn: &mut DbConnection, device_id: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::status.eq("active")),
    )
    .set(devices::status.eq("locked"))
    .execute(conn)?
        == 1)
}

/// `locked -> active` with the failure count back at 0 (the browser's "Unlock this
/// device"); returns whether this call unlocked it. Tokens revoked by the lock stay
/// revoked: the app unlocks again with its secret code.
pub fn unlock_device(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let unlocked = diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::status.eq("locked")),
    )
    .set(devices::status.eq("active"))
    .execute(conn)?
        == 1;
    if unlocked {
        reset_attempts(conn, device_id, now)?;
    }
    Ok(unlocked)
}

/// A new name for a live device; returns whether a live device was renamed.
pub fn rename_device(
    conn: &mut DbConnection,
    device_id: &str,
    name: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::status.eq_any(["active", "locked"])),
    )
    .set(devices::name.eq(name))
    .execute(conn)?
        == 1)
}

/// `active | locked -> unlinked` (terminal); returns whether this call unlinked it.
pub fn unlink_device(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::status.eq_any(["active", "locked"])),
    )
    .set((devices::status.eq("unlinked"), devices::unlinked_at.eq(now)))
    .execute(conn)?
        == 1)
}

pub fn delete_secret_code(conn: &mut DbConnection, device_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(secret_codes::table.find(device_id)).execute(conn)?)
}

pub fn touch_device(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(devices::table.find(device_id))
        .set(devices::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Marks an active device as used now; false when it is not active (locked or
/// unlinked). One conditional UPDATE: inside a transaction its row lock orders it
/// against a concurrent lock or unlink, so the caller's decision and theirs cannot
/// interleave.
pub fn touch_active_device(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::status.eq("active")),
    )
    .set(devices::last_used_at.eq(now))
    .execute(conn)?
        == 1)
}

pub fn find_passkeys(
    conn: &mut DbConnection,
    device_id: &str,
) -> Result<Vec<PasskeyRow>, StoreError> {
    Ok(passkeys::table
        .filter(passkeys::device_id.eq(device_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

/// Inserts a passkey; `UniqueViolation` if the credential is registered anywhere.
pub fn insert_passkey(conn: &mut DbConnection, row: &PasskeyRow) -> Result<(), StoreError> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Stores a passkey's new state (signature counter, backup flags) after it was used.
pub fn update_passkey(
    conn: &mut DbConnection,
    id: &str,
    passkey: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(passkeys::table.find(id))
        .set((
            passkeys::passkey.eq(passkey),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_passkeys(conn: &mut DbConnection, device_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(passkeys::table.filter(passkeys::device_id.eq(device_id))).execute(conn)?)
}

/// Devices of the account that are not unlinked.
pub fn count_live_devices(conn: &mut DbConnection, account_id: &str) -> Result<i64, StoreError> {
    Ok(devices::table
        .filter(devices::account_id.eq(account_id))
        .filter(devices::status.ne("unlinked"))
        .count()
        .get_result(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_ceremonies)]
pub struct CeremonyRow {
    pub id: String,
    pub device_id: String,
    /// `unlock` or `register`.
    pub purpose: String,
    /// The webauthn-rs ceremony state, JSON.
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Starts a ceremony, replacing the device's earlier one of the same purpose.
pub fn put_ceremony(conn: &mut DbConnection, row: &CeremonyRow) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::delete(
            device_ceremonies::table
                .filter(device_ceremonies::device_id.eq(&row.device_id))
                .filter(device_ceremonies::purpose.eq(&row.purpose)),
        )
        .execute(conn)?;
        diesel::insert_into(device_ceremonies::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })
}

/// Takes the device's live ceremony of `purpose` (single use: deleted by this call,
/// expired or not). `None` if there is none, it expired, or another request took it.
pub fn take_ceremony(
    conn: &mut DbConnection,
    device_id: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> Result<Option<CeremonyRow>, StoreError> {
    let Some(row) = device_ceremonies::table
        .filter(device_ceremonies::device_id.eq(device_id))
        .filter(device_ceremonies::purpose.eq(purpose))
        .select(CeremonyRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let taken = diesel::delete(device_ceremonies::table.find(&row.id)).execute(conn)?;
    Ok((taken == 1 && row.expires_at > now).then_some(row))
}

/// Deletes ceremonies nobody finished in time.
pub fn delete_expired_ceremonies(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(device_ceremonies::table.filter(device_ceremonies::expires_at.le(now)))
            .execute(conn)?,
    )
}
