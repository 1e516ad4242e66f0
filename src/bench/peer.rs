//! The peer: the npm package `oidc-provider` (bench/peer/), driven for S2.

use super::load::LoadPlan;
use super::report::ScenarioRun;

/// Whether `bench/peer/install.sh` has been run.
pub fn installed() -> bool {
    std::path::Path::new("bench/peer/node_modules/oidc-provider").is_dir()
}

#[allow(clippy::unused_async)]
pub async fn run_s2(_plan: &LoadPlan, _devices: usize, _pin: bool) -> anyhow::Result<ScenarioRun> {
    Err(anyhow::anyhow!("the peer driver is not built yet"))
}
