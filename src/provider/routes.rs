//! Thin handlers of the provider: discovery, authorization (with the eAccess broker and
//! consent), token, userinfo, revocation, introspection and RP-initiated logout.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::client_auth;
use super::pages::{ChoosePage, ConsentPage, scope_items};
use super::rules::{self, AuthorizeParams, CurrentAuth};
use super::service::{self, Authenticated, CodeIssue, InvalidGrant, Redeemed};
use super::store::{self, RequestRow};
use super::tokens::{self as ptokens, IdTokenInput};
use crate::config::ClientSettings;
use crate::db::StoreError;
use crate::eaccess::AuthOptions;
use crate::http::rate_limit;
use crate::http::redirect_uri::is_registered;
use crate::http::{ApiError, PageError, RequestContext};
use crate::state::AppState;
use crate::tokens::access::published_keys;
use crate::tokens::{JwtError, PublicKeyWithKid};
use crate::web::login::{Purpose, eaccess_unavailable, redirect_to_eaccess};
use crate::web::session::{self, SessionData};
use crate::web::store::BrowserSession;
use crate::web::{current_session, html, see_other};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery),
    )
    .route("/oidc/authorize", web::get().to(authorize_get))
    .route("/oidc/authorize", web::post().to(authorize_post))
    .route("/oidc/authorize/eaccess", web::get().to(broker_to_eaccess))
    .route("/oidc/authorize/resume", web::get().to(resume))
    .route("/oidc/authorize/cancel", web::get().to(cancel))
    .route("/oidc/authorize/consent", web::post().to(consent))
    .route("/oidc/token", web::post().to(token))
    .route("/oidc/userinfo", web::get().to(userinfo))
    .route("/oidc/userinfo", web::post().to(userinfo))
    .route("/oidc/revoke", web::post().to(revoke))
    .route("/oidc/introspect", web::post().to(introspect))
    .route("/oidc/logout", web::get().to(logout_get))
    .route("/oidc/logout", web::post().to(logout_post))
    .configure(super::approval::configure);
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn issuer(state: &AppState) -> String {
    state.tokens.issuer().to_owned()
}

fn endpoint(state: &AppState, path: &str) -> String {
    format!("{}{path}", issuer(state))
}

/// Parses an `application/x-www-form-urlencoded` body or query; a parameter sent twice
/// is refused (RFC 6749 section 3.1).
fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if v.is_empty() {
            continue;
        }
        if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(format!(
                "the parameter `{}` is repeated",
                k.chars().take(40).collect::<String>()
            ));
        }
    }
    Ok(map)
}

fn form_params(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::bad_request(
            "invalid_request",
            "Send the parameters as application/x-www-form-urlencoded.",
        ));
    }
    parse_params(body).map_err(|e| ApiError::bad_request("invalid_request", e))
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(
        actix_web::http::header::PRAGMA,
        HeaderValue::from_static("no-cache"),
    );
    response
}

// ---------------------------------------------------------------- discovery

async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let iss = issuer(&state);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(json!({
            "issuer": iss,
            "authorization_endpoint": endpoint(&state, "/oidc/authorize"),
            "token_endpoint": endpoint(&state, "/oidc/token"),
            "userinfo_endpoint": endpoint(&state, "/oidc/userinfo"),
            "jwks_uri": endpoint(&state, "/.well-known/jwks.json"),
            "revocation_endpoint": endpoint(&state, "/oidc/revoke"),
            "introspection_endpoint": endpoint(&state, "/oidc/introspect"),
            "end_session_endpoint": endpoint(&state, "/oidc/logout"),
            "scopes_supported": crate::config::SUPPORTED_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                super::exchange::TOKEN_EXCHANGE,
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "userinfo_signing_alg_values_supported": [],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                "azp", "name", "given_name", "family_name", "email", "email_verified"
            ],
            "acr_values_supported": rules::supported_acr_values(),
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": ["ES256"],
        }))
}

// ---------------------------------------------------------------- authorize

fn client_page_error(title: &'static str, message: &'static str) -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_client_request",
        title,
        message,
    )
}

