//! The link endpoints in the OpenAPI contract: each operation's error codes by status
//! (docs/api.md, "Device API: linking") and the paths the contract collects. The
//! integration tests check every answer they get against these tables.

use crate::http::openapi::{Body, api_errors};

api_errors!(CreateLinkErrors, Body::Json, {
    400 => ["invalid_device_name", "invalid_request", "invalid_redirect_uri", "invalid_device_key"],
    401 => ["invalid_dpop_proof"],
    409 => ["device_already_linked"],
    429 => ["rate_limited"],
});

api_errors!(ResetSecretCodeErrors, Body::Json, {
    400 => ["invalid_request", "invalid_redirect_uri", "invalid_device_key"],
    401 => ["invalid_dpop_proof"],
    404 => ["device_not_linked"],
    429 => ["rate_limited"],
});

api_errors!(GetLinkErrors, Body::None, {
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
});

api_errors!(CancelLinkErrors, Body::None, {
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state"],
    410 => ["link_expired"],
});

api_errors!(RedeemQrErrors, Body::Json, {
    400 => ["qr_code_invalid"],
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state", "qr_code_already_used"],
    410 => ["link_expired", "qr_code_expired"],
    429 => ["rate_limited"],
});

api_errors!(RedeemLuxtrustErrors, Body::Json, {
    400 => ["invalid_luxtrust_result"],
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state"],
    410 => ["link_expired"],
});

api_errors!(SetSecretCodeErrors, Body::Json, {
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state"],
    410 => ["link_expired"],
    422 => ["invalid_secret_code", "weak_secret_code"],
});

api_errors!(PasskeyOptionsErrors, Body::None, {
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state"],
    410 => ["link_expired"],
});

api_errors!(AddPasskeyErrors, Body::Json, {
    400 => ["invalid_passkey"],
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    409 => ["invalid_link_state"],
    410 => ["link_expired"],
});

api_errors!(CompleteLinkErrors, Body::None, {
    401 => ["invalid_dpop_proof"],
    404 => ["link_not_found"],
    404 => ["device_not_linked"],
    409 => ["invalid_link_state", "device_already_linked", "passkey_already_registered"],
    410 => ["link_expired"],
});

/// The link endpoints' part of the contract.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::routes::create_link,
    super::routes::get_link,
    super::routes::cancel_link,
    super::routes::redeem_qr_code,
    super::routes::redeem_luxtrust_result,
    super::finish::set_secret_code,
    super::finish::passkey_options,
    super::finish::add_passkey,
    super::finish::complete_link,
    super::reset::start_reset,
))]
pub struct LinkingApi;
