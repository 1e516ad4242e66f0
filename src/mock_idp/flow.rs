//! The login flow on the mock's pages: authorization request, identity and product choice,
//! product step, and RP-initiated logout. Each function returns an `Outcome` that `routes`
//! turns into a response; decisions come from `authorize`.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use url::Url;

use super::authorize::{
    self, AuthorizationRequest, AuthorizeParams, AuthorizeRejection, ErrorRedirect, SsoDecision,
    SsoSession,
};
use super::keys::SigningKeys;
use super::pages::{self, LoginView};
use super::products::ProductKind;
use super::settings::MockIdpSettings;
use super::store::{CodeGrant, PendingLogin, ProductStep, Store};

/// Wrong codes allowed on the product step before the login is refused.
const MAX_FAILED_ATTEMPTS: u32 = 5;
/// PIN accepted on the eID card step.
const PIN_LENGTHS: std::ops::RangeInclusive<usize> = 4..=8;

/// Everything the handlers share.
pub struct IdpState {
    pub settings: MockIdpSettings,
    pub keys: SigningKeys,
    pub store: Store,
    pub issuer_id: String,
    pub base_path: String,
}

/// What to do with the SSO session cookie.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionChange {
    Keep,
    /// Set the cookie to this new session id.
    Start(String),
    /// Remove the cookie.
    End,
}

/// The result of a flow step.
#[derive(Debug)]
pub enum Outcome {
    /// 200 with this HTML.
    Page(String),
    /// An HTML error page; never a redirect.
    ErrorPage {
        status: u16,
        title: String,
        message: String,
        /// Technical detail for the developers of the application (may be empty).
        detail: String,
    },
    /// 303 See Other.
    Redirect {
        location: Url,
        session: SessionChange,
    },
}

impl Outcome {
    fn page(rendered: Result<String, askama::Error>) -> Self {
        rendered.map_or_else(
            |error| {
                tracing::error!(error = %error, "cannot render a mock IdP page");
                Self::error_page(500, "idp-error-title", "idp-error-render", "")
            },
            Self::Page,
        )
    }

    /// An error page in the current language: the messages `title` and `message`, and a
    /// technical `detail` (untranslated, for developers; may be empty).
    fn error_page(status: u16, title: &str, message: &str, detail: &str) -> Self {
        Self::ErrorPage {
            status,
            title: crate::i18n::t(title),
            message: crate::i18n::t(message),
            detail: detail.to_owned(),
        }
    }

    fn redirect(location: Url) -> Self {
        Self::Redirect {
            location,
            session: SessionChange::Keep,
        }
    }
}

fn expired_request() -> Outcome {
    Outcome::error_page(400, "idp-expired-title", "idp-expired", "")
}

