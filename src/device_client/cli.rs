//! `devicelink device ...`: the reference app on the command line. It talks to a
//! devicelink server over HTTP only and keeps the installation (device key, link, passkey)
//! in a JSON state file, as the mobile app keeps it on the phone.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand};
use url::Url;

use super::camera;
use super::client::{ClientError, DEFAULT_APP_ORIGIN, DeviceClient};

/// Where the state file lives unless `--state` says otherwise.
pub const DEFAULT_STATE_FILE: &str = "var/device-state.json";

/// What the reference app can do.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Link this installation: with the QR code shown in a signed-in browser (`--qr`), or
    /// directly with LuxTrust Mobile/Scan (`--luxtrust`); then the secret code, optional
    /// biometrics (a passkey), complete.
    Link(Box<LinkArgs>),
    /// Open the app: unlock with the secret code or biometrics; keeps the device-bound tokens.
    Unlock(UnlockArgs),
    /// Show the account this device is linked to (`GET /api/v1/me`).
    Me(StateArgs),
    /// Change the secret code (the current one is required).
    ChangeSecretCode(ChangeSecretCodeArgs),
    /// Unlink this device from its account.
    Unlink(StateArgs),
    /// Approve (or refuse) a portal's "Sign in with your mobile app": scan the QR code
    /// the browser shows, see which portal asks, unlock, approve.
    Approve(ApproveArgs),
}

/// `devicelink device approve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scanned").required(true).args(["qr", "code"])))]
#[command(group(clap::ArgGroup::new("how").required(true).args(["secret_code", "biometrics", "refuse"])))]
pub struct ApproveArgs {
    /// A PNG picture of the QR code (e.g. a screenshot of the browser page).
    #[arg(long, value_name = "PNG")]
    pub qr: Option<PathBuf>,
    /// The QR code's text, as a camera reads it (`devicelink-approve:...`).
    #[arg(long, value_name = "TEXT")]
    pub code: Option<String>,
    /// Approve after unlocking with this 6-digit secret code.
    #[arg(
        long,
        value_name = "DIGITS",
        env = "DEVICELINK_SECRET_CODE",
        hide_env_values = true
    )]
    pub secret_code: Option<String>,
    /// Approve after unlocking with biometrics.
    #[arg(long)]
    pub biometrics: bool,
    /// Refuse the sign-in instead.
    #[arg(long)]
    pub refuse: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Only the state file.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The installation's state file, as written by `device link`.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_FILE)]
    pub state: PathBuf,
}

/// `devicelink device unlock`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["secret_code", "biometrics"])))]
pub struct UnlockArgs {
    /// The 6-digit secret code.
    #[arg(
        long,
        value_name = "DIGITS",
        env = "DEVICELINK_SECRET_CODE",
        hide_env_values = true
    )]
    pub secret_code: Option<String>,
    /// Unlock with biometrics (the passkey registered at linking).
    #[arg(long)]
    pub biometrics: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `devicelink device change-secret-code`.
