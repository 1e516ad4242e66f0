//! What the link endpoints answer: the link view and the completed link, typed so that
//! the OpenAPI contract (`linking::contract`) is derived from the very structs sent.

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use super::luxtrust::Refusal;
use super::rules::{LinkMethod, LinkState};
use super::store::LinkSessionRow;

/// What the app does next with a LuxTrust link in state `created`.
const LUXTRUST_NEXT: [&str; 2] = ["open_authorization_url", "redeem_luxtrust_result"];

/// A link as the app sees it (docs/api.md, "Device API: linking").
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkView {
    pub link_id: String,
    #[schema(schema_with = state_schema)]
    pub state: &'static str,
    /// How the link binds an account: `qr`, `luxtrust_mobile` or `luxtrust_scan`.
    #[schema(schema_with = method_schema)]
    pub method: String,
    pub device_name: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// What the app may do now.
    #[schema(schema_with = next_schema)]
    pub next: Vec<&'static str>,
    /// Once an account is bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountView>,
    /// Once the link is completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// LuxTrust links: `luxtrust_mobile` or `luxtrust_scan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// A link that sets a new secret code on a device already linked ("Forgot your
    /// code?", `POST /api/v1/device/secret-code/reset`); absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resets_secret_code: bool,
    /// A refused LuxTrust link: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusalView>,
    /// LuxTrust links, in the answer to `POST /api/v1/links` only: open it in the system
    /// browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uri")]
    pub authorization_url: Option<String>,
}

/// The account a link is bound to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    pub display_name: String,
}

/// Why eAccess or devicelink refused a LuxTrust link.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalView {
    #[schema(schema_with = refusal_schema)]
    pub error: &'static str,
    pub error_description: String,
}

/// The answer of `POST /api/v1/links/{link_id}/complete`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletedLink {
    pub link_id: String,
    #[schema(schema_with = completed_schema)]
    pub state: &'static str,
    pub device_id: String,
    pub account: AccountView,
    /// Whether the device has a passkey now (biometric unlock).
    pub biometrics: bool,
    /// A secret-code reset ("Forgot your code?"): the device was already linked and keeps
    /// its id; it has a new code, is unlocked, and its earlier tokens are revoked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resets_secret_code: bool,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The view of `link`. A link past its expiry reads as expired even before the janitor
/// has marked it.
pub fn link_view(link: &LinkSessionRow, display_name: Option<String>) -> LinkView {
    let mut state = LinkState::parse(&link.state).unwrap_or(LinkState::Expired);
    if !state.is_terminal() && link.expires_at <= now() {
        state = LinkState::Expired;
    }
    let mut next = state.next_steps().to_vec();
    if link.product.is_some() && state == LinkState::Created {
        next = LUXTRUST_NEXT.to_vec();
    }
    LinkView {
        link_id: link.id.clone(),
        state: state.as_str(),
        method: link.method.clone(),
        device_name: link.device_name.clone(),
        expires_at: link.expires_at.and_utc().to_rfc3339(),
        next,
        account: display_name.map(|display_name| AccountView { display_name }),
        device_id: link.device_id.clone(),
        product: link.product.clone(),
        resets_secret_code: link.resets_device_id.is_some(),
        refusal: link.refusal.as_deref().map(|code| {
            let refusal = Refusal::from_code(code);
            RefusalView {
                error: refusal.code(),
                error_description: refusal.describe(),
            }
        }),
        authorization_url: None,
    }
}

fn string_enum(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    let mut values: Vec<&str> = values.into_iter().collect();
    values.dedup();
    serde_json::from_value(json!({"type": "string", "enum": values}))
        .expect("a string enum is a schema")
}

fn state_schema() -> RefOr<Schema> {
    string_enum(LinkState::ALL.map(LinkState::as_str))
}

fn completed_schema() -> RefOr<Schema> {
    string_enum([LinkState::Completed.as_str()])
}

fn method_schema() -> RefOr<Schema> {
    string_enum(
        [
            LinkMethod::Qr,
            LinkMethod::LuxtrustMobile,
            LinkMethod::LuxtrustScan,
        ]
        .map(LinkMethod::as_str),
    )
}

fn next_schema() -> RefOr<Schema> {
    let mut steps: Vec<&str> = LinkState::ALL
        .iter()
        .flat_map(|s| s.next_steps().iter().copied())
        .chain(LUXTRUST_NEXT)
        .collect();
    steps.sort_unstable();
    steps.dedup();
    serde_json::from_value(json!({"type": "array", "items": {"type": "string", "enum": steps}}))
        .expect("an array of strings is a schema")
}

fn refusal_schema() -> RefOr<Schema> {
    string_enum(Refusal::ALL.map(Refusal::code))
}

/// The installation's public key: an EC P-256 JWK (RFC 7517) without private members.
pub fn ec_public_jwk_schema() -> RefOr<Schema> {
    serde_json::from_value(json!({
        "type": "object",
        "description": "The installation's public EC P-256 JWK (RFC 7517); no private member (`d`).",
        "required": ["kty", "crv", "x", "y"],
        "properties": {
            "kty": {"type": "string", "enum": ["EC"]},
            "crv": {"type": "string", "enum": ["P-256"]},
            "x": {"type": "string", "description": "base64url, 32 bytes"},
            "y": {"type": "string", "description": "base64url, 32 bytes"}
        }
    }))
    .expect("a JWK schema is a schema")
}