/// The redirect back to the portal with `params` plus `state` and `iss` (RFC 9207),
/// built with `query_pairs_mut`, never by concatenation.
fn redirect_to_client(
    state: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    client_state: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let mut url = url::Url::parse(redirect_uri).map_err(PageError::internal)?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(s) = client_state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &issuer(state));
    }
    Ok(see_other(url.as_str()))
}

pub(crate) fn error_redirect(
    state: &AppState,
    request: &RequestRow,
    code: &str,
    description: &str,
) -> Result<HttpResponse, PageError> {
    redirect_to_client(
        state,
        &request.redirect_uri,
        &[("error", code), ("error_description", description)],
        request.state.as_deref(),
    )
}

async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    authorize(state, req, raw, ctx).await
}

async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    authorize(state, req, body.to_vec(), ctx).await
}

fn current_auth(session: &BrowserSession) -> Option<(String, CurrentAuth, Vec<String>)> {
    let account = session.account_id.clone()?;
    let product = session.product_kind.clone()?;
    Some((
        account,
        CurrentAuth {
            auth_time: session.auth_time?,
            acr: rules::eaccess_acr(&product),
        },
        rules::eaccess_amr(&product),
    ))
}

fn split(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: Vec<u8>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let map = parse_params(&raw).map_err(|_| {
        client_page_error(
            "This sign-in request is not valid",
            "The portal sent a request with a repeated parameter. Go back to the portal and try again.",
        )
    })?;
    let params: AuthorizeParams =
        serde_json::from_value(json!(map)).map_err(PageError::internal)?;
    let client = params
        .client_id
        .as_deref()
        .and_then(|id| state.settings.provider.client(id))
        .ok_or_else(|| {
            client_page_error(
                "Unknown portal",
                "The portal that sent you here is not registered with devicelink. Nothing was shared.",
            )
        })?
        .clone();
    // An unregistered redirect URI is never redirected to (RFC 6749 section 4.1.2.1).
    if !params
        .redirect_uri
        .as_deref()
        .is_some_and(|uri| is_registered(&client.redirect_uris, uri))
    {
        return Err(client_page_error(
            "This sign-in request is not valid",
            "The portal asked to send you back to an address it has not registered. Nothing was shared.",
        ));
    }
    let now = now();
    let validated = match rules::validate(&client, &params) {
        Ok(v) => v,
        Err(e) => {
            let mut url = url::Url::parse(params.redirect_uri.as_deref().unwrap_or_default())
                .map_err(PageError::internal)?;
            url.query_pairs_mut()
                .append_pair("error", e.code)
                .append_pair("error_description", &e.description);
            return redirect_to_client(
                &state,
                url.as_str(),
                &[],
                params.state.as_deref().filter(|s| s.len() <= 512),
            );
        }
    };
    let session = current_session(&state, &req).await?;
    let request_id = session::random_token();
    let row = RequestRow {
        // The browser holds the id; the database only its SHA-256.
        id_hash: session::hash_token(&request_id),
        client_id: client.client_id.clone(),
        redirect_uri: validated.redirect_uri.clone(),
        scope: validated.scope.join(" "),
        state: validated.state.clone(),
        nonce: validated.nonce.clone(),
        code_challenge: validated.code_challenge.clone(),
        max_age: validated
            .max_age
            .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
        acr_values: (!validated.acr_values.is_empty()).then(|| validated.acr_values.join(" ")),
        prompt: (!validated.prompt.is_empty()).then(|| validated.prompt.join(" ")),
        session_id_hash: session.as_ref().map(|s| s.id_hash.clone()),
        status: "pending".to_owned(),
        approval_code_hash: None,
        approval_state: "none".to_owned(),
        approval_expires_at: None,
        device_id: None,
        account_id: None,
        amr: None,
        approved_at: None,
        unlocked_at: None,
        created_at: now,
        expires_at: now + Duration::seconds(state.settings.provider.request_ttl_secs),
    };
    let reusable = session
        .as_ref()
        .and_then(current_auth)
        .filter(|(_, auth, _)| {
            rules::session_satisfies(
                auth,
                validated.max_age,
                &validated.acr_values,
                &validated.prompt,
                now,
            )
        });
    let prompt_none = validated.prompt.iter().any(|p| p == "none");
    let stored = row.clone();
    state
        .db
        .run(move |conn| store::insert_request(conn, &stored))
        .await?;
    match (reusable, session) {
        (Some((account_id, auth, amr)), Some(session)) => {
            let authenticated = Authenticated {
                account_id,
                auth_time: auth.auth_time,
                acr: auth.acr,
                amr,
                device_id: None,
            };
            continue_signed_in(
                &request_id,
                &state,
                &client,
                row,
                &session,
                authenticated,
                prompt_none,
                ctx,
            )
            .await
        }
        (_, session) => {
            if prompt_none {
                finish_denied(&state, &row).await?;
                return error_redirect(
                    &state,
                    &row,
                    "login_required",
                    "the citizen must sign in at devicelink",
                );
            }
            choose_page(&state, &client, &row, &request_id, session).await
        }
    }
}

