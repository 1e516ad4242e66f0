//! `devicelink bench`: the load benchmark of the hot paths (issue #10, docs/performance.md).
//!
//! The harness starts the same binary's `demo` as a child process pinned to core 1 with
//! `taskset` (the load generator runs on core 0), provisions accounts and linked devices
//! through the real API, measures the raw crypto in the same run, then runs each scenario
//! in a closed loop (to find saturation) and an open loop at 50% and 80% of it (latency
//! from the intended send time). It prints a table and writes JSON under `--out`.

// Counts and durations here stay far below 2^52: f64 statistics are exact enough.
#![allow(clippy::cast_precision_loss)]

pub mod baseline;
pub mod load;
pub mod peer;
pub mod provision;
pub mod report;
pub mod scenarios;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use crate::config::Settings;
use load::{LoadPlan, RunResult};
use scenarios::{Ctx, Scenario};

/// Options of `devicelink bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Scenarios to run: `all`, or a comma-separated list such as `S0,S3`.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub scenario: String,
    /// `sqlite` (a fresh file in a temporary folder) or a PostgreSQL URL such as
    /// `postgres://postgres@127.0.0.1:5432/postgres` (a fresh database is created on that
    /// server and dropped afterwards).
    #[arg(long, default_value = "sqlite", value_name = "sqlite|URL")]
    pub db: String,
    /// Seconds measured per load level.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub duration: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 1.5, value_name = "SECS")]
    pub warmup: f64,
    /// A smoke run: a second or so per level, few devices.
    #[arg(long)]
    pub quick: bool,
    /// Linked devices provisioned (the most concurrent device workers).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub devices: usize,
    /// Also drive the peer (`oidc-provider`, bench/peer/) for S2; by default it runs with
    /// `--scenario all` when bench/peer/node_modules exists.
    #[arg(long)]
    pub peer: bool,
    /// Never run the peer.
    #[arg(long, conflicts_with = "peer")]
    pub no_peer: bool,
    /// Folder the JSON report is written to.
    #[arg(long, default_value = "target/bench", value_name = "DIR")]
    pub out: PathBuf,
}

impl BenchArgs {
    fn plan(&self) -> LoadPlan {
        if self.quick {
            LoadPlan {
                warmup: Duration::from_millis(300),
                duration: Duration::from_millis(1200),
                levels: vec![2, 8],
            }
        } else {
            LoadPlan {
                warmup: Duration::from_secs_f64(self.warmup.max(0.0)),
                duration: Duration::from_secs_f64(self.duration.max(0.5)),
                levels: vec![4, 16, 32],
            }
        }
    }

    fn scenarios(&self) -> anyhow::Result<Vec<Scenario>> {
        if self.scenario.eq_ignore_ascii_case("all") {
            return Ok(Scenario::ALL.to_vec());
        }
        self.scenario
            .split(',')
            .map(|s| {
                Scenario::parse(s.trim())
                    .ok_or_else(|| anyhow::anyhow!("unknown scenario {s:?} (S0 to S8 or all)"))
            })
            .collect()
    }
}

