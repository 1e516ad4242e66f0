//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// The process is alive and serving HTTP.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

/// The instance can serve citizens: the database answers within the pool timeout.
#[get("/readyz")]
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
