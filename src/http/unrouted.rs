//! Requests no route took: `405 Method Not Allowed` with an `Allow` header when the path
//! exists under other methods (RFC 9110 section 15.5.6), `404` otherwise. Both in our
//! formats: the JSON envelope on API paths, the error page elsewhere.
//!
//! Every route is a resource guarded by its method. While actix routes a request, each
//! method guard of a resource whose *path* matched records its method in the request
//! (the bookkeeping behind actix's own `Allow` header), so no table of routes is kept by
//! hand: [`resource`] is mounted last, matches every path, and its (route-less) endpoint
//! answers with exactly the methods the request's path has.

use actix_web::body::BoxBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, ResponseError, web};

use super::error::{ApiError, PageError};
use super::is_api_path;

/// The pattern of [`resource`], as request metrics see it.
pub const PATTERN: &str = "/{unrouted:.*}";

/// The catch-all resource; mount it after every feature.
pub fn resource() -> impl HttpServiceFactory {
    web::resource(PATTERN).wrap(from_fn(answer))
}

/// Turns actix's bare 405 into ours, or into a 404 when no method of the path was
/// registered (actix then sends no `Allow`).
async fn answer(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?;
    let allow = res
        .headers()
        .get(ALLOW)
        .and_then(|v| v.to_str().ok())
        .and_then(allowed_methods);
    let is_api = is_api_path(res.request().path());
    let (req, _) = res.into_parts();
    let response = match (allow, is_api) {
        (None, true) => ApiError::not_found().error_response(),
        (None, false) => PageError::not_found().error_response(),
        (Some(allow), true) => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            crate::i18n::t_args(
                "api-method-not-allowed-use",
                &[("allow", allow.to_str().unwrap_or("?").to_owned().into())],
            ),
        )
        .with_header(ALLOW, allow)
        .error_response(),
        (Some(allow), false) => PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            crate::i18n::t("page-bad-request-title"),
            crate::i18n::t("page-method-not-allowed"),
        )
        .with_header(ALLOW, allow)
        .error_response(),
    };
    Ok(ServiceResponse::new(req, response))
}

/// The `Allow` value without repeats (two resources of one path may share a method), in
/// one fixed order (actix records a route's several methods in no stable order);
/// `None` when it names no method.
fn allowed_methods(recorded: &str) -> Option<HeaderValue> {
    const ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let mut methods: Vec<&str> = Vec::new();
    for method in recorded.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    if methods.is_empty() {
        return None;
    }
    methods.sort_by_key(|m| (ORDER.iter().position(|o| o == m).unwrap_or(ORDER.len()), *m));
    HeaderValue::from_str(&methods.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, get};

    #[get("/api/v1/thing")]
    async fn get_thing() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    /// Sends one request: (status, `Allow`, body).
    macro_rules! send {
        ($app:expr, $method:expr, $path:expr) => {{
            let req = actix_test::TestRequest::default()
                .method($method)
                .uri($path)
                .to_request();
            let res = actix_test::call_service($app, req).await;
            let allow = res
                .headers()
                .get(ALLOW)
                .map(|v| v.to_str().unwrap().to_owned());
            let status = res.status().as_u16();
            let body = String::from_utf8(actix_test::read_body(res).await.to_vec()).unwrap();
            (status, allow, body)
        }};
    }

    #[actix_web::test]
    async fn a_known_path_with_another_method_is_405_with_allow_and_an_unknown_path_404() {
        use actix_web::http::Method;
        let app = actix_test::init_service(
            App::new()
                .service(get_thing)
                .route("/api/v1/thing", web::post().to(HttpResponse::Ok))
                .route("/api/v1/items/{id}", web::delete().to(HttpResponse::Ok))
                .route("/page", web::get().to(HttpResponse::Ok))
                .service(resource()),
        )
        .await;
        let (code, allow, body) = send!(&app, Method::PUT, "/api/v1/thing");
        assert_eq!(code, 405);
        assert_eq!(allow.as_deref(), Some("GET, POST"));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "method_not_allowed");
        let (code, allow, _) = send!(&app, Method::GET, "/api/v1/items/7");
        assert_eq!((code, allow.as_deref()), (405, Some("DELETE")));
        let (code, allow, _) = send!(&app, Method::POST, "/page");
        assert_eq!((code, allow.as_deref()), (405, Some("GET")));
        let (code, allow, body) = send!(&app, Method::GET, "/api/v1/nothing");
        assert_eq!((code, allow), (404, None));
        assert!(body.contains("not_found"), "{body}");
        let (code, allow, _) = send!(&app, Method::POST, "/nothing");
        assert_eq!((code, allow), (404, None));
        // The routes themselves are untouched.
        assert_eq!(send!(&app, Method::GET, "/api/v1/thing").0, 200);
        assert_eq!(send!(&app, Method::DELETE, "/api/v1/items/7").0, 200);
    }

    #[test]
    fn the_allow_value_has_no_repeats() {
        assert_eq!(
            allowed_methods("GET, POST, GET").unwrap(),
            HeaderValue::from_static("GET, POST")
        );
        assert_eq!(allowed_methods(" , "), None);
    }

    #[test]
    fn allow_lists_each_method_once_in_one_order() {
        for recorded in ["HEAD, GET", "GET, HEAD", "GET,HEAD,GET"] {
            assert_eq!(
                allowed_methods(recorded).unwrap(),
                "GET, HEAD",
                "{recorded}"
            );
        }
        assert_eq!(
            allowed_methods("DELETE, POST, GET").unwrap(),
            "GET, POST, DELETE"
        );
        assert!(allowed_methods(" , ").is_none());
    }
}