pub(crate) async fn finish_denied(state: &AppState, row: &RequestRow) -> Result<bool, StoreError> {
    let id = row.id_hash.clone();
    state
        .db
        .run(move |conn| store::finish_request(conn, &id, "denied"))
        .await
}

/// Shows how to sign in; makes sure the browser has a session the request is bound to.
async fn choose_page(
    state: &AppState,
    client: &ClientSettings,
    row: &RequestRow,
    request_id: &str,
    session: Option<BrowserSession>,
) -> Result<HttpResponse, PageError> {
    let acr_values = split(row.acr_values.as_deref());
    let (eaccess, app) = (
        rules::admits_eaccess(&acr_values),
        rules::admits_device(&acr_values),
    );
    if !eaccess && !app {
        finish_denied(state, row).await?;
        return error_redirect(
            state,
            row,
            "access_denied",
            "the requested acr_values cannot be satisfied",
        );
    }
    let new_token = match session {
        Some(_) => None,
        None => {
            let settings = state.settings.clone();
            let id = row.id_hash.clone();
            let now = now();
            Some(
                state
                    .db
                    .run(move |conn| {
                        let token =
                            session::create(conn, &settings, SessionData::anonymous(), now)?;
                        store::bind_request_session(conn, &id, &session::hash_token(&token))?;
                        Ok(token)
                    })
                    .await?,
            )
        }
    };
    let mut response = html(
        StatusCode::OK,
        &ChoosePage {
            nav: None,
            client_name: client.name.clone(),
            request_id: request_id.to_owned(),
            eaccess,
            app,
        },
    )?;
    if let Some(token) = new_token {
        response
            .add_cookie(&session::session_cookie(&state.settings, token))
            .map_err(PageError::internal)?;
    }
    Ok(response)
}

/// The citizen is authenticated: ask for consent if needed, otherwise issue the code.
#[expect(
    clippy::too_many_arguments,
    reason = "one step of the flow, all of it needed"
)]
async fn continue_signed_in(
    request_id: &str,
    state: &AppState,
    client: &ClientSettings,
    row: RequestRow,
    session: &BrowserSession,
    auth: Authenticated,
    prompt_none: bool,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let account = auth.account_id.clone();
    let client_id = client.client_id.clone();
    let consented = state
        .db
        .run(move |conn| store::find_consent(conn, &account, &client_id))
        .await?;
    let wants_consent = split(row.prompt.as_deref()).iter().any(|p| p == "consent");
    if wants_consent || !service::consent_covers(consented.as_deref(), &row.scope) {
        if prompt_none {
            finish_denied(state, &row).await?;
            return error_redirect(
                state,
                &row,
                "consent_required",
                "the citizen has not consented to this portal yet",
            );
        }
        // Keep the request bound to this session for the consent form.
        let id = row.id_hash.clone();
        let session_hash = session.id_hash.clone();
        state
            .db
            .run(move |conn| store::bind_request_session(conn, &id, &session_hash))
            .await?;
        return html(
            StatusCode::OK,
            &ConsentPage {
                nav: None,
                client_name: client.name.clone(),
                request_id: request_id.to_owned(),
                csrf_token: session.csrf_token.clone(),
                items: scope_items(&split(Some(&row.scope))),
            },
        );
    }
    issue_and_redirect(state, row, auth, ctx).await
}