fn seconds(value: u64) -> Duration {
    Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

impl IdpState {
    pub fn new(settings: MockIdpSettings, keys: SigningKeys) -> Self {
        Self {
            store: Store::new(seconds(settings.access_token_lifetime_secs)),
            issuer_id: settings.issuer_id(),
            base_path: settings.base_path(),
            settings,
            keys,
        }
    }

    fn redirect_error(&self, error: &ErrorRedirect) -> Outcome {
        Outcome::redirect(error.to_url(&self.issuer_id))
    }

    /// The session behind a cookie, if it still matches a configured identity and product.
    fn session(&self, cookie: Option<&str>, now: DateTime<Utc>) -> Option<SsoSession> {
        let session = self.store.find_session(cookie?, now)?;
        let identity = self.settings.identity(&session.identity_id)?;
        (identity.product(session.product.kind) == Some(&session.product)).then_some(session)
    }

    fn issue_code(
        &self,
        request: &AuthorizationRequest,
        session: &SsoSession,
        now: DateTime<Utc>,
    ) -> Url {
        let expires_at = now + seconds(self.settings.code_lifetime_secs);
        let code = self
            .store
            .insert_code(CodeGrant::new(request, session, expires_at), now);
        authorize::success_url(request, &code, &self.issuer_id)
    }

    fn login_page(
        &self,
        request_id: &str,
        request: &AuthorizationRequest,
        selected: (Option<&str>, Option<ProductKind>),
        error: &str,
    ) -> Outcome {
        let client_name = self
            .settings
            .client(&request.client_id)
            .map_or(request.client_id.as_str(), |client| client.display_name());
        Outcome::page(pages::login(&LoginView {
            base_path: &self.base_path,
            client_name,
            request_id,
            identities: &self.settings.identities,
            allowed_products: &request.allowed_products,
            selected_identity: selected.0.or(request.login_hint.as_deref()),
            selected_product: selected.1,
            error,
        }))
    }

    fn step_page(&self, request_id: &str, step: &ProductStep, error: &str) -> Outcome {
        let Some(identity) = self.settings.identity(&step.identity_id) else {
            return expired_request();
        };
        Outcome::page(pages::step(
            &self.base_path,
            request_id,
            identity,
            &step.product,
            step.code.as_deref(),
            error,
        ))
    }
}

/// `GET|POST /authorize`: validate, then answer from the SSO session or show the login page.
pub fn begin(
    state: &IdpState,
    params: &AuthorizeParams,
    cookie: Option<&str>,
    now: DateTime<Utc>,
) -> Outcome {
    let mut request = match authorize::parse_request(params, &state.settings.clients) {
        Ok(request) => request,
        Err(AuthorizeRejection::Untrusted(message)) => {
            tracing::info!(reason = %message, "authorization request refused without redirect");
            return Outcome::error_page(
                400,
                "idp-invalid-request-title",
                "idp-invalid-request",
                &message,
            );
        }
        Err(AuthorizeRejection::Redirect(error)) => return state.redirect_error(&error),
    };
    if state.settings.faults.ignore_product_restrictions {
        // Fault switch: behave like a provider that ignores acr_values / product_hint.
        request.allowed_products = super::ProductKind::ALL.to_vec();
    }
    if state.settings.faults.ignore_prompt_login {
        // Fault switch: behave as if prompt=login and max_age had been stripped.
        request.prompt.is_login = false;
        request.max_age = None;
    }
    let session = state.session(cookie, now);
    match authorize::decide_sso(&request, session.as_ref(), now) {
        SsoDecision::Reuse => match session {
            Some(session) => Outcome::redirect(state.issue_code(&request, &session, now)),
            None => expired_request(),
        },
        SsoDecision::LoginRequired(reason) => state.redirect_error(&ErrorRedirect::for_request(
            &request,
            "login_required",
            reason,
        )),
        SsoDecision::Login => {
            let expires_at = now + seconds(state.settings.login_lifetime_secs);
            let request_id = state.store.insert_pending(request.clone(), expires_at, now);
            state.login_page(&request_id, &request, (None, None), "")
        }
    }
}

/// The form of the identity and product page.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub request_id: Option<String>,
    pub identity: Option<String>,
    pub product: Option<String>,
    pub action: Option<String>,
}

