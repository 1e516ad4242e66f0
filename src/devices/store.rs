//! Storage of linked devices, their secret-code verifiers and passkeys.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{devices, passkeys, secret_codes};
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
