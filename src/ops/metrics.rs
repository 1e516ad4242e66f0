//! `GET /metrics` (text exposition format 0.0.4): this instance's instruments
//! ([`crate::http::metrics::Metrics`]) and the shared numbers read from the database at
//! scrape time. Access rules: see [`crate::http::metrics`] and docs/operations.md.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel::prelude::*;
use subtle::ConstantTimeEq;

use crate::db::{DbConnection, StoreError};
use crate::http::ApiError;
use crate::http::metrics::SharedNumbers;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

/// The shared numbers, read in one database round trip.
fn load_shared(conn: &mut DbConnection) -> Result<SharedNumbers, StoreError> {
    use crate::db::schema::audit_events;
    let outbox = crate::mail::status_counts(conn)?;
    let lockouts = audit_events::table
        .filter(audit_events::kind.eq(crate::audit::EventKind::DeviceLocked.as_str()))
        .count()
        .get_result(conn)?;
    let logout_outbox = crate::provider::backchannel::store::count_by_status(conn)?;
    Ok(SharedNumbers {
        outbox,
        logout_outbox,
        lockouts,
    })
}

fn is_authorized(req: &HttpRequest, token: Option<&str>) -> bool {
    let Some(expected) = token.filter(|t| !t.is_empty()) else {
        return true;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[get("/metrics")]
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.metrics;
    if !settings.enabled {
        return Err(ApiError::not_found());
    }
    if !is_authorized(&req, settings.bearer_token.as_deref()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The metrics need the bearer token configured in metrics.bearer_token.",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"metrics\""),
        ));
    }
    let shared = state.db.run(load_shared).await;
    let is_ready = shared.is_ok() && state.eaccess.is_discovered();
    if let Err(err) = &shared {
        // The per-instance numbers are still worth scraping; the shared ones keep
        // their last values and `devicelink_ready` says 0.
        tracing::warn!(error = %err, "metrics: the database is unavailable");
    }
    state.metrics.set_shared(is_ready, shared.as_ref().ok());
    let body = state
        .metrics
        .encode()
        .map_err(|err| ApiError::internal(anyhow::anyhow!("metrics cannot be encoded: {err}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, prometheus::TEXT_FORMAT))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
