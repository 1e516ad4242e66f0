//! The `devicelink` command: a thin shell over the library.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use devicelink::Application;
use devicelink::config::{Profile, Settings};
use devicelink::db::Db;
use devicelink::demo_portal::DemoPortalSettings;
use devicelink::device_client::cli::DeviceCommand;
use devicelink::mock_idp::{MockIdp, MockIdpSettings};

/// devicelink: link a citizen's phone to their portal account and open the app with a
/// 6-digit secret code or biometrics.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// A TOML file whose keys override the embedded defaults (see conf/default.toml).
    /// Environment variables DEVICELINK__SECTION__KEY override both.
    #[arg(
        long,
        short,
        global = true,
        value_name = "FILE",
        env = "DEVICELINK_CONFIG"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything locally with embedded defaults: the server on SQLite
    /// (var/devicelink.db), mail written to var/mail/, and the bundled mock eAccess.
    Demo,
    /// Run the server for production (PostgreSQL, SMTP, https URLs); refuses demo secrets.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage the token signing keys (shared by every instance through the database).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run only the bundled mock eAccess provider (default http://127.0.0.1:8081),
    /// configured by conf/mock-idp.toml (see docs/mock-idp.md).
    MockIdp {
        /// The mock's configuration file.
        #[arg(long, value_name = "FILE", default_value = "conf/mock-idp.toml")]
        mock_config: PathBuf,
    },
    /// Operator tools for the mail outbox, e.g. `mail status`.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// The reference device client (what the mobile app does), e.g. `device link`.
    /// Needs no server configuration.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// The load benchmark (docs/performance.md): starts `demo` on a fresh database,
    /// provisions devices through the API and measures every scenario.
    Bench(Box<devicelink::bench::BenchArgs>),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new key the signing key. The previous one stays in the JWKS until every
    /// token it signed has expired; running instances pick the new key up within
    /// `provider.key_refresh_secs`, without a restart.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Counts per status, the age of the oldest undelivered message and the dead messages
    /// with their last error (never a body). Exits 3 when dead messages exist.
    Status,
}

/// Exit code of `mail status` when dead messages need an operator.
const EXIT_MAIL_DEAD: u8 = 3;