/// `POST /authorize/login`: the user chose an identity and a product (or cancelled).
pub fn choose(state: &IdpState, form: &LoginForm, now: DateTime<Utc>) -> Outcome {
    let Some(request_id) = form.request_id.as_deref() else {
        return expired_request();
    };
    let Some(pending) = state.store.find_pending(request_id, now) else {
        return expired_request();
    };
    let request = &pending.request;
    let product_kind = form.product.as_deref().and_then(ProductKind::parse);
    let again = |message: &str| {
        state.login_page(
            request_id,
            request,
            (form.identity.as_deref(), product_kind),
            message,
        )
    };
    match form.action.as_deref() {
        Some("cancel") => return cancel(state, request_id, now),
        Some("continue") => {}
        _ => return again(&crate::i18n::t("idp-choose-continue")),
    }
    let Some(identity) = form
        .identity
        .as_deref()
        .and_then(|id| state.settings.identity(id))
    else {
        return again(&crate::i18n::t("idp-choose-identity"));
    };
    // Fault switch: this identity's login always fails.
    if let Some(fault) = identity.fault {
        state.store.take_pending(request_id, now);
        return state.redirect_error(&ErrorRedirect::for_request(
            request,
            fault.error_code(),
            "simulated eAccess failure (fault switch)",
        ));
    }
    let owned_and_allowed: Vec<String> = identity
        .products
        .iter()
        .filter(|product| request.allowed_products.contains(&product.kind))
        .map(|product| product.kind.label())
        .collect();
    if owned_and_allowed.is_empty() {
        return again(&crate::i18n::t_args(
            "idp-no-accepted-product",
            &[
                ("name", identity.name().into()),
                ("client", client_name(state, request).into()),
            ],
        ));
    }
    let Some(kind) = product_kind.filter(|kind| request.allowed_products.contains(kind)) else {
        return again(&crate::i18n::t("idp-choose-product"));
    };
    let Some(product) = identity.product(kind) else {
        return again(&crate::i18n::t_args(
            "idp-product-not-owned",
            &[
                ("name", identity.name().into()),
                ("product", kind.label().into()),
                ("products", owned_and_allowed.join(", ").into()),
            ],
        ));
    };
    let step = ProductStep {
        identity_id: identity.id.clone(),
        product: product.clone(),
        code: kind
            .shows_code()
            .then(|| format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))),
        failed_attempts: 0,
    };
    state.store.update_pending_step(request_id, step.clone());
    state.step_page(request_id, &step, "")
}

fn client_name<'s>(state: &'s IdpState, request: &'s AuthorizationRequest) -> &'s str {
    state
        .settings
        .client(&request.client_id)
        .map_or(request.client_id.as_str(), |client| client.display_name())
}

fn cancel(state: &IdpState, request_id: &str, now: DateTime<Utc>) -> Outcome {
    match state.store.take_pending(request_id, now) {
        Some(pending) => state.redirect_error(&ErrorRedirect::for_request(
            &pending.request,
            "access_denied",
            "the user cancelled the sign-in",
        )),
        None => expired_request(),
    }
}

/// The form of the product step page.
#[derive(Deserialize)]
pub struct ConfirmForm {
    pub request_id: Option<String>,
    pub action: Option<String>,
    pub otp: Option<String>,
    pub pin: Option<String>,
}

impl std::fmt::Debug for ConfirmForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmForm")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// `POST /authorize/confirm`: the product step was completed (or cancelled).
pub fn confirm(
    state: &IdpState,
    form: &ConfirmForm,
    cookie: Option<&str>,
    now: DateTime<Utc>,
) -> Outcome {
    let Some(request_id) = form.request_id.as_deref() else {
        return expired_request();
    };
    let Some(PendingLogin {
        step: Some(mut step),
        ..
    }) = state.store.find_pending(request_id, now)
    else {
        return expired_request();
    };
    match form.action.as_deref() {
        Some("cancel") => return cancel(state, request_id, now),
        Some("approve") => {}
        _ => {
            return state.step_page(request_id, &step, &crate::i18n::t("idp-choose-confirm"));
        }
    }
    if let Some(problem) = step_problem(&step, form) {
        step.failed_attempts += 1;
        if step.failed_attempts >= MAX_FAILED_ATTEMPTS {
            return match state.store.take_pending(request_id, now) {
                Some(pending) => state.redirect_error(&ErrorRedirect::for_request(
                    &pending.request,
                    "access_denied",
                    "too many failed attempts",
                )),
                None => expired_request(),
            };
        }
        state.store.update_pending_step(request_id, step.clone());
        return state.step_page(request_id, &step, &crate::i18n::t(problem));
    }
    let Some(pending) = state.store.take_pending(request_id, now) else {
        return expired_request();
    };
    if let Some(old) = cookie {
        state.store.delete_session(old);
    }
    let session = SsoSession {
        identity_id: step.identity_id,
        product: step.product,
        // Fault switch: report an authentication older than it is.
        auth_time: now - chrono::Duration::seconds(state.settings.faults.auth_time_backdate_secs),
    };
    let location = state.issue_code(&pending.request, &session, now);
    let expires_at = now + seconds(state.settings.session_lifetime_secs);
    let cookie = state.store.insert_session(session, expires_at, now);
    tracing::info!(client_id = %pending.request.client_id, "mock eAccess login completed");
    Outcome::Redirect {
        location,
        session: SessionChange::Start(cookie),
    }
}

