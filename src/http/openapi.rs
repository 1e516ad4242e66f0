//! The error side of the OpenAPI contract (`GET /api/v1/openapi.json`, assembled in
//! `crate::openapi`). Each device-API operation declares the error codes it can answer,
//! per HTTP status, with [`api_errors!`]; this module turns that table into response
//! objects whose `error` member is an enum of exactly those codes, with the members and
//! headers each code carries. The errors every endpoint can answer (a body that cannot be
//! read, a failure on our side, the database unreachable) are added here once.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use utoipa::openapi::{RefOr, Response};

/// What the operation reads from the request body, which decides the body errors it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body is read.
    None,
    /// A JSON body (`http::configure_extractors`: 400, 413, 415).
    Json,
    /// An `application/x-www-form-urlencoded` body (the token endpoint).
    Form,
}

/// The errors any operation can answer, whatever its own table says.
const ALWAYS: &[(u16, &str)] = &[
    (414, "uri_too_long"),
    (431, "headers_too_large"),
    (500, "internal_error"),
    (503, "service_unavailable"),
];

/// The errors of reading a body (`http::configure_extractors`, the middleware's 413/415).
const BODY: &[(u16, &str)] = &[
    (400, "invalid_request"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
];

/// The error codes of one operation by status: its own table plus [`ALWAYS`] and, when it
/// reads a body, [`BODY`]. Sorted and without duplicates.
pub fn error_codes(
    body: Body,
    table: &[(u16, &[&'static str])],
) -> BTreeMap<u16, Vec<&'static str>> {
    let mut by_status: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    let mut add = |status: u16, code: &'static str| {
        let codes = by_status.entry(status).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    };
    for &(status, codes) in table {
        for &code in codes {
            add(status, code);
        }
    }
    if body != Body::None {
        for &(status, code) in BODY {
            add(status, code);
        }
    }
    for &(status, code) in ALWAYS {
        add(status, code);
    }
    for codes in by_status.values_mut() {
        codes.sort_unstable();
    }
    by_status
}

/// The members an error body has besides `error` and `error_description`, by status and
/// code: `(name, schema, required)`.
fn extra_members(status: u16, code: &str) -> Vec<(&'static str, Value, bool)> {
    let reason = |required| {
        (
            "reason",
            json!({"type": "string", "description": "Which check failed (for diagnostics; see docs/api.md, \"DPoP proofs\")."}),
            required,
        )
    };
    match (status, code) {
        (_, "invalid_dpop_proof" | "use_dpop_nonce" | "invalid_passkey") => vec![reason(true)],
        (401, "invalid_token") => vec![reason(false)],
        (401, "invalid_secret_code") => vec![(
            "attempts_remaining",
            json!({"type": "integer", "minimum": 0, "description": "Wrong codes left before the device locks."}),
            true,
        )],
        (_, "rate_limited") => vec![(
            "retry_after",
            json!({"type": "integer", "minimum": 1, "description": "Seconds until the window ends (also in `Retry-After`)."}),
            true,
        )],
        _ => Vec::new(),
    }
}

/// The schema of one code's error body: `{error, error_description}` plus its members,
/// nothing else.
fn error_body(status: u16, code: &str) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert("error".into(), json!({"type": "string", "enum": [code]}));
    properties.insert(
        "error_description".into(),
        json!({"type": "string", "description": "A sentence for the citizen."}),
    );
    let mut required = vec![json!("error"), json!("error_description")];
    for (name, schema, is_required) in extra_members(status, code) {
        properties.insert(name.into(), schema);
        if is_required {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "title": code,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The response headers an error status carries.
fn error_headers(status: u16, codes: &[&str]) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert(
        "Cache-Control".into(),
        json!({"description": "`no-store`.", "schema": {"type": "string", "enum": ["no-store"]}}),
    );
    if status == 401 || codes.contains(&"invalid_dpop_proof") || codes.contains(&"use_dpop_nonce") {
        headers.insert(
            "WWW-Authenticate".into(),
            json!({
                "description": "With `invalid_dpop_proof`, `use_dpop_nonce` and `invalid_token`: the DPoP challenge (RFC 9449 section 7.1), e.g. `DPoP error=\"invalid_token\", algs=\"ES256\"`; without credentials `DPoP realm=\"devicelink\", algs=\"ES256\"`.",
                "schema": {"type": "string"}
            }),
        );
    }
    if codes.contains(&"use_dpop_nonce") {
        headers.insert(
            "DPoP-Nonce".into(),
            json!({
                "description": "With `use_dpop_nonce`: the server nonce to put in the proof's `nonce` claim when retrying (RFC 9449 section 8).",
                "schema": {"type": "string"}
            }),
        );
    }
    if status == 429 || status == 503 {
        headers.insert(
            "Retry-After".into(),
            json!({"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}),
        );
    }
    Value::Object(headers)
}

/// The response objects of an operation's error table (see [`error_codes`]).
pub fn error_responses(
    body: Body,
    table: &[(u16, &[&'static str])],
) -> BTreeMap<String, RefOr<Response>> {
    error_codes(body, table)
        .into_iter()
        .map(|(status, codes)| {
            let list = codes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let schema = if codes.len() == 1 {
                error_body(status, codes[0])
            } else {
                json!({"oneOf": codes.iter().map(|c| error_body(status, c)).collect::<Vec<_>>()})
            };
            let response = json!({
                "description": format!("`error` is one of: {list}."),
                "headers": error_headers(status, &codes),
                "content": {"application/json": {"schema": schema}},
            });
            let response: Response =
                serde_json::from_value(response).expect("an error response is a valid Response");
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// WebAuthn creation options as webauthn-rs sends them (`CreationChallengeResponse`):
/// give `publicKey` to `navigator.credentials.create()`.
pub struct CreationOptions;

/// WebAuthn request options as webauthn-rs sends them (`RequestChallengeResponse`): give
/// `publicKey` to `navigator.credentials.get()`.
pub struct RequestOptions;

fn webauthn_options(description: &str, members: &[&str]) -> RefOr<utoipa::openapi::Schema> {
    let members = members
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    serde_json::from_value(json!({
        "type": "object",
        "description": description,
        "required": ["publicKey"],
        "properties": {
            "publicKey": {
                "type": "object",
                "description": format!("Members: {members}."),
                "required": ["challenge"],
                "properties": {"challenge": {"type": "string", "description": "base64url"}},
            },
            "mediation": {"type": "string"}
        },
        "additionalProperties": false,
    }))
    .expect("WebAuthn options are a schema")
}

impl utoipa::PartialSchema for CreationOptions {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        webauthn_options(
            "WebAuthn `PublicKeyCredentialCreationOptions` (W3C WebAuthn Level 3, base64url binary members), user verification required.",
            &[
                "rp",
                "user",
                "challenge",
                "pubKeyCredParams",
                "timeout",
                "excludeCredentials",
                "attestation",
                "authenticatorSelection",
                "extensions",
                "hints",
                "attestationFormats",
            ],
        )
    }
}

impl utoipa::ToSchema for CreationOptions {}

impl utoipa::PartialSchema for RequestOptions {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        webauthn_options(
            "WebAuthn `PublicKeyCredentialRequestOptions` (base64url binary members), user verification required, `allowCredentials` = this device's passkeys.",
            &[
                "challenge",
                "timeout",
                "rpId",
                "allowCredentials",
                "userVerification",
                "extensions",
                "hints",
            ],
        )
    }
}

impl utoipa::ToSchema for RequestOptions {}

/// Declares the error table of one operation as a type to name in
/// `#[utoipa::path(responses(..., Errors))]`:
///
/// ```ignore
/// api_errors!(CreateLinkErrors, Body::Json, {
///     400 => ["invalid_device_name", "invalid_device_key"],
///     401 => ["invalid_dpop_proof"],
/// });
/// ```
macro_rules! api_errors {
    ($name:ident, $body:expr, { $($status:literal => [$($code:literal),* $(,)?]),* $(,)? }) => {
        #[doc = concat!("The error answers of one operation (`", stringify!($name), "`).")]
        pub struct $name;

        impl $name {
            /// The table: status and codes.
            pub const TABLE: &'static [(u16, &'static [&'static str])] =
                &[$(($status, &[$($code),*])),*];
        }

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::http::openapi::error_responses($body, Self::TABLE)
            }
        }
    };
}
pub(crate) use api_errors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_s_codes_include_the_body_and_server_errors() {
        let codes = error_codes(
            Body::Json,
            &[
                (400, &["invalid_device_name"]),
                (401, &["invalid_dpop_proof"]),
            ],
        );
        assert_eq!(codes[&400], ["invalid_device_name", "invalid_request"]);
        assert_eq!(codes[&401], ["invalid_dpop_proof"]);
        assert_eq!(codes[&413], ["payload_too_large"]);
        assert_eq!(codes[&500], ["internal_error"]);
        let without_body = error_codes(Body::None, &[(404, &["link_not_found"])]);
        assert!(!without_body.contains_key(&415));
        assert!(!without_body.contains_key(&400));
    }

    #[test]
    fn an_error_body_allows_only_its_own_members() {
        let locked = error_body(401, "invalid_secret_code");
        assert_eq!(
            locked["required"],
            json!(["error", "error_description", "attempts_remaining"])
        );
        assert_eq!(locked["additionalProperties"], json!(false));
        let format = error_body(422, "invalid_secret_code");
        assert!(format["properties"].get("attempts_remaining").is_none());
    }

    #[test]
    fn nonce_errors_document_the_nonce_header() {
        let responses = error_responses(
            Body::None,
            &[(401, &["invalid_dpop_proof", "use_dpop_nonce"])],
        );
        let value = serde_json::to_value(&responses["401"]).unwrap();
        assert!(value["headers"].get("DPoP-Nonce").is_some());
        assert!(value["headers"].get("WWW-Authenticate").is_some());
        assert_eq!(
            value["content"]["application/json"]["schema"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
