//! The Config OP plan: its one module, oidcc-discovery-endpoint-verification.

use serde_json::Value;
use url::Url;

use super::checks;
use super::conformance_tests;
use crate::helpers::{TestApp, http_client};

conformance_tests!(oidcc_discovery_endpoint_verification);

/// Provider metadata names registered at IANA ("OAuth Authorization Server Metadata"),
/// for `CheckForUnexpectedParametersInServerMetadata` (a warning in the suite).
const REGISTERED: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "ui_locales_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "claims_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "end_session_endpoint",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
    "authorization_response_iss_parameter_supported",
    "dpop_signing_alg_values_supported",
    "prompt_values_supported",
];

const ENDPOINTS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
];

fn strings(metadata: &Value, name: &str) -> Vec<String> {
    metadata[name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is an array"))
        .iter()
        .map(|v| v.as_str().expect("of strings").to_owned())
        .collect()
}

async fn fetch(app: &TestApp) -> Value {
    let res = http_client()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "EnsureDiscoveryEndpointResponseStatusCodeIs200"
    );
    checks::assert_json(&res);
    res.json().await.unwrap()
}

/// oidcc-discovery-endpoint-verification: the conditions of
/// `OIDCCDiscoveryEndpointVerification` in order, on the test app; then
/// `CheckDiscEndpointAllEndpointsAreHttps` on an app whose public URL is https.
async fn oidcc_discovery_endpoint_verification(app: TestApp) {
    let metadata = fetch(&app).await;
    // OIDCCCheckDiscEndpointResponseTypesSupported: one OpenID Connect response type.
    assert!(strings(&metadata, "response_types_supported").contains(&"code".to_owned()));
    // CheckDiscEndpointIssuer: the issuer the discovery URL was built from (OIDC
    // Discovery 4.3); CheckDiscEndpointIssuerIsValidUrl: no query or fragment.
    assert_eq!(metadata["issuer"], app.address);
    let issuer = Url::parse(metadata["issuer"].as_str().unwrap()).unwrap();
    assert!(issuer.query().is_none() && issuer.fragment().is_none());
    // ValidateServerMetadataAgainstSchema (the types), CheckForUnexpectedParameters.
    for (name, value) in metadata.as_object().unwrap() {
        assert!(REGISTERED.contains(&name.as_str()), "unregistered {name}");
        if name.ends_with("_supported") && !name.starts_with("require") {
            assert!(
                value.is_array() || value.is_boolean(),
                "{name} is a list or a flag: {value}"
            );
            if let Some(list) = value.as_array() {
                assert!(!list.is_empty(), "{name} is not empty");
                assert!(list.iter().all(Value::is_string), "{name}");
            }
        }
    }
    // CheckDiscEndpointSubjectTypesSupported.
    let subject_types = strings(&metadata, "subject_types_supported");
    assert!(
        subject_types
            .iter()
            .all(|s| s == "public" || s == "pairwise")
    );
    // OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported: RS256 (OIDC Discovery 3).
    let algs = strings(&metadata, "id_token_signing_alg_values_supported");
    assert!(algs.contains(&"RS256".to_owned()), "{algs:?}");
    // OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported: only if present.
    if metadata
        .get("userinfo_signing_alg_values_supported")
        .is_some()
    {
        assert!(!strings(&metadata, "userinfo_signing_alg_values_supported").is_empty());
    }
    // CheckDiscEndpointAuthorizationEndpoint, ...TokenEndpoint, ...UserinfoEndpoint,
    // CheckJwksUri: URLs (registration_endpoint is absent: no dynamic registration).
    for name in ENDPOINTS {
        let url = Url::parse(metadata[*name].as_str().unwrap()).unwrap();
        assert!(
            url.as_str().starts_with(&app.address),
            "{name} at the issuer"
        );
    }
    assert!(metadata.get("registration_endpoint").is_none());
    // FetchServerKeys and ValidateJwksSequence.
    let jwks = checks::server_jwks(&app).await;
    assert!(
        jwks.keys
            .iter()
            .any(|k| matches!(k.algorithm, jsonwebtoken::jwk::AlgorithmParameters::RSA(_))),
        "an RSA key for RS256"
    );
    // CheckDiscEndpointRequestParameterSupported, ...RequestUriParameterSupported (INFO).
    assert_eq!(metadata["request_parameter_supported"], false);
    assert_eq!(metadata["request_uri_parameter_supported"], false);
    // CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256: absent, skipped.
    assert!(
        metadata
            .get("request_object_signing_alg_values_supported")
            .is_none()
    );
    // CheckDiscEndpointClaimsParameterSupported, OIDCCCheckDiscEndpointClaimsSupported.
    assert_eq!(metadata["claims_parameter_supported"], true);
    let claims = strings(&metadata, "claims_supported");
    for claim in ["sub", "iss", "auth_time", "acr", "name", "email"] {
        assert!(claims.contains(&claim.to_owned()), "{claim}");
    }
    // OIDCCCheckDiscEndpointGrantTypesSupported: a non-empty array.
    assert!(strings(&metadata, "grant_types_supported").contains(&"authorization_code".into()));
    // CheckDiscEndpointScopesSupportedContainsOpenId, ...ScopesSupportedSyntax
    // (RFC 6749 section 3.3 scope-token characters).
    let scopes = strings(&metadata, "scopes_supported");
    assert!(scopes.contains(&"openid".to_owned()));
    for scope in &scopes {
        assert!(
            !scope.is_empty()
                && scope
                    .chars()
                    .all(|c| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
            "{scope}"
        );
    }
    // CheckDiscEndpointLocalesSyntax: `ui_locales_supported` is BCP 47 tags (ours: fr, de,
    // en); no `claims_locales_supported`.
    assert_eq!(
        strings(&metadata, "ui_locales_supported"),
        ["fr", "de", "en"]
    );
    assert!(metadata.get("claims_locales_supported").is_none());
    // EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray.
    assert!(metadata["code_challenge_methods_supported"].is_array());
    // EnsureServerConfigurationSupportsClientSecretBasic (the static client's method).
    assert!(
        strings(&metadata, "token_endpoint_auth_methods_supported")
            .contains(&"client_secret_basic".to_owned())
    );

    // CheckDiscEndpointAllEndpointsAreHttps: every endpoint follows server.public_url, so
    // a deployment at an https address lists only https endpoints.
    let https = crate::provider::spawn_with(app.backend, |s| {
        s.server.public_url = Url::parse("https://id.devicelink.example/").unwrap();
    })
    .await
    .unwrap();
    let metadata = fetch(&https).await;
    assert_eq!(metadata["issuer"], "https://id.devicelink.example");
    for name in ENDPOINTS {
        let url = metadata[*name].as_str().unwrap();
        assert!(
            url.starts_with("https://id.devicelink.example/"),
            "{name}: {url}"
        );
    }
}