/// What is wrong with the product step input, if anything (a message key).
fn step_problem(step: &ProductStep, form: &ConfirmForm) -> Option<&'static str> {
    match (&step.code, step.product.kind) {
        (Some(expected), _) => {
            let given = form.otp.as_deref().unwrap_or_default().trim();
            (!bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
                .then_some("idp-code-mismatch")
        }
        (None, ProductKind::EidCard) => {
            let pin = form.pin.as_deref().unwrap_or_default();
            let is_pin =
                PIN_LENGTHS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit());
            (!is_pin).then_some("idp-pin-digits")
        }
        (None, _) => None,
    }
}

/// The parameters of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// The languages of the signed-out page (RP-Initiated Logout 1.0 §2).
    pub ui_locales: Option<String>,
}

/// `GET|POST /logout`: end the SSO session, then return to the client if it asked to.
pub fn logout(state: &IdpState, params: &LogoutParams, cookie: Option<&str>) -> Outcome {
    let refuse = |detail: &str| {
        Outcome::error_page(
            400,
            "idp-invalid-logout-title",
            "idp-invalid-logout",
            detail,
        )
    };
    let hinted_client = match params
        .id_token_hint
        .as_deref()
        .filter(|hint| !hint.is_empty())
    {
        None => None,
        Some(hint) => match audience_of(&state.keys, &state.issuer_id, hint) {
            Some(audience) => Some(audience),
            None => return refuse("The id_token_hint was not issued by eAccess."),
        },
    };
    let client_id = match (
        hinted_client,
        params.client_id.as_deref().filter(|id| !id.is_empty()),
    ) {
        (Some(hinted), Some(given)) if hinted != given => {
            return refuse("client_id does not match the id_token_hint.");
        }
        (Some(hinted), _) => Some(hinted),
        (None, given) => given.map(str::to_owned),
    };
    let client = match client_id {
        Some(id) => match state.settings.client(&id) {
            Some(client) => Some(client),
            None => return refuse("The application is not registered with eAccess."),
        },
        None => None,
    };
    let location = match params
        .post_logout_redirect_uri
        .as_deref()
        .filter(|uri| !uri.is_empty())
    {
        None => None,
        Some(raw) => {
            let Some(client) = client else {
                return refuse("post_logout_redirect_uri needs id_token_hint or client_id.");
            };
            match client
                .post_logout_redirect_uris
                .iter()
                .find(|registered| registered.as_str() == raw)
            {
                Some(registered) => Some(registered.clone()),
                None => {
                    return refuse(
                        "post_logout_redirect_uri is not registered for this application.",
                    );
                }
            }
        }
    };
    if let Some(cookie) = cookie {
        state.store.delete_session(cookie);
    }
    match location {
        Some(mut location) => {
            if let Some(value) = params.state.as_deref().filter(|s| !s.is_empty()) {
                location.query_pairs_mut().append_pair("state", value);
            }
            Outcome::Redirect {
                location,
                session: SessionChange::End,
            }
        }
        None => Outcome::page(pages::message(
            &state.base_path,
            &crate::i18n::t("idp-signed-out-title"),
            &crate::i18n::t("idp-signed-out"),
            "",
        )),
    }
}

/// The client an ID token was issued to, if we signed it (current or retired key).
/// Expired hints are fine (the RP may log out long after login).
fn audience_of(keys: &SigningKeys, issuer_id: &str, token: &str) -> Option<String> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = keys.decoding_key(header.kid.as_deref()?)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer_id]);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).ok()?;
    match &data.claims["aud"] {
        serde_json::Value::String(aud) => Some(aud.clone()),
        serde_json::Value::Array(list) => list.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}
