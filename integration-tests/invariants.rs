//! What must hold in the database whatever happened (outages, `kill -9`, races), as SQL
//! that lists violations: each query must return no row. Portable SQL, so the same
//! checks run on SQLite and PostgreSQL.

use diesel::{Connection, RunQueryDsl};

use crate::helpers::{Backend, TestApp};

/// (name, query listing the violations as one text column `v`).
pub const INVARIANTS: &[(&str, &str)] = &[
    (
        "a QR link code redeemed by more than one link",
        "SELECT link_code_id AS v FROM link_sessions WHERE link_code_id IS NOT NULL \
         GROUP BY link_code_id HAVING COUNT(*) > 1",
    ),
    (
        "a QR link code that more than one device was linked with",
        "SELECT link_code_id AS v FROM link_sessions \
         WHERE link_code_id IS NOT NULL AND device_id IS NOT NULL \
         GROUP BY link_code_id HAVING COUNT(*) > 1",
    ),
    (
        "a refresh-token family with more than one live token",
        "SELECT family_id AS v FROM refresh_tokens \
         WHERE spent_at IS NULL AND revoked_at IS NULL \
         GROUP BY family_id HAVING COUNT(*) > 1",
    ),
    (
        "a portal grant with more than one live refresh token",
        "SELECT t.grant_id AS v FROM provider_refresh_tokens t \
         JOIN provider_grants g ON g.id = t.grant_id \
         WHERE t.spent_at IS NULL AND g.revoked_at IS NULL \
         GROUP BY t.grant_id HAVING COUNT(*) > 1",
    ),
    (
        "a portal sign-in approved on an unlinked device that still works",
        "SELECT g.id AS v FROM provider_grants g JOIN devices d ON d.id = g.device_id \
         WHERE d.status = 'unlinked' AND g.revoked_at IS NULL",
    ),
    (
        "an authorization code redeemed more than once (two first refresh tokens)",
        "SELECT c.code_hash AS v FROM provider_codes c \
         JOIN provider_refresh_tokens t ON t.grant_id = c.grant_id AND t.generation = 0 \
         GROUP BY c.code_hash HAVING COUNT(*) > 1",
    ),
    (
        "tokens issued for an authorization code that was never redeemed",
        "SELECT DISTINCT c.code_hash AS v FROM provider_codes c \
         JOIN provider_refresh_tokens t ON t.grant_id = c.grant_id \
         WHERE c.redeemed_at IS NULL",
    ),
    (
        "a portal grant with more than one authorization code",
        "SELECT grant_id AS v FROM provider_codes GROUP BY grant_id HAVING COUNT(*) > 1",
    ),
    (
        "a device key linked twice at once",
        "SELECT jkt AS v FROM devices WHERE status <> 'unlinked' \
         GROUP BY jkt HAVING COUNT(*) > 1",
    ),
    (
        "a linked device without its secret code (half a link)",
        "SELECT d.id AS v FROM devices d WHERE d.status <> 'unlinked' \
         AND NOT EXISTS (SELECT 1 FROM secret_codes s WHERE s.device_id = d.id)",
    ),
    (
        "a device without its `device_linked` audit event (half a link)",
        "SELECT d.id AS v FROM devices d WHERE NOT EXISTS \
         (SELECT 1 FROM audit_events a WHERE a.kind = 'device_linked' AND a.device_id = d.id)",
    ),
    (
        "a completed link without its device",
        "SELECT ls.id AS v FROM link_sessions ls WHERE ls.state = 'completed' \
         AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = ls.device_id)",
    ),
    (
        "an unlinked device without its `device_unlinked` audit event",
        "SELECT d.id AS v FROM devices d WHERE d.status = 'unlinked' AND NOT EXISTS \
         (SELECT 1 FROM audit_events a WHERE a.kind = 'device_unlinked' AND a.device_id = d.id)",
    ),
    (
        "a `device_linked` mail lost (fewer outbox messages than links)",
        "SELECT 'linked' AS v WHERE \
         (SELECT COUNT(*) FROM outbox WHERE kind = 'device_linked') <> \
         (SELECT COUNT(*) FROM audit_events WHERE kind = 'device_linked')",
    ),
    (
        "a `device_unlinked` mail lost (fewer outbox messages than unlinks)",
        "SELECT 'unlinked' AS v WHERE \
         (SELECT COUNT(*) FROM outbox WHERE kind = 'device_unlinked') <> \
         (SELECT COUNT(*) FROM audit_events WHERE kind = 'device_unlinked')",
    ),
    (
        "an outbox message in an unknown state or sending without a claim",
        "SELECT id AS v FROM outbox WHERE status NOT IN ('pending', 'sending', 'sent', 'dead') \
         OR (status = 'sending' AND locked_until IS NULL) \
         OR (status = 'sent' AND sent_at IS NULL)",
    ),
];

