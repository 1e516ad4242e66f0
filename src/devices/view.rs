//! What the device endpoints answer, typed so that the OpenAPI contract
//! (`devices::contract`) is derived from the very structs sent.

use serde::Serialize;
use utoipa::ToSchema;

/// The token response (RFC 6749 section 5.1, RFC 9449 section 5) of an unlock or a
/// refresh.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    /// A JWT (`typ: at+jwt`) bound to the device key; send it as `Authorization: DPoP`.
    pub access_token: String,
    #[schema(schema_with = dpop_token_type)]
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// Single use: each refresh answers a new one.
    pub refresh_token: String,
    pub device_id: String,
    /// How the device was unlocked: `["hwk","pin"]` (secret code) or `["hwk","user"]`
    /// (biometrics).
    #[schema(example = json!(["hwk", "pin"]))]
    pub amr: Vec<String>,
}

fn dpop_token_type() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    serde_json::from_value(serde_json::json!({"type": "string", "enum": ["DPoP"]}))
        .expect("a constant is a schema")
}

/// The account behind the token, for the app's home screen.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub display_name: String,
    pub espaces: Vec<EspaceView>,
    /// Devices of the account that are linked (this one included).
    pub linked_devices: i64,
    pub device: DeviceView,
}

/// One eSpace of the account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EspaceView {
    /// `private` or `professional`.
    pub kind: String,
    pub name: String,
}

/// The device making the request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    /// Whether biometric unlock is on.
    pub biometrics: bool,
    /// When the device was linked (RFC 3339, UTC).
    pub linked_at: String,
}

/// The answer once biometrics are on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BiometricsView {
    pub biometrics: bool,
}