pub(crate) async fn issue_and_redirect(
    state: &AppState,
    row: RequestRow,
    auth: Authenticated,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let settings = state.settings.clone();
    let now = now();
    let stored = row.clone();
    let code = state
        .db
        .run(move |conn| service::issue_code(conn, &settings.provider, &stored, &auth, &ctx, now))
        .await?;
    match code {
        CodeIssue::Issued(code) => redirect_to_client(
            state,
            &row.redirect_uri,
            &[("code", &code)],
            row.state.as_deref(),
        ),
        CodeIssue::Gone => Err(request_gone()),
        CodeIssue::DeviceInactive => error_redirect(
            state,
            &row,
            "access_denied",
            "the app that approved the sign-in is locked or unlinked",
        ),
    }
}

pub(crate) fn request_gone() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_state",
        "This sign-in is no longer valid",
        "This sign-in has expired or was already completed. Go back to the portal and start again.",
    )
}

#[derive(Debug, serde::Deserialize)]
struct RequestQuery {
    request: String,
}

/// The pending request `id`, if this browser's session is the one it is bound to.
pub(crate) async fn bound_request(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(RequestRow, BrowserSession), PageError> {
    if id.is_empty() || id.len() > 64 {
        return Err(request_gone());
    }
    let session = current_session(state, req)
        .await?
        .ok_or_else(request_gone)?;
    let id = session::hash_token(id);
    let now = now();
    let row = state
        .db
        .run(move |conn| store::find_pending_request(conn, &id, now))
        .await?
        .ok_or_else(request_gone)?;
    if row.session_id_hash.as_deref() != Some(session.id_hash.as_str()) {
        return Err(request_gone());
    }
    Ok((row, session))
}

pub(crate) fn client_of<'a>(
    state: &'a AppState,
    row: &RequestRow,
) -> Result<&'a ClientSettings, PageError> {
    state
        .settings
        .provider
        .client(&row.client_id)
        .ok_or_else(request_gone)
}

/// "Sign in with eAccess": the portal sign-in, resuming this request afterwards.
async fn broker_to_eaccess(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
) -> Result<HttpResponse, PageError> {
    let (row, session) = bound_request(&state, &req, &query.request).await?;
    let acr_values = split(row.acr_values.as_deref());
    let options = AuthOptions {
        force_login: split(row.prompt.as_deref()).iter().any(|p| p == "login")
            || row.max_age.is_some(),
        max_age: row.max_age.and_then(|m| u64::try_from(m).ok()),
        products: rules::eaccess_products(&acr_values),
    };
    redirect_to_eaccess(
        &state,
        &options,
        session.id_hash.clone(),
        Purpose::Provider {
            request: query.request.clone(),
        },
        eaccess_unavailable,
    )
    .await
}

/// Back from eAccess: the new authentication must meet the request, then consent.
async fn resume(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let (row, session) = bound_request(&state, &req, &query.request).await?;
    let client = client_of(&state, &row)?.clone();
    let Some((account_id, auth, amr)) = current_auth(&session) else {
        return Ok(see_other("/register"));
    };
    let max_age = row.max_age.map(i64::from);
    // `prompt=login`/`max_age` forced a new eAccess authentication: it must have happened
    // after the portal's request began (an eAccess session reused because the
    // parameter was stripped does not count), then meet age and acr.
    let forced = split(row.prompt.as_deref()).iter().any(|p| p == "login") || max_age.is_some();
    let skew = chrono::Duration::seconds(state.settings.eaccess.id_token_max_clock_skew_secs);
    let is_fresh = !forced
        || crate::eaccess::claims::authenticated_since(auth.auth_time, row.created_at, skew);
    if !is_fresh
        || !rules::session_satisfies(
            &auth,
            max_age,
            &split(row.acr_values.as_deref()),
            &[],
            now(),
        )
    {
        finish_denied(&state, &row).await?;
        let code = if max_age.is_some() {
            "login_required"
        } else {
            "access_denied"
        };
        return error_redirect(
            &state,
            &row,
            code,
            "the authentication does not meet the requested max_age or acr_values",
        );
    }
    let authenticated = Authenticated {
        account_id,
        auth_time: auth.auth_time,
        acr: auth.acr,
        amr,
        device_id: None,
    };
    continue_signed_in(
        &query.request,
        &state,
        &client,
        row,
        &session,
        authenticated,
        false,
        ctx,
    )
    .await
}

