//! The language switcher of every page's header: `POST /language` keeps the citizen's
//! choice in the `lang` cookie and, when they are signed in, on their account (so that
//! e-mails and their next sign-in on another browser speak it too), then goes back to the
//! page they were on.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use crate::accounts;
use crate::http::PageError;
use crate::i18n::{self, Lang, negotiate};
use crate::state::AppState;

use super::page::{current_session, see_other};
use super::session;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(switch_language);
}

tokio::task_local! {
    static RETURN_TO: String;
}

/// Serves a request with its own address (a `GET`'s path and query, if local) as where
/// the header's switcher returns to.
pub async fn remember_page(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let here = (req.method() == Method::GET)
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten()
        .filter(|p| safe_return_to(p) == p)
        .unwrap_or_else(|| "/".to_owned());
    RETURN_TO.scope(here, next.call(req)).await
}

/// The `lang` cookie that restores the chosen language of the account just signed in
/// with session `token`, if it chose one (a new browser then speaks it at once).
pub async fn signed_in_lang_cookie(
    state: &AppState,
    token: &str,
) -> Result<Option<Cookie<'static>>, PageError> {
    let settings = state.settings.clone();
    let token = token.to_owned();
    let now = super::page::now();
    let lang = state
        .db
        .run(move |conn| {
            let Some(account_id) =
                session::load(conn, &settings, &token, now)?.and_then(|s| s.account_id)
            else {
                return Ok(None);
            };
            accounts::store::language(conn, &account_id)
        })
        .await?;
    let secure = state.settings.server.public_url.scheme() == "https";
    Ok(lang.map(|lang| lang_cookie(lang, secure)))
}

/// Where the header's switcher sends the citizen back: the page being shown (a `GET`'s
/// path and query), else the home page.
pub fn return_to() -> String {
    RETURN_TO
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "/".to_owned())
}

/// Longest return path kept; longer ones go home.
const MAX_RETURN_TO: usize = 512;

/// `path` if it is a path of this site: one leading `/`, no scheme, host or backslash,
/// no control character. Anything else (an open redirect) is `/`.
pub fn safe_return_to(path: &str) -> &str {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= MAX_RETURN_TO
        && !path.chars().any(char::is_control)
        && !path.contains("/%2f")
        && !path.contains("/%2F")
        && !path.starts_with("/%5c")
        && !path.starts_with("/%5C");
    if local { path } else { "/" }
}

/// The `lang` cookie for `lang`: one year, this site only, readable by no script.
pub fn lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(negotiate::COOKIE, lang.code())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish()
}

/// The `lang` cookie for this browser session only: a portal's `ui_locales` holds for the
/// sign-in it asked for, not for a year.
pub fn session_lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    let mut cookie = lang_cookie(lang, secure);
    cookie.set_max_age(None);
    cookie
}

#[derive(Deserialize)]
struct SwitchForm {
    lang: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    csrf_token: String,
}

#[post("/language")]
async fn switch_language(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SwitchForm>,
) -> Result<HttpResponse, PageError> {
    let Some(lang) = Lang::from_code(&form.lang) else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "invalid_language",
            i18n::t("page-invalid-language-title"),
            i18n::t("page-invalid-language"),
        ));
    };
    // The account remembers the choice only when the form is the signed-in citizen's own
    // (its CSRF token); a forged form changes at most this browser's cookie.
    if let Some(session) = current_session(&state, &req).await? {
        if let Some(account_id) = session.account_id.clone() {
            if session::csrf_matches(&session, &form.csrf_token) {
                state
                    .db
                    .run(move |conn| accounts::store::set_language(conn, &account_id, lang))
                    .await?;
            }
        }
    }
    let secure = state.settings.server.public_url.scheme() == "https";
    let mut response = see_other(safe_return_to(&form.return_to));
    response
        .add_cookie(&lang_cookie(lang, secure))
        .map_err(PageError::internal)?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return_to("/devices?device=abc"), "/devices?device=abc");
        assert_eq!(safe_return_to("/"), "/");
        for hostile in [
            "",
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2f%2fevil.example",
            "/%5cevil.example",
            "javascript:alert(1)",
            "/a\nb",
            "devices",
        ] {
            assert_eq!(safe_return_to(hostile), "/", "{hostile:?}");
        }
        assert_eq!(safe_return_to(&format!("/{}", "a".repeat(600))), "/");
    }
}
