//! Real processes for the fault tests: `devicelink serve` instances, a load balancer in
//! front of them, a private PostgreSQL cluster that can really be stopped, and a real
//! SMTP server (Python's aiosmtpd) that can really go away. Everything on loopback,
//! free ports, temporary folders; every wait is a bounded poll.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::helpers::{Backend, PgDatabase, TestApp, http_client};

/// A port nobody listens on right now (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a random port")
        .local_addr()
        .expect("local address")
        .port()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn poll_until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "gave up waiting after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 32 random bytes as base64: a secret `serve` accepts (not the demo's).
fn random_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The configuration every instance of one deployment shares: the same database,
/// public URL (the load balancer), eAccess and secrets. Given to the processes as
/// `DEVICELINK__SECTION__KEY` variables, as in production.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub vars: Vec<(String, String)>,
    pub public_url: String,
    pub database_url: String,
    pub dir: PathBuf,
}

impl Deployment {
    pub fn new(public_url: &str, database_url: &str, eaccess: &str, dir: &Path) -> Self {
        let mut d = Self {
            vars: Vec::new(),
            public_url: public_url.to_owned(),
            database_url: database_url.to_owned(),
            dir: dir.to_owned(),
        };
        let secrets = [random_secret(), random_secret(), random_secret()];
        for (key, value) in [
            ("SERVER__PUBLIC_URL", public_url.to_owned()),
            ("SERVER__WORKERS", "2".to_owned()),
            ("SERVER__SHUTDOWN_TIMEOUT_SECS", "1".to_owned()),
            ("DATABASE__URL", database_url.to_owned()),
            ("DATABASE__POOL_SIZE", "4".to_owned()),
            ("DATABASE__CONNECT_TIMEOUT_SECS", "2".to_owned()),
            ("EACCESS__ISSUER", eaccess.to_owned()),
            (
                "EACCESS__CLIENT_SECRET",
                "fault-test-client-secret".to_owned(),
            ),
            ("EACCESS__DISCOVERY_RETRY_SECS", "1".to_owned()),
            ("SECRETS__QR_FRAME_KEY", secrets[0].clone()),
            ("SECRETS__DPOP_NONCE_KEY", secrets[1].clone()),
            ("SECRETS__SECRET_CODE_PEPPER", secrets[2].clone()),
            ("MAIL__TRANSPORT", "file".to_owned()),
            ("MAIL__FILE_DIR", dir.join("mail").display().to_string()),
            ("MAIL__POLL_INTERVAL_MS", "100".to_owned()),
            ("LINKING__QR_REDEMPTIONS_PER_MINUTE", "1000".to_owned()),
            // Load from one loopback address: the abuse limits have their own tests.
            (
                "LINKING__LINK_CREATIONS_PER_MINUTE_PER_ADDRESS",
                "10000".to_owned(),
            ),
            (
                "LINKING__LINK_CREATIONS_PER_MINUTE_PER_ACCOUNT",
                "10000".to_owned(),
            ),
            ("TOKENS__UNLOCK_PER_MINUTE_PER_ADDRESS", "1000".to_owned()),
            ("TOKENS__UNLOCK_PER_MINUTE_PER_DEVICE", "1000".to_owned()),
            ("LOG__LEVEL", "info,actix_server=warn".to_owned()),
        ] {
            d.set(key, &value);
        }
        d
    }

    /// Sets `DEVICELINK__<key>`, replacing an earlier value.
    pub fn set(&mut self, key: &str, value: &str) {
        let name = format!("DEVICELINK__{key}");
        self.vars.retain(|(k, _)| *k != name);
        self.vars.push((name, value.to_owned()));
    }

    /// The value of `DEVICELINK__<key>`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        let name = format!("DEVICELINK__{key}");
        self.vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The same settings as a `Settings` value, for the test-side helpers (`TestApp`).
    pub fn settings(&self) -> devicelink::config::Settings {
        let mut settings = devicelink::config::Settings::load(None).expect("defaults");
        settings.server.public_url = self.public_url.parse().expect("url");
        settings.database.url.clone_from(&self.database_url);
        settings
    }
}