/// Pins the calling process (all its threads) to `core` with `taskset`; returns whether
/// it worked. Called before the runtime starts, so every thread inherits it.
pub fn pin_self(core: usize) -> bool {
    std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the benchmark; `config` is the `--config` file given to `devicelink`.
pub async fn run(args: BenchArgs, config: Option<PathBuf>, pinned: bool) -> anyhow::Result<()> {
    let scenarios = args.scenarios()?;
    let plan = args.plan();
    let settings = Settings::load(config.as_deref()).context("loading the settings")?;
    let started_at = chrono::Utc::now();
    let load_at_start = report::load_average();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let machine_cores = report::machine_cores();

    eprintln!("bench: measuring the raw crypto (same run, load-generator core)");
    let baseline = baseline::measure(&settings, args.quick)?;

    let server = server::BenchServer::start(&args.db, config.as_deref(), machine_cores >= 2)
        .await
        .context("starting the server")?;
    let result = run_against(&args, &plan, &scenarios, &settings, &server, &baseline).await;
    let server_info = server.describe();
    server.stop().await;
    let runs = result?;

    let peer = if !args.no_peer
        && (args.peer || (args.scenario.eq_ignore_ascii_case("all") && peer::installed()))
    {
        eprintln!("bench: the peer (oidc-provider) for S2");
        match peer::run_s2(&plan, args.devices, machine_cores >= 2).await {
            Ok(r) => Some(Ok(r)),
            Err(e) => Some(Err(format!("{e:#}"))),
        }
    } else {
        None
    };

    let doc = report::Report {
        started_at,
        load_at_start,
        harness_cores: cores,
        machine_cores,
        pinned,
        server: server_info,
        baseline,
        plan,
        runs,
        peer,
    };
    let json = doc.to_json();
    doc.print_table();
    let path = report::write_json(&args.out, &json)?;
    println!("JSON report: {}", path.display());
    Ok(())
}

async fn run_against(
    args: &BenchArgs,
    plan: &LoadPlan,
    scenarios: &[Scenario],
    settings: &Settings,
    server: &server::BenchServer,
    baseline: &baseline::Baseline,
) -> anyhow::Result<Vec<report::ScenarioRun>> {
    let devices = if args.quick {
        args.devices.min(8)
    } else {
        args.devices
    };
    let needs_devices = scenarios.iter().any(|s| s.needs_device());
    eprintln!(
        "bench: provisioning through the API ({} devices)",
        if needs_devices { devices } else { 0 }
    );
    let ctx = Arc::new(
        provision::provision(
            settings,
            server,
            if needs_devices { devices } else { 0 },
            if scenarios
                .iter()
                .any(|s| matches!(s, Scenario::S4 | Scenario::S7 | Scenario::S8))
            {
                devices
            } else {
                0
            },
        )
        .await
        .context("provisioning accounts and devices")?,
    );
    let mut runs = Vec::new();
    for &scenario in scenarios {
        if let Some(reason) = ctx.unavailable(scenario) {
            eprintln!("bench: {} n/a: {reason}", scenario.name());
            runs.push(report::ScenarioRun::not_available(scenario, reason));
            continue;
        }
        eprintln!("bench: {} ({})", scenario.name(), scenario.title());
        let run = run_scenario(&ctx, plan, scenario, server, baseline).await?;
        runs.push(run);
    }
    Ok(runs)
}

async fn run_scenario(
    ctx: &Arc<Ctx>,
    plan: &LoadPlan,
    scenario: Scenario,
    server: &server::BenchServer,
    baseline: &baseline::Baseline,
) -> anyhow::Result<report::ScenarioRun> {
    let max_conc = if scenario.needs_device() {
        ctx.pool.len()
    } else if matches!(scenario, Scenario::S4 | Scenario::S7) {
        ctx.browsers.len()
    } else {
        usize::MAX
    };
    if scenario == Scenario::S8 {
        server.reset_peak_rss();
    }
    let (closed, best, open) = measure(ctx, plan, scenario, max_conc, server.pid()).await;
    let peak_rss_kib = (scenario == Scenario::S8)
        .then(|| server.peak_rss_kib())
        .flatten();
    Ok(report::ScenarioRun::measured(
        scenario,
        ctx.note(scenario),
        closed,
        best,
        open,
        baseline.ceiling(scenario, ctx.mix()),
        peak_rss_kib,
    ))
}

/// Measured runs of one scenario: closed loop at each level, the best level, and open loop
/// at 50% and 80% of the best throughput.
pub type Measured = (
    Vec<(usize, RunResult)>,
    Option<usize>,
    Vec<(u32, f64, RunResult)>,
);

/// Runs `scenario` on `driver` in a closed loop at each level of `plan` (at most
/// `max_conc` workers), then in an open loop at 50% and 80% of the saturation found;
/// `pid` is the server whose CPU time is read.
pub async fn measure<D: load::Driver>(
    driver: &Arc<D>,
    plan: &LoadPlan,
    scenario: Scenario,
    max_conc: usize,
    pid: u32,
) -> Measured {
    let mut levels: Vec<usize> = plan.levels.iter().map(|&l| l.min(max_conc)).collect();
    levels.dedup();
    let mut closed: Vec<(usize, RunResult)> = Vec::new();
    for (i, &conc) in levels.iter().enumerate() {
        let warmup = if i == 0 { plan.warmup } else { plan.warmup / 3 };
        let r = load::closed_loop(driver, scenario, conc, warmup, plan.duration, pid).await;
        eprintln!(
            "  closed loop, {conc:>3} workers: {:>8.1} ops/s, server CPU {:>5.1}%, errors {}",
            r.throughput(),
            r.server_cpu_fraction() * 100.0,
            r.errors
        );
        closed.push((conc, r));
    }
    let best = closed
        .iter()
        .max_by(|a, b| a.1.throughput().total_cmp(&b.1.throughput()))
        .map(|(c, r)| (*c, r.clone()));
    let mut open = Vec::new();
    if let Some((_, best)) = &best {
        let saturation = best.throughput();
        for pct in [50u32, 80] {
            let rate = saturation * f64::from(pct) / 100.0;
            if rate < 0.5 {
                continue;
            }
            let r =
                load::open_loop(driver, scenario, rate, plan.warmup / 2, plan.duration, pid).await;
            eprintln!(
                "  open loop at {pct}% ({rate:.1}/s): p50 {:.2} ms, p99 {:.2} ms, errors {}",
                r.percentile_ms(50.0),
                r.percentile_ms(99.0),
                r.errors
            );
            open.push((pct, rate, r));
        }
    }
    (closed, best.map(|b| b.0), open)
}

/// A JSON value's field as f64, for the smoke test and the table.
pub fn number(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

/// The git commit of the working tree, `unknown` outside a checkout.
pub fn git_commit() -> Value {
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty());
    json!({"rev": rev.unwrap_or_else(|| "unknown".into()), "dirty": dirty})
}
