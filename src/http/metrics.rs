//! Prometheus instruments of one instance, and the middleware that counts requests. The
//! endpoint `GET /metrics`, which reads the shared numbers, is in `crate::ops::metrics`.
//!
//! Crate choice: `prometheus` (tikv/rust-prometheus) with default features off: the
//! long-standing Rust client, no protobuf or process collector pulled in, its own
//! registry per instance (no global state, per our house rules), and a plain text encoder.
//!
//! Two kinds of numbers:
//! - per instance, counted in memory: requests by route pattern and status class,
//!   errors (5xx), request latency. Prometheus adds them up across instances.
//! - shared, read from the database at scrape time: outbox depth by status, the age of
//!   the oldest undelivered mail, lockouts (audit events) and whether this instance is
//!   ready. Every instance reports the same shared numbers; aggregate them with `max`.
//!
//! Access: `metrics.enabled` switches the endpoint off; `metrics.bearer_token`, when set,
//! requires `Authorization: Bearer <token>` (compared in constant time). The numbers
//! reveal no personal data, but they do reveal activity; block `/metrics` at the load
//! balancer or set the token (see docs/operations.md).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The per-instance instruments and the registry that renders them. Cloning shares
/// them (the instruments are reference-counted).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    /// Set at scrape time from the database.
    outbox: IntGaugeVec,
    oldest_pending_secs: prometheus::IntGauge,
    logout_outbox: IntGaugeVec,
    lockouts: prometheus::IntGauge,
    ready: prometheus::IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "devicelink_http_requests_total",
                "HTTP requests served, by route pattern, method and status class",
            ),
            &["route", "method", "status"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "devicelink_http_errors_total",
                "HTTP requests answered with a server error (5xx), by route pattern",
            ),
            &["route"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "devicelink_http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "devicelink_outbox_messages",
                "Mail in the outbox by status (shared database: same on every instance)",
            ),
            &["status"],
        )?;
        let oldest_pending_secs = prometheus::IntGauge::new(
            "devicelink_outbox_oldest_pending_age_seconds",
            "Age of the oldest mail not yet delivered (pending or sending); 0 when none",
        )?;
        let logout_outbox = IntGaugeVec::new(
            Opts::new(
                "devicelink_logout_outbox_messages",
                "Back-channel logout tokens in the outbox by status (shared database)",
            ),
            &["status"],
        )?;
        // A gauge read from the database at each scrape, so no `_total` suffix: that is
        // for counters (Prometheus naming conventions). It only grows; use `delta()`.
        let lockouts = prometheus::IntGauge::new(
            "devicelink_device_lockouts",
            "Devices locked so far after too many wrong secret codes (audit events, shared database)",
        )?;
        let ready = prometheus::IntGauge::new(
            "devicelink_ready",
            "1 when this instance reaches the database and eAccess discovery is done, else 0",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(outbox.clone()))?;
        registry.register(Box::new(oldest_pending_secs.clone()))?;
        registry.register(Box::new(logout_outbox.clone()))?;
        registry.register(Box::new(lockouts.clone()))?;
        registry.register(Box::new(ready.clone()))?;
        Ok(Self {
            registry,
            requests,
            errors,
            latency,
            outbox,
            oldest_pending_secs,
            logout_outbox,
            lockouts,
            ready,
        })
    }

    /// Records one answered request. `route` is the matched pattern (bounded), never the
    /// raw path, so ids in paths do not explode the label set.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[route, method, class])
            .inc();
        if status >= 500 {
            self.errors.with_label_values(&[route]).inc();
        }
        self.latency.with_label_values(&[route]).observe(seconds);
    }
}

/// Methods become labels only from a fixed list (a hostile method cannot add series).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Counts every request by its route pattern; unmatched paths share one label.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .filter(|p| p != super::unrouted::PATTERN)
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe(
            &route,
            method,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// The numbers every instance reads from the shared database at scrape time.
pub struct SharedNumbers {
    pub outbox: crate::mail::OutboxStatus,
    /// The back-channel logout outbox (the same shape).
    pub logout_outbox: crate::mail::OutboxStatus,
    pub lockouts: i64,
}

impl Metrics {
    /// Sets the shared gauges before a scrape. `None` (the database is unavailable)
    /// keeps their last values; `ready` says whether this instance can serve.
    pub fn set_shared(&self, ready: bool, shared: Option<&SharedNumbers>) {
        self.ready.set(i64::from(ready));
        let Some(shared) = shared else { return };
        let o = &shared.outbox;
        for (status, n) in [
            ("pending", o.pending),
            ("sending", o.sending),
            ("sent", o.sent),
            ("dead", o.dead),
        ] {
            self.outbox.with_label_values(&[status]).set(n);
        }
        let age = o.oldest_pending_at.map_or(0, |at| {
            (chrono::Utc::now().naive_utc() - at).num_seconds().max(0)
        });
        self.oldest_pending_secs.set(age);
        let l = &shared.logout_outbox;
        for (status, n) in [
            ("pending", l.pending),
            ("sending", l.sending),
            ("sent", l.sent),
            ("dead", l.dead),
        ] {
            self.logout_outbox.with_label_values(&[status]).set(n);
        }
        self.lockouts.set(shared.lockouts);
    }

    /// Every instrument in the text exposition format.
    pub fn encode(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut body = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut body)?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_class() {
        let m = Metrics::new().unwrap();
        m.observe("/api/v1/devices/{id}", "GET", 200, 0.01);
        m.observe("/api/v1/devices/{id}", "GET", 204, 0.01);
        m.observe("/readyz", "GET", 503, 0.2);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&m.registry.gather(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                r#"devicelink_http_requests_total{method="GET",route="/api/v1/devices/{id}",status="2xx"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"devicelink_http_errors_total{route="/readyz"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"devicelink_http_request_duration_seconds_count{route="/readyz"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn odd_methods_share_one_label() {
        let method = actix_web::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&method), "other");
    }
}
