//! OpenID Connect Back-Channel Logout 1.0: when a citizen's portal sign-ins end (signing
//! out of devicelink, unlinking the device that approved them), each portal that
//! registered a `backchannel_logout_uri` is sent a logout token.
//!
//! The grants end and the logout tokens are queued in the transaction of the event
//! ([`end_session_grants`], [`end_device_grants`]); the [`worker`] signs and delivers
//! them with retries, like the mail outbox. See docs/oidc-provider.md.

pub mod store;
pub mod worker;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::store::GrantRow;
use super::tokens as ptokens;
use crate::config::ProviderSettings;
use crate::db::{DbConnection, StoreError};

pub use store::NewLogout;
pub use worker::{LogoutWorker, LogoutWorkerHandle, spawn_worker};

/// The `typ` of logout tokens (section 2.4, RFC 8725 section 3.11).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// The member of `events` that makes a JWT a logout token (section 2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Whose sign-in a logout token ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logout<'a> {
    /// The portal's `sub` (the account id).
    pub subject: &'a str,
    /// The grant: the `sid` of the sign-in's ID token.
    pub sid: &'a str,
    pub ttl_secs: i64,
}

/// The claims of a logout token (section 2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `sub`,
/// `sid`, `events`; never a `nonce` (so it can never pass for an ID token).
pub fn logout_claims(
    issuer: &str,
    client_id: &str,
    logout: &Logout<'_>,
    jti: &str,
    now: DateTime<Utc>,
) -> Value {
    let iat = now.timestamp();
    json!({
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + logout.ttl_secs,
        "jti": jti,
        "sub": logout.subject,
        "sid": logout.sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    })
}

/// Whether ending `grant` sends its portal a logout token: the portal registered a
/// `backchannel_logout_uri`, and the grant is a sign-in the portal holds a session for
/// (it came from a browser; a token the app exchanged did not).
pub fn needs_logout_token(settings: &ProviderSettings, grant: &GrantRow) -> bool {
    grant.session_id_hash.is_some()
        && settings
            .client(&grant.client_id)
            .is_some_and(|c| c.backchannel_logout_uri.is_some())
}

/// What a delivery attempt's HTTP status means (section 2.8): 200 and 204 are done,
/// anything else is retried.
pub fn is_delivered(status: u16) -> bool {
    matches!(status, 200 | 204)
}

/// Ends the live portal grants of the browser session `session_id_hash` (the citizen
/// signed out) and queues their logout tokens. Call it inside the event's transaction.
pub fn end_session_grants(
    conn: &mut DbConnection,
    settings: &ProviderSettings,
    session_id_hash: &str,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let grants = store::find_live_session_grants(conn, session_id_hash, now)?;
    end_grants(conn, settings, grants, now)
}

/// Ends the live grants of sign-ins approved on `device_id` and of tokens exchanged
/// through it (the device was unlinked) and queues the logout tokens of the sign-ins.
/// Call it inside the unlink's transaction.
pub fn end_device_grants(
    conn: &mut DbConnection,
    settings: &ProviderSettings,
    device_id: &str,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let grants = store::find_live_device_grants(conn, device_id, now)?;
    end_grants(conn, settings, grants, now)
}

/// Revokes each grant (once: a racing revocation wins cleanly) and queues a logout
/// token for those that need one. Returns how many grants it ended.
fn end_grants(
    conn: &mut DbConnection,
    settings: &ProviderSettings,
    grants: Vec<GrantRow>,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let mut ended = 0;
    for grant in grants {
        if !super::store::revoke_grant(conn, &grant.id, now)? {
            continue;
        }
        ended += 1;
        if needs_logout_token(settings, &grant) {
            store::insert_logout(
                conn,
                &NewLogout {
                    id: &uuid::Uuid::new_v4().to_string(),
                    client_id: &grant.client_id,
                    subject: ptokens::subject(&grant),
                    sid: &grant.id,
                    status: store::PENDING,
                    attempts: 0,
                    next_attempt_at: now,
                    created_at: now,
                },
            )?;
        }
    }
    if ended > 0 {
        tracing::info!(ended, "portal sign-ins ended");
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn grant(client_id: &str, session: Option<&str>) -> GrantRow {
        let t = DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        GrantRow {
            id: "g1".into(),
            client_id: client_id.into(),
            account_id: "acc".into(),
            scope: "openid".into(),
            auth_time: t,
            acr: "urn:devicelink:acr:device".into(),
            amr: "[]".into(),
            device_id: Some("d1".into()),
            created_at: t,
            expires_at: t,
            revoked_at: None,
            session_id_hash: session.map(str::to_owned),
            jkt: None,
            claims: None,
        }
    }

    #[test]
    fn the_logout_token_has_exactly_the_claims_of_section_2_4_and_no_nonce() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let logout = Logout {
            subject: "acc-1",
            sid: "grant-1",
            ttl_secs: 120,
        };
        let claims = logout_claims("https://dl.example", "portal", &logout, "j-1", now);
        assert_eq!(
            claims,
            json!({
                "iss": "https://dl.example",
                "aud": "portal",
                "iat": 1_700_000_000,
                "exp": 1_700_000_120,
                "jti": "j-1",
                "sub": "acc-1",
                "sid": "grant-1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            })
        );
        assert!(claims.get("nonce").is_none());
    }

    #[test]
    fn only_sign_ins_of_portals_with_a_logout_uri_get_a_token() {
        let mut settings = Settings::load(None).unwrap().provider;
        let mut with_uri = crate::provider::demo_client(&"http://127.0.0.1:8090/".parse().unwrap());
        with_uri.client_id = "with".into();
        with_uri.backchannel_logout_uri = Some("http://127.0.0.1:8090/bcl".into());
        let mut without = with_uri.clone();
        without.client_id = "without".into();
        without.backchannel_logout_uri = None;
        settings.clients = vec![with_uri, without];
        assert!(needs_logout_token(&settings, &grant("with", Some("s"))));
        assert!(
            !needs_logout_token(&settings, &grant("with", None)),
            "an exchanged token"
        );
        assert!(!needs_logout_token(&settings, &grant("without", Some("s"))));
        assert!(!needs_logout_token(&settings, &grant("unknown", Some("s"))));
    }

    #[test]
    fn only_200_and_204_count_as_delivered() {
        assert!(is_delivered(200));
        assert!(is_delivered(204));
        for status in [201, 202, 301, 400, 401, 404, 500, 503] {
            assert!(!is_delivered(status), "{status}");
        }
    }
}