/// One `devicelink serve` process, restartable, its output kept in a log file.
pub struct ServerProcess {
    pub name: String,
    pub port: u16,
    deployment: Deployment,
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `devicelink serve` on a free port (not yet waiting for readiness).
    pub fn start(name: &str, deployment: &Deployment) -> Self {
        let mut server = Self {
            name: name.to_owned(),
            port: free_port(),
            deployment: deployment.clone(),
            child: None,
            log: deployment.dir.join(format!("{name}.log")),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the server log");
        let mut cmd = Command::new(server_binary());
        cmd.arg("serve")
            .env_remove("DEVICELINK_CONFIG")
            .env_remove("RUST_LOG")
            .envs(self.deployment.vars.iter().cloned())
            .env(
                "DEVICELINK__SERVER__BIND",
                format!("127.0.0.1:{}", self.port),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start devicelink serve"));
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 200 (at most 30 s), failing early with the log if
    /// the process died.
    pub async fn wait_ready(&mut self) {
        let client = http_client();
        let url = format!("{}/readyz", self.address());
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{} exited with {status}:\n{}", self.name, self.log_text());
                }
            }
            if let Ok(res) = client.get(&url).send().await {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} not ready after 30s:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no shutdown hook, no graceful drain.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port with the same configuration.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready().await;
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // DEVICELINK_TEST_SHOW_LOGS=1 prints what each instance logged (with --nocapture).
        if std::env::var_os("DEVICELINK_TEST_SHOW_LOGS").is_some() {
            eprintln!(
                "===== log of instance {} =====\n{}",
                self.name,
                self.log_text()
            );
        }
        self.kill9();
    }
}

/// The `devicelink` binary cargo built for these tests. `DEVICELINK_TEST_BIN` may point
/// elsewhere (a copy), for machines where several checkouts share one target folder.
pub fn server_binary() -> PathBuf {
    std::env::var_os("DEVICELINK_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_devicelink")),
        PathBuf::from,
    )
}

/// Starts the mock eAccess in this test process, registering `public_url`'s callback.
pub fn start_mock_eaccess(public_url: &str, dir: &Path) -> String {
    use devicelink::mock_idp::{MockIdp, MockIdpSettings};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mock = MockIdpSettings::for_local(
        issuer.parse().unwrap(),
        "devicelink",
        "fault-test-client-secret",
        vec![
            format!("{public_url}/auth/eaccess/callback")
                .parse()
                .unwrap(),
        ],
        dir.join("mock-idp-key.pem"),
    );
    let idp = MockIdp::build(mock, listener).expect("the mock eAccess starts");
    tokio::spawn(idp.run_until_stopped());
    issuer
}

/// Where the load balancer sends the next request.
#[derive(Debug, Clone)]
pub enum Route {
    /// Every request to this backend (by index).
    To(usize),
    /// Request by request, in turn, over these backends.
    RoundRobin(Vec<usize>),
}

struct BalancerState {
    backends: Vec<String>,
    route: Mutex<(Route, usize)>,
    client: reqwest::Client,
    /// Requests forwarded per backend, to prove where the traffic went.
    served: Mutex<HashMap<usize, usize>>,
}

/// A small HTTP load balancer: the one public URL of the deployment. It forwards each
/// request (not each connection) to the backend its [`Route`] names, as an L7 balancer
/// does, so keep-alive connections of a client do not pin it to one instance.
pub struct Balancer {
    state: Arc<BalancerState>,
}

const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
];

impl Balancer {
    /// Serves on `listener`, bound before the backends were configured (its address is
    /// their `server.public_url`).
    pub fn start_on(listener: TcpListener, backends: Vec<String>) -> Self {
        let state = Arc::new(BalancerState {
            backends,
            route: Mutex::new((Route::RoundRobin(Vec::new()), 0)),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            served: Mutex::new(HashMap::new()),
        });
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(forward))
        })
        .workers(2)
        .listen(listener)
        .expect("the balancer listens")
        .run();
        tokio::spawn(server);
        Self { state }
    }

    pub fn route(&self, route: Route) {
        *self.state.route.lock().unwrap() = (route, 0);
    }

    /// How many requests each backend got so far.
    pub fn served(&self) -> HashMap<usize, usize> {
        self.state.served.lock().unwrap().clone()
    }
}

fn pick(state: &BalancerState) -> usize {
    let mut guard = state.route.lock().unwrap();
    let (route, turn) = &mut *guard;
    let backend = match route {
        Route::To(i) => *i,
        Route::RoundRobin(list) if list.is_empty() => *turn % state.backends.len(),
        Route::RoundRobin(list) => list[*turn % list.len()],
    };
    *turn += 1;
    backend
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<BalancerState>,
) -> HttpResponse {
    let backend = pick(&state);
    *state.served.lock().unwrap().entry(backend).or_default() += 1;
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", actix_web::http::uri::PathAndQuery::as_str);
    let url = format!("{}{path}", state.backends[backend]);
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut upstream = state.client.request(method, url);
    for (name, value) in req.headers() {
        let name = name.as_str();
        if name != "host" && !HOP_BY_HOP.contains(&name) {
            upstream = upstream.header(name, value.as_bytes());
        }
    }
    match upstream.body(body.to_vec()).send().await {
        Ok(res) => {
            let mut out = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(res.status().as_u16()).unwrap(),
            );
            for (name, value) in res.headers() {
                if !HOP_BY_HOP.contains(&name.as_str()) {
                    out.append_header((name.as_str(), value.as_bytes()));
                }
            }
            out.body(res.bytes().await.unwrap_or_default())
        }
        // As a real balancer: the instance is gone.
        Err(_) => HttpResponse::BadGateway().finish(),
    }
}

