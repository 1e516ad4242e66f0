//! Test harness: starts devicelink on a random port against a fresh database
//! (a SQLite file in a temporary folder, or a throw-away PostgreSQL database).

use std::net::TcpListener;

use devicelink::Application;
use devicelink::config::{Profile, Settings};
use diesel::{Connection, RunQueryDsl, pg::PgConnection};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests, from `DEVICELINK_TEST_POSTGRES_URL`. Unset means the
/// PostgreSQL variants are skipped with a loud line, except under CI, where that is an error.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DEVICELINK_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but DEVICELINK_TEST_POSTGRES_URL is not: PostgreSQL tests must run in CI"
            );
            eprintln!(
                "SKIPPED (PostgreSQL): set DEVICELINK_TEST_POSTGRES_URL to run this test on PostgreSQL"
            );
            None
        }
    }
}

/// A PostgreSQL database that exists for one test and is dropped after it.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create(admin_url: &str) -> Self {
        let name = format!("devicelink_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn =
            PgConnection::establish(admin_url).expect("connect to the PostgreSQL test server");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create the test database");
        let mut url = url::Url::parse(admin_url).expect("DEVICELINK_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }
    }

    /// Runs SQL on the server as the administrator (outside the test database).
    pub fn admin(&self, sql: &str) {
        let mut conn = PgConnection::establish(&self.admin_url).expect("connect as administrator");
        diesel::sql_query(sql)
            .execute(&mut conn)
            .expect("administrative SQL");
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A running devicelink with a client that keeps cookies and never follows redirects.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub backend: Backend,
    pub pg: Option<PgDatabase>,
    pub dir: tempfile::TempDir,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("build the HTTP client")
}

/// Settings for a test app on `port`, with its files under `dir`.
pub fn test_settings(
    backend: Backend,
    port: u16,
    dir: &std::path::Path,
    pg: Option<&PgDatabase>,
) -> Settings {
    let mut settings = Settings::load(None).expect("embedded defaults load");
    settings.server.public_url = format!("http://127.0.0.1:{port}").parse().expect("url");
    settings.server.workers = 2;
    settings.server.shutdown_timeout_secs = 1;
    settings.database.pool_size = 6;
    settings.database.min_idle = 1;
    settings.database.connect_timeout_secs = 2;
    settings.database.url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("devicelink.db").display()),
        Backend::Postgres => pg.expect("a PostgreSQL database").url.clone(),
    };
    settings
        .validate(Profile::Local)
        .expect("test settings are valid");
    settings
}

/// Starts devicelink; `None` when the backend is not available here (PostgreSQL unset).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create(&postgres_url()?)),
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    let settings = test_settings(backend, port, dir.path(), pg.as_ref());
    let app = Application::build(settings.clone(), listener).expect("the application starts");
    tokio::spawn(app.run_until_stopped());
    let client = http_client();
    let alive = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .expect("the application answers");
    assert_eq!(alive.status(), 200);
    Some(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client,
        settings,
        backend,
        pg,
        dir,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request is sent")
    }
}

/// Declares each listed async test body `fn(TestApp)` once per backend:
/// `sqlite::<name>` and `postgres::<name>`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
