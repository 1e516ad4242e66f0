//! Thin actix handlers: extract, call one flow/token function, map the result.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::authorize::AuthorizeParams;
use super::flow::{self, ConfirmForm, IdpState, LoginForm, LogoutParams, Outcome, SessionChange};
use super::pages;
use super::products;
use super::token::{self, OAuthError, TokenParams};
use super::userinfo;
use crate::i18n::{self, Lang};

/// Name of the mock's single sign-on cookie.
pub const SESSION_COOKIE: &str = "mock_eaccess_session";

/// Register the mock's routes (relative to the issuer path).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(get_discovery),
    )
    .route("/jwks", web::get().to(get_jwks))
    .route("/authorize", web::get().to(get_authorize))
    .route("/authorize", web::post().to(post_authorize))
    .route("/authorize/login", web::post().to(post_login))
    .route("/authorize/confirm", web::post().to(post_confirm))
    .route("/token", web::post().to(post_token))
    .route("/userinfo", web::get().to(get_userinfo))
    .route("/userinfo", web::post().to(get_userinfo))
    .route("/logout", web::get().to(get_logout))
    .route("/logout", web::post().to(post_logout))
    .route("/static/mock-idp.css", web::get().to(get_stylesheet));
}

async fn get_discovery(state: web::Data<IdpState>) -> HttpResponse {
    let issuer = &state.issuer_id;
    let mut claims: Vec<&str> = vec![
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
    ];
    claims.extend(["eaccess_product", "eaccess_product_serial"]);
    let mut document = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "scopes_supported": ["openid", "profile", "email"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": products::acr_values_supported(),
        "claims_supported": claims,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["fr", "de", "en"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    if state.settings.userinfo_signed {
        document["userinfo_signing_alg_values_supported"] = serde_json::json!(["ES256"]);
    }
    HttpResponse::Ok().json(document)
}

async fn get_jwks(state: web::Data<IdpState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .body(state.keys.jwks().to_string())
}

async fn get_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(pages::STYLESHEET)
}

/// The language of a page: the client's `ui_locales`, else the browser's `Accept-Language`,
/// else French. (The `lang` cookie is devicelink's: a real eAccess on its own domain never
/// sees it, so the mock does not read it either.)
fn page_lang(req: &HttpRequest, ui_lang: Option<Lang>) -> Lang {
    ui_lang.unwrap_or_else(|| i18n::negotiate(None, header_str(req, header::ACCEPT_LANGUAGE)))
}

/// The `ui_locales` of a pending login, which every page of that login speaks.
fn pending_lang(state: &IdpState, request_id: Option<&str>) -> Option<Lang> {
    state
        .store
        .find_pending(request_id?, Utc::now())
        .and_then(|pending| pending.request.ui_lang)
}

/// Runs a flow step and renders its outcome in `lang`.
fn in_lang(state: &IdpState, lang: Lang, step: impl FnOnce() -> Outcome) -> HttpResponse {
    let mut response = i18n::with_lang(lang, || respond(state, step()));
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(lang.code()),
    );
    response.headers_mut().append(
        header::VARY,
        header::HeaderValue::from_static("Accept-Language"),
    );
    response
}

async fn get_authorize(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    let params = AuthorizeParams::from_pairs(
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned(),
    );
    begin(&req, &state, &params)
}

async fn post_authorize(
    req: HttpRequest,
    state: web::Data<IdpState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = AuthorizeParams::from_pairs(url::form_urlencoded::parse(&body).into_owned());
    begin(&req, &state, &params)
}

fn begin(req: &HttpRequest, state: &IdpState, params: &AuthorizeParams) -> HttpResponse {
    let ui_lang = params
        .get("ui_locales")
        .and_then(i18n::negotiate::from_ui_locales);
    in_lang(state, page_lang(req, ui_lang), || {
        flow::begin(state, params, session_cookie(req).as_deref(), Utc::now())
    })
}

async fn post_login(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let lang = page_lang(&req, pending_lang(&state, form.request_id.as_deref()));
    in_lang(&state, lang, || flow::choose(&state, &form, Utc::now()))
}

async fn post_confirm(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<ConfirmForm>,
) -> HttpResponse {
    let lang = page_lang(&req, pending_lang(&state, form.request_id.as_deref()));
    in_lang(&state, lang, || {
        flow::confirm(&state, &form, session_cookie(&req).as_deref(), Utc::now())
    })
}

async fn get_logout(
    req: HttpRequest,
    state: web::Data<IdpState>,
    params: web::Query<LogoutParams>,
) -> HttpResponse {
    logout(&req, &state, &params)
}

