//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 section 4).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

use super::endpoint::{endpoint, issuer};
use super::rules;

pub(super) async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let iss = issuer(&state);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(json!({
            "issuer": iss,
            "authorization_endpoint": endpoint(&state, "/oidc/authorize"),
            "token_endpoint": endpoint(&state, "/oidc/token"),
            "pushed_authorization_request_endpoint": endpoint(&state, "/oidc/par"),
            "require_pushed_authorization_requests": false,
            "userinfo_endpoint": endpoint(&state, "/oidc/userinfo"),
            "jwks_uri": endpoint(&state, "/.well-known/jwks.json"),
            "revocation_endpoint": endpoint(&state, "/oidc/revoke"),
            "introspection_endpoint": endpoint(&state, "/oidc/introspect"),
            "end_session_endpoint": endpoint(&state, "/oidc/logout"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "scopes_supported": crate::config::SUPPORTED_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                super::exchange::TOKEN_EXCHANGE,
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported":
                crate::config::IdTokenAlg::ALL.map(crate::config::IdTokenAlg::as_str),
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
            "ui_locales_supported": ["fr", "de", "en"],
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": ["ES256"],
        }))
}
