//! Periodic housekeeping, run by every instance (each step is idempotent): forget DPoP
//! proof ids past their window, expire abandoned link sessions (recording each in the
//! audit trail) and stale QR codes, and delete ended browser sessions, dead refresh
//! tokens and expired WebAuthn ceremonies of devices.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::link_codes;
use crate::db::{Db, DbConnection, StoreError};
use crate::linking::service::expire_abandoned;
use crate::tokens::guard::purge_expired_jtis;
use crate::web::store::delete_expired_sessions;

/// What one pass cleaned up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub jtis: usize,
    pub links: usize,
    pub codes: usize,
    pub sessions: usize,
    /// Refresh tokens past their absolute lifetime, and expired WebAuthn ceremonies.
    pub refresh_tokens: usize,
    pub ceremonies: usize,
}

/// One pass of housekeeping.
pub fn run_once(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Sweep, StoreError> {
    let jtis = purge_expired_jtis(conn, now)?;
    let links = expire_abandoned(conn, now)?;
    let codes = diesel::update(
        link_codes::table
            .filter(link_codes::status.eq("active"))
            .filter(link_codes::expires_at.le(now)),
    )
    .set(link_codes::status.eq("expired"))
    .execute(conn)?;
    let sessions = delete_expired_sessions(conn, now)?;
    let refresh_tokens = crate::tokens::store::delete_expired_refresh_tokens(conn, now)?;
    let ceremonies = crate::devices::store::delete_expired_ceremonies(conn, now)?;
    // Provider requests past their lifetime, and grants a day past theirs.
    crate::provider::store::delete_expired_requests(conn, now)?;
    crate::provider::store::delete_expired_grants(conn, now)?;
    crate::provider::par::delete_expired_pushed_requests(conn, now)?;
    Ok(Sweep {
        jtis,
        links,
        codes,
        sessions,
        refresh_tokens,
        ceremonies,
    })
}

/// Runs [`run_once`] every `interval` until the process ends; failures are logged and
/// retried at the next tick.
pub fn spawn(db: Db, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = Utc::now().naive_utc();
            match db.run(move |conn| run_once(conn, now)).await {
                Ok(sweep) if sweep != Sweep::default() => {
                    tracing::debug!(?sweep, "housekeeping done");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "housekeeping failed; will retry"),
            }
        }
    });
}
