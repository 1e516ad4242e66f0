//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 contract of the device API, for app
//! developers. Generated from the code: each feature's handlers carry `#[utoipa::path]`
//! and each answer is a type deriving `ToSchema`; the features' parts (`LinkingApi`,
//! `DevicesApi`, `ApprovalsApi`, `JwksApi`) are merged here, with the security schemes of
//! RFC 9449 and the server this installation answers at. No UI is served: any OpenAPI
//! viewer reads the document.

use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::http::openapi::{Body, api_errors};
use crate::state::AppState;

api_errors!(OpenApiErrors, Body::None, {});

/// The document's own entry and its frame.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "devicelink device API",
        description = "The API the mobile app calls: linking (QR code or LuxTrust), unlock and tokens, the account and self-service, approving a portal sign-in. Every request carries a DPoP proof (RFC 9449) signed by the installation's key; see docs/api.md. Errors are `{\"error\": \"<code>\", \"error_description\": \"<sentence>\"}`: each operation lists its codes per status, as an enum on `error`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(get_openapi),
    tags(
        (name = "linking", description = "Linking a device to an account (docs/api.md, \"Device API: linking\")."),
        (name = "device", description = "Unlock, tokens, the account and self-service of a linked device."),
        (name = "approvals", description = "Approving a portal's sign-in from the app."),
        (name = "keys", description = "The published signing keys."),
        (name = "contract", description = "This document."),
    ),
)]
struct DeviceApi;

/// The contract as served, for an installation whose public URL is `public_url`.
pub fn document(public_url: &url::Url) -> Value {
    let mut api = DeviceApi::openapi();
    api.merge(crate::linking::LinkingApi::openapi());
    api.merge(crate::devices::DevicesApi::openapi());
    api.merge(crate::provider::ApprovalsApi::openapi());
    api.merge(crate::tokens::JwksApi::openapi());
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    // The proof's `htu` is this URL plus the path: the app must call exactly it.
    doc["servers"] = json!([{"url": public_url.as_str().trim_end_matches('/')}]);
    doc["components"]["securitySchemes"] = security_schemes();
    doc
}

/// RFC 9449's two credentials. OpenAPI has no DPoP type: the proof is described as the
/// `DPoP` header, the access token as the HTTP `DPoP` authentication scheme (registered
/// by RFC 9449 section 7.1).
fn security_schemes() -> Value {
    json!({
        "dpop_proof": {
            "type": "apiKey",
            "in": "header",
            "name": "DPoP",
            "description": "A DPoP proof JWT (RFC 9449), new for every request, signed with the installation's EC P-256 key: header `{\"typ\": \"dpop+jwt\", \"alg\": \"ES256\", \"jwk\": <public key>}`, claims `jti` (single use), `htm`, `htu` (the server URL plus the path), `iat` (60 s past to 5 s future), `ath` with an access token, and `nonce` at the unlock and token endpoints: a `use_dpop_nonce` answer carries the value to retry with in its `DPoP-Nonce` header. Exactly one `DPoP` header. See docs/api.md, \"DPoP proofs\"."
        },
        "dpop_token": {
            "type": "http",
            "scheme": "DPoP",
            "description": "`Authorization: DPoP <access_token>` (a JWT, `typ: at+jwt`) from `POST /api/v1/device/unlock` or `/api/v1/device/token`, with a proof by the same key carrying `ath`. A missing or refused token answers 401 `invalid_token` with `WWW-Authenticate: DPoP ... algs=\"ES256\"`."
        }
    })
}

/// The contract itself.
#[utoipa::path(
    tag = "contract",
    responses(
        (status = 200, description = "This OpenAPI 3.1 document.", content_type = "application/json"),
        OpenApiErrors,
    ),
)]
#[get("/api/v1/openapi.json")]
async fn get_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(document(&state.settings.server.public_url))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_openapi);
}
