//! Test harness: starts devicelink on a random port against a fresh database
//! (a SQLite file in a temporary folder, or a throw-away PostgreSQL database).

use std::net::TcpListener;

use devicelink::Application;
use devicelink::config::{Profile, Settings};
use devicelink::mock_idp::{MockIdp, MockIdpSettings, script};
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
        // Loopback: no TLS or GSSAPI negotiation. It also keeps libpq out of OpenSSL,
        // whose exit-time cleanup crashes a connection attempt still running on a pool
        // thread of an app that outlived its test.
        url.query_pairs_mut()
            .append_pair("sslmode", "disable")
            .append_pair("gssencmode", "disable");
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
    pub mock_issuer: url::Url,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub backend: Backend,
    pub pg: Option<PgDatabase>,
    pub dir: tempfile::TempDir,
}

/// The tests read the English sentences unless a test asks for another language (French
/// is the default of a request that names none; `i18n` tests cover the languages).
fn english() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    headers
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(english())
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("build the HTTP client")
}

/// Like [`http_client`], giving up on a request after `timeout`.
pub fn http_client_with_timeout(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(english())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
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
    // Cheap Argon2 in tests; production keeps the OWASP minimum.
    settings.devices.argon2_memory_kib = 64;
    settings.devices.argon2_iterations = 1;
    // Many devices share 127.0.0.1 in tests; the limit itself has its own test.
    settings.linking.qr_redemptions_per_minute = 1000;
    settings.linking.link_creations_per_minute_per_address = 1000;
    settings.linking.link_creations_per_minute_per_account = 1000;
    settings.tokens.unlock_per_minute_per_device = 1000;
    settings.tokens.unlock_per_minute_per_address = 1000;
    settings.database.url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("devicelink.db").display()),
        Backend::Postgres => pg.expect("a PostgreSQL database").url.clone(),
    };
    settings.mail.file_dir = dir.join("mail");
    settings.mail.poll_interval_ms = 50;
    settings
        .validate(Profile::Local)
        .expect("test settings are valid");
    settings
}

/// Starts the mock eAccess and devicelink; `None` when the backend is not available
/// here (PostgreSQL unset).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], letting the test adjust the mock eAccess first (faults, identities).
pub async fn spawn_app_with(
    backend: Backend,
    adjust_mock: impl FnOnce(&mut MockIdpSettings),
) -> Option<TestApp> {
    spawn_app_custom(backend, adjust_mock, |_| {}).await
}

/// Like [`spawn_app`], with adjusted devicelink settings.
pub async fn spawn_app_with_settings(
    backend: Backend,
    adjust_settings: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    spawn_app_custom(backend, |_| {}, adjust_settings).await
}

