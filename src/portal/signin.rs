//! What happens once eAccess has vouched for a citizen: sign them in if registered,
//! otherwise hold their identity in the session until they register.

use chrono::NaiveDateTime;
use diesel::Connection;
use serde_json::json;

use crate::accounts::{self, Account, AuthProduct};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::config::Settings;
use crate::db::{DbConnection, OnUniqueViolation, StoreError};
use crate::eaccess::EaccessIdentity;
use crate::http::RequestContext;

use crate::web::session::{self, SessionData};
use crate::web::store::{self, BrowserSession};

/// Where the citizen goes after the eAccess callback.
pub enum SignInOutcome {
    /// Signed in; the new session token goes into the cookie.
    SignedIn { token: String },
    /// Unknown to the portal: the new session holds the identity for registration.
    MustRegister { token: String },
}

fn session_data(identity: &EaccessIdentity, account_id: Option<String>) -> SessionData {
    SessionData {
        account_id,
        eaccess_sub: Some(identity.sub.clone()),
        auth_time: Some(identity.auth_time.naive_utc()),
        acr: identity.acr.clone(),
        product_kind: Some(identity.product_kind.clone()),
        product_serial: Some(identity.product_serial.clone()),
        id_token_hint: Some(identity.id_token.clone()),
        pending_registration: None,
    }
}

fn signed_in_event(
    account: &Account,
    product: &AuthProduct,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> NewAuditEvent {
    NewAuditEvent::new(
        EventKind::SignedIn,
        Some(&account.id),
        json!({"product": product.kind.as_str(), "serial": product.serial}),
        ctx,
        now,
    )
}

/// Signs the citizen in (or prepares registration) in one transaction, replacing the
/// pre-authentication session so its id cannot be fixed by an attacker.
pub fn complete_sign_in(
    conn: &mut DbConnection,
    settings: &Settings,
    identity: &EaccessIdentity,
    product: &AuthProduct,
    old_session_hash: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<SignInOutcome, StoreError> {
    conn.transaction(|conn| {
        store::delete_session(conn, old_session_hash)?;
        match accounts::store::find_account_by_sub(conn, &identity.sub)? {
            Some(account) => {
                accounts::store::record_product_use(conn, &account.id, product, now)?;
                audit::store::insert_event(conn, &signed_in_event(&account, product, ctx, now))?;
                let token = session::create(
                    conn,
                    settings,
                    session_data(identity, Some(account.id)),
                    now,
                )?;
                Ok(SignInOutcome::SignedIn { token })
            }
            None => {
                let mut data = session_data(identity, None);
                data.pending_registration = Some(
                    serde_json::to_string(identity)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
                let token = session::create(conn, settings, data, now)?;
                Ok(SignInOutcome::MustRegister { token })
            }
        }
    })
}

/// Why registration could not go through.
pub enum RegisterOutcome {
    Registered(Account),
    /// The same person registered meanwhile (another tab): they are simply signed in.
    AlreadyRegistered(Account),
}

/// Creates the account from the identity held in the session, with its private eSpace,
/// records the product used, and turns the session into a signed-in one.
pub fn register(
    conn: &mut DbConnection,
    session: &BrowserSession,
    identity: &EaccessIdentity,
    product: &AuthProduct,
    email: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<RegisterOutcome, StoreError> {
    conn.transaction(|conn| {
        let new = accounts::store::NewAccount {
            eaccess_sub: &identity.sub,
            email,
            given_name: &identity.given_name,
            family_name: &identity.family_name,
        };
        let created = conn
            .transaction(|conn| accounts::store::insert_account(conn, &new, now))
            .on_unique_violation(())?;
        let outcome = match created {
            Ok(account) => {
                audit::store::insert_event(
                    conn,
                    &NewAuditEvent::new(
                        EventKind::Registered,
                        Some(&account.id),
                        json!({"email_domain": email.rsplit('@').next()}),
                        ctx,
                        now,
                    ),
                )?;
                RegisterOutcome::Registered(account)
            }
            Err(()) => {
                let existing = accounts::store::find_account_by_sub(conn, &identity.sub)?
                    .ok_or(StoreError::UniqueViolation)?;
                RegisterOutcome::AlreadyRegistered(existing)
            }
        };
        let account = match &outcome {
            RegisterOutcome::Registered(a) | RegisterOutcome::AlreadyRegistered(a) => a,
        };
        accounts::store::record_product_use(conn, &account.id, product, now)?;
        audit::store::insert_event(conn, &signed_in_event(account, product, ctx, now))?;
        store::bind_account(conn, &session.id_hash, &account.id)?;
        Ok(outcome)
    })
}

/// An e-mail address the mailer can send to ([`crate::mail::is_sendable_address`]).
pub fn is_plausible_email(email: &str) -> bool {
    crate::mail::is_sendable_address(email)
}

#[cfg(test)]
mod tests {
    use super::is_plausible_email;

    #[test]
    fn plausible_emails_are_accepted_and_junk_refused() {
        assert!(is_plausible_email("marie@example.lu"));
        assert!(is_plausible_email("marie.dupont+portal@mail.example.lu"));
        assert!(!is_plausible_email(&format!(
            "{}@example.lu",
            "a".repeat(250)
        )));
        for bad in [
            "",
            "marie",
            "marie@",
            "@example.lu",
            "a b@example.lu",
            "m@x",
            "m@@x.lu",
            "m@x.lu.",
            "\"x\"<evil@evil.example>",
            "Marie <marie@example.lu>",
            "marie@example.lu>",
            "<marie@example.lu>",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
