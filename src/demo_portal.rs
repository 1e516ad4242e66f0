//! The demo portal: a small relying party that signs citizens in through devicelink's
//! OpenID Connect provider, the way another public-sector portal would. It is a separate
//! system that happens to ship in the same binary (like the mock eAccess): it knows
//! devicelink only by its issuer URL, reads the discovery document and the JWKS, and
//! talks to it over HTTP with the `openidconnect` crate.
//!
//! `devicelink demo` starts it on `http://127.0.0.1:8090/` with the client `demo-portal`.
//! Pending sign-ins and sessions are kept in this process's memory: the demo portal is one process,
//! not a devicelink instance behind a load balancer.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use askama::Template;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use url::Url;

use crate::i18n::{self, Lang};

/// At most this many sign-ins may be pending at once; the oldest is dropped beyond.
const MAX_PENDING: usize = 1_000;

/// Where the demo portal finds devicelink and who it is there.
#[derive(Debug, Clone)]
pub struct DemoPortalSettings {
    /// devicelink's issuer: its `server.public_url` without the trailing slash.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This portal's own address, e.g. `http://127.0.0.1:8090/`.
    pub public_url: Url,
}

impl DemoPortalSettings {
    fn redirect_uri(&self) -> Result<Url, url::ParseError> {
        self.public_url.join("callback")
    }
}

struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

/// A citizen signed in here: the ID token (the hint for signing out at devicelink).
struct Session {
    id_token: String,
}

struct State {
    settings: DemoPortalSettings,
    http: reqwest::Client,
    /// Keyed by the `state` parameter sent to devicelink.
    pending: Mutex<HashMap<String, Pending>>,
    /// Keyed by the `demo_session` cookie.
    sessions: Mutex<HashMap<String, Session>>,
    /// This portal's CSP: [`DEMO_CSP`] with devicelink's origin as a form target (the
    /// sign-out form continues there).
    csp: String,
}

const SESSION_COOKIE: &str = "demo_session";

/// Why the demo portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoPortalError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Binds the demo portal to `listener`; the returned server runs until dropped.
pub fn build(
    settings: DemoPortalSettings,
    listener: TcpListener,
) -> Result<Server, DemoPortalError> {
    // No redirects: the openidconnect crate requires it against SSRF.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let issuer_origin = Url::parse(&settings.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = DEMO_CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {issuer_origin}"),
    );
    let state = web::Data::new(State {
        settings,
        http,
        pending: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
        csp,
    });
    let server = HttpServer::new(move || {
        let csp = state.csp.clone();
        App::new()
            .app_data(state.clone())
            // The same headers as devicelink's pages: integrators copy the demo. (Its
            // own copy: the demo portal is another system and imports nothing of ours.)
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Cross-Origin-Opener-Policy", "same-origin"))
                    .add((
                        "Permissions-Policy",
                        "camera=(), microphone=(), geolocation=()",
                    ))
                    .add(("Content-Security-Policy", csp)),
            )
            .route("/", web::get().to(home))
            .route(
                "/demo-portal.css",
                web::get().to(|| async {
                    actix_web::HttpResponse::Ok()
                        .content_type("text/css; charset=utf-8")
                        .insert_header(("Cache-Control", "public, max-age=3600"))
                        .body(DEMO_CSS)
                }),
            )
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/logout", web::post().to(logout))
            // Browsers ask for it; no icon, and no 404 in the console.
            .route(
                "/favicon.ico",
                web::get().to(|| async { actix_web::HttpResponse::NoContent().finish() }),
            )
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(server)
}

/// The demo portal's stylesheet (no inline style: see [`DEMO_CSP`]).
const DEMO_CSS: &str = include_str!("../static/demo-portal.css");

/// Nothing but its own stylesheet; no script, no framing, links and forms only to
/// itself (sign-in is a navigation to devicelink, which CSP does not restrict).
const DEMO_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "demo_portal.html")]
struct Page<'a> {
    title: String,
    issuer: &'a str,
    /// A sentence on top: what went wrong (`alert`) or what just happened.
    error: Option<String>,
    notice: Option<String>,
    claims: Vec<(&'static str, String)>,
    signed_in: bool,
}

/// The citizen's language here: devicelink's `lang` cookie (same host) or
/// `Accept-Language`, else French; the portal passes it on as `ui_locales`.
fn lang_of(req: &HttpRequest) -> Lang {
    let cookie = req.cookie("lang").map(|c| c.value().to_owned());
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    i18n::negotiate(cookie.as_deref(), accept)
}

