//! Request ids, access logs, 5xx logging and security headers.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use tracing::Instrument;

use super::error::{ApiError, PageError};
use super::is_api_path;

/// The id of the request being served; the response carries it as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a caller's request id only if it is short and plain, so it cannot forge log lines.
fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?;
    let is_plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    is_plain.then(|| value.to_owned())
}

/// Gives every request an id, a tracing span, an access-log line, and logs 5xx causes.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status();
    let _entered = span.enter();
    if status.is_server_error() {
        let cause = res.response().error().map(|e| {
            e.as_error::<ApiError>()
                .map(|e| format!("{e:?}"))
                .or_else(|| e.as_error::<PageError>().map(|e| format!("{e:?}")))
                .unwrap_or_else(|| format!("{e:?}"))
        });
        tracing::error!(
            status = status.as_u16(),
            cause = cause.as_deref().unwrap_or("-"),
            "request failed"
        );
    }
    tracing::info!(
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "served"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

/// Headers every response carries. The policy forbids inline script and framing.
pub fn security_headers(csp: &str, is_https: bool) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
        .add(("Content-Security-Policy", csp.to_owned()));
    if is_https {
        headers = headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    headers
}

/// Largest total size of the request headers we serve (names and values); a real
/// browser or app sends well under 8 KiB. Beyond: 431 (RFC 6585 section 5).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Longest request target (path and query) we serve. Beyond: 414 (RFC 9110 section 15.5.15).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Bounds headers and request targets, and renders every 4xx that actix itself produces
/// (payload limits of raw bodies, unknown methods, malformed requests) in our formats:
/// the JSON envelope for APIs, the error page for browsers.
pub async fn uniform_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let refusal = if req.uri().to_string().len() > MAX_URI_BYTES {
        Some(StatusCode::URI_TOO_LONG)
    } else if header_bytes > MAX_HEADER_BYTES {
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    } else {
        None
    };
    if let Some(status) = refusal {
        let response = render(status, is_api_path(req.path()));
        return Ok(req.into_response(response));
    }
    let res = next.call(req).await?;
    let status = res.status();
    let is_ours = res
        .response()
        .error()
        .is_none_or(|e| e.as_error::<ApiError>().is_some() || e.as_error::<PageError>().is_some());
    if is_ours || !status.is_client_error() {
        return Ok(res.map_into_boxed_body());
    }
    let is_api = is_api_path(res.request().path());
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, render(status, is_api)))
}

/// Our rendering of a client error actix produced.
fn render(status: StatusCode, is_api: bool) -> HttpResponse {
    let (code, key) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "api-payload-too-large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "api-unsupported-media-type")
        }
        StatusCode::URI_TOO_LONG => ("uri_too_long", "api-uri-too-long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "api-headers-too-large")
        }
        StatusCode::NOT_FOUND => ("not_found", "api-not-found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "api-method-not-allowed"),
        _ => ("invalid_request", "api-invalid-request"),
    };
    if is_api {
        ApiError::new(status, code, crate::i18n::t(key)).error_response()
    } else {
        PageError::new(
            status,
            code,
            crate::i18n::t("page-bad-request-title"),
            crate::i18n::t("page-bad-request"),
        )
        .error_response()
    }
}
