//! Health probes, error envelopes, request ids, and the schema on both backends.

use std::collections::BTreeSet;

use crate::backend_tests;
use crate::helpers::{Backend, PgDatabase, TestApp, postgres_url};

backend_tests!(
    healthz_answers_ok,
    readyz_answers_ready_when_the_database_is_reachable,
    every_response_carries_a_request_id,
    a_plain_incoming_request_id_is_kept_and_a_forged_one_replaced,
    an_unknown_api_route_answers_a_json_not_found,
    an_unknown_page_answers_a_friendly_html_page,
    pages_carry_the_security_headers,
);

async fn healthz_answers_ok(app: TestApp) {
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

async fn readyz_answers_ready_when_the_database_is_reachable(app: TestApp) {
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    if app.backend == Backend::Sqlite {
        assert!(app.settings.database.url.ends_with("devicelink.db"));
        assert!(
            app.dir.path().join("devicelink.db").is_file(),
            "the SQLite file is created"
        );
    }
}

async fn every_response_carries_a_request_id(app: TestApp) {
    let first = app.get("/healthz").await;
    let second = app.get("/nope").await;
    let a = first.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = second.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!a.is_empty());
    assert_ne!(a, b);
}

async fn a_plain_incoming_request_id_is_kept_and_a_forged_one_replaced(app: TestApp) {
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234_abc");
    let forged = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "evil\" level=error")
        .send()
        .await
        .unwrap();
    assert_ne!(forged.headers()["x-request-id"], "evil\" level=error");
}

async fn an_unknown_api_route_answers_a_json_not_found(app: TestApp) {
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["error_description"].as_str().unwrap().len() > 10);
}

async fn an_unknown_page_answers_a_friendly_html_page(app: TestApp) {
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("Page not found"));
    assert!(body.contains("not_found"));
}

async fn pages_carry_the_security_headers(app: TestApp) {
    let res = app.get("/no/such/page").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
}

/// Readiness follows the database: 503 (fast, not a hang) while PostgreSQL refuses
/// connections, 200 again once it accepts them — without restarting devicelink.
#[tokio::test]
async fn readyz_answers_503_while_postgres_is_unavailable_and_recovers() {
    let Some(app) = crate::helpers::spawn_app(Backend::Postgres).await else {
        return;
    };
    let pg = app.pg.as_ref().unwrap();
    let name = pg.name().to_owned();
    assert_eq!(app.get("/readyz").await.status(), 200);

    pg.admin(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ));
    pg.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let started = std::time::Instant::now();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "no hang"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_ready");
    assert_eq!(body["checks"]["database"], "unavailable");

    pg.admin(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"));
    let mut status = 0;
    for _ in 0..20 {
        status = app.get("/readyz").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "recovers without a restart");
}

/// Both migration folders must produce the same tables and columns.
#[tokio::test]
async fn sqlite_and_postgres_migrations_produce_the_same_schema() {
    use diesel::{Connection, QueryableByName, RunQueryDsl, sql_types::Text};

    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }

    let Some(admin) = postgres_url() else { return };
    let pg = PgDatabase::create(&admin);
    let dir = tempfile::tempdir().unwrap();
    let sqlite_settings = crate::helpers::test_settings(Backend::Sqlite, 1, dir.path(), None);
    let pg_settings = crate::helpers::test_settings(Backend::Postgres, 1, dir.path(), Some(&pg));
    devicelink::db::Db::open(&sqlite_settings.database).unwrap();
    devicelink::db::Db::open(&pg_settings.database).unwrap();

    let mut sqlite =
        diesel::SqliteConnection::establish(dir.path().join("devicelink.db").to_str().unwrap())
            .unwrap();
    let sqlite_columns: BTreeSet<(String, String)> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
         AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
    )
    .load::<Column>(&mut sqlite)
    .unwrap()
    .into_iter()
    .map(|c| (c.table_name, c.column_name))
    .collect();

    let mut postgres = diesel::PgConnection::establish(&pg.url).unwrap();
    let pg_columns: BTreeSet<(String, String)> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name <> '__diesel_schema_migrations'",
    )
    .load::<Column>(&mut postgres)
    .unwrap()
    .into_iter()
    .map(|c| (c.table_name, c.column_name))
    .collect();

    assert!(sqlite_columns.len() > 5);
    assert_eq!(sqlite_columns, pg_columns);
}
