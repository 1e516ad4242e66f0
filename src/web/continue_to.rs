//! Where a citizen continues after signing in, and what the home page tells them.
//!
//! A page that needs a session, reached while signed out (e.g. "This was not me" from
//! an e-mail: `/devices?device=…`), sends the browser home with `?next=<that page>`.
//! The home page says "Sign in to continue", the sign-in carries the target across the
//! eAccess round trip (stored with the login, never in a URL eAccess sees) and the
//! callback lands there. Only an allow-listed local page is ever a target: no open
//! redirect, whatever `next` says.
//!
//! Signing out leaves a short-lived `notice` cookie that survives eAccess's logout
//! round trip, so the home page can say "You have signed out."

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::cookie::{Cookie, SameSite, time};

use super::page::see_other;

/// The pages a sign-in may continue to: the citizen's own pages, nothing else.
const PAGES: [&str; 3] = ["/dashboard", "/devices", "/devices/link"];

/// `raw` if it is a page a sign-in may continue to: one of [`PAGES`], or the device
/// list with one device preselected (`/devices?device=<uuid>`).
pub fn safe_next(raw: &str) -> Option<&str> {
    if PAGES.contains(&raw) {
        return Some(raw);
    }
    let id = raw.strip_prefix("/devices?device=")?;
    uuid::Uuid::parse_str(id)
        .ok()
        .filter(|u| u.hyphenated().to_string() == id)
        .map(|_| raw)
}

/// The request's page (path and query) when it is a [`safe_next`] target.
pub fn this_page(req: &HttpRequest) -> Option<String> {
    let uri = req.uri();
    let page = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    safe_next(&page).map(str::to_owned)
}

/// `target` with `?next=` (or `&next=`) naming `next`, URL-encoded.
pub fn with_next(target: &str, next: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let sep = if target.contains('?') { '&' } else { '?' };
    format!("{target}{sep}next={encoded}")
}

/// The answer to a page request without a session: home, saying "Sign in to continue"
/// when the page is one a sign-in can continue to.
pub fn sign_in_to_continue(req: &HttpRequest) -> HttpResponse {
    match this_page(req) {
        Some(page) => see_other(&with_next("/", &page)),
        None => see_other("/"),
    }
}

/// The cookie naming what the home page should tell the citizen next.
pub const NOTICE_COOKIE: &str = "notice";
/// The one notice kept in it today.
pub const SIGNED_OUT: &str = "signed_out";

/// "You have signed out." for the next view of the home page (5 minutes at most).
pub fn signed_out_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build(NOTICE_COOKIE, SIGNED_OUT)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::minutes(5))
        .finish()
}

/// Clears the notice once shown.
pub fn notice_removal(secure: bool) -> Cookie<'static> {
    let mut cookie = signed_out_cookie(secure);
    cookie.set_value("");
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_citizens_own_pages_are_continued_to() {
        let id = "6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93";
        for ok in ["/dashboard", "/devices", "/devices/link"] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        let one = format!("/devices?device={id}");
        assert_eq!(safe_next(&one), Some(one.as_str()));
        for hostile in [
            "",
            "/",
            "//evil.example/devices",
            "https://evil.example/",
            "/devices?device=not-a-uuid",
            "/devices?device=6F1C0A37-8E2D-4B6A-9C41-7D0E2F8A1B93",
            "/devices?device=6f1c0a378e2d4b6a9c417d0e2f8a1b93",
            &format!("/devices?device={id}&x=1"),
            &format!("/devices?device={id}#x"),
            "/devices/../admin",
            "/auth/logout",
            "/dashboard?x=1",
            "/devices/link/abc/cancel",
        ] {
            assert_eq!(safe_next(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn the_target_is_encoded_into_the_query() {
        let id = "6f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93";
        assert_eq!(
            with_next("/", &format!("/devices?device={id}")),
            format!("/?next=%2Fdevices%3Fdevice%3D{id}")
        );
        assert_eq!(
            with_next("/auth/login?x=1", "/devices"),
            "/auth/login?x=1&next=%2Fdevices"
        );
    }
}