/// Starts the mock eAccess and devicelink, each adjusted by the test.
pub async fn spawn_app_custom(
    backend: Backend,
    adjust_mock: impl FnOnce(&mut MockIdpSettings),
    adjust_settings: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create(&postgres_url()?)),
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    let mock_listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let mock_port = mock_listener.local_addr().expect("local address").port();
    let mock_issuer: url::Url = format!("http://127.0.0.1:{mock_port}")
        .parse()
        .expect("url");

    let mut settings = test_settings(backend, port, dir.path(), pg.as_ref());
    settings.eaccess.issuer = mock_issuer.clone();
    settings.eaccess.discovery_retry_secs = 1;
    let mut mock = MockIdpSettings::for_local(
        mock_issuer.clone(),
        &settings.eaccess.client_id,
        &settings.eaccess.client_secret,
        vec![
            format!("http://127.0.0.1:{port}/auth/eaccess/callback")
                .parse()
                .expect("url"),
        ],
        dir.path().join("mock-idp-key.pem"),
    );
    adjust_mock(&mut mock);
    adjust_settings(&mut settings);
    let idp = MockIdp::build(mock, mock_listener).expect("the mock eAccess starts");
    tokio::spawn(idp.run_until_stopped());
    let app = Application::build(settings.clone(), listener).expect("the application starts");
    tokio::spawn(app.run_until_stopped());
    let client = http_client();
    let alive = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .expect("the application answers");
    assert_eq!(alive.status(), 200);
    // Discovery of the mock runs in the background; wait until sign-in can work.
    for _ in 0..100 {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .expect("the application answers");
        if ready.status() == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Some(TestApp {
        mock_issuer,
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

    /// Starts a sign-in and returns the eAccess authorization URL it redirects to.
    pub async fn start_sign_in(&self) -> url::Url {
        let res = self.get("/auth/login").await;
        assert_eq!(res.status(), 303, "sign-in redirects to eAccess");
        location(&res)
    }

    /// Drives the mock eAccess form and returns the callback URL it redirects to.
    pub async fn eaccess_login(
        &self,
        authorize: &url::Url,
        identity: &str,
        product: &str,
    ) -> url::Url {
        script::complete_login(&self.client, authorize, identity, product)
            .await
            .expect("the mock eAccess login completes")
    }

    /// Signs in through the mock eAccess; returns the response of the callback
    /// (303 to /dashboard or /register).
    pub async fn sign_in(&self, identity: &str, product: &str) -> reqwest::Response {
        let authorize = self.start_sign_in().await;
        let callback = self.eaccess_login(&authorize, identity, product).await;
        self.client
            .get(callback)
            .send()
            .await
            .expect("callback is sent")
    }

    /// Signs in and registers if needed; ends on the dashboard.
    pub async fn sign_in_registered(&self, identity: &str, product: &str) {
        let res = self.sign_in(identity, product).await;
        assert_eq!(res.status(), 303);
        if location_path(&res) == "/register" {
            let form = self.get("/register").await.text().await.unwrap();
            let csrf = hidden_value(&form, "csrf_token");
            let email = format!("{identity}@example.lu");
            let res = self
                .client
                .post(self.url("/register"))
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("email", email.as_str()),
                    ("accept_terms", "yes"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 303);
            assert_eq!(location_path(&res), "/dashboard");
        } else {
            assert_eq!(location_path(&res), "/dashboard");
        }
    }

    /// Signs the browser out of the portal and, following its RP-initiated logout, of
    /// eAccess (so that the next sign-in may be another person's).
    pub async fn sign_out(&self) {
        let page = self.dashboard().await;
        let res = self
            .client
            .post(self.url("/auth/logout"))
            .form(&[("csrf_token", hidden_value(&page, "csrf_token"))])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let target = location(&res);
        if target.origin() == self.mock_issuer.origin() {
            let res = self.client.get(target).send().await.unwrap();
            assert!(res.status().is_redirection());
        }
    }

    /// The dashboard's HTML.
    pub async fn dashboard(&self) -> String {
        let res = self.get("/dashboard").await;
        assert_eq!(res.status(), 200, "the dashboard is shown");
        res.text().await.unwrap()
    }

    /// Counts rows of a table, straight from the database.
    pub fn count_rows(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let rows = match self.backend {
            Backend::Sqlite => {
                let path = self.dir.path().join("devicelink.db");
                let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
                diesel::sql_query(sql).load::<Count>(&mut conn).unwrap()
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.pg.as_ref().unwrap().url).unwrap();
                diesel::sql_query(sql).load::<Count>(&mut conn).unwrap()
            }
        };
        rows[0].n
    }
}

impl TestApp {
    /// Opens "Link a device" in the browser: returns the code's id and the code the page
    /// holds (`mode=static` for the no-JavaScript variant).
    /// Always a new code ("Generate a new QR code", `new=1`), never the live one again.
    pub async fn new_qr_code(&self, query: &str) -> (String, String) {
        let query = match query.strip_prefix('?') {
            Some(rest) => format!("?new=1&{rest}"),
            None => "?new=1".to_owned(),
        };
        let res = self.get(&format!("/devices/link{query}")).await;
        assert_eq!(res.status(), 200, "the link page is shown");
        let page = res.text().await.unwrap();
        (attr(&page, "data-link-id"), attr(&page, "data-code"))
    }

    /// What a phone camera reads from the QR code right now (decoding the PNG).
    pub async fn scan_qr(&self, code_id: &str, code: &str) -> String {
        let res = self
            .get(&format!("/devices/link/{code_id}/qr.png?c={code}"))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/png");
        let bytes = res.bytes().await.unwrap();
        devicelink::device_client::camera::decode_png(&bytes).expect("the QR code decodes")
    }

    /// The browser page's view of a code (what its script polls).
    pub async fn code_status(&self, code_id: &str, code: &str) -> serde_json::Value {
        let page = self.get("/dashboard").await.text().await.unwrap();
        let csrf = hidden_value(&page, "csrf_token");
        let res = self
            .client
            .post(self.url(&format!("/devices/link/{code_id}/frame")))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({"code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// A fresh app installation pointed at this server. Every answer it gets is checked
    /// against the OpenAPI contract (`crate::contract`).
    pub fn device(&self) -> devicelink::device_client::DeviceClient {
        let mut device = devicelink::device_client::DeviceClient::new(
            self.address.parse().unwrap(),
            self.settings.webauthn.web_origin.clone(),
        )
        .unwrap();
        device.observe(crate::contract::observer());
        device
    }

    /// An installation loaded from its state file, its answers checked like [`Self::device`].
    pub fn load_device(path: &std::path::Path) -> devicelink::device_client::DeviceClient {
        let mut device = devicelink::device_client::DeviceClient::load(path).unwrap();
        device.observe(crate::contract::observer());
        device
    }

    /// The text column `v` of the first row `sql` selects, straight from the database.
    pub fn query_text(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let rows: Vec<Row> = match self.backend {
            Backend::Sqlite => {
                let path = self.dir.path().join("devicelink.db");
                let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
                diesel::sql_query(sql).load(&mut conn).unwrap()
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.pg.as_ref().unwrap().url).unwrap();
                diesel::sql_query(sql).load(&mut conn).unwrap()
            }
        };
        rows.into_iter().next().expect("one row").v
    }

    /// Runs SQL against the test database (to age rows, for example).
    pub fn execute_sql(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let path = self.dir.path().join("devicelink.db");
                let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
                diesel::sql_query(sql).execute(&mut conn).unwrap();
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.pg.as_ref().unwrap().url).unwrap();
                diesel::sql_query(sql).execute(&mut conn).unwrap();
            }
        }
    }

    /// Signs in a registered citizen and links one device with the QR method.
    pub async fn linked_device(
        &self,
        identity: &str,
        secret_code: &str,
        biometrics: bool,
    ) -> devicelink::device_client::DeviceClient {
        self.sign_in_registered(identity, "luxtrust_mobile").await;
        self.link_by_qr("Test phone", secret_code, biometrics).await
    }

    /// Links a new device with the QR code of the signed-in browser.
    pub async fn link_by_qr(
        &self,
        name: &str,
        secret_code: &str,
        biometrics: bool,
    ) -> devicelink::device_client::DeviceClient {
        let (id, code) = self.new_qr_code("").await;
        let scanned = self.scan_qr(&id, &code).await;
        let mut device = self.device();
        device
            .link_with_qr(name, &scanned, secret_code, biometrics)
            .await
            .expect("the device links");
        device
    }
}

/// The value of the attribute `name="..."` in a page.
pub fn attr(html: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The `Location` header of a redirect, resolved as a URL.
pub fn location(res: &reqwest::Response) -> url::Url {
    let value = res.headers()["location"].to_str().unwrap();
    res.url().join(value).expect("a valid Location")
}

/// The path of a redirect's `Location`.
pub fn location_path(res: &reqwest::Response) -> String {
    location(res).path().to_owned()
}

/// The value of `<input ... name="NAME" value="...">` in a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in page"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
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