/// The citizen cancelled on the choice page: `access_denied` to the portal.
async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
) -> Result<HttpResponse, PageError> {
    let (row, _) = bound_request(&state, &req, &query.request).await?;
    if !finish_denied(&state, &row).await? {
        return Err(request_gone());
    }
    error_redirect(
        &state,
        &row,
        "access_denied",
        "the citizen cancelled the sign-in",
    )
}

#[derive(Debug, serde::Deserialize)]
struct ConsentForm {
    csrf_token: String,
    request: String,
    decision: String,
}

async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ConsentForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let (row, session) = bound_request(&state, &req, &form.request).await?;
    if !session::csrf_matches(&session, &form.csrf_token) {
        return Err(crate::web::csrf_failed());
    }
    let client = client_of(&state, &row)?.clone();
    let Some((account_id, auth, amr)) = current_auth(&session) else {
        return Err(request_gone());
    };
    if form.decision != "allow" {
        if !finish_denied(&state, &row).await? {
            return Err(request_gone());
        }
        return error_redirect(&state, &row, "access_denied", "the citizen did not consent");
    }
    let (account, client_id, name, scope) = (
        account_id.clone(),
        client.client_id.clone(),
        client.name.clone(),
        row.scope.clone(),
    );
    let now = now();
    let event_ctx = ctx.clone();
    state
        .db
        .run(move |conn| {
            service::record_consent(conn, &account, &client_id, &name, &scope, &event_ctx, now)
        })
        .await?;
    let authenticated = Authenticated {
        account_id,
        auth_time: auth.auth_time,
        acr: auth.acr,
        amr,
        device_id: None,
    };
    issue_and_redirect(&state, row, authenticated, ctx).await
}

// ---------------------------------------------------------------- token

fn invalid_grant(e: InvalidGrant) -> ApiError {
    ApiError::bad_request("invalid_grant", e.0)
}

fn token_endpoint_audiences(state: &AppState) -> Vec<String> {
    vec![endpoint(state, "/oidc/token"), issuer(state)]
}

/// Authenticates the client of a request to token, revocation or introspection.
async fn authenticated_client(
    state: &AppState,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<ClientSettings, ApiError> {
    let presented = client_auth::presented(req, form)?;
    let audiences = token_endpoint_audiences(state);
    let (client, jti) =
        client_auth::authenticate(&state.settings.provider, &presented, &audiences)?;
    if let Some(jti) = jti {
        let fresh = state
            .db
            .run(move |conn| crate::tokens::guard::remember_jti(conn, &jti.key, jti.expires_at))
            .await?;
        if !fresh {
            return Err(client_auth::invalid_client(
                "This client assertion was already used; make a new one for every request.",
            ));
        }
    }
    Ok(client.clone())
}

/// Counts one token-endpoint request in `bucket`: 429 with `Retry-After` beyond `limit`
/// a minute.
async fn count_token_request(state: &AppState, bucket: String, limit: u32) -> Result<(), ApiError> {
    let now = now();
    let retry = state
        .db
        .run(move |conn| rate_limit::hit(conn, &bucket, limit, 60, now))
        .await?;
    retry.map_or(Ok(()), |secs| Err(rate_limit::too_many_requests(secs)))
}

async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.provider;
    // Every request counts against its network address (behind `server.trusted_proxies`
    // the forwarded one) before anything in it is believed.
    count_token_request(
        &state,
        format!("oidc_token:ip:{}", ctx.ip.as_deref().unwrap_or("-")),
        limits.token_requests_per_minute_per_address,
    )
    .await?;
    let form = form_params(&req, &body)?;
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    if grant_type == super::exchange::TOKEN_EXCHANGE {
        return super::exchange::exchange(&state, &req, &form)
            .await
            .map(no_store);
    }
    let client = authenticated_client(&state, &req, &form).await?;
    // Only a client that proved who it is spends its own budget: requests with a wrong
    // secret (anyone can name a client_id) count against their address alone.
    count_token_request(
        &state,
        format!("oidc_token:client:{}", client.client_id),
        limits.token_requests_per_minute_per_client,
    )
    .await?;
    let now = now();
    let client_id = client.client_id.clone();
    let outcome = match grant_type.as_str() {
        "authorization_code" => {
            let code = form
                .get("code")
                .cloned()
                .filter(|c| c.len() <= 128)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "The code is missing."))?;
            let redirect_uri = form.get("redirect_uri").cloned();
            let verifier = form.get("code_verifier").cloned();
            if client.public && verifier.is_none() {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "A public client must send the code_verifier (PKCE).",
                ));
            }
            state
                .db
                .run(move |conn| {
                    service::redeem_code(
                        conn,
                        &code,
                        &client_id,
                        redirect_uri.as_deref(),
                        verifier.as_deref(),
                        now,
                    )
                })
                .await?
        }
        "refresh_token" => {
            let token = form
                .get("refresh_token")
                .cloned()
                .filter(|c| c.len() <= 128)
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_request", "The refresh_token is missing.")
                })?;
            state
                .db
                .run(move |conn| service::refresh(conn, &token, &client_id, now))
                .await?
        }
        "" => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "The grant_type is missing.",
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "unsupported_grant_type",
                "Use authorization_code, refresh_token or token exchange.",
            ));
        }
    };
    let redeemed = outcome.map_err(invalid_grant)?;
    token_response(&state, &redeemed).map(no_store)
}