async fn post_logout(
    req: HttpRequest,
    state: web::Data<IdpState>,
    params: web::Form<LogoutParams>,
) -> HttpResponse {
    logout(&req, &state, &params)
}

fn logout(req: &HttpRequest, state: &IdpState, params: &LogoutParams) -> HttpResponse {
    let ui_lang = params
        .ui_locales
        .as_deref()
        .and_then(i18n::negotiate::from_ui_locales);
    in_lang(state, page_lang(req, ui_lang), || {
        flow::logout(state, params, session_cookie(req).as_deref())
    })
}

async fn post_token(
    req: HttpRequest,
    state: web::Data<IdpState>,
    body: web::Bytes,
) -> HttpResponse {
    let delay = state.settings.faults.token_delay_ms;
    if delay > 0 {
        // Fault switch: a slow token endpoint.
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let result = TokenParams::parse(&body).and_then(|params| {
        let basic = header_str(&req, header::AUTHORIZATION)
            .map(token::parse_basic)
            .transpose()?;
        token::exchange_code(
            &state.settings,
            &state.keys,
            &state.store,
            basic,
            &params,
            Utc::now(),
        )
    });
    match result {
        Ok(response) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(response),
        Err(error) => token_error(&error),
    }
}

async fn get_userinfo(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    let authorization = header_str(&req, header::AUTHORIZATION);
    match userinfo::userinfo(
        &state.settings,
        &state.keys,
        &state.store,
        authorization,
        Utc::now(),
    ) {
        Ok(userinfo::UserinfoAnswer::Json(claims)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Ok(userinfo::UserinfoAnswer::Jwt(jwt)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("application/jwt")
            .body(jwt),
        // RFC 6750 §3.1: no error code when the request carried no token at all.
        Err(error) if error.error.is_empty() => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="eaccess-mock""#))
            .finish(),
        Err(error) => HttpResponse::build(status(error.status))
            .insert_header((
                header::WWW_AUTHENTICATE,
                format!(
                    r#"Bearer realm="eaccess-mock", error="{}", error_description="{}""#,
                    error.error, error.description
                ),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(error_body(&error)),
    }
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

fn status(code: u16) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(code)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn error_body(error: &OAuthError) -> serde_json::Value {
    serde_json::json!({ "error": error.error, "error_description": error.description })
}

/// RFC 6749 §5.2: JSON, `no-store`; `invalid_client` is 401 with a Basic challenge.
fn token_error(error: &OAuthError) -> HttpResponse {
    tracing::info!(error = error.error, description = %error.description, "token request refused");
    let mut response = HttpResponse::build(status(error.status));
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if error.status == 401 {
        response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="eaccess-mock""#));
    }
    response.json(error_body(error))
}

fn respond(state: &IdpState, outcome: Outcome) -> HttpResponse {
    match outcome {
        // Pages hold the pending login's request_id: never cache them.
        Outcome::Page(html) => HttpResponse::Ok()
            .content_type(ContentType::html())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Outcome::ErrorPage {
            status: code,
            title,
            message,
            detail,
        } => {
            let html = pages::message(&state.base_path, &title, &message, &detail)
                .unwrap_or_else(|_| title.clone());
            HttpResponse::build(status(code))
                .content_type(ContentType::html())
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(html)
        }
        Outcome::Redirect { location, session } => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header((header::LOCATION, location.as_str()));
            match session {
                SessionChange::Keep => {}
                SessionChange::Start(value) => {
                    let max_age =
                        i64::try_from(state.settings.session_lifetime_secs).unwrap_or(i64::MAX);
                    response.cookie(
                        session_cookie_template(state, value)
                            .max_age(time::Duration::seconds(max_age))
                            .finish(),
                    );
                }
                SessionChange::End => {
                    let mut cookie = session_cookie_template(state, String::new()).finish();
                    cookie.make_removal();
                    response.cookie(cookie);
                }
            }
            response.finish()
        }
    }
}

fn session_cookie_template(
    state: &IdpState,
    value: String,
) -> actix_web::cookie::CookieBuilder<'static> {
    let path = if state.base_path.is_empty() {
        "/".to_owned()
    } else {
        state.base_path.clone()
    };
    Cookie::build(SESSION_COOKIE, value)
        .path(path)
        .http_only(true)
        // Lax: the cookie must come along on the top-level GET from the relying party.
        .same_site(SameSite::Lax)
        .secure(state.settings.issuer.scheme() == "https")
}