fn page(lang: Lang, status: StatusCode, page: &Page<'_>) -> HttpResponse {
    match i18n::with_lang(lang, || page.render()) {
        Ok(html) => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header(("Content-Language", lang.code()))
            .body(html),
        Err(e) => HttpResponse::InternalServerError().body(format!("template: {e}")),
    }
}

/// A page saying why the sign-in did not happen, with "Try again".
fn failure(
    state: &State,
    lang: Lang,
    status: StatusCode,
    title: &str,
    message: String,
) -> HttpResponse {
    page(
        lang,
        status,
        &Page {
            title: lang.t(title),
            issuer: &state.settings.issuer,
            error: Some(message),
            notice: None,
            claims: Vec::new(),
            signed_in: false,
        },
    )
}

/// devicelink could not be reached or answered nonsense: logged with the detail, shown
/// as one sentence.
fn upstream_failure(state: &State, lang: Lang, detail: &str) -> HttpResponse {
    tracing::error!(detail, "demo portal: the sign-in through devicelink failed");
    failure(
        state,
        lang,
        StatusCode::BAD_GATEWAY,
        "demo-failed-title",
        lang.t("demo-unreachable"),
    )
}

#[derive(Deserialize)]
struct HomeQuery {
    state: Option<String>,
}

async fn home(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<HomeQuery>,
) -> HttpResponse {
    let lang = lang_of(&req);
    // devicelink's logout comes back here with the `state` the sign-out sent.
    let notice = (query.state.as_deref() == Some("signed_out")).then(|| lang.t("demo-signed-out"));
    page(
        lang,
        StatusCode::OK,
        &Page {
            title: lang.t("demo-home-title"),
            issuer: &state.settings.issuer,
            error: None,
            notice,
            claims: Vec::new(),
            signed_in: session_of(&state, &req).is_some(),
        },
    )
}

fn session_of(state: &State, req: &HttpRequest) -> Option<String> {
    let token = req.cookie(SESSION_COOKIE)?.value().to_owned();
    let sessions = state.sessions.lock().ok()?;
    sessions.get(&token).map(|s| s.id_token.clone())
}