fn token_response(state: &AppState, redeemed: &Redeemed) -> Result<HttpResponse, ApiError> {
    let iss = issuer(state);
    let settings = &state.settings.provider;
    let key = state.tokens.signing_key();
    let now = Utc::now();
    let id_token = ptokens::id_token(
        &key,
        &IdTokenInput {
            issuer: &iss,
            grant: &redeemed.grant,
            account: &redeemed.account,
            nonce: redeemed.nonce.as_deref(),
            ttl_secs: settings.id_token_ttl_secs,
        },
        now,
    )
    .map_err(ApiError::internal)?;
    let access_token = ptokens::access_token(
        &key,
        &iss,
        &redeemed.grant,
        &ptokens::userinfo_audience(&iss),
        None,
        settings.access_token_ttl_secs,
        now,
    )
    .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_secs,
        "id_token": id_token,
        "refresh_token": redeemed.refresh_token,
        "scope": redeemed.grant.scope,
    })))
}

// ---------------------------------------------------------------- userinfo

fn bearer_error(description: &'static str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    )
}

/// The keys to verify with: the cached ones, or the database's for an unknown `kid`.
pub(crate) async fn verify_with_keys<T>(
    state: &AppState,
    check: impl Fn(&[PublicKeyWithKid]) -> Result<T, JwtErrorOr>,
) -> Result<Result<T, JwtErrorOr>, ApiError> {
    let first = check(&state.tokens.cached_keys());
    if !matches!(first, Err(JwtErrorOr::Jwt(JwtError::UnknownKey))) {
        return Ok(first);
    }
    let now = now();
    let keys = state
        .db
        .run(move |conn| Ok(published_keys(conn, now)))
        .await?
        .map_err(ApiError::internal)?;
    Ok(check(&keys))
}

/// A JWT error, or another reason a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtErrorOr {
    Jwt(JwtError),
    Other,
}

impl From<ptokens::ProviderTokenError> for JwtErrorOr {
    fn from(e: ptokens::ProviderTokenError) -> Self {
        match e {
            ptokens::ProviderTokenError::Jwt(j) => Self::Jwt(j),
            _ => Self::Other,
        }
    }
}

/// A live provider access token for `audiences`: its claims and grant.
async fn live_access_token(
    state: &AppState,
    token: &str,
    audiences: &[&str],
) -> Result<Option<(ptokens::ProviderAccess, store::GrantRow)>, ApiError> {
    let iss = issuer(state);
    let now = now();
    let checked = verify_with_keys(state, |keys| {
        ptokens::verify_access_token(token, keys, &iss, audiences, now).map_err(JwtErrorOr::from)
    })
    .await?;
    let Ok(access) = checked else {
        return Ok(None);
    };
    let grant_id = access.grant_id.clone();
    let grant = state
        .db
        .run(move |conn| store::find_grant(conn, &grant_id))
        .await?;
    Ok(grant
        .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
        .map(|g| (access, g)))
}

