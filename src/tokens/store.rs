//! Storage of the server's signing keys and of the app's refresh tokens. Every state
//! change is one conditional UPDATE, so that of racing requests exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{devices, refresh_tokens, signing_keys};
use crate::db::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    /// PKCS#8 DER, base64. Secret.
    pub private_key: String,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub retire_after: Option<NaiveDateTime>,
    /// `EC` (P-256, ES256) or `RSA` (RS256 and PS256).
    pub kty: String,
}

/// The `kty` of the EC P-256 keys (access tokens, ES256 ID tokens).
pub const KTY_EC: &str = "EC";
/// The `kty` of the RSA keys (RS256 and PS256 ID tokens).
pub const KTY_RSA: &str = "RSA";

pub fn find_active_signing_key(
    conn: &mut DbConnection,
    kty: &str,
) -> Result<Option<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .filter(signing_keys::state.eq("active"))
        .filter(signing_keys::kty.eq(kty))
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Retires the active key of type `kty`, published until `retire_after`.
pub fn retire_active_signing_key(
    conn: &mut DbConnection,
    kty: &str,
    retire_after: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::state.eq("active"))
            .filter(signing_keys::kty.eq(kty)),
    )
    .set((
        signing_keys::state.eq("retired"),
        signing_keys::retire_after.eq(retire_after),
    ))
    .execute(conn)?)
}

/// Inserts a new active key; `UniqueViolation` when another instance got there first.
pub fn insert_signing_key(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The keys of type `kty` whose tokens may still be presented: the active one and
/// retired ones whose `retire_after` lies ahead.
pub fn find_published_signing_keys(
    conn: &mut DbConnection,
    kty: &str,
    now: NaiveDateTime,
) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .filter(signing_keys::kty.eq(kty))
        .filter(
            signing_keys::state.eq("active").or(signing_keys::state
                .eq("retired")
                .and(signing_keys::retire_after.gt(now))),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    /// SHA-256 hex of the token.
    pub id_hash: String,
    pub device_id: String,
    pub family_id: String,
    pub generation: i32,
    pub jkt: String,
    /// The `amr` of the unlock, JSON array.
    pub amr: String,
    pub spent_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub idle_expires_at: NaiveDateTime,
    /// When the unlock that started the family happened; copied on every rotation.
    pub auth_time: NaiveDateTime,
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    row: &RefreshTokenRow,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_refresh_token(
    conn: &mut DbConnection,
    id_hash: &str,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(refresh_tokens::table
        .find(id_hash)
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()?)
}

/// Spends a live refresh token; returns whether this call won (each token works once).
pub fn spend_refresh_token(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .find(id_hash)
            .filter(refresh_tokens::spent_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set((
        refresh_tokens::spent_at.eq(now),
        refresh_tokens::last_used_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Revokes every refresh token of a device and bumps its token generation, so that its
/// access tokens are refused at once too. Returns the number of refresh tokens revoked.
pub fn revoke_device_tokens(
    conn: &mut DbConnection,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let revoked = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::device_id.eq(device_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    diesel::update(devices::table.find(device_id))
        .set(devices::token_generation.eq(devices::token_generation + 1))
        .execute(conn)?;
    Ok(revoked)
}

/// Deletes refresh tokens a day past their absolute lifetime (kept that long so a late
/// reuse of a spent one is still recognised as such, not as an unknown token).
pub fn delete_expired_refresh_tokens(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let cutoff = now - chrono::Duration::days(1);
    Ok(
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(cutoff)))
            .execute(conn)?,
    )
}
