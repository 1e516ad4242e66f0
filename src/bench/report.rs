//! The table on stdout and the JSON document under `--out`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::baseline::{Baseline, Ceiling};
use super::load::{LoadPlan, RunResult};
use super::scenarios::Scenario;

/// One scenario's figures (or why it did not run).
pub struct ScenarioRun {
    pub scenario: Scenario,
    pub note: Option<String>,
    pub not_available: Option<String>,
    pub closed: Vec<(usize, RunResult)>,
    pub best_workers: Option<usize>,
    pub open: Vec<(u32, f64, RunResult)>,
    pub ceiling: Option<Ceiling>,
    pub peak_rss_kib: Option<u64>,
}

impl ScenarioRun {
    pub fn not_available(scenario: Scenario, reason: String) -> Self {
        Self {
            scenario,
            note: None,
            not_available: Some(reason),
            closed: Vec::new(),
            best_workers: None,
            open: Vec::new(),
            ceiling: None,
            peak_rss_kib: None,
        }
    }

    pub fn measured(
        scenario: Scenario,
        note: Option<String>,
        closed: Vec<(usize, RunResult)>,
        best_workers: Option<usize>,
        open: Vec<(u32, f64, RunResult)>,
        ceiling: Option<Ceiling>,
        peak_rss_kib: Option<u64>,
    ) -> Self {
        Self {
            scenario,
            note,
            not_available: None,
            closed,
            best_workers,
            open,
            ceiling,
            peak_rss_kib,
        }
    }

    pub fn best(&self) -> Option<&RunResult> {
        let w = self.best_workers?;
        self.closed.iter().find(|(c, _)| *c == w).map(|(_, r)| r)
    }

    pub fn saturation(&self) -> Option<f64> {
        self.best().map(RunResult::throughput)
    }

    pub fn ops_per_core_second(&self) -> Option<f64> {
        self.best().and_then(RunResult::ops_per_core_second)
    }

    pub fn fraction_of_ceiling(&self) -> Option<f64> {
        Some(self.ops_per_core_second()? / self.ceiling.as_ref()?.ops_per_core_second)
    }

    pub fn open_at(&self, pct: u32) -> Option<&RunResult> {
        self.open
            .iter()
            .find(|(p, _, _)| *p == pct)
            .map(|(_, _, r)| r)
    }

    fn to_json(&self) -> Value {
        if let Some(reason) = &self.not_available {
            return json!({"scenario": self.scenario.name(), "title": self.scenario.title(), "status": "n/a", "reason": reason});
        }
        json!({
            "scenario": self.scenario.name(),
            "title": self.scenario.title(),
            "status": "measured",
            "note": self.note,
            "saturation_ops_per_second": self.saturation(),
            "saturation_workers": self.best_workers,
            "ops_per_server_core_second": self.ops_per_core_second(),
            "crypto_ceiling_ops_per_core_second": self.ceiling.as_ref().map(|c| c.ops_per_core_second),
            "crypto_ceiling_formula": self.ceiling.as_ref().map(|c| c.formula.clone()),
            "fraction_of_crypto_ceiling": self.fraction_of_ceiling(),
            "closed_loop": self.closed.iter().map(|(w, r)| {
                let mut v = run_json(r);
                v["workers"] = json!(w);
                v
            }).collect::<Vec<_>>(),
            "open_loop": self.open.iter().map(|(pct, rate, r)| {
                let mut v = run_json(r);
                v["percent_of_saturation"] = json!(pct);
                v["target_rate_per_second"] = json!(rate);
                v
            }).collect::<Vec<_>>(),
            "server_peak_rss_kib": self.peak_rss_kib,
        })
    }
}

fn run_json(r: &RunResult) -> Value {
    json!({
        "ops": r.ops,
        "errors": r.errors,
        "dropped": r.dropped,
        "first_error": r.first_error,
        "seconds": r.seconds,
        "ops_per_second": r.throughput(),
        "server_cpu_seconds": r.server_cpu,
        "server_cpu_fraction": r.server_cpu_fraction(),
        "client_cpu_fraction": r.client_cpu_fraction(),
        "ops_per_server_core_second": r.ops_per_core_second(),
        "latency_ms": {
            "p50": r.percentile_ms(50.0),
            "p95": r.percentile_ms(95.0),
            "p99": r.percentile_ms(99.0),
            "max": r.hist.max() as f64 / 1000.0,
        },
    })
}

