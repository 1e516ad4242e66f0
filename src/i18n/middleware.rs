//! The request's language, chosen once at the edge and current for the whole handling:
//! pages, their error pages and every JSON `error_description` read it with
//! [`super::current`]. Responses say which language they speak (`Content-Language`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, HeaderValue, VARY};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest};

use super::{Lang, negotiate};

/// The language of a request: its `lang` cookie, else `Accept-Language`, else French.
pub fn request_lang(req: &HttpRequest) -> Lang {
    let cookie = req.cookie(negotiate::COOKIE);
    let header = req
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    negotiate(
        cookie.as_ref().map(actix_web::cookie::Cookie::value),
        header,
    )
}

/// Makes the request's language current while it is served.
pub async fn language(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let lang = request_lang(req.request());
    let mut res = super::scope(lang, next.call(req)).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(CONTENT_LANGUAGE) {
        headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
    }
    headers.append(VARY, HeaderValue::from_static("Accept-Language"));
    Ok(res)
}
