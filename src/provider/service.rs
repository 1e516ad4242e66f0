//! The provider's transactions: issuing a code once the citizen is authenticated and
//! has consented, redeeming it, rotating refresh tokens, revoking grants.

use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use serde_json::json;

use super::rules;
use super::store::{self, CodeRow, GrantRow, RefreshRow, RequestRow};
use crate::accounts::{self, Account};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::config::ProviderSettings;
use crate::db::{DbConnection, StoreError};
use crate::http::RequestContext;
use crate::web::session::{hash_token, random_token};

/// How the citizen authenticated for this sign-in.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account_id: String,
    pub auth_time: NaiveDateTime,
    pub acr: String,
    pub amr: Vec<String>,
    /// The device that approved the sign-in (mobile-app method).
    pub device_id: Option<String>,
}

/// What became of a request that was to be completed with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeIssue {
    /// The authorization code (secret: only its hash is stored).
    Issued(String),
    /// The request was no longer pending (completed or denied by a racing call).
    Gone,
    /// The device that approved the sign-in is locked or unlinked now: no code, the
    /// request is denied (the portal gets `access_denied`).
    DeviceInactive,
}

/// Completes a pending request with a new grant and code, once (the request's
/// pending -> completed transition decides between racing calls). A sign-in approved
/// in the app is completed only while that device is still active, checked in the same
/// transaction as the code is issued.
pub fn issue_code(
    conn: &mut DbConnection,
    settings: &ProviderSettings,
    request: &RequestRow,
    auth: &Authenticated,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<CodeIssue, StoreError> {
    let client_name = settings
        .client(&request.client_id)
        .map_or_else(|| request.client_id.clone(), |c| c.name.clone());
    conn.transaction(|conn| {
        if let Some(device) = &auth.device_id {
            if !crate::devices::store::touch_active_device(conn, device, now)? {
                tracing::info!(device = %device, "the approving device is no longer active; the sign-in is denied");
                return Ok(
                    if store::finish_request(conn, &request.id_hash, "denied")? {
                        CodeIssue::DeviceInactive
                    } else {
                        CodeIssue::Gone
                    },
                );
            }
        }
        if !store::finish_request(conn, &request.id_hash, "completed")? {
            return Ok(CodeIssue::Gone);
        }
        let grant = GrantRow {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: request.client_id.clone(),
            account_id: auth.account_id.clone(),
            scope: request.scope.clone(),
            auth_time: auth.auth_time,
            acr: auth.acr.clone(),
            amr: json!(auth.amr).to_string(),
            device_id: auth.device_id.clone(),
            created_at: now,
            expires_at: now + Duration::seconds(settings.refresh_token_ttl_secs),
            revoked_at: None,
            session_id_hash: request.session_id_hash.clone(),
            jkt: None,
            claims: request.claims.clone(),
        };
        store::insert_grant(conn, &grant)?;
        let code = random_token();
        store::insert_code(
            conn,
            &CodeRow {
                code_hash: hash_token(&code),
                grant_id: grant.id.clone(),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                created_at: now,
                expires_at: now
                    + Duration::seconds(settings.client(&request.client_id).map_or(
                        settings.code_ttl_secs,
                        |c| c.code_ttl_secs(settings.code_ttl_secs),
                    )),
                redeemed_at: None,
                dpop_jkt: request.dpop_jkt.clone(),
            },
        )?;
        let mut event = NewAuditEvent::new(
            EventKind::SignedInToPortal,
            Some(&auth.account_id),
            json!({"client_id": request.client_id, "client_name": client_name, "acr": auth.acr}),
            ctx,
            now,
        );
        if let Some(device) = &auth.device_id {
            event = event.with_device(device);
        }
        audit::store::insert_event(conn, &event)?;
        Ok(CodeIssue::Issued(code))
    })
}

/// Records the citizen's consent for the request's client and scopes.
pub fn record_consent(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
    client_name: &str,
    scope: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        store::upsert_consent(conn, account_id, client_id, scope, now)?;
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::PortalConsentGiven,
                Some(account_id),
                json!({"client_id": client_id, "client_name": client_name, "scope": scope}),
                ctx,
                now,
            ),
        )
    })
}

