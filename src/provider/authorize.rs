//! The authorization endpoint and its pages: `GET|POST /oidc/authorize`, the choice
//! between eAccess and the app, the eAccess broker, resuming after sign-in, cancel and
//! consent.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Duration;
use serde_json::json;

use crate::config::ClientSettings;
use crate::eaccess::AuthOptions;
use crate::http::{PageError, RequestContext};
use crate::protocol::redirect_uri::is_registered;
use crate::state::AppState;
use crate::web::login::{Purpose, eaccess_unavailable, redirect_to_eaccess};
use crate::web::session::{self, SessionData};
use crate::web::store::BrowserSession;
use crate::web::{current_session, html, see_other};

use super::endpoint::{client_page_error, now, parse_params};
use super::flow::{
    RequestQuery, bound_request, client_of, current_auth, error_redirect, finish_denied,
    issue_and_redirect, redirect_to_client, request_gone, split,
};
use super::pages::{ChoosePage, ConsentPage, scope_items};
use super::rules::{self, AuthorizeParams};
use super::service::{self, Authenticated};
use super::store::{self, RequestRow};

pub(super) async fn authorize_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    authorize(state, req, raw, ctx).await
}

pub(super) async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    authorize(state, req, body.to_vec(), ctx).await
}

pub(super) async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: Vec<u8>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let map = parse_params(&raw).map_err(|_| {
        client_page_error(
            "provider-error-invalid-request-title",
            "provider-error-repeated-parameter",
        )
    })?;
    let mut params: AuthorizeParams =
        serde_json::from_value(json!(map)).map_err(PageError::internal)?;
    let client = params
        .client_id
        .as_deref()
        .and_then(|id| state.settings.provider.client(id))
        .ok_or_else(|| {
            client_page_error(
                "provider-error-unknown-portal-title",
                "provider-error-unknown-portal",
            )
        })?
        .clone();
    // A pushed request (RFC 9126 section 4): the parameters come from the database, used
    // once; only `client_id` and `request_uri` travel through the browser. Any other
    // `request_uri` is left to `rules::validate`: `request_uri_not_supported` (OIDC Core
    // 3.1.2.6) at a registered redirect URI.
    let pushed_uri = params
        .request_uri
        .clone()
        .filter(|uri| uri.starts_with(super::par::REQUEST_URI_PREFIX));
    let pushed = pushed_uri.is_some();
    if let Some(request_uri) = pushed_uri {
        let client_id = client.client_id.clone();
        let now = now();
        let stored = state
            .db
            .run(move |conn| super::par::take_pushed_request(conn, &request_uri, &client_id, now))
            .await?
            .ok_or_else(|| {
                client_page_error("provider-error-expired-title", "provider-error-expired")
            })?;
        params = serde_json::from_value(json!(stored)).map_err(PageError::internal)?;
    }
    // `ui_locales` (OIDC Core 3.1.2.1): the portal's language holds for this sign-in. The
    // page in hand speaks it at once, and a `lang` cookie for this browser session carries it
    // through the rest (eAccess, the app approval, consent). Otherwise the citizen's own.
    match params
        .ui_locales
        .as_deref()
        .and_then(crate::i18n::negotiate::from_ui_locales)
    {
        Some(lang) if lang != crate::i18n::current() => {
            let secure = state.settings.server.public_url.scheme() == "https";
            let outcome =
                crate::i18n::scope(lang, resolved(state, req, params, client, pushed, ctx)).await;
            let mut response =
                outcome.unwrap_or_else(|e| crate::i18n::with_lang(lang, || e.error_response()));
            response.headers_mut().insert(
                actix_web::http::header::CONTENT_LANGUAGE,
                actix_web::http::header::HeaderValue::from_static(lang.code()),
            );
            response
                .add_cookie(&crate::web::language::session_lang_cookie(lang, secure))
                .map_err(PageError::internal)?;
            Ok(response)
        }
        _ => resolved(state, req, params, client, pushed, ctx).await,
    }
}

/// `authorize` once the parameters are known (pushed ones resolved) and the client too.
async fn resolved(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: AuthorizeParams,
    client: ClientSettings,
    pushed: bool,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    // An unregistered redirect URI is never redirected to (RFC 6749 section 4.1.2.1).
    if !params
        .redirect_uri
        .as_deref()
        .is_some_and(|uri| is_registered(&client.redirect_uris, uri))
    {
        return Err(client_page_error(
            "provider-error-invalid-request-title",
            "provider-error-unregistered-redirect",
        ));
    }
    let now = now();
    let validated = match rules::validate(&client, &params).and_then(|v| {
        if client.requires_par() && !pushed {
            Err(rules::AuthorizeError::new(
                "invalid_request",
                "this portal must push its authorization requests to /oidc/par (RFC 9126)",
            ))
        } else {
            Ok(v)
        }
    }) {
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
        acr_essential: validated.acr_essential,
        dpop_jkt: validated.dpop_jkt.clone(),
        claims: validated.claims.to_stored(),
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

/// "Sign in with eAccess": the portal sign-in, resuming this request afterwards.
pub(super) async fn broker_to_eaccess(
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
pub(super) async fn resume(
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
    // parameter was stripped does not count), then meet the acr.
    let forced = split(row.prompt.as_deref()).iter().any(|p| p == "login") || max_age.is_some();
    let skew = chrono::Duration::seconds(state.settings.eaccess.id_token_max_clock_skew_secs);
    let is_fresh = !forced
        || crate::eaccess::claims::authenticated_since(auth.auth_time, row.created_at, skew);
    // acr_values are voluntary (OIDC Core 3.1.2.1): an authentication that meets none of
    // them still signs in, and the ID token's `acr` says what happened; only an
    // essential `acr` claims request (section 5.5.1.1) refuses.
    let acr_values = if row.acr_essential {
        split(row.acr_values.as_deref())
    } else {
        Vec::new()
    };
    // `max_age` is met by that forced authentication itself (OIDC Core 3.1.2.1: the OP
    // actively re-authenticated): measuring it again against the clock here would refuse
    // a `max_age=1` sign-in whenever eAccess and this hop took over a second.
    if !is_fresh || !rules::session_satisfies(&auth, None, &acr_values, &[], now()) {
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
pub(super) async fn cancel(
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
pub(super) struct ConsentForm {
    csrf_token: String,
    request: String,
    decision: String,
}

pub(super) async fn consent(
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
