//! Rendering a page and the plumbing around it: redirects, the browser's current
//! session, the CSRF refusal, times as pages show them.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};

use crate::http::PageError;
use crate::state::AppState;

use super::session;
use super::store::BrowserSession;

/// The current time as the database keeps it (UTC, no offset).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// `303 See Other` to `location`, never cached.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Renders `page` with `status`, never cached (pages carry CSRF tokens and personal data).
pub fn html(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(PageError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// The live session of this browser, if any.
pub async fn current_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<BrowserSession>, PageError> {
    let Some(token) = session::token_from_request(req, &state.settings) else {
        return Ok(None);
    };
    let settings = state.settings.clone();
    let now = now();
    Ok(state
        .db
        .run(move |conn| session::load(conn, &settings, &token, now))
        .await?)
}

/// The session of a browser posting a form with `csrf_token`: `None` when it has no
/// session (the caller sends it home), the CSRF refusal when the token does not match.
pub async fn form_session(
    state: &AppState,
    req: &HttpRequest,
    csrf_token: &str,
) -> Result<Option<BrowserSession>, PageError> {
    let Some(session) = current_session(state, req).await? else {
        return Ok(None);
    };
    if !session::csrf_matches(&session, csrf_token) {
        return Err(csrf_failed());
    }
    Ok(Some(session))
}

/// A form whose CSRF token does not match the session's.
pub fn csrf_failed() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "invalid_csrf",
        crate::i18n::t("page-csrf-title"),
        crate::i18n::t("page-csrf"),
    )
}

/// `text` safe inside HTML text and a double- or single-quoted attribute: for a value
/// that goes into a translated sentence with markup, which a template shows unescaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A stored (UTC) moment as the pages show it: Luxembourg time, in the page's language.
pub fn format_time(t: NaiveDateTime) -> String {
    crate::i18n::time::datetime(crate::i18n::current(), t)
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_what_could_end_text_or_an_attribute() {
        assert_eq!(
            escape_html(r#"https://x.lu/?a=1&b="2"'<script>"#),
            "https://x.lu/?a=1&amp;b=&quot;2&quot;&#39;&lt;script&gt;"
        );
        assert_eq!(escape_html("plain é"), "plain é");
    }
}