/// Exit code for unusable configuration (as sysexits' EX_USAGE family: 2).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let profile = match cli.command {
        Command::Serve | Command::Migrate => Profile::Production,
        // Touch only the database (keys, mail status); the demo's settings must work too.
        Command::Demo | Command::MockIdp { .. } | Command::Keys { .. } | Command::Mail { .. } => {
            Profile::Local
        }
        // A client: the server's settings do not apply.
        Command::Device { command } => return device(command),
        Command::Bench(args) => return bench(*args, cli.config),
    };
    let settings =
        match Settings::load(cli.config.as_deref()).and_then(|s| s.validate(profile).map(|()| s)) {
            Ok(settings) => settings,
            Err(err) => {
                eprintln!("devicelink: {err}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    devicelink::telemetry::init(&settings.log);
    if let Command::Mail { command } = &cli.command {
        return mail(command, &settings);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("devicelink: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Migrate => migrate(&settings),
            Command::Keys {
                command: KeysCommand::Rotate,
            } => rotate_keys(&settings),
            Command::Serve => serve(settings).await,
            Command::Demo => demo(settings).await,
            Command::MockIdp { mock_config } => mock_idp(&mock_config).await,
            Command::Device { command } => devicelink::device_client::cli::run(command).await,
            // Handled before the runtime starts.
            Command::Mail { .. } | Command::Bench(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("devicelink: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `devicelink device ...`: runs the reference client; any failure (an API refusal
/// included) prints one line and exits with 1.
fn device(command: DeviceCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("devicelink: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(devicelink::device_client::cli::run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("devicelink: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `devicelink mail ...`: reads the outbox of the configured database.
fn mail(command: &MailCommand, settings: &Settings) -> ExitCode {
    match command {
        MailCommand::Status => {
            // Read-only: never migrates the database it looks at.
            let report = Db::connect(&settings.database)
                .map_err(anyhow::Error::from)
                .and_then(|db| {
                    db.run_blocking(devicelink::mail::report::load_status)
                        .map_err(anyhow::Error::from)
                });
            match report {
                Ok(report) => {
                    print!("{}", report.render(chrono::Utc::now().naive_utc()));
                    if report.needs_attention() {
                        ExitCode::from(EXIT_MAIL_DEAD)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(err) => {
                    eprintln!("devicelink: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `devicelink bench ...`: the load generator runs on core 0 (one thread), the server
/// it starts on core 1.
fn bench(args: devicelink::bench::BenchArgs, config: Option<PathBuf>) -> ExitCode {
    let pinned = devicelink::bench::pin_self(0);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("devicelink: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(devicelink::bench::run(args, config, pinned)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("devicelink bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::open(&settings.database)?;
    // `open` already applied everything pending; report the state.
    let pending = db.migrate()?;
    println!("migrations are up to date ({pending} applied just now)");
    Ok(())
}

fn rotate_keys(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::open(&settings.database)?;
    let now = chrono::Utc::now().naive_utc();
    let retire_after = now + devicelink::provider::key_retention(settings);
    let (kid, rsa_kid) = db.run_blocking(move |conn| {
        // Make sure there are keys to retire on a fresh database.
        devicelink::tokens::access::load_or_create_signing_key(conn, now)
            .map_err(|e| devicelink::db::StoreError::Corrupt(e.to_string()))?;
        devicelink::tokens::access::load_or_create_rsa_key(conn, now)
            .map_err(|e| devicelink::db::StoreError::Corrupt(e.to_string()))?;
        devicelink::tokens::access::rotate_signing_key(conn, now, retire_after)
            .map_err(|e| devicelink::db::StoreError::Corrupt(e.to_string()))
    })?;
    println!(
        "new signing keys {kid} (ES256) and {rsa_kid} (RSA); the previous ones stay published until {} UTC",
        retire_after.format("%Y-%m-%d %H:%M:%S")
    );
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.server.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
    let public_url = settings.server.public_url.clone();
    let app = Application::build(settings, listener)?;
    tracing::info!(port = app.port(), %public_url, "devicelink is serving");
    app.run_until_stopped().await?;
    tracing::info!("devicelink stopped");
    Ok(())
}

async fn mock_idp(path: &std::path::Path) -> anyhow::Result<()> {
    let settings = MockIdpSettings::load(Some(path))?;
    let addr = socket_addr_of(&settings.issuer)?;
    let listener =
        TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let issuer = settings.issuer.clone();
    let idp = MockIdp::build(settings, listener)?;
    println!(
        "mock eAccess is running at {issuer} (discovery: {issuer}.well-known/openid-configuration)"
    );
    idp.run_until_stopped().await?;
    Ok(())
}

/// The address to listen on for a local URL such as http://127.0.0.1:8081.
fn socket_addr_of(url: &url::Url) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("the URL {url} names no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    (host.trim_start_matches('[').trim_end_matches(']'), port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))
}

async fn demo(mut settings: Settings) -> anyhow::Result<()> {
    let demo_portal_url = settings.demo.portal_url.clone();
    // A demo portal signs citizens in through devicelink (docs/oidc-provider.md).
    let demo_portal = if settings.provider.clients.is_empty() {
        let portal_url = settings.demo.portal_url.clone();
        let client = devicelink::provider::demo_client(&portal_url);
        let portal = DemoPortalSettings {
            issuer: settings
                .server
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            client_id: client.client_id.clone(),
            client_secret: client.secret.clone().unwrap_or_default(),
            public_url: portal_url,
        };
        settings.provider.clients.push(client);
        if settings.demo.portal {
            let addr = socket_addr_of(&portal.public_url)?;
            let listener = TcpListener::bind(addr)
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for the demo portal: {e}"))?;
            Some(devicelink::demo_portal::build(portal, listener)?)
        } else {
            None
        }
    } else {
        None
    };
    // The mock eAccess listens where the server expects eAccess, with a client whose
    // redirect URI is this server's callback.
    let issuer = settings.eaccess.issuer.clone();
    let public_url = settings.server.public_url.clone();
    let callback = public_url.join(devicelink::web::login::CALLBACK_PATH)?;
    let mock_settings = MockIdpSettings::for_local(
        issuer.clone(),
        &settings.eaccess.client_id,
        &settings.eaccess.client_secret,
        vec![callback],
        PathBuf::from("var/mock-idp/signing-key.pem"),
    );
    let mock_addr = socket_addr_of(&issuer)?;
    let mock_listener = TcpListener::bind(mock_addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {mock_addr} for the mock eAccess: {e}"))?;
    let idp = MockIdp::build(mock_settings, mock_listener)?;

    // The app runs on the WebAuthn origin: passkeys work only there (its host is the rp_id).
    let app_url = settings.webauthn.web_origin.join("/app/")?;
    let listener = TcpListener::bind(settings.server.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
    let app = Application::build(settings, listener)?;
    println!();
    println!("  devicelink demo is running");
    println!("  portal:        {public_url}   <- open this in a browser");
    println!(
        "  mock eAccess:  {issuer} (test citizens: marie, jean, sophie, luc; see docs/mock-idp.md)"
    );
    println!("  phone app:     {app_url}   <- open this in a phone-sized window (docs/app.md)");
    println!("  health:        {public_url}healthz  {public_url}readyz");
    println!(
        "  OIDC provider: {public_url}.well-known/openid-configuration (demo client: demo-portal)"
    );
    if demo_portal.is_some() {
        println!("  demo portal:   {demo_portal_url}   <- signs in through devicelink (OIDC)");
    }
    println!("  database:      var/devicelink.db (SQLite)");
    println!("  Stop with Ctrl-C.");
    println!();
    let portal = async move {
        match demo_portal {
            Some(server) => server.await,
            None => Ok(()),
        }
    };
    tokio::try_join!(app.run_until_stopped(), idp.run_until_stopped(), portal)?;
    Ok(())
}
