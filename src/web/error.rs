//! The error page: how every [`PageError`] reaches the browser (templates/error.html,
//! in the base layout). The error type itself is HTTP plumbing ([`crate::http`]); its
//! rendering is the kit's, so that every page, error pages too, comes from one place.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::http::PageError;

use super::nav::NavUser;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<NavUser>,
    title: &'a str,
    message: &'a str,
    code: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let page = ErrorPage {
            nav: None,
            title: &self.title,
            message: &self.message,
            code: self.code,
        };
        // Rendering a fixed template with escaped strings cannot fail in practice; if it
        // ever does, fall back to plain text rather than a second error.
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{}\n\n{}", self.title, self.message));
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.content_type("text/html; charset=utf-8").body(body)
    }
}
