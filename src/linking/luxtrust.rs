//! Linking directly on the phone with LuxTrust Mobile or LuxTrust Scan: the app opens
//! `authorization_url` in the system browser (RFC 8252), devicelink sends it to eAccess
//! for a fresh authentication with that product, checks the outcome, and hands the app
//! only a one-time result reference through its redirect URI. The app trades that
//! reference (with a DPoP proof by the link's key) for the binding.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::Connection;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, ProductKind};
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::db::{DbConnection, StoreError};
use crate::eaccess::{AuthOptions, EaccessError, PendingAuth};
use crate::http::{ApiError, PageError, RequestContext};
use crate::state::AppState;
use crate::web::login::{Purpose, redirect_to_eaccess};
use crate::web::session::{hash_token, random_token};
use crate::web::store::LoginState;

use super::rules::LinkState;
use super::service::{LinkError, find_live};
use super::store::{self, LinkSessionRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start);
}

/// The URL the app opens in the system browser.
pub fn authorization_url(state: &AppState, link_id: &str) -> Result<String, ApiError> {
    let mut url = state
        .settings
        .server
        .public_url
        .join("/links/luxtrust/start")
        .map_err(ApiError::internal)?;
    url.query_pairs_mut().append_pair("link_id", link_id);
    Ok(url.to_string())
}

/// Why eAccess's answer cannot link this device. Stable codes for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Cancelled,
    AuthenticationFailed,
    AuthenticationTooOld,
    WrongProduct,
    AccountNotRegistered,
    ProductNeverUsed,
    /// A secret-code reset, authenticated as another person than the device's.
    WrongAccount,
    EaccessUnavailable,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Cancelled => "access_denied",
            Self::AuthenticationFailed => "authentication_failed",
            Self::AuthenticationTooOld => "authentication_too_old",
            Self::WrongProduct => "wrong_product",
            Self::AccountNotRegistered => "account_not_registered",
            Self::ProductNeverUsed => "product_never_used",
            Self::WrongAccount => "wrong_account",
            Self::EaccessUnavailable => "eaccess_unavailable",
        }
    }

    pub const ALL: [Self; 8] = [
        Self::Cancelled,
        Self::AuthenticationFailed,
        Self::AuthenticationTooOld,
        Self::WrongProduct,
        Self::AccountNotRegistered,
        Self::ProductNeverUsed,
        Self::WrongAccount,
        Self::EaccessUnavailable,
    ];

    pub fn from_code(code: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .unwrap_or(Self::AuthenticationFailed)
    }

    pub fn describe(self) -> String {
        match self {
            Self::Cancelled => crate::i18n::t("api-luxtrust-cancelled"),
            Self::AuthenticationFailed => crate::i18n::t("api-luxtrust-unverified"),
            Self::AuthenticationTooOld => crate::i18n::t("api-luxtrust-not-fresh"),
            Self::WrongProduct => crate::i18n::t("api-luxtrust-wrong-product"),
            Self::AccountNotRegistered => crate::i18n::t("api-account-not-registered"),
            Self::ProductNeverUsed => crate::i18n::t("api-product-never-used"),
            Self::WrongAccount => crate::i18n::t("api-luxtrust-wrong-account"),
            Self::EaccessUnavailable => crate::i18n::t("api-eaccess-unavailable"),
        }
    }
}

/// What eAccess vouched for, checked in the order the citizen journey requires.
pub struct Vouched<'a> {
    pub auth_time: NaiveDateTime,
    /// When this login started: the forced authentication must be later (less the
    /// clock skew), not an older eAccess session.
    pub login_started: NaiveDateTime,
    pub skew_secs: i64,
    pub product_kind: &'a str,
    pub account_exists: bool,
    pub product_used_before: bool,
}

/// The pure decision (1 fresh, 2 the chosen Mobile/Scan product, 3 registered,
/// 4 that exact product used in the browser before).
pub fn judge(
    chosen: ProductKind,
    vouched: &Vouched<'_>,
    max_age_secs: i64,
    now: NaiveDateTime,
) -> Result<(), Refusal> {
    if now - vouched.auth_time > Duration::seconds(max_age_secs)
        || !crate::eaccess::claims::authenticated_since(
            vouched.auth_time,
            vouched.login_started,
            Duration::seconds(vouched.skew_secs),
        )
    {
        return Err(Refusal::AuthenticationTooOld);
    }
    let used = vouched.product_kind.parse::<ProductKind>().ok();
    if used != Some(chosen) || !chosen.can_link_device() {
        return Err(Refusal::WrongProduct);
    }
    if !vouched.account_exists {
        return Err(Refusal::AccountNotRegistered);
    }
    if !vouched.product_used_before {
        return Err(Refusal::ProductNeverUsed);
    }
    Ok(())
}

pub fn invalid_result() -> ApiError {
    ApiError::bad_request(
        "invalid_luxtrust_result",
        crate::i18n::t("api-invalid-luxtrust-result"),
    )
}

