//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, route, web};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// The process is alive and serving HTTP.
/// `HEAD` answers like `GET`, without a body (load balancers probe with either).
#[route("/healthz", method = "GET", method = "HEAD")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

/// The instance can serve citizens: the database answers within the pool timeout.
#[route("/readyz", method = "GET", method = "HEAD")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.ping().await;
    if let Err(err) = &database {
        tracing::warn!(error = %err, "readiness check failed: database");
    }
    let eaccess = state.eaccess.is_discovered();
    let checks = json!({
        "database": if database.is_ok() { "ok" } else { "unavailable" },
        "eaccess": if eaccess { "ok" } else { "unavailable" },
    });
    let problem = match (database.is_ok(), eaccess) {
        (true, true) => None,
        (false, _) => Some("The database is unavailable."),
        (true, false) => Some("eAccess has not answered discovery yet; sign-in is unavailable."),
    };
    match problem {
        None => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({"status": "ready", "checks": checks})),
        Some(description) => HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Retry-After", "5"))
            .json(json!({
                "error": "not_ready",
                "error_description": description,
                "checks": checks,
            })),
    }
}
