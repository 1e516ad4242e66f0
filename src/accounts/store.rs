//! Storage of accounts, eSpaces and recorded authentication products.

use crate::i18n::Lang;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, auth_products, espaces};
use crate::db::{DbConnection, StoreError};

use super::{AuthProduct, EspaceKind, EspaceName};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub eaccess_sub: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub webauthn_user_handle: String,
    pub created_at: NaiveDateTime,
}

impl Account {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = espaces)]
pub struct Espace {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_products)]
pub struct AuthProductRecord {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub serial: String,
    pub first_used_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn find_account_by_sub(
    conn: &mut DbConnection,
    sub: &str,
) -> Result<Option<Account>, StoreError> {
    Ok(accounts::table
        .filter(accounts::eaccess_sub.eq(sub))
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_account(conn: &mut DbConnection, id: &str) -> Result<Option<Account>, StoreError> {
    Ok(accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}

/// Registration data for a new account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub eaccess_sub: &'a str,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
}

/// Creates the account with its private eSpace. Run inside a transaction; a second
/// registration of the same `sub` fails with `StoreError::UniqueViolation`.
pub fn insert_account(
    conn: &mut DbConnection,
    new: &NewAccount<'_>,
    now: NaiveDateTime,
) -> Result<Account, StoreError> {
    let account = Account {
        id: new_id(),
        eaccess_sub: new.eaccess_sub.to_owned(),
        email: new.email.to_owned(),
        given_name: new.given_name.to_owned(),
        family_name: new.family_name.to_owned(),
        // WebAuthn user handle: random, never the eAccess subject (W3C WebAuthn §14.6.1).
        webauthn_user_handle: new_id(),
        created_at: now,
    };
    diesel::insert_into(accounts::table)
        .values(&account)
        .execute(conn)?;
    let private = Espace {
        id: new_id(),
        account_id: account.id.clone(),
        kind: EspaceKind::Private.as_str().to_owned(),
        name: "Private".to_owned(),
        created_at: now,
    };
    diesel::insert_into(espaces::table)
        .values(&private)
        .execute(conn)?;
    Ok(account)
}

pub fn insert_business_espace(
    conn: &mut DbConnection,
    account_id: &str,
    name: &EspaceName,
    now: NaiveDateTime,
) -> Result<Espace, StoreError> {
    let espace = Espace {
        id: new_id(),
        account_id: account_id.to_owned(),
        kind: EspaceKind::Business.as_str().to_owned(),
        name: name.as_str().to_owned(),
        created_at: now,
    };
    diesel::insert_into(espaces::table)
        .values(&espace)
        .execute(conn)?;
    Ok(espace)
}

pub fn find_espaces(conn: &mut DbConnection, account_id: &str) -> Result<Vec<Espace>, StoreError> {
    Ok(espaces::table
        .filter(espaces::account_id.eq(account_id))
        .order((espaces::kind.desc(), espaces::created_at.asc()))
        .select(Espace::as_select())
        .load(conn)?)
}

/// Records that `product` signed the citizen in now: first use inserts, later uses move
/// `last_used_at`. Safe under concurrency (a lost insert race falls back to the update).
pub fn record_product_use(
    conn: &mut DbConnection,
    account_id: &str,
    product: &AuthProduct,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let kind = product.kind.as_str();
    let touch = |conn: &mut DbConnection| {
        diesel::update(
            auth_products::table
                .filter(auth_products::account_id.eq(account_id))
                .filter(auth_products::kind.eq(kind))
                .filter(auth_products::serial.eq(&product.serial)),
        )
        .set(auth_products::last_used_at.eq(now))
        .execute(conn)
    };
    if touch(conn)? > 0 {
        return Ok(());
    }
    let record = AuthProductRecord {
        id: new_id(),
        account_id: account_id.to_owned(),
        kind: kind.to_owned(),
        serial: product.serial.clone(),
        first_used_at: now,
        last_used_at: now,
    };
    // A savepoint, so that a lost race does not poison an enclosing PostgreSQL transaction.
    match conn.transaction(|conn| {
        diesel::insert_into(auth_products::table)
            .values(&record)
            .execute(conn)
            .map_err(StoreError::from)
    }) {
        Ok(_) => Ok(()),
        Err(StoreError::UniqueViolation) => {
            touch(conn)?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub fn find_products(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<AuthProductRecord>, StoreError> {
    Ok(auth_products::table
        .filter(auth_products::account_id.eq(account_id))
        .order(auth_products::first_used_at.asc())
        .select(AuthProductRecord::as_select())
        .load(conn)?)
}

/// Whether this exact product (kind and serial) has signed in to the portal before.
pub fn has_used_product(
    conn: &mut DbConnection,
    account_id: &str,
    product: &AuthProduct,
) -> Result<bool, StoreError> {
    let count: i64 = auth_products::table
        .filter(auth_products::account_id.eq(account_id))
        .filter(auth_products::kind.eq(product.kind.as_str()))
        .filter(auth_products::serial.eq(&product.serial))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Keeps `lang` as the account's language (the switcher's choice).
pub fn set_language(conn: &mut DbConnection, id: &str, lang: Lang) -> Result<(), StoreError> {
    diesel::update(accounts::table.find(id))
        .set(accounts::language.eq(lang.code()))
        .execute(conn)?;
    Ok(())
}

/// The account's chosen language, if it chose one.
pub fn language(conn: &mut DbConnection, id: &str) -> Result<Option<Lang>, StoreError> {
    let code: Option<Option<String>> = accounts::table
        .find(id)
        .select(accounts::language)
        .first(conn)
        .optional()?;
    Ok(code.flatten().as_deref().and_then(Lang::from_code))
}

/// The language of the account's e-mails: the one the citizen chose with the switcher,
/// else the current one (the language of the request that caused the mail, which a
/// database closure inherits from its request).
pub fn mail_language(conn: &mut DbConnection, id: &str) -> Result<Lang, StoreError> {
    Ok(language(conn, id)?.unwrap_or_else(crate::i18n::current))
}

/// Replaces the account's e-mail address; whether the account exists.
pub fn update_email(conn: &mut DbConnection, id: &str, email: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(accounts::table.find(id))
        .set(accounts::email.eq(email))
        .execute(conn)?
        == 1)
}

/// Every account's id and e-mail address, for the operator's check of unsendable
/// addresses (`devicelink mail status`).
pub fn find_emails(conn: &mut DbConnection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(accounts::table
        .select((accounts::id, accounts::email))
        .order(accounts::created_at)
        .load(conn)?)
}