fn page_expired() -> PageError {
    PageError::new(
        StatusCode::GONE,
        "link_expired",
        crate::i18n::t("api-luxtrust-link-expired-title"),
        crate::i18n::t("api-luxtrust-link-expired"),
    )
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    link_id: String,
}

/// Sends the system browser to eAccess for a fresh authentication with the chosen
/// product (`prompt=login`, `max_age=0`, PKCE, `state`, `nonce`).
#[get("/links/luxtrust/start")]
async fn start(
    state: web::Data<AppState>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    if uuid::Uuid::parse_str(&query.link_id).is_err() {
        return Err(page_expired());
    }
    let id = query.link_id.clone();
    let now = Utc::now().naive_utc();
    let link = state
        .db
        .run(move |conn| Ok(find_live(conn, &id, now).ok()))
        .await?
        .filter(|l| l.state == LinkState::Created.as_str() && l.result_hash.is_none())
        .ok_or_else(page_expired)?;
    let product = link
        .product
        .as_deref()
        .and_then(|p| p.parse::<ProductKind>().ok())
        .ok_or_else(page_expired)?;
    let options = AuthOptions {
        force_login: true,
        max_age: Some(0),
        products: vec![product],
    };
    redirect_to_eaccess(
        &state,
        &options,
        link.id.clone(),
        Purpose::LuxtrustLink,
        PageError::unavailable,
    )
    .await
}

/// The eAccess callback of a LuxTrust link: decide, record, and send the browser back
/// to the app with `result` (success) or `error` (refusal) — never a token.
pub async fn complete_callback(
    state: &AppState,
    login: LoginState,
    state_value: String,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let link_id = login.session_id_hash.clone();
    let id = link_id.clone();
    let now = Utc::now().naive_utc();
    let link = state
        .db
        .run(move |conn| Ok(find_live(conn, &id, now).ok()))
        .await?
        .filter(|l| l.state == LinkState::Created.as_str())
        .ok_or_else(page_expired)?;
    let outcome = decide(state, &link, login, state_value, code, iss, error).await;
    let (result, refusal) = match outcome {
        Ok(account_id) => {
            let result = random_token();
            let result_hash = hash_token(&result);
            let id = link.id.clone();
            let recorded = state
                .db
                .run(move |conn| {
                    conn.transaction(|conn| {
                        if !store::set_luxtrust_result(conn, &id, &account_id, &result_hash, now)? {
                            return Ok(false);
                        }
                        audit::store::insert_event(
                            conn,
                            &NewAuditEvent::new(
                                EventKind::LuxtrustVouched,
                                Some(&account_id),
                                json!({"link_id": id}),
                                &ctx,
                                now,
                            ),
                        )?;
                        Ok::<_, StoreError>(true)
                    })
                })
                .await?;
            if !recorded {
                return Err(page_expired());
            }
            (Some(result), None)
        }
        Err(refusal) => {
            let id = link.id.clone();
            state
                .db
                .run(move |conn| {
                    conn.transaction(|conn| {
                        if store::refuse(conn, &id, refusal.code(), now)? {
                            audit::store::insert_event(
                                conn,
                                &NewAuditEvent::new(
                                    EventKind::LinkRefused,
                                    None,
                                    json!({"link_id": id, "reason": refusal.code()}),
                                    &ctx,
                                    now,
                                ),
                            )?;
                        }
                        Ok::<_, StoreError>(())
                    })
                })
                .await?;
            (None, Some(refusal))
        }
    };
    let mut target = link
        .app_redirect_uri
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(page_expired)?;
    {
        let mut query = target.query_pairs_mut();
        query.append_pair("link_id", &link.id);
        if let Some(result) = &result {
            query.append_pair("result", result);
        }
        if let Some(refusal) = refusal {
            query
                .append_pair("error", refusal.code())
                .append_pair("error_description", &refusal.describe());
        }
    }
    Ok(crate::web::see_other(target.as_str()))
}