/// Three (or `n`) `devicelink serve` processes on one PostgreSQL database behind one
/// balancer, the mock eAccess in this process, and a `TestApp` whose browser and
/// device helpers talk to the balancer.
pub struct Cluster {
    pub servers: Vec<ServerProcess>,
    pub balancer: Balancer,
    pub app: TestApp,
    pub deployment: Deployment,
}

impl Cluster {
    /// `adjust` may change the shared configuration before the processes start.
    pub async fn start(n: usize, pg: PgDatabase, adjust: impl FnOnce(&mut Deployment)) -> Cluster {
        Self::start_on(n, Some(pg), adjust).await
    }

    /// Like [`Cluster::start`]; without PostgreSQL, one instance on a SQLite file.
    pub async fn start_on(
        n: usize,
        pg: Option<PgDatabase>,
        adjust: impl FnOnce(&mut Deployment),
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (backend, database_url) = match &pg {
            Some(pg) => (Backend::Postgres, pg.url.clone()),
            None => {
                assert_eq!(n, 1, "SQLite serves one instance");
                (
                    Backend::Sqlite,
                    format!("sqlite://{}", dir.path().join("devicelink.db").display()),
                )
            }
        };
        let lb_listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
        let public_url = format!(
            "http://127.0.0.1:{}",
            lb_listener.local_addr().unwrap().port()
        );
        let issuer = start_mock_eaccess(&public_url, dir.path());
        let mut deployment = Deployment::new(&public_url, &database_url, &issuer, dir.path());
        adjust(&mut deployment);
        let names = ["A", "B", "C", "D", "E"];
        let mut servers: Vec<ServerProcess> = (0..n)
            .map(|i| ServerProcess::start(names[i], &deployment))
            .collect();
        for server in &mut servers {
            server.wait_ready().await;
        }
        let balancer = Balancer::start_on(
            lb_listener,
            servers.iter().map(ServerProcess::address).collect(),
        );
        let app = TestApp {
            address: public_url.clone(),
            mock_issuer: issuer.parse().unwrap(),
            client: http_client(),
            settings: deployment.settings(),
            backend,
            pg,
            dir,
        };
        Cluster {
            servers,
            balancer,
            app,
            deployment,
        }
    }
}

/// A PostgreSQL cluster of this test alone (initdb into a temporary folder, its own
/// port), so it can be stopped and started without disturbing the shared server.
/// Runs the server binaries as the `postgres` user when this process is root (CI).
pub struct PrivatePostgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// `None` (with a loud line) when no PostgreSQL server binaries are installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            eprintln!(
                "SKIPPED (private PostgreSQL): no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but PostgreSQL server binaries (initdb, pg_ctl) are missing"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("devicelink-pg-")
            .tempdir()
            .expect("temporary folder");
        let as_postgres = is_root();
        let data = dir.path().join("data");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster folder to postgres");
        }
        let pg = Self {
            port: free_port(),
            bin,
            data,
            _dir: dir,
            as_postgres,
        };
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&pg.data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.pg_ctl_start();
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' -c fsync=off -c max_connections=60",
            self.port
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "30", "-o", &options, "-l"])
            .arg(self.data.join("server.log"))
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (fast: open connections are cut, as in a real outage).
    pub fn stop(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "30", "-m", "fast", "stop"])
            .output()
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// The administrator URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "10", "-m", "immediate", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A real SMTP server (Python's aiosmtpd) that stores every message it accepts as a
/// file, so a test can count deliveries at the server. It refuses `sophie@...` with a
/// transient 451 every time.
pub struct SmtpServer {
    pub port: u16,
    pub inbox: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

const SMTP_SCRIPT: &str = r#"
import asyncio, os, sys, uuid
from aiosmtpd.controller import Controller

inbox = sys.argv[2]

class Store:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A mailbox that is always "temporarily" unavailable: the message must end dead.
        if address.startswith("sophie@"):
            return "451 4.2.1 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(inbox, uuid.uuid4().hex + ".eml")
        with open(name + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".part", name)
        return "250 Message accepted for delivery"

controller = Controller(Store(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
try:
    asyncio.get_event_loop().run_forever()
except KeyboardInterrupt:
    pass
"#;

impl SmtpServer {
    /// `None` (with a loud line) when aiosmtpd is not installed; under CI that is an error.
    pub fn start() -> Option<Self> {
        let has_aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but Python's aiosmtpd is missing (.ci/run installs it)"
            );
            eprintln!(
                "SKIPPED (SMTP): `python3 -m pip install aiosmtpd` to run the mail-outage test"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(dir.path().join("smtp.py"), SMTP_SCRIPT).unwrap();
        let mut server = Self {
            port: free_port(),
            inbox,
            child: None,
            _dir: dir,
        };
        server.start_again();
        Some(server)
    }

    /// (Re)starts the server on the same port and waits until it accepts connections.
    pub fn start_again(&mut self) {
        let script = self.inbox.parent().unwrap().join("smtp.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.inbox)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the SMTP server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server: connections are refused until [`SmtpServer::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, as raw text.
    pub fn received(&self) -> Vec<String> {
        std::fs::read_dir(&self.inbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
