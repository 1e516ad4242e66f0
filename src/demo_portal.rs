//! The demo portal: a small relying party that signs citizens in through devicelink's
//! OpenID Connect provider, the way another public-sector portal would. It is a separate
//! system that happens to ship in the same binary (like the mock eAccess): it knows
//! devicelink only by its issuer URL, reads the discovery document and the JWKS, and
//! talks to it over HTTP with the `openidconnect` crate.
//!
//! `devicelink demo` starts it on `http://127.0.0.1:8090/` with the client `demo-portal`.
//! Pending sign-ins are kept in this process's memory: the demo portal is one process,
//! not a devicelink instance behind a load balancer.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::dev::Server;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{App, HttpResponse, HttpServer, web};
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

struct State {
    settings: DemoPortalSettings,
    http: reqwest::Client,
    /// Keyed by the `state` parameter sent to devicelink.
    pending: Mutex<HashMap<String, Pending>>,
}

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
    let state = web::Data::new(State {
        settings,
        http,
        pending: Mutex::new(HashMap::new()),
    });
    let server = HttpServer::new(move || {
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
                    .add(("Content-Security-Policy", DEMO_CSP)),
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
    title: &'a str,
    issuer: &'a str,
    error: Option<String>,
    claims: Vec<(&'static str, String)>,
}

fn page(status: actix_web::http::StatusCode, page: &Page<'_>) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(html),
        Err(e) => HttpResponse::InternalServerError().body(format!("template: {e}")),
    }
}

fn failure(state: &State, message: String) -> HttpResponse {
    page(
        actix_web::http::StatusCode::BAD_GATEWAY,
        &Page {
            title: "Sign-in failed",
            issuer: &state.settings.issuer,
            error: Some(message),
            claims: Vec::new(),
        },
    )
}

async fn home(state: web::Data<State>) -> HttpResponse {
    page(
        actix_web::http::StatusCode::OK,
        &Page {
            title: "Demo portal",
            issuer: &state.settings.issuer,
            error: None,
            claims: Vec::new(),
        },
    )
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

async fn login(state: web::Data<State>) -> HttpResponse {
    let rp = match relying_party(&state).await {
        Ok(rp) => rp,
        Err(e) => return failure(&state, e),
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

async fn callback(state: web::Data<State>, query: web::Query<Callback>) -> HttpResponse {
    let q = query.into_inner();
    let pending = q.state.as_ref().and_then(|key| {
        state
            .pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(key))
    });
    let Some(pending) = pending else {
        return failure(
            &state,
            "Unknown or already used sign-in (state).".to_owned(),
        );
    };
    if let Some(error) = q.error {
        let description = q.error_description.unwrap_or_default();
        return failure(
            &state,
            format!("devicelink answered {error}: {description}"),
        );
    }
    // RFC 9207: the answer must come from the issuer we sent the citizen to.
    if q.iss.as_deref() != Some(state.settings.issuer.as_str()) {
        return failure(&state, "The answer names another issuer.".to_owned());
    }
    let Some(code) = q.code else {
        return failure(&state, "The answer carries no code.".to_owned());
    };
    match finish(&state, code, pending).await {
        Ok(claims) => page(
            actix_web::http::StatusCode::OK,
            &Page {
                title: "Signed in",
                issuer: &state.settings.issuer,
                error: None,
                claims,
            },
        ),
        Err(e) => failure(&state, e),
    }
}

/// Redeems the code, checks the ID token (signature from the JWKS, issuer, audience,
/// expiry, nonce) and reads userinfo.
async fn finish(
    state: &State,
    code: String,
    pending: Pending,
) -> Result<Vec<(&'static str, String)>, String> {
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
    Ok(vec![
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
    ])
}