#[derive(Debug, Args)]
pub struct ChangeSecretCodeArgs {
    /// The current secret code.
    #[arg(long, value_name = "DIGITS")]
    pub current: String,
    /// The new secret code.
    #[arg(long, value_name = "DIGITS")]
    pub new: String,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `devicelink device link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Base URL of the devicelink server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: Url,

    /// A name for this device, shown in the browser and in the device list (1–64 characters).
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// What the camera sees: the link URL in the QR code, or the path to a PNG picture of
    /// the QR code (e.g. a screenshot of the browser page), which is decoded like a camera would.
    #[arg(
        long,
        value_name = "URL|PNG",
        required_unless_present = "luxtrust",
        conflicts_with = "luxtrust"
    )]
    pub qr: Option<String>,

    /// Link directly with LuxTrust `mobile` or `scan` instead of a QR code.
    #[arg(long, value_name = "PRODUCT", value_parser = ["mobile", "scan"])]
    pub luxtrust: Option<String>,

    /// With `--luxtrust` against the bundled mock eAccess: the test citizen to sign in as
    /// (e.g. marie); the client fills the mock's form itself, non-interactively.
    #[arg(long, value_name = "IDENTITY", requires = "luxtrust")]
    pub identity: Option<String>,

    /// With `--luxtrust`: the redirect URI the app registered (on the server's allow-list).
    #[arg(
        long,
        value_name = "URI",
        default_value = "lu.myportal.app:/link-callback"
    )]
    pub app_redirect_uri: String,

    /// The 6-digit secret code that will open the app.
    #[arg(
        long,
        value_name = "DIGITS",
        env = "DEVICELINK_SECRET_CODE",
        hide_env_values = true
    )]
    pub secret_code: String,

    /// Add biometrics: register a passkey with user verification (a software authenticator).
    #[arg(long, conflicts_with = "skip_biometrics")]
    pub biometrics: bool,

    /// Link without biometrics (the default): only the secret code opens the app.
    #[arg(long)]
    pub skip_biometrics: bool,

    /// The installation's state file (device key, link, passkey). Reused if it exists, so
    /// the same device key is presented again; written when linking succeeds.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_FILE)]
    pub state: PathBuf,

    /// The web origin the software passkey presents in the WebAuthn ceremony; must be one
    /// the server accepts (its `webauthn.web_origin`).
    #[arg(long, value_name = "URL", default_value = DEFAULT_APP_ORIGIN)]
    pub webauthn_origin: Url,
}

/// Runs one `devicelink device` command, printing a summary to stdout.
pub async fn run(command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Link(args) => link(*args).await,
        DeviceCommand::Unlock(args) => unlock(args).await,
        DeviceCommand::Me(args) => me(args).await,
        DeviceCommand::ChangeSecretCode(args) => change_secret_code(args).await,
        DeviceCommand::Unlink(args) => unlink(args).await,
        DeviceCommand::Approve(args) => approve(args).await,
    }
}

async fn approve(args: ApproveArgs) -> anyhow::Result<()> {
    let mut client = installed(&args.state.state)?;
    let scanned = match (&args.qr, &args.code) {
        (Some(png), _) => {
            let bytes = std::fs::read(png)
                .with_context(|| format!("cannot read the picture {}", png.display()))?;
            camera::decode_png(&bytes)?
        }
        (None, Some(code)) => code.clone(),
        (None, None) => return Err(anyhow!("give --qr or --code")),
    };
    let asking = client
        .scan_approval(&scanned)
        .await
        .map_err(|e| refused("scanning the sign-in code", e))?;
    let id = asking["approval_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "{} asks to sign you in.",
        asking["client_name"].as_str().unwrap_or("A portal")
    );
    if args.refuse {
        client
            .refuse_sign_in(&id)
            .await
            .map_err(|e| refused("refusing", e))?;
        println!("Refused. The portal is told you did not approve.");
        return Ok(());
    }
    let unlocked = match &args.secret_code {
        Some(code) => client.unlock_with_secret_code(code).await,
        None => client.unlock_with_biometrics().await,
    };
    let saved = client.save(&args.state.state);
    unlocked.map_err(|e| refused("unlocking", e))?;
    saved?;
    client
        .approve_sign_in(&id)
        .await
        .map_err(|e| refused("approving", e))?;
    println!("Approved. The browser continues to the portal.");
    Ok(())
}

fn installed(state: &Path) -> anyhow::Result<DeviceClient> {
    if !state.exists() {
        return Err(anyhow!(
            "no state file at {}: link this device first (devicelink device link ...)",
            state.display()
        ));
    }
    Ok(DeviceClient::load(state)?)
}

async fn unlock(args: UnlockArgs) -> anyhow::Result<()> {
    let mut client = installed(&args.state.state)?;
    let tokens = match &args.secret_code {
        Some(code) => client.unlock_with_secret_code(code).await,
        None => client.unlock_with_biometrics().await,
    };
    let saved = client.save(&args.state.state);
    let tokens = tokens.map_err(|e| refused("unlocking", e))?;
    saved?;
    println!(
        "Unlocked with {}: a DPoP-bound access token valid for {} s (saved in {}).",
        if args.biometrics {
            "biometrics"
        } else {
            "the secret code"
        },
        tokens["expires_in"].as_i64().unwrap_or_default(),
        args.state.state.display()
    );
    Ok(())
}

/// Runs an authenticated call; if the access token expired, refreshes once and retries.
macro_rules! with_fresh_token {
    ($client:ident, $call:expr) => {
        match $call {
            Err(e) if e.code() == Some("invalid_token") => {
                $client
                    .refresh()
                    .await
                    .map_err(|e| refused("refreshing the tokens", e))?;
                $call
            }
            other => other,
        }
    };
}

async fn me(args: StateArgs) -> anyhow::Result<()> {
    let mut client = installed(&args.state)?;
    let me = with_fresh_token!(client, client.me().await);
    client.save(&args.state)?;
    let me = me.map_err(|e| refused("reading the account", e))?;
    let espaces: Vec<String> = me["espaces"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    e["name"]
                        .as_str()
                        .or_else(|| e.as_str())
                        .unwrap_or("?")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    println!(
        "{}",
        me["display_name"].as_str().unwrap_or("(unnamed account)")
    );
    println!("  eSpaces: {}", espaces.join(", "));
    println!("  linked devices: {}", me["linked_devices"]);
    println!(
        "  this device: {} (biometrics {})",
        me["device"]["name"].as_str().unwrap_or("?"),
        if me["device"]["biometrics"] == true {
            "on"
        } else {
            "off"
        }
    );
    Ok(())
}

async fn change_secret_code(args: ChangeSecretCodeArgs) -> anyhow::Result<()> {
    let mut client = installed(&args.state.state)?;
    let changed = with_fresh_token!(
        client,
        client.change_secret_code(&args.current, &args.new).await
    );
    client.save(&args.state.state)?;
    changed.map_err(|e| refused("changing the secret code", e))?;
    println!("The secret code was changed.");
    Ok(())
}

async fn unlink(args: StateArgs) -> anyhow::Result<()> {
    let mut client = installed(&args.state)?;
    let done = with_fresh_token!(client, client.unlink().await);
    client.save(&args.state)?;
    done.map_err(|e| refused("unlinking", e))?;
    println!("This device is no longer linked. Its tokens and passkey are gone.");
    Ok(())
}

async fn link(args: LinkArgs) -> anyhow::Result<()> {
    let scanned = args.qr.as_deref().map(read_qr).transpose()?;
    let mut client = open_installation(&args.state, &args.server, &args.webauthn_origin)?;
    let is_fresh = client.state.device_id.is_none();

    let device_name = match (&scanned, &args.luxtrust) {
        (Some(scanned), _) => {
            let started = client
                .start_qr_link(&args.name)
                .await
                .map_err(|e| refused("starting the link", e))?;
            client
                .redeem_qr(scanned)
                .await
                .map_err(|e| refused("redeeming the QR code", e))?;
            started["device_name"]
                .as_str()
                .unwrap_or(args.name.trim())
                .to_owned()
        }
        (None, Some(product)) => luxtrust_binding(&mut client, &args, product).await?,
        (None, None) => return Err(anyhow!("give --qr or --luxtrust")),
    };
    client
        .set_secret_code(&args.secret_code)
        .await
        .map_err(|e| refused("setting the secret code", e))?;
    client.state.authenticator = None;
    if args.biometrics {
        client
            .add_passkey()
            .await
            .map_err(|e| refused("adding biometrics (a passkey)", e))?;
    }
    let done = client
        .complete()
        .await
        .map_err(|e| refused("completing the link", e))?;
    client
        .save(&args.state)
        .with_context(|| "the device is linked, but its state could not be saved")?;

    let account = done["account"]["display_name"]
        .as_str()
        .unwrap_or("(unnamed account)");
    let device_id = done["device_id"].as_str().unwrap_or("?");
    println!(
        "Linked “{device_name}” to the account of {account} (device id {device_id}). State saved to {}.",
        args.state.display()
    );
    println!(
        "Biometrics: {}. {}",
        if args.biometrics {
            "on (passkey registered)"
        } else {
            "off (the secret code opens the app)"
        },
        if is_fresh {
            "New device key."
        } else {
            "Device key reused from the state file."
        }
    );
    Ok(())
}

/// The LuxTrust method: start, let the (system) browser authenticate at eAccess, and
/// trade the one-time result for the binding. Returns the device name.
async fn luxtrust_binding(
    client: &mut DeviceClient,
    args: &LinkArgs,
    product: &str,
) -> anyhow::Result<String> {
    let product = format!("luxtrust_{product}");
    let started = client
        .start_luxtrust_link(&args.name, &product, &args.app_redirect_uri)
        .await
        .map_err(|e| refused("starting the link", e))?;
    let authorization_url: Url = started["authorization_url"]
        .as_str()
        .ok_or_else(|| anyhow!("the server gave no authorization_url"))?
        .parse()?;
    let Some(identity) = &args.identity else {
        return Err(anyhow!(
            "open {authorization_url} in a browser to authenticate; this client completes the step itself only against the mock eAccess (--identity)"
        ));
    };
    // The system browser: its own cookies, the phone's language, never following
    // redirects automatically.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static(super::client::app_language().code()),
    );
    let browser = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    let eaccess = follow(&browser, &authorization_url).await?;
    let callback = crate::mock_idp::script::complete_login(&browser, &eaccess, identity, &product)
        .await
        .map_err(|e| anyhow!("authenticating at the mock eAccess failed: {e}"))?;
    let back = follow(&browser, &callback).await?;
    match super::LuxtrustOutcome::from_redirect(&back)? {
        super::LuxtrustOutcome::Result(result) => {
            client
                .redeem_luxtrust_result(&result)
                .await
                .map_err(|e| refused("redeeming the LuxTrust result", e))?;
        }
        super::LuxtrustOutcome::Refused { error, description } => {
            return Err(anyhow!(
                "LuxTrust linking was refused: {error}: {description}"
            ));
        }
    }
    Ok(started["device_name"]
        .as_str()
        .unwrap_or(args.name.trim())
        .to_owned())
}

/// One GET that must answer a redirect; returns where it points.
async fn follow(browser: &reqwest::Client, url: &Url) -> anyhow::Result<Url> {
    let res = browser.get(url.clone()).send().await?;
    let location = res
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("{url} answered {} instead of a redirect", res.status()))?;
    Ok(url.join(location)?)
}

/// The installation in `path`, or a fresh one (new device key) if there is no such file.
/// The server and WebAuthn origin always come from the command line.
fn open_installation(path: &Path, server: &Url, origin: &Url) -> anyhow::Result<DeviceClient> {
    let mut client = if path.exists() {
        DeviceClient::load(path)?
    } else {
        DeviceClient::new(server.clone(), origin.clone())?
    };
    client.state.server = server.clone();
    client.state.webauthn_origin = origin.clone();
    Ok(client)
}

/// What the camera reads: the PNG at `qr` if that is an existing file, otherwise `qr`
/// itself (a link URL or a bare frame).
fn read_qr(qr: &str) -> anyhow::Result<String> {
    let path = Path::new(qr);
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {qr}"))?;
        return camera::decode_png(&bytes)
            .with_context(|| format!("cannot read a QR code in {qr}"));
    }
    let looks_like_url = Url::parse(qr).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !looks_like_url
        && Path::new(qr)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(anyhow!("no such file: {qr}"));
    }
    Ok(qr.to_owned())
}

/// A one-line account of a failed step: for an API refusal its code, HTTP status and
/// the server's sentence.
fn refused(step: impl Display, err: ClientError) -> anyhow::Error {
    match err {
        ClientError::Api {
            status,
            error,
            description,
            ..
        } => anyhow!("{step} was refused: {error} (HTTP {status}): {description}"),
        other => anyhow!("{step} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DeviceCommand,
    }

    fn parse(args: &[&str]) -> Result<LinkArgs, clap::Error> {
        let mut full = vec!["device", "link"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).map(|cli| match cli.command {
            DeviceCommand::Link(args) => *args,
            other => panic!("not a link command: {other:?}"),
        })
    }

    const REQUIRED: [&str; 8] = [
        "--server",
        "http://127.0.0.1:8080",
        "--name",
        "Phone",
        "--qr",
        "http://127.0.0.1:8080/link#abc",
        "--secret-code",
        "482913",
    ];

    #[test]
    fn defaults_are_the_demo_state_file_and_origin_without_biometrics() {
        let args = parse(&REQUIRED).unwrap();
        assert_eq!(args.state, PathBuf::from(DEFAULT_STATE_FILE));
        assert_eq!(args.webauthn_origin.as_str(), "http://localhost:8080/");
        assert!(!args.biometrics);
    }

    #[test]
    fn biometrics_and_skip_biometrics_exclude_each_other() {
        let mut both = REQUIRED.to_vec();
        both.extend(["--biometrics", "--skip-biometrics"]);
        assert!(parse(&both).is_err());
        let mut on = REQUIRED.to_vec();
        on.push("--biometrics");
        assert!(parse(&on).unwrap().biometrics);
    }

    #[test]
    fn a_link_url_is_passed_through_and_a_missing_png_is_refused() {
        assert_eq!(
            read_qr("http://127.0.0.1:8080/link#frame").unwrap(),
            "http://127.0.0.1:8080/link#frame"
        );
        let err = read_qr("/nonexistent/screenshot.png").unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }

    #[test]
    fn an_api_refusal_names_the_step_code_status_and_sentence() {
        let err = refused(
            "redeeming the QR code",
            ClientError::Api {
                status: 409,
                error: "qr_code_already_used".into(),
                description: "This QR code has already been used.".into(),
                body: serde_json::Value::Null,
            },
        );
        assert_eq!(
            err.to_string(),
            "redeeming the QR code was refused: qr_code_already_used (HTTP 409): This QR code has already been used."
        );
    }
}