async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let token = match header {
        Some(t) => t,
        None if req.method() == actix_web::http::Method::POST => form_params(&req, &body)
            .ok()
            .and_then(|f| f.get("access_token").cloned())
            .ok_or_else(|| bearer_error("Send the access token as a Bearer token."))?,
        None => return Err(bearer_error("Send the access token as a Bearer token.")),
    };
    let audience = ptokens::userinfo_audience(&issuer(&state));
    let (_, grant) = live_access_token(&state, &token, &[&audience])
        .await?
        .ok_or_else(|| {
            bearer_error("The access token is not valid, has expired or was revoked.")
        })?;
    let account_id = grant.account_id.clone();
    let account = state
        .db
        .run(move |conn| crate::accounts::store::find_account(conn, &account_id))
        .await?
        .ok_or_else(|| bearer_error("The account no longer exists."))?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(ptokens::subject(&grant)));
    ptokens::user_claims(&grant, &account, &mut claims);
    Ok(no_store(HttpResponse::Ok().json(Value::Object(claims))))
}

// ---------------------------------------------------------------- revoke, introspect

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = form_params(&req, &body)?;
    let client = authenticated_client(&state, &req, &form).await?;
    let token = form
        .get("token")
        .cloned()
        .filter(|t| t.len() <= 16 * 1024)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "The token is missing."))?;
    let grant_id = grant_of_any_token(&state, &token).await?;
    if let Some((grant_id, grant_client)) = grant_id {
        // RFC 7009 section 2.1: only the client the token was issued to may revoke it;
        // for anyone else the answer is the same 200, and nothing changes.
        if grant_client == client.client_id {
            let now = now();
            state
                .db
                .run(move |conn| store::revoke_grant(conn, &grant_id, now))
                .await?;
        }
    }
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// The grant (id, client) a refresh or access token belongs to, if it is one of ours.
async fn grant_of_any_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(String, String)>, ApiError> {
    if token.len() <= 64 {
        let t = token.to_owned();
        let now = now();
        let found = state
            .db
            .run(move |conn| service::grant_of_refresh_token(conn, &t, now))
            .await?;
        return Ok(found.map(|(_, g)| (g.id, g.client_id)));
    }
    let iss = issuer(state);
    let now = now();
    let checked = verify_with_keys(state, |keys| {
        crate::tokens::verify_jwt(token, keys, crate::tokens::access::ACCESS_TOKEN_TYP)
            .map_err(JwtErrorOr::Jwt)
    })
    .await?;
    Ok(checked.ok().and_then(|claims| {
        let sid = claims.get("sid")?.as_str()?.to_owned();
        let client = claims.get("client_id")?.as_str()?.to_owned();
        (claims.get("iss")?.as_str()? == iss
            && claims.get("exp")?.as_i64()? > now.and_utc().timestamp())
        .then_some((sid, client))
    }))
}

async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = form_params(&req, &body)?;
    let client = authenticated_client(&state, &req, &form).await?;
    if client.public {
        return Err(client_auth::invalid_client(
            "Public clients cannot introspect tokens.",
        ));
    }
    let token = form
        .get("token")
        .cloned()
        .filter(|t| t.len() <= 16 * 1024)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "The token is missing."))?;
    let inactive = || no_store(HttpResponse::Ok().json(json!({"active": false})));
    let now = now();
    if token.len() <= 64 {
        let t = token.clone();
        let found = state
            .db
            .run(move |conn| service::grant_of_refresh_token(conn, &t, now))
            .await?;
        return Ok(match found {
            Some((row, grant))
                if grant.revoked_at.is_none() && grant.client_id == client.client_id =>
            {
                no_store(HttpResponse::Ok().json(json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": grant.client_id,
                    "sub": ptokens::subject(&grant),
                    "scope": grant.scope,
                    "iss": issuer(&state),
                    "exp": row.expires_at.and_utc().timestamp(),
                    "iat": row.created_at.and_utc().timestamp(),
                })))
            }
            _ => inactive(),
        });
    }
    let iss = issuer(&state);
    let mut audiences = vec![ptokens::userinfo_audience(&iss)];
    audiences.extend(client.audiences.iter().cloned());
    let audience_refs: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let Some((access, grant)) = live_access_token(&state, &token, &audience_refs).await? else {
        return Ok(inactive());
    };
    // A token exchanged by the app is visible to the portal whose API it is for.
    let is_for_client = grant.client_id == client.client_id
        || access
            .claims
            .get("aud")
            .and_then(Value::as_str)
            .is_some_and(|a| client.audiences.iter().any(|x| x == a));
    if !is_for_client {
        return Ok(inactive());
    }
    let mut body = access.claims.clone();
    body.insert("active".into(), json!(true));
    body.insert("token_type".into(), json!("access_token"));
    Ok(no_store(HttpResponse::Ok().json(Value::Object(body))))
}

