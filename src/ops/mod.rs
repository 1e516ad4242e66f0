//! The operator's endpoints: liveness and readiness probes, Prometheus metrics.

pub mod health;
pub mod metrics;
