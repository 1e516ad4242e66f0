//! The `devicelink` command: a thin shell over the library.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use devicelink::Application;
use devicelink::config::{Profile, Settings};
use devicelink::db::Db;

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
}

/// Exit code for unusable configuration (as sysexits' EX_USAGE family: 2).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let profile = match cli.command {
        Command::Serve | Command::Migrate => Profile::Production,
        Command::Demo => Profile::Local,
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
            Command::Serve => serve(settings).await,
            Command::Demo => demo(settings).await,
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

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::open(&settings.database)?;
    // `open` already applied everything pending; report the state.
    let pending = db.migrate()?;
    println!("migrations are up to date ({pending} applied just now)");
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

async fn demo(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.server.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
    let public_url = settings.server.public_url.clone();
    let app = Application::build(settings, listener)?;
    println!();
    println!("  devicelink demo is running");
    println!("  portal:        {public_url}");
    println!("  health:        {public_url}healthz");
    println!("  database:      var/devicelink.db (SQLite)");
    println!("  Stop with Ctrl-C.");
    println!();
    app.run_until_stopped().await?;
    Ok(())
}