// ---------------------------------------------------------------- logout

async fn logout_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    logout(state, req, raw, ctx).await
}

async fn logout_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    logout(state, req, body.to_vec(), ctx).await
}

/// RP-initiated logout 1.0: with a valid `id_token_hint` for the signed-in citizen the
/// devicelink session ends; the browser returns to a registered
/// `post_logout_redirect_uri` with `state`. Without a hint nothing is ended silently:
/// the citizen is sent to the portal home, where "Sign out" is one click.
async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: Vec<u8>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let params = parse_params(&raw).map_err(|_| {
        client_page_error(
            "This sign-out request is not valid",
            "The portal sent a request with a repeated parameter.",
        )
    })?;
    let iss = issuer(&state);
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let hint = hint.clone();
            let checked = verify_with_keys(&state, |keys| {
                crate::tokens::verify_jwt(&hint, keys, ptokens::ID_TOKEN_TYP)
                    .map_err(JwtErrorOr::Jwt)
            })
            .await
            .map_err(|e| PageError::internal(anyhow::anyhow!("{e}")))?;
            let claims = checked
                .ok()
                .filter(|c| c.get("iss").and_then(Value::as_str) == Some(iss.as_str()));
            Some(claims.ok_or_else(|| {
                client_page_error(
                    "This sign-out request is not valid",
                    "The portal sent a sign-out request devicelink cannot verify. You are still signed in.",
                )
            })?)
        }
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("aud").and_then(Value::as_str).map(str::to_owned));
    let client_id = match (params.get("client_id"), hinted_client) {
        (Some(a), Some(b)) if *a != b => {
            return Err(client_page_error(
                "This sign-out request is not valid",
                "The portal named another client than the one of its ID token.",
            ));
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b,
    };
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = client_id
                .as_deref()
                .and_then(|id| state.settings.provider.client(id))
                .filter(|c| is_registered(&c.post_logout_redirect_uris, uri))
                .ok_or_else(|| {
                    client_page_error(
                        "This sign-out request is not valid",
                        "The portal asked to send you back to an address it has not registered.",
                    )
                })?;
            let _ = client;
            Some(uri.clone())
        }
    };
    let session = current_session(&state, &req).await?;
    let mut ended = false;
    if let (Some(claims), Some(session)) = (&hint, session) {
        let sub = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        if sub.is_some() && session.account_id == sub {
            let now = now();
            state
                .db
                .run(move |conn| {
                    if crate::web::store::delete_session(conn, &session.id_hash)? {
                        if let Some(account) = &session.account_id {
                            crate::audit::store::insert_event(
                                conn,
                                &crate::audit::NewAuditEvent::new(
                                    crate::audit::EventKind::SignedOut,
                                    Some(account),
                                    json!({"by": "portal", "client_id": client_id}),
                                    &ctx,
                                    now,
                                ),
                            )?;
                        }
                    }
                    Ok(())
                })
                .await?;
            ended = true;
        }
    }
    let mut response = match target {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(PageError::internal)?;
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            see_other(url.as_str())
        }
        None => see_other("/"),
    };
    if ended {
        response
            .add_cookie(&session::removal_cookie(&state.settings))
            .map_err(PageError::internal)?;
    }
    Ok(response)
}