/// The relying party, from devicelink's discovery document (read on every sign-in, so the
/// demo portal may start before devicelink does).
async fn relying_party(
    state: &State,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    String,
> {
    let s = &state.settings;
    let issuer = IssuerUrl::new(s.issuer.clone()).map_err(|e| e.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &state.http)
        .await
        .map_err(|e| format!("cannot read devicelink's discovery document: {e}"))?;
    let redirect = s.redirect_uri().map_err(|e| e.to_string())?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(s.client_id.clone()),
        Some(ClientSecret::new(s.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::from_url(redirect)))
}

async fn login(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let lang = lang_of(&req);
    let rp = match relying_party(&state).await {
        Ok(rp) => rp,
        Err(e) => return upstream_failure(&state, lang, &e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .add_extra_param("ui_locales", lang.code())
        .url();
    if let Ok(mut pending) = state.pending.lock() {
        if pending.len() >= MAX_PENDING {
            pending.clear();
        }
        pending.insert(csrf.secret().clone(), Pending { verifier, nonce });
    }
    HttpResponse::SeeOther()
        .insert_header((LOCATION, url.to_string()))
        .finish()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Callback>,
) -> HttpResponse {
    let lang = lang_of(&req);
    let q = query.into_inner();
    let pending = q.state.as_ref().and_then(|key| {
        state
            .pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(key))
    });
    let refused = |title: &str, message: String| {
        failure(&state, lang, StatusCode::BAD_REQUEST, title, message)
    };
    let Some(pending) = pending else {
        tracing::warn!("demo portal: an unknown or used sign-in came back");
        return refused("demo-failed-title", lang.t("demo-unknown-state"));
    };
    if let Some(error) = q.error {
        let error: String = error.chars().take(64).collect();
        let description: String = q
            .error_description
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        tracing::warn!(%error, %description, "demo portal: devicelink did not sign the citizen in");
        if error == "access_denied" {
            return failure(
                &state,
                lang,
                StatusCode::FORBIDDEN,
                "demo-denied-title",
                lang.t("demo-denied"),
            );
        }
        return refused(
            "demo-failed-title",
            lang.t_args(
                "demo-refused",
                &[
                    ("error", error.as_str().into()),
                    ("description", description.as_str().into()),
                ],
            ),
        );
    }
    // RFC 9207: the answer must come from the issuer we sent the citizen to.
    if q.iss.as_deref() != Some(state.settings.issuer.as_str()) {
        tracing::warn!("demo portal: the answer names another issuer");
        return refused("demo-failed-title", lang.t("demo-other-issuer"));
    }
    let Some(code) = q.code else {
        return refused("demo-failed-title", lang.t("demo-no-code"));
    };
    match finish(&state, code, pending).await {
        Ok((claims, id_token)) => {
            let token = uuid::Uuid::new_v4().simple().to_string();
            if let Ok(mut sessions) = state.sessions.lock() {
                if sessions.len() >= MAX_PENDING {
                    sessions.clear();
                }
                sessions.insert(token.clone(), Session { id_token });
            }
            let mut res = page(
                lang,
                StatusCode::OK,
                &Page {
                    title: lang.t("demo-signed-in-title"),
                    issuer: &state.settings.issuer,
                    error: None,
                    notice: None,
                    claims,
                    signed_in: true,
                },
            );
            let cookie = actix_web::cookie::Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Lax)
                .finish();
            let _ = res.add_cookie(&cookie);
            res
        }
        Err(e) => upstream_failure(&state, lang, &e),
    }
}

/// "Sign out": ends this portal's session, then devicelink's (RP-initiated logout with
/// the ID token as hint), which returns to this portal's home.
async fn logout(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let lang = lang_of(&req);
    let id_token = req.cookie(SESSION_COOKIE).and_then(|c| {
        state
            .sessions
            .lock()
            .ok()
            .and_then(|mut sessions| sessions.remove(c.value()))
    });
    let mut removal = actix_web::cookie::Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .finish();
    removal.make_removal();
    let target = match (id_token, end_session_endpoint(&state).await) {
        (Some(session), Ok(mut endpoint)) => {
            endpoint
                .query_pairs_mut()
                .append_pair("id_token_hint", &session.id_token)
                .append_pair(
                    "post_logout_redirect_uri",
                    state.settings.public_url.as_str(),
                )
                .append_pair("state", "signed_out")
                .append_pair("ui_locales", lang.code());
            endpoint.to_string()
        }
        (None, _) => state.settings.public_url.to_string(),
        (Some(_), Err(e)) => {
            tracing::error!(detail = %e, "demo portal: devicelink's logout endpoint is unknown");
            format!("{}?state=signed_out", state.settings.public_url)
        }
    };
    let mut res = HttpResponse::SeeOther()
        .insert_header((LOCATION, target))
        .finish();
    let _ = res.add_cookie(&removal);
    res
}

/// devicelink's `end_session_endpoint`, from its discovery document.
async fn end_session_endpoint(state: &State) -> Result<Url, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        state.settings.issuer.trim_end_matches('/')
    );
    let doc: serde_json::Value = state
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    doc["end_session_endpoint"]
        .as_str()
        .ok_or_else(|| "no end_session_endpoint".to_owned())
        .and_then(|s| Url::parse(s).map_err(|e| e.to_string()))
}

/// Redeems the code, checks the ID token (signature from the JWKS, issuer, audience,
/// expiry, nonce) and reads userinfo.
async fn finish(
    state: &State,
    code: String,
    pending: Pending,
) -> Result<(Vec<(&'static str, String)>, String), String> {
    let rp = relying_party(state).await?;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| e.to_string())?
        .set_pkce_verifier(pending.verifier)
        .request_async(&state.http)
        .await
        .map_err(|e| format!("the token request failed: {e}"))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| "no ID token in the answer".to_owned())?;
    // openidconnect at its defaults: RS256, what devicelink signs for a portal that
    // registered no `id_token_signed_response_alg`.
    let verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| format!("the ID token is not valid: {e}"))?;
    let userinfo: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|e| e.to_string())?
        .request_async(&state.http)
        .await
        .map_err(|e| format!("the userinfo request failed: {e}"))?;
    let claims = vec![
        ("sub", claims.subject().to_string()),
        (
            "acr",
            claims
                .auth_context_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        ),
        (
            "amr",
            claims
                .auth_method_refs()
                .map(|a| a.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        ),
        (
            "auth_time",
            claims
                .auth_time()
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        ),
        (
            "given_name (userinfo)",
            userinfo
                .given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "family_name (userinfo)",
            userinfo
                .family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "email (userinfo)",
            userinfo.email().map(|e| e.to_string()).unwrap_or_default(),
        ),
    ];
    Ok((claims, id_token.to_string()))
}
