//! Closed loop (N workers back to back, to find saturation) and open loop (a fixed
//! arrival rate; latency from the intended send time, so a slow server cannot slow the
//! generator down and hide its own queueing: no coordinated omission).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::scenarios::Scenario;
use super::server::cpu_seconds;

/// What a load loop drives: one operation of a scenario against one server (ours, or the
/// peer for S2).
pub trait Driver: Send + Sync + 'static {
    /// Runs one operation; `pick` in [0, 1) chooses within mixed scenarios.
    fn op(
        &self,
        scenario: Scenario,
        pick: f64,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Levels and durations of one run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub warmup: Duration,
    pub duration: Duration,
    /// Closed-loop concurrency levels tried.
    pub levels: Vec<usize>,
}

/// The outcome of one measured window.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub ops: u64,
    pub errors: u64,
    pub seconds: f64,
    /// CPU seconds the server used during the window.
    pub server_cpu: f64,
    /// CPU seconds the load generator used during the window.
    pub client_cpu: f64,
    /// Latencies in microseconds.
    pub hist: Histogram<u64>,
    pub first_error: Option<String>,
    /// Open loop: sends that could not even start (too many in flight) or never finished.
    pub dropped: u64,
}

impl RunResult {
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    pub fn server_cpu_fraction(&self) -> f64 {
        self.server_cpu / self.seconds.max(1e-9)
    }

    pub fn client_cpu_fraction(&self) -> f64 {
        self.client_cpu / self.seconds.max(1e-9)
    }

    /// Successful operations per CPU second of the server.
    pub fn ops_per_core_second(&self) -> Option<f64> {
        (self.server_cpu > 0.0).then(|| self.ops as f64 / self.server_cpu)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        self.hist.value_at_quantile(p / 100.0) as f64 / 1000.0
    }
}

struct Acc {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    dropped: u64,
}

impl Acc {
    fn new() -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Self {
            // 1 µs to 10 min, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 digits are valid"))
            }),
            ops: 0,
            errors: 0,
            first_error: None,
            dropped: 0,
        }))
    }
}

fn record(acc: &Mutex<Acc>, latency: Duration, result: Result<(), String>) {
    let Ok(mut acc) = acc.lock() else { return };
    match result {
        Ok(()) => {
            acc.ops += 1;
            let _ = acc.hist.record((latency.as_micros() as u64).max(1));
        }
        Err(e) => {
            acc.errors += 1;
            if acc.first_error.is_none() {
                acc.first_error = Some(e);
            }
        }
    }
}

struct Window {
    server0: f64,
    client0: f64,
    at: Instant,
}

impl Window {
    fn open(pid: u32) -> Self {
        Self {
            server0: cpu_seconds(pid),
            client0: cpu_seconds(std::process::id()),
            at: Instant::now(),
        }
    }

    fn close(self, pid: u32, acc: &Mutex<Acc>) -> RunResult {
        let seconds = self.at.elapsed().as_secs_f64();
        let server_cpu = cpu_seconds(pid) - self.server0;
        let client_cpu = cpu_seconds(std::process::id()) - self.client0;
        let acc = acc
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        RunResult {
            ops: acc.ops,
            errors: acc.errors,
            seconds,
            server_cpu,
            client_cpu,
            hist: acc.hist.clone(),
            first_error: acc.first_error.clone(),
            dropped: acc.dropped,
        }
    }
}

/// `workers` workers each run operations back to back; operations completing inside the
/// measured window count.
pub async fn closed_loop<D: Driver>(
    ctx: &Arc<D>,
    scenario: Scenario,
    workers: usize,
    warmup: Duration,
    duration: Duration,
    pid: u32,
) -> RunResult {
    let start = Instant::now();
    let measure_start = start + warmup;
    let end = measure_start + duration;
    let acc = Acc::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let ctx = Arc::clone(ctx);
        let acc = Arc::clone(&acc);
        tasks.spawn(async move {
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let result = ctx.op(scenario, rand::random::<f64>()).await;
                let t1 = Instant::now();
                if t1 >= measure_start && t1 <= end {
                    record(&acc, t1 - t0, result);
                }
            }
        });
    }
    tokio::time::sleep_until(measure_start).await;
    let window = Window::open(pid);
    tokio::time::sleep_until(end).await;
    let result = window.close(pid, &acc);
    // Let the last operations finish (they are not counted) so the next run starts clean.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    result
}

/// Most operations in flight in the open loop; beyond, a send is counted as dropped.
const MAX_IN_FLIGHT: usize = 4096;

/// Sends at `rate` per second on a fixed schedule; each latency runs from the intended
/// send time to the response.
pub async fn open_loop<D: Driver>(
    ctx: &Arc<D>,
    scenario: Scenario,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    pid: u32,
) -> RunResult {
    let start = Instant::now() + Duration::from_millis(10);
    let measure_start = start + warmup;
    let end = measure_start + duration;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let acc = Acc::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut window = None;
    let mut measured_sends = 0u64;
    for i in 0u32.. {
        let intended = start + interval * i;
        if intended >= end {
            break;
        }
        if window.is_none() && intended >= measure_start {
            tokio::time::sleep_until(measure_start).await;
            window = Some(Window::open(pid));
        }
        tokio::time::sleep_until(intended).await;
        while tasks.try_join_next().is_some() {}
        let measured = intended >= measure_start;
        measured_sends += u64::from(measured);
        if tasks.len() >= MAX_IN_FLIGHT {
            if measured {
                if let Ok(mut a) = acc.lock() {
                    a.dropped += 1;
                }
            }
            continue;
        }
        let ctx = Arc::clone(ctx);
        let acc = Arc::clone(&acc);
        tasks.spawn(async move {
            let result = ctx.op(scenario, rand::random::<f64>()).await;
            if measured {
                record(&acc, intended.elapsed(), result);
            }
        });
    }
    tokio::time::sleep_until(end).await;
    let window = window.unwrap_or_else(|| Window::open(pid));
    // The window covers the sends; latencies of late answers still count, so wait.
    let mut result = window.close(pid, &acc);
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    let acc = acc
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    result.hist = acc.hist.clone();
    result.ops = acc.ops;
    result.errors = acc.errors;
    result.first_error.clone_from(&acc.first_error);
    result.dropped = measured_sends.saturating_sub(acc.ops + acc.errors);
    result
}