/// Validates eAccess's answer and applies the four rules; the account id on success.
async fn decide(
    state: &AppState,
    link: &LinkSessionRow,
    login: LoginState,
    state_value: String,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
) -> Result<String, Refusal> {
    if let Some(error) = error {
        return Err(if error == "access_denied" {
            Refusal::Cancelled
        } else {
            Refusal::AuthenticationFailed
        });
    }
    let login_started = login.created_at;
    let chosen = link
        .product
        .as_deref()
        .and_then(|p| p.parse::<ProductKind>().ok())
        .ok_or(Refusal::AuthenticationFailed)?;
    let code = code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(Refusal::AuthenticationFailed)?;
    let pending = PendingAuth {
        state: state_value,
        nonce: login.nonce,
        pkce_verifier: login.pkce_verifier,
    };
    let redirect =
        crate::web::login::callback_url(state).map_err(|_| Refusal::AuthenticationFailed)?;
    let identity = state
        .eaccess
        .complete(&redirect, &code, iss.as_deref(), &pending)
        .await
        .map_err(|e| match e {
            EaccessError::Unavailable(_) => Refusal::EaccessUnavailable,
            other => {
                tracing::warn!(cause = %other, "LuxTrust link: eAccess answer refused");
                Refusal::AuthenticationFailed
            }
        })?;
    let sub = identity.sub.clone();
    let product = identity.product();
    let resets = link.resets_device_id.clone();
    let (account, used, own_device) = state
        .db
        .run(move |conn| {
            let Some(account) = accounts::store::find_account_by_sub(conn, &sub)? else {
                return Ok((None, false, false));
            };
            let used = match &product {
                Some(p) => accounts::store::has_used_product(conn, &account.id, p)?,
                None => false,
            };
            let own_device = match &resets {
                Some(device_id) => super::reset::same_account(conn, device_id, &account.id)?,
                None => true,
            };
            Ok((Some(account.id), used, own_device))
        })
        .await
        .map_err(|_| Refusal::EaccessUnavailable)?;
    let vouched = Vouched {
        auth_time: identity.auth_time.naive_utc(),
        login_started,
        skew_secs: state.settings.eaccess.id_token_max_clock_skew_secs,
        product_kind: &identity.product_kind,
        account_exists: account.is_some(),
        product_used_before: used,
    };
    judge(
        chosen,
        &vouched,
        state.settings.linking.luxtrust_max_auth_age_secs,
        Utc::now().naive_utc(),
    )?;
    // 5. A secret-code reset: the person the device is linked to, nobody else.
    if !own_device {
        return Err(Refusal::WrongAccount);
    }
    account.ok_or(Refusal::AccountNotRegistered)
}

/// The app trades its result reference for the binding (single use).
pub fn bind(
    conn: &mut DbConnection,
    link_id: &str,
    result_hash: &str,
    ctx: &RequestContext,
    now: NaiveDateTime,
) -> Result<LinkSessionRow, LinkError> {
    conn.transaction(|conn| {
        let link = find_live(conn, link_id, now)?;
        if link.product.is_none() {
            return Err(LinkError::InvalidState(link.state));
        }
        if !store::bind_luxtrust(conn, link_id, result_hash, now)? {
            return Err(LinkError::InvalidResult);
        }
        let bound = store::find_link_session(conn, link_id)?.ok_or(LinkError::NotFound)?;
        audit::store::insert_event(
            conn,
            &NewAuditEvent::new(
                EventKind::LuxtrustLinkBound,
                bound.account_id.as_deref(),
                json!({"link_id": link_id, "product": bound.product}),
                ctx,
                now,
            ),
        )?;
        Ok(bound)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn vouched(product: &str, account: bool, used: bool) -> Vouched<'_> {
        Vouched {
            auth_time: at(0),
            login_started: at(0),
            skew_secs: 120,
            product_kind: product,
            account_exists: account,
            product_used_before: used,
        }
    }

    #[test]
    fn an_answer_from_an_eaccess_session_older_than_the_login_is_too_old() {
        let mut old = vouched("luxtrust_mobile", true, true);
        old.login_started = at(200);
        assert_eq!(
            judge(ProductKind::LuxtrustMobile, &old, 300, at(210)),
            Err(Refusal::AuthenticationTooOld)
        );
        old.login_started = at(120);
        assert_eq!(
            judge(ProductKind::LuxtrustMobile, &old, 300, at(210)),
            Ok(())
        );
    }

    #[test]
    fn the_rules_apply_in_the_journey_order() {
        let chosen = ProductKind::LuxtrustMobile;
        let now = at(10);
        assert_eq!(
            judge(chosen, &vouched("luxtrust_mobile", true, true), 300, now),
            Ok(())
        );
        // 1. freshness first, even when everything else is wrong too
        assert_eq!(
            judge(chosen, &vouched("eid_card", false, false), 300, at(301)),
            Err(Refusal::AuthenticationTooOld)
        );
        // 2. the product chosen, and only Mobile/Scan
        assert_eq!(
            judge(chosen, &vouched("luxtrust_scan", true, true), 300, now),
            Err(Refusal::WrongProduct)
        );
        assert_eq!(
            judge(chosen, &vouched("eid_card", true, true), 300, now),
            Err(Refusal::WrongProduct)
        );
        assert_eq!(
            judge(
                ProductKind::EidCard,
                &vouched("eid_card", true, true),
                300,
                now
            ),
            Err(Refusal::WrongProduct)
        );
        // 3. registered
        assert_eq!(
            judge(chosen, &vouched("luxtrust_mobile", false, false), 300, now),
            Err(Refusal::AccountNotRegistered)
        );
        // 4. used in the browser before
        assert_eq!(
            judge(chosen, &vouched("luxtrust_mobile", true, false), 300, now),
            Err(Refusal::ProductNeverUsed)
        );
    }

    #[test]
    fn refusal_codes_round_trip() {
        for r in [
            Refusal::Cancelled,
            Refusal::AuthenticationFailed,
            Refusal::AuthenticationTooOld,
            Refusal::WrongProduct,
            Refusal::AccountNotRegistered,
            Refusal::ProductNeverUsed,
            Refusal::WrongAccount,
            Refusal::EaccessUnavailable,
        ] {
            assert_eq!(Refusal::from_code(r.code()), r);
        }
    }
}
