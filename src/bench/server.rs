//! The server under test: this same binary's `demo` (the server plus the bundled mock
//! eAccess) as a child process, pinned to core 1, on a fresh database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use diesel::{Connection as _, PgConnection, QueryableByName, RunQueryDsl as _};
use serde_json::{Value, json};
use url::Url;

/// Limits raised for the run: the harness sends everything from one address and a few
/// device keys, which the production rate limits (rightly) refuse beyond a few a minute.
pub const RAISED_LIMITS: [(&str, &str); 7] = [
    (
        "DEVICELINK__LINKING__LINK_CREATIONS_PER_MINUTE_PER_ADDRESS",
        "100000000",
    ),
    (
        "DEVICELINK__LINKING__LINK_CREATIONS_PER_MINUTE_PER_ACCOUNT",
        "100000000",
    ),
    (
        "DEVICELINK__PROVIDER__TOKEN_REQUESTS_PER_MINUTE_PER_CLIENT",
        "100000000",
    ),
    (
        "DEVICELINK__PROVIDER__TOKEN_REQUESTS_PER_MINUTE_PER_ADDRESS",
        "100000000",
    ),
    (
        "DEVICELINK__LINKING__QR_REDEMPTIONS_PER_MINUTE",
        "100000000",
    ),
    (
        "DEVICELINK__TOKENS__UNLOCK_PER_MINUTE_PER_DEVICE",
        "100000000",
    ),
    (
        "DEVICELINK__TOKENS__UNLOCK_PER_MINUTE_PER_ADDRESS",
        "100000000",
    ),
];

enum Database {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

/// A running server under test.
pub struct BenchServer {
    child: tokio::process::Child,
    pid: u32,
    pub base: Url,
    pub mock_issuer: Url,
    dir: PathBuf,
    db: Database,
    pinned: bool,
    db_settings: Value,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn pg_show(conn: &mut PgConnection, name: &str) -> Option<String> {
    diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
        .get_result::<Setting>(conn)
        .ok()
        .map(|s| s.value)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let mut parsed = Url::parse(url).context("the --db URL")?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

impl BenchServer {
    /// Starts `devicelink demo` on `db` (`sqlite` or a PostgreSQL URL) and waits until
    /// `/readyz` answers 200.
    pub async fn start(db: &str, config: Option<&Path>, pin: bool) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("devicelink-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let (database, db_url, db_settings) = if db == "sqlite" {
            let path = dir.join("devicelink.db");
            let url = format!("sqlite://{}", path.display());
            let settings = json!({
                "kind": "sqlite",
                "file": path.display().to_string(),
                "pool_size": 1,
                "pragmas": "journal_mode=WAL, synchronous=NORMAL, busy_timeout, foreign_keys=ON",
                "storage": "the machine's temporary folder",
            });
            (Database::Sqlite { path }, url, settings)
        } else if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            let name = format!(
                "devicelink_bench_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            let mut admin = PgConnection::establish(db).context("connecting to --db")?;
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .context("creating the benchmark database")?;
            let settings = json!({
                "kind": "postgres",
                "server_version": pg_show(&mut admin, "server_version"),
                "shared_buffers": pg_show(&mut admin, "shared_buffers"),
                "synchronous_commit": pg_show(&mut admin, "synchronous_commit"),
                "fsync": pg_show(&mut admin, "fsync"),
                "max_connections": pg_show(&mut admin, "max_connections"),
                "pool_size": "database.pool_size of the configuration (default 8)",
                "same_machine": Url::parse(db).ok().and_then(|u| u.host_str().map(|h| h == "127.0.0.1" || h == "localhost")),
            });
            let url = with_database(db, &name)?;
            (
                Database::Postgres {
                    admin_url: db.to_owned(),
                    name,
                    url: url.clone(),
                },
                url,
                settings,
            )
        } else {
            return Err(anyhow!("--db must be `sqlite` or a postgres:// URL"));
        };

        let port = free_port()?;
        let mock_port = free_port()?;
        let base: Url = format!("http://127.0.0.1:{port}/").parse()?;
        let mock_issuer: Url = format!("http://127.0.0.1:{mock_port}").parse()?;
        // This very binary, even if a rebuild has replaced the file meanwhile.
        let exe = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
        let mut command = if pin {
            let mut c = tokio::process::Command::new("taskset");
            c.args(["-c", "1"]).arg(&exe);
            c
        } else {
            tokio::process::Command::new(&exe)
        };
        if let Some(config) = config {
            command.arg("--config").arg(std::fs::canonicalize(config)?);
        }
        let log = std::fs::File::create(dir.join("server.log"))?;
        command
            .arg("demo")
            .current_dir(&dir)
            .env("DEVICELINK__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env(
                "DEVICELINK__SERVER__PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .env("DEVICELINK__EACCESS__ISSUER", mock_issuer.as_str())
            .env("DEVICELINK__DATABASE__URL", &db_url)
            .env("DEVICELINK__MAIL__FILE_DIR", dir.join("mail"))
            // The demo portal would take :8090; the bench drives the provider itself.
            .env("DEVICELINK__DEMO__PORTAL", "false")
            .envs(RAISED_LIMITS)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let child = command.spawn().context("spawning devicelink demo")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the server exited at once"))?;
        let mut server = Self {
            child,
            pid,
            base,
            mock_issuer,
            dir,
            db: database,
            pinned: pin,
            db_settings,
        };
        if let Err(e) = server.wait_ready().await {
            let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            server.stop().await;
            return Err(e.context(format!("server log:\n{tail}")));
        }
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let url = self.base.join("readyz")?;
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                return Err(anyhow!("the server exited: {status}"));
            }
            if let Ok(res) = http.get(url.clone()).send().await {
                if res.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!("the server did not become ready within 60 s"))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn db_url_kind(&self) -> &'static str {
        match self.db {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// What the report says about the server and its database.
    pub fn describe(&self) -> Value {
        let url = match &self.db {
            Database::Sqlite { path } => format!("sqlite://{}", path.display()),
            Database::Postgres { url, .. } => redact(url),
        };
        json!({
            "command": "devicelink demo (server + bundled mock eAccess, one process)",
            "pinned_to_core": if self.pinned { Some(1) } else { None },
            "database": self.db_url_kind(),
            "database_url": url,
            "database_settings": self.db_settings,
            "raised_limits": RAISED_LIMITS.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "log": "default level (info, one line per request) to a file",
        })
    }

    /// Resets the kernel's peak-RSS counter (VmHWM) of the server (Linux `clear_refs` 5).
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// The server's peak resident memory (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmHWM:")
    }

    /// Stops the server, drops a PostgreSQL database, removes the temporary folder.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if let Database::Postgres {
            admin_url, name, ..
        } = &self.db
        {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A `kB` line of /proc/<pid>/status.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, usually 100).
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may contain spaces; the fields after its closing parenthesis
    // start with field 3 (state), so utime and stime (14 and 15) are at 11 and 12.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks()
}