#[derive(diesel::QueryableByName)]
struct Violation {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

/// Every violated invariant with the offending keys; empty when all hold. `load` runs
/// one query and returns its `v` column.
pub fn violations(mut load: impl FnMut(&str) -> Vec<String>) -> Vec<String> {
    let mut found = Vec::new();
    for (name, sql) in INVARIANTS {
        let keys = load(sql);
        if !keys.is_empty() {
            found.push(format!("{name}: {keys:?}"));
        }
    }
    found
}

fn texts(rows: Vec<Violation>) -> Vec<String> {
    rows.into_iter().map(|r| r.v).collect()
}

/// Panics with every violation found in the app's database.
pub fn assert_invariants(app: &TestApp) {
    let found = match app.backend {
        Backend::Sqlite => {
            let path = app.dir.path().join("devicelink.db");
            let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            violations(|sql| texts(diesel::sql_query(sql).load(&mut conn).unwrap()))
        }
        Backend::Postgres => {
            let url = &app.pg.as_ref().unwrap().url;
            let mut conn = diesel::PgConnection::establish(url).unwrap();
            violations(|sql| texts(diesel::sql_query(sql).load(&mut conn).unwrap()))
        }
    };
    assert!(found.is_empty(), "invariants broken:\n{}", found.join("\n"));
}

/// Runs one scalar `COUNT(*) AS n` query against the app's database.
pub fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<N> = match app.backend {
        Backend::Sqlite => {
            let path = app.dir.path().join("devicelink.db");
            let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            diesel::sql_query(sql).load(&mut conn).unwrap()
        }
        Backend::Postgres => {
            let mut conn = diesel::PgConnection::establish(&app.pg.as_ref().unwrap().url).unwrap();
            diesel::sql_query(sql).load(&mut conn).unwrap()
        }
    };
    rows[0].n
}

/// Runs one query returning a text column `v` against the app's database.
pub fn texts_of(app: &TestApp, sql: &str) -> Vec<String> {
    match app.backend {
        Backend::Sqlite => {
            let path = app.dir.path().join("devicelink.db");
            let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            texts(diesel::sql_query(sql).load(&mut conn).unwrap())
        }
        Backend::Postgres => {
            let mut conn = diesel::PgConnection::establish(&app.pg.as_ref().unwrap().url).unwrap();
            texts(diesel::sql_query(sql).load(&mut conn).unwrap())
        }
    }
}

crate::backend_tests!(the_invariants_catch_an_authorization_code_that_was_redeemed_twice);

/// The checks can fail: a code redeemed twice (two first refresh tokens, and no
/// `redeemed_at`), written by hand, is reported; a clean database is not.
async fn the_invariants_catch_an_authorization_code_that_was_redeemed_twice(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let load = |sql: &str| texts_of(&app, sql);
    assert!(violations(load).is_empty());
    let account = texts_of(&app, "SELECT id AS v FROM accounts").remove(0);
    let at = "'2030-01-01 00:00:00'";
    app.execute_sql(&format!(
        "INSERT INTO provider_grants (id, client_id, account_id, scope, auth_time, acr, amr, \
         created_at, expires_at) VALUES ('g1', 'portal', '{account}', 'openid', {at}, 'eidas2', \
         '[]', {at}, {at})"
    ));
    app.execute_sql(&format!(
        "INSERT INTO provider_codes (code_hash, grant_id, client_id, redirect_uri, created_at, \
         expires_at) VALUES ('c1', 'g1', 'portal', 'https://portal.example/cb', {at}, {at})"
    ));
    for id in ["t1", "t2"] {
        app.execute_sql(&format!(
            "INSERT INTO provider_refresh_tokens (id_hash, grant_id, generation, created_at, \
             expires_at) VALUES ('{id}', 'g1', 0, {at}, {at})"
        ));
    }
    let found = violations(|sql| texts_of(&app, sql));
    for expected in [
        "an authorization code redeemed more than once (two first refresh tokens): [\"c1\"]",
        "tokens issued for an authorization code that was never redeemed: [\"c1\"]",
        "a portal grant with more than one live refresh token: [\"g1\"]",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected} in {found:?}"
        );
    }
}
