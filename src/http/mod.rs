//! The HTTP edge: error rendering, middleware, extractor limits, health endpoints.

pub mod error;
pub mod metrics;
pub mod middleware;
pub mod rate_limit;
pub mod unrouted;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use crate::audit::RequestContext;
pub use error::{ApiError, PageError};
pub use middleware::RequestId;

/// Whether a path belongs to a machine-facing API (JSON errors) rather than a page.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || path.starts_with("/oauth2/")
        || matches!(
            path,
            "/oidc/token" | "/oidc/par" | "/oidc/userinfo" | "/oidc/revoke" | "/oidc/introspect"
        )
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
}

/// Limits and clear errors for JSON, form, query and path extraction.
pub fn configure_extractors(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    // Raw bodies (`web::Bytes`, e.g. the unlink selection): the same bound; an overflow
    // is rendered by `middleware::uniform_errors`.
    cfg.app_data(web::PayloadConfig::default().limit(max_body_bytes))
        .app_data(
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
            let description =
                crate::i18n::t_args("api-invalid-query", &[("detail", err.to_string().into())]);
            if is_api_path(req.path()) {
                ApiError::bad_request("invalid_request", description).into()
            } else {
                PageError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    crate::i18n::t("page-invalid-link-title"),
                    crate::i18n::t("page-invalid-link"),
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
                crate::i18n::t("api-payload-too-large"),
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            crate::i18n::t("api-send-json"),
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(
            "invalid_request",
            crate::i18n::t_args("api-invalid-body", &[("detail", e.to_string().into())]),
        ),
        _ => ApiError::bad_request("invalid_request", crate::i18n::t("api-body-unreadable")),
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
                crate::i18n::t("api-payload-too-large"),
            )
            .into()
        } else {
            ApiError::bad_request(
                "invalid_request",
                crate::i18n::t_args("api-invalid-form", &[("detail", err.to_string().into())]),
            )
            .into()
        }
    } else {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form",
            crate::i18n::t("page-invalid-form-title"),
            crate::i18n::t("page-invalid-form"),
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

/// The reverse proxies whose `X-Forwarded-For` we believe (`server.trusted_proxies`),
/// registered as app data. Empty (the default): the TCP peer is the client.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<[IpAddr]>);

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries left of
/// it were written by the client and prove nothing). A garbled entry ends the walk at the
/// last trusted hop, so a client cannot pick its own address by sending nonsense.
pub fn client_address<'h>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'h str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let mut client = peer?;
    if !trusted.contains(&client) {
        return Some(client);
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|header| header.split(','))
        .collect();
    for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
        let Some(addr) = parse_hop(hop.trim()) else {
            break;
        };
        client = addr;
        if !trusted.contains(&addr) {
            break;
        }
    }
    Some(client)
}

/// Most `X-Forwarded-For` entries looked at; a real chain has one or two.
const MAX_FORWARDED_HOPS: usize = 16;

/// One `X-Forwarded-For` entry: an address, optionally with a port (`[v6]:port`, `v4:port`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
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
            ip: client_address(
                req.peer_addr().map(|a| a.ip()),
                req.headers()
                    .get_all("x-forwarded-for")
                    .filter_map(|v| v.to_str().ok()),
                req.app_data::<TrustedProxies>()
                    .map_or(&[][..], |t| &t.0[..]),
            )
            .map(|ip| ip.to_string()),
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

#[cfg(test)]
mod tests {
    use super::client_address;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let peer = Some(ip("192.0.2.1"));
        assert_eq!(client_address(peer, ["203.0.113.9"], &[]), peer);
        assert_eq!(client_address(None, ["203.0.113.9"], &[]), None);
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        let got = |xff: &[&str]| client_address(Some(proxy), xff.iter().copied(), &trusted);
        assert_eq!(got(&["203.0.113.9"]), Some(ip("203.0.113.9")));
        // The client wrote the left-most entry itself: ignored.
        assert_eq!(got(&["198.51.100.1, 203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(
            got(&["198.51.100.1", "203.0.113.9, 10.0.0.2"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(got(&["[2001:db8::1]:4711"]), Some(ip("2001:db8::1")));
        assert_eq!(got(&["203.0.113.9:4711"]), Some(ip("203.0.113.9")));
        // No header, or garbage: the proxy itself (a shared bucket, never a chosen one).
        assert_eq!(got(&[]), Some(proxy));
        assert_eq!(got(&["unknown"]), Some(proxy));
        assert_eq!(got(&["203.0.113.9, nonsense"]), Some(proxy));
    }

    proptest! {
        #[test]
        fn an_untrusted_peer_cannot_choose_its_address(
            headers in proptest::collection::vec(".{0,60}", 0..4),
            a in any::<[u8; 4]>(),
        ) {
            let peer = IpAddr::from(a);
            let trusted = [ip("10.0.0.1")];
            prop_assume!(!trusted.contains(&peer));
            let got = client_address(Some(peer), headers.iter().map(String::as_str), &trusted);
            prop_assert_eq!(got, Some(peer));
        }

        #[test]
        fn behind_a_proxy_the_answer_is_the_proxy_or_a_listed_address(
            headers in proptest::collection::vec("[0-9a-f.:, \\[\\]]{0,60}", 0..4),
        ) {
            let proxy = ip("10.0.0.1");
            let got = client_address(Some(proxy), headers.iter().map(String::as_str), &[proxy]);
            let got = got.unwrap();
            let listed = headers
                .iter()
                .flat_map(|h| h.split(','))
                .any(|hop| super::parse_hop(hop.trim()) == Some(got));
            prop_assert!(got == proxy || listed);
        }
    }
}
