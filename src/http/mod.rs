//! The HTTP edge: error rendering, middleware, extractor limits, health endpoints.

pub mod error;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod rate_limit;
pub mod redirect_uri;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use std::future::{Ready, ready};

pub use error::{ApiError, PageError};
pub use middleware::RequestId;

/// Whether a path belongs to a machine-facing API (JSON errors) rather than a page.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || path.starts_with("/oauth2/")
        || matches!(
            path,
            "/oidc/token" | "/oidc/userinfo" | "/oidc/revoke" | "/oidc/introspect"
        )
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
}

/// Limits and clear errors for JSON, form, query and path extraction.
pub fn configure_extractors(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|err, _req| json_error(&err).into()),
    )
    .app_data(
        web::FormConfig::default()
            .limit(max_body_bytes)
            .error_handler(|err, req| form_error(&err, req)),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, req| {
        let description = format!("The query string is not valid: {err}");
        if is_api_path(req.path()) {
            ApiError::bad_request("invalid_request", description).into()
        } else {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "This link is not valid",
                "The address you followed is incomplete or damaged. Go back and try again.",
            )
            .into()
        }
    }))
    .app_data(web::PathConfig::default().error_handler(|_err, req| {
        if is_api_path(req.path()) {
            ApiError::not_found().into()
        } else {
            PageError::not_found().into()
        }
    }));
}

fn json_error(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the request body as JSON with the header Content-Type: application/json.",
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(
            "invalid_request",
            format!("The request body is not valid: {e}."),
        ),
        _ => ApiError::bad_request("invalid_request", "The request body could not be read."),
    }
}

fn form_error(err: &UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let too_large = matches!(
        err,
        UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength
    );
    if is_api_path(req.path()) {
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
            .into()
        } else {
            ApiError::bad_request("invalid_request", format!("The form is not valid: {err}."))
                .into()
        }
    } else {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form",
            "The form could not be read",
            "What was sent is incomplete or damaged. Go back, reload the page and try again.",
        )
        .into()
    }
}

/// Answers unknown routes: JSON for APIs, a page for browsers.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if is_api_path(req.path()) {
        Err(ApiError::not_found().into())
    } else {
        Err(PageError::not_found().into())
    }
}

/// Who sent a request, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl FromRequest for RequestContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        ready(Ok(Self {
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent,
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        }))
    }
}

/// The one stylesheet, compiled into the binary.
#[actix_web::get("/static/style.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/style.css"))
}