/// The whole run.
pub struct Report {
    pub started_at: DateTime<Utc>,
    pub load_at_start: Option<[f64; 3]>,
    pub harness_cores: usize,
    pub machine_cores: usize,
    pub pinned: bool,
    pub server: Value,
    pub baseline: Baseline,
    pub plan: LoadPlan,
    pub runs: Vec<ScenarioRun>,
    pub peer: Option<Result<ScenarioRun, String>>,
}

const P99_TARGET_MS: f64 = 25.0;

impl Report {
    fn run(&self, s: Scenario) -> Option<&ScenarioRun> {
        self.runs
            .iter()
            .find(|r| r.scenario == s && r.not_available.is_none())
    }

    fn peer_run(&self) -> Option<&ScenarioRun> {
        self.peer.as_ref()?.as_ref().ok()
    }

    /// Each target of issue #10 with the measured value and met / missed / n/a.
    fn targets(&self) -> Vec<Value> {
        let is_pg = self.server["database"] == "postgres";
        let mut out = Vec::new();
        let mut push =
            |name: &str, value: Option<f64>, limit: f64, higher_is_better: bool, applies: bool| {
                let status = match (value, applies) {
                    (_, false) => "n/a (other database)",
                    (None, _) => "n/a (not measured)",
                    (Some(v), true) if (v >= limit) == higher_is_better => "met",
                    _ => "missed",
                };
                out.push(json!({"target": name, "value": value, "limit": limit, "status": status}));
            };
        push(
            "S3 >= 50% of its crypto ceiling per server core",
            self.run(Scenario::S3)
                .and_then(ScenarioRun::fraction_of_ceiling),
            0.5,
            true,
            true,
        );
        push(
            "S2 >= 1,200 refreshes per server core-second (PostgreSQL)",
            self.run(Scenario::S2)
                .and_then(ScenarioRun::ops_per_core_second),
            1200.0,
            true,
            is_pg,
        );
        push(
            "S2 refreshes per server core-second, SQLite (informative; the target is PostgreSQL's)",
            self.run(Scenario::S2)
                .and_then(ScenarioRun::ops_per_core_second),
            1200.0,
            true,
            !is_pg,
        );
        push(
            "S2 >= 3x the peer's S2 (per server core-second)",
            self.run(Scenario::S2)
                .and_then(ScenarioRun::ops_per_core_second)
                .zip(self.peer_run().and_then(ScenarioRun::ops_per_core_second))
                .map(|(a, b)| a / b),
            3.0,
            true,
            true,
        );
        for s in [Scenario::S2, Scenario::S3, Scenario::S8] {
            push(
                &format!("{} p99 < 25 ms at 80% of saturation", s.name()),
                self.run(s)
                    .and_then(|r| r.open_at(80))
                    .map(|r| r.percentile_ms(99.0)),
                P99_TARGET_MS,
                false,
                true,
            );
        }
        push(
            "S6 >= 90% of the raw Argon2 rate (per server core-second)",
            self.run(Scenario::S6)
                .and_then(ScenarioRun::ops_per_core_second)
                .map(|v| v / self.baseline.argon2_per_second()),
            0.9,
            true,
            true,
        );
        push(
            "server resident memory < 150 MB (VmHWM) during S8",
            self.run(Scenario::S8)
                .and_then(|r| r.peak_rss_kib)
                .map(|k| k as f64 * 1024.0 / 1e6),
            150.0,
            false,
            true,
        );
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "tool": "devicelink bench",
            "commit": super::git_commit(),
            "started_at": self.started_at.to_rfc3339(),
            "machine": {
                "cores": self.machine_cores,
                "cpu": cpu_model(),
                "load_average_at_start": self.load_at_start,
                "load_generator_cores": self.harness_cores,
                "pinned": self.pinned,
            },
            "server": self.server,
            "plan": {
                "warmup_seconds": self.plan.warmup.as_secs_f64(),
                "duration_seconds": self.plan.duration.as_secs_f64(),
                "closed_loop_workers": self.plan.levels,
                "open_loop_percent_of_saturation": [50, 80],
            },
            "baseline": self.baseline.to_json(),
            "scenarios": self.runs.iter().map(ScenarioRun::to_json).collect::<Vec<_>>(),
            "peer": match &self.peer {
                None => json!(null),
                Some(Ok(run)) => {
                    let mut v = run.to_json();
                    v["implementation"] = json!("oidc-provider (npm), bench/peer/");
                    v
                }
                Some(Err(e)) => json!({"status": "failed", "error": e}),
            },
            "targets": self.targets(),
        })
    }

    pub fn print_table(&self) {
        println!();
        println!(
            "devicelink bench: {} cores, load average at start {}, database {}",
            self.machine_cores,
            self.load_at_start.map_or_else(
                || "?".into(),
                |l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
            ),
            self.server["database"].as_str().unwrap_or("?"),
        );
        println!(
            "crypto on one core: ES256 sign {:.0}/s, verify {:.0}/s, Argon2 ({} KiB, t={}) {:.1}/s",
            1.0 / self.baseline.es256_sign,
            1.0 / self.baseline.es256_verify,
            self.baseline.argon2_params.m_cost_kib,
            self.baseline.argon2_params.t_cost,
            self.baseline.argon2_per_second(),
        );
        println!();
        println!(
            "{:<7} {:>9} {:>4} {:>6} {:>9} {:>9} {:>6} {:>23} {:>23} {:>6}",
            "",
            "sat ops/s",
            "wrk",
            "srvCPU",
            "ops/core·s",
            "ceiling",
            "of ceil",
            "p50/p95/p99 ms @50%",
            "p50/p95/p99 ms @80%",
            "errors"
        );
        let s0 = self
            .run(Scenario::S0)
            .and_then(ScenarioRun::ops_per_core_second);
        let rows = self
            .runs
            .iter()
            .map(|r| ("", r))
            .chain(self.peer_run().map(|r| ("peer ", r)));
        for (prefix, run) in rows {
            let name = format!("{prefix}{}", run.scenario.name());
            if let Some(reason) = &run.not_available {
                println!("{name:<7} n/a: {reason}");
                continue;
            }
            let lat = |pct| {
                run.open_at(pct).map_or_else(
                    || "-".to_owned(),
                    |r| {
                        format!(
                            "{:.1}/{:.1}/{:.1}",
                            r.percentile_ms(50.0),
                            r.percentile_ms(95.0),
                            r.percentile_ms(99.0)
                        )
                    },
                )
            };
            let errors: u64 = run.closed.iter().map(|(_, r)| r.errors).sum::<u64>()
                + run
                    .open
                    .iter()
                    .map(|(_, _, r)| r.errors + r.dropped)
                    .sum::<u64>();
            println!(
                "{:<7} {:>9.1} {:>4} {:>5.0}% {:>9.0} {:>9} {:>6} {:>23} {:>23} {:>6}",
                name,
                run.saturation().unwrap_or(0.0),
                run.best_workers.unwrap_or(0),
                run.best().map_or(0.0, RunResult::server_cpu_fraction) * 100.0,
                run.ops_per_core_second().unwrap_or(0.0),
                run.ceiling
                    .as_ref()
                    .map_or_else(|| "-".into(), |c| format!("{:.0}", c.ops_per_core_second)),
                run.fraction_of_ceiling()
                    .map_or_else(|| "-".into(), |f| format!("{:.0}%", f * 100.0)),
                lat(50),
                lat(80),
                errors,
            );
        }
        if let Some(s0) = s0 {
            println!();
            println!("framework ceiling (S0): {s0:.0} requests per server core-second");
        }
        if let (Some(ours), Some(peer)) = (
            self.run(Scenario::S2)
                .and_then(ScenarioRun::ops_per_core_second),
            self.peer_run().and_then(ScenarioRun::ops_per_core_second),
        ) {
            println!(
                "S2 ours ÷ peer (per server core-second): {:.2}x",
                ours / peer
            );
        }
        if let Some(Err(e)) = &self.peer {
            println!("peer: failed: {e}");
        }
        if let Some(rss) = self.run(Scenario::S8).and_then(|r| r.peak_rss_kib) {
            println!("server peak RSS during S8: {:.1} MiB", rss as f64 / 1024.0);
        }
        println!();
        println!("targets:");
        for t in self.targets() {
            println!(
                "  {:<8} {} (value {})",
                t["status"].as_str().unwrap_or("?"),
                t["target"].as_str().unwrap_or("?"),
                t["value"]
                    .as_f64()
                    .map_or_else(|| "-".into(), |v| format!("{v:.3}")),
            );
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Online cores of the machine (not only those this process may use).
pub fn machine_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
}

/// Writes the report as `bench-<time>-<db>.json` and `latest-<db>.json` in `dir`.
pub fn write_json(dir: &Path, report: &Value) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let db = report["server"]["database"].as_str().unwrap_or("db");
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("bench-{stamp}-{db}.json"));
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(&path, &text)?;
    std::fs::write(dir.join(format!("latest-{db}.json")), &text)?;
    Ok(path)
}