/// Whether the recorded consent covers every scope of `scope`.
pub fn consent_covers(consented: Option<&str>, scope: &str) -> bool {
    consented.is_some_and(|c| {
        scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| c.split(' ').any(|x| x == s))
    })
}

/// What the token endpoint hands out for a grant.
pub struct Redeemed {
    pub grant: GrantRow,
    pub account: Account,
    pub nonce: Option<String>,
    pub refresh_token: String,
}

/// Why a grant was refused: always `invalid_grant` (RFC 6749 section 5.2).
#[derive(Debug, Clone, Copy)]
pub struct InvalidGrant(pub &'static str);

fn new_refresh(
    conn: &mut DbConnection,
    grant: &GrantRow,
    generation: i32,
    now: NaiveDateTime,
) -> Result<String, StoreError> {
    let token = random_token();
    store::insert_refresh(
        conn,
        &RefreshRow {
            id_hash: hash_token(&token),
            grant_id: grant.id.clone(),
            generation,
            spent_at: None,
            created_at: now,
            expires_at: grant.expires_at,
        },
    )?;
    Ok(token)
}

fn live_grant_and_account(
    conn: &mut DbConnection,
    grant_id: &str,
    now: NaiveDateTime,
) -> Result<Result<(GrantRow, Account), InvalidGrant>, StoreError> {
    let Some(grant) = store::find_grant(conn, grant_id)? else {
        return Ok(Err(InvalidGrant("The grant is unknown.")));
    };
    if grant.revoked_at.is_some() || grant.expires_at <= now {
        return Ok(Err(InvalidGrant("The grant was revoked or has expired.")));
    }
    let Some(account) = accounts::store::find_account(conn, &grant.account_id)? else {
        return Ok(Err(InvalidGrant("The account no longer exists.")));
    };
    Ok(Ok((grant, account)))
}

/// Redeems an authorization code (RFC 6749 section 4.1.3, RFC 7636 section 4.6). A code
/// presented again revokes the grant it produced (section 4.1.2): of racing
/// redemptions exactly one wins, and the others revoke what it got.
pub fn redeem_code(
    conn: &mut DbConnection,
    code: &str,
    client_id: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    jkt: Option<&str>,
    now: NaiveDateTime,
) -> Result<Result<Redeemed, InvalidGrant>, StoreError> {
    let code_hash = hash_token(code);
    conn.transaction(|conn| {
        let Some(row) = store::find_code(conn, &code_hash)? else {
            return Ok(Err(InvalidGrant("The authorization code is not valid.")));
        };
        if row.client_id != client_id {
            return Ok(Err(InvalidGrant(
                "The authorization code was issued to another client.",
            )));
        }
        if !store::redeem_code(conn, &code_hash, now)? {
            store::revoke_grant(conn, &row.grant_id, now)?;
            tracing::warn!(client = %client_id, "an authorization code was presented twice; its grant is revoked");
            return Ok(Err(InvalidGrant(
                "The authorization code was already used; the tokens issued for it are revoked.",
            )));
        }
        if row.expires_at <= now {
            return Ok(Err(InvalidGrant("The authorization code has expired.")));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Ok(Err(InvalidGrant(
                "The redirect_uri differs from the one of the authorization request.",
            )));
        }
        match (&row.code_challenge, verifier) {
            (Some(challenge), Some(v)) if rules::pkce_matches(challenge, v) => {}
            (None, None) => {}
            (Some(_), _) => {
                return Ok(Err(InvalidGrant(
                    "The code_verifier does not match the code_challenge.",
                )));
            }
            (None, Some(_)) => {
                return Ok(Err(InvalidGrant(
                    "A code_verifier was sent but the request had no code_challenge.",
                )));
            }
        }
        // RFC 9449 section 10: a request that named a key is redeemed with that key only.
        if row.dpop_jkt.is_some() && row.dpop_jkt.as_deref() != jkt {
            return Ok(Err(InvalidGrant(
                "The DPoP proof is not signed with the key the authorization request named (dpop_jkt).",
            )));
        }
        let (mut grant, account) = match live_grant_and_account(conn, &row.grant_id, now)? {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(jkt) = jkt {
            store::bind_grant_key(conn, &grant.id, jkt)?;
            grant.jkt = Some(jkt.to_owned());
        }
        let refresh_token = new_refresh(conn, &grant, 0, now)?;
        Ok(Ok(Redeemed {
            grant,
            account,
            nonce: row.nonce,
            refresh_token,
        }))
    })
}

/// The DPoP key of a refresh request, and whether the client is public.
#[derive(Debug, Clone, Copy)]
pub struct RefreshKey<'a> {
    pub jkt: Option<&'a str>,
    pub is_public: bool,
}

/// Rotates a refresh token; a spent one revokes the grant (RFC 9700 section 4.14.2).
pub fn refresh(
    conn: &mut DbConnection,
    token: &str,
    client_id: &str,
    key: RefreshKey<'_>,
    now: NaiveDateTime,
) -> Result<Result<Redeemed, InvalidGrant>, StoreError> {
    let id_hash = hash_token(token);
    conn.transaction(|conn| {
        let Some(row) = store::find_refresh(conn, &id_hash)? else {
            return Ok(Err(InvalidGrant("The refresh token is not valid.")));
        };
        let Some(grant) = store::find_grant(conn, &row.grant_id)? else {
            return Ok(Err(InvalidGrant("The refresh token is not valid.")));
        };
        if grant.client_id != client_id {
            return Ok(Err(InvalidGrant(
                "The refresh token was issued to another client.",
            )));
        }
        // RFC 9449 section 5: a public client's refresh tokens are bound to the key its
        // code was redeemed with.
        if key.is_public && grant.jkt.is_some() && grant.jkt.as_deref() != key.jkt {
            return Ok(Err(InvalidGrant(
                "This refresh token is bound to a DPoP key: send a DPoP proof signed with it.",
            )));
        }
        if !store::spend_refresh(conn, &id_hash, now)? {
            store::revoke_grant(conn, &grant.id, now)?;
            tracing::warn!(client = %client_id, "a spent refresh token was presented; its grant is revoked");
            return Ok(Err(InvalidGrant(
                "The refresh token was already used; every token of this sign-in is revoked.",
            )));
        }
        let (grant, account) = match live_grant_and_account(conn, &grant.id, now)? {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let refresh_token = new_refresh(conn, &grant, row.generation + 1, now)?;
        Ok(Ok(Redeemed {
            grant,
            account,
            nonce: None,
            refresh_token,
        }))
    })
}

/// The grant of a live refresh token of `client_id`, if any (revocation, introspection).
pub fn grant_of_refresh_token(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<(RefreshRow, GrantRow)>, StoreError> {
    let Some(row) = store::find_refresh(conn, &hash_token(token))? else {
        return Ok(None);
    };
    let Some(grant) = store::find_grant(conn, &row.grant_id)? else {
        return Ok(None);
    };
    let live = row.spent_at.is_none() && row.expires_at > now;
    Ok(live.then_some((row, grant)))
}

/// Called by the eAccess callback once the citizen signed in for request `id`: binds the
/// request to the new session and names the page that resumes it.
pub fn after_eaccess_sign_in(
    conn: &mut crate::db::DbConnection,
    id: &str,
    new_session_token: &str,
) -> Result<String, StoreError> {
    store::bind_request_session(conn, &hash_token(id), &hash_token(new_session_token))?;
    let mut url = url::Url::parse("http://x/oidc/authorize/resume")
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    url.query_pairs_mut().append_pair("request", id);
    Ok(format!(
        "{}?{}",
        url.path(),
        url.query().unwrap_or_default()
    ))
}
