//! Serving the app: its page and files, its texts, its settings, and the LuxTrust
//! return (`/app/link-callback`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;

use super::CALLBACK_PATH;
use super::assets::{self, Asset};
use crate::http::PageError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(app_root)
        .service(link_callback)
        .service(app_config)
        .service(app_locale)
        .service(app_file);
}

/// `/app` is the folder `/app/`: relative paths in the page resolve under it.
#[get("/app")]
async fn app_root() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}

/// What the app needs to know about this server: the URL its DPoP proofs name (`htu`
/// is `public_url` + path, whatever host the phone used) and its LuxTrust return.
#[get("/app/config.json")]
async fn app_config(state: web::Data<AppState>) -> HttpResponse {
    let public_url = state
        .settings
        .server
        .public_url
        .as_str()
        .trim_end_matches('/');
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            assets::CONTENT_SECURITY_POLICY,
        ))
        .json(json!({
            "public_url": public_url,
            "app_redirect_uri": format!("{public_url}{CALLBACK_PATH}"),
        }))
}

/// The app's texts in one language, for `@fluent/bundle`.
#[get("/app/locales/{lang}/app.ftl")]
async fn app_locale(req: HttpRequest, lang: web::Path<String>) -> Result<HttpResponse, PageError> {
    let asset = assets::locale(&lang).ok_or_else(PageError::not_found)?;
    Ok(serve(&req, asset))
}

#[get("/app/{path:.*}")]
async fn app_file(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, PageError> {
    let asset = assets::find(&path).ok_or_else(PageError::not_found)?;
    Ok(serve(&req, asset))
}

/// The page devicelink sends the browser to after a LuxTrust link, with `link_id` and
/// `result` (or `error` and `error_description`). It hands them to the app at
/// `webauthn.web_origin` in the URL's fragment: the app's keys live on that origin
/// (which may differ from `public_url`, as in the demo), and a fragment never reaches a
/// server's logs. A page that moves on by itself rather than a redirect: the browser
/// arrives here from eAccess's form, and a redirect would be checked against eAccess's
/// `form-action` policy, which names devicelink's origin but not the app's.
#[get("/app/link-callback")]
async fn link_callback(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let target = html_attribute(&callback_target(
        &state.settings.webauthn.web_origin,
        req.query_string(),
    ));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            assets::CONTENT_SECURITY_POLICY,
        ))
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"0;url={target}\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>MyPortal</title><link rel=\"icon\" href=\"/app/icons/icon.svg\">\
             <link rel=\"stylesheet\" href=\"/app/app.css\"></head>\
             <body><main><p><a id=\"continue\" class=\"primary\" href=\"{target}\">\
             Continuer dans l’application · In der App fortfahren · Continue in the app\
             </a></p></main></body></html>\n"
        ))
}

/// `text` inside a double-quoted HTML attribute.
fn html_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<web_origin>/app/#link-callback?<the known parameters, re-encoded>`. Anything else in
/// the query is dropped; an unreadable query hands over nothing (the app then says the
/// link cannot be finished).
fn callback_target(web_origin: &url::Url, query: &str) -> String {
    const KEPT: [&str; 4] = ["link_id", "result", "error", "error_description"];
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if KEPT.contains(&key.as_ref()) && value.len() <= 512 {
            out.append_pair(&key, &value);
        }
    }
    let origin = web_origin.origin().ascii_serialization();
    format!("{origin}/app/#link-callback?{}", out.finish())
}

/// One file with its media type, validator and the app's policies.
fn serve(req: &HttpRequest, asset: Asset) -> HttpResponse {
    let etag = asset.etag();
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, assets::CACHE_CONTROL))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            assets::CONTENT_SECURITY_POLICY,
        ))
        .insert_header(("Permissions-Policy", assets::PERMISSIONS_POLICY));
    if unchanged {
        return response.finish();
    }
    response.content_type(asset.content_type).body(asset.body)
}

#[cfg(test)]
mod tests {
    use super::{callback_target, html_attribute};

    fn origin() -> url::Url {
        url::Url::parse("http://localhost:8080").unwrap()
    }

    #[test]
    fn the_callback_hands_the_result_to_the_app_in_the_fragment() {
        assert_eq!(
            callback_target(&origin(), "link_id=abc&result=r%2B1"),
            "http://localhost:8080/app/#link-callback?link_id=abc&result=r%2B1"
        );
    }

    #[test]
    fn the_callback_keeps_refusals_and_drops_anything_else() {
        let target = callback_target(
            &origin(),
            "link_id=a&error=product_never_used&error_description=Sign+in+once&evil=%3Cscript%3E",
        );
        assert_eq!(
            target,
            "http://localhost:8080/app/#link-callback?link_id=a&error=product_never_used&error_description=Sign+in+once"
        );
    }

    #[test]
    fn the_target_is_escaped_for_its_attribute() {
        assert_eq!(
            html_attribute("http://x/app/#link-callback?a=1&b=\"<"),
            "http://x/app/#link-callback?a=1&amp;b=&quot;&lt;"
        );
    }

    #[test]
    fn an_unreadable_or_huge_query_hands_over_nothing_of_it() {
        let long = "x".repeat(600);
        assert_eq!(
            callback_target(&origin(), &format!("result={long}")),
            "http://localhost:8080/app/#link-callback?"
        );
        assert_eq!(
            callback_target(&origin(), "%%%"),
            "http://localhost:8080/app/#link-callback?"
        );
    }
}
