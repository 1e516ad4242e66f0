//! The device endpoints in the OpenAPI contract: each operation's error codes by status
//! (docs/api.md, "Device API: unlock, tokens, account, self-service") and the paths the
//! contract collects. The integration tests check every answer they get against them.

use crate::http::openapi::{Body, api_errors};

api_errors!(UnlockErrors, Body::Json, {
    400 => ["invalid_request"],
    401 => ["invalid_dpop_proof", "use_dpop_nonce", "invalid_device", "invalid_secret_code", "invalid_passkey"],
    409 => ["biometrics_not_enabled", "no_pending_ceremony"],
    423 => ["device_locked"],
    429 => ["rate_limited"],
});

api_errors!(UnlockOptionsErrors, Body::None, {
    401 => ["invalid_dpop_proof", "invalid_device"],
    409 => ["biometrics_not_enabled"],
    423 => ["device_locked"],
});

// RFC 6749 section 5.2 and RFC 9449 sections 5 and 8: every error of the token endpoint,
// proof errors included, is a 400.
api_errors!(TokenErrors, Body::Form, {
    400 => ["invalid_request", "unsupported_grant_type", "invalid_grant", "invalid_dpop_proof", "use_dpop_nonce"],
});

api_errors!(MeErrors, Body::None, {
    401 => ["invalid_token", "invalid_dpop_proof"],
});

api_errors!(ChangeSecretCodeErrors, Body::Json, {
    400 => ["invalid_request"],
    401 => ["invalid_token", "invalid_dpop_proof", "invalid_secret_code", "invalid_device"],
    422 => ["invalid_secret_code", "weak_secret_code"],
    423 => ["device_locked"],
});

api_errors!(BiometricsOptionsErrors, Body::None, {
    401 => ["invalid_token", "invalid_dpop_proof", "unlock_required"],
});

api_errors!(EnableBiometricsErrors, Body::Json, {
    400 => ["invalid_passkey"],
    401 => ["invalid_token", "invalid_dpop_proof", "unlock_required"],
    409 => ["no_pending_ceremony", "passkey_already_registered"],
});

api_errors!(DisableBiometricsErrors, Body::None, {
    401 => ["invalid_token", "invalid_dpop_proof"],
});

api_errors!(UnlinkErrors, Body::None, {
    401 => ["invalid_token", "invalid_dpop_proof", "invalid_device"],
});

/// The device endpoints' part of the contract.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::unlock::unlock,
    super::unlock::unlock_biometrics_options,
    super::unlock::token,
    super::routes::get_me,
    super::routes::change_secret_code,
    super::routes::biometrics_options,
    super::routes::enable_biometrics,
    super::routes::disable_biometrics,
    super::routes::unlink_device,
))]
pub struct DevicesApi;
