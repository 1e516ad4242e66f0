//! The Basic OP modules about request objects and `request_uri`: devicelink reads
//! neither (only `/oidc/par` request URIs), and answers as the suite accepts.

use serde_json::Value;

use super::checks::{self, NONCE, STATE};
use super::{conformance_tests, discovery, request, signed_in};
use crate::helpers::{TestApp, location};
use crate::provider::{CLIENT_ID, REDIRECT_URI};

conformance_tests!(
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
    oidcc_ensure_request_object_with_redirect_uri,
);

/// An unsigned request object (`alg: none`) holding the request's parameters.
fn unsigned_request_object(app: &TestApp, redirect_uri: &str) -> String {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let claims = serde_json::json!({
        "iss": CLIENT_ID, "aud": app.address, "response_type": "code", "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri, "scope": "openid", "state": STATE, "nonce": NONCE,
    });
    format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none"})),
        b64(&claims)
    )
}

/// oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported (a
/// dynamic-registration module): a `request_uri` that is not from `/oidc/par` gets
/// `request_uri_not_supported`, which the suite accepts (it skips the rest).
async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(app: TestApp) {
    signed_in(&app).await;
    let url = request(
        &app,
        &[],
        &[("request_uri", "https://rp.example/requests/1.jwt")],
    );
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    checks::error_callback(&app, &location(&res), STATE, &["request_uri_not_supported"]);
}

/// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported:
/// `request_not_supported`, which the suite accepts (OIDC Core 3.1.2.6).
async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    app: TestApp,
) {
    let metadata = discovery(&app).await;
    assert_eq!(metadata["request_parameter_supported"], false);
    signed_in(&app).await;
    let object = unsigned_request_object(&app, REDIRECT_URI);
    let res = app
        .client
        .get(request(&app, &[], &[("request", &object)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    checks::error_callback(&app, &location(&res), STATE, &["request_not_supported"]);
}

/// oidcc-ensure-request-object-with-redirect-uri: the request object names the registered
/// redirect URI, the query an invalid one. devicelink does not read request objects and
/// shows the invalid redirect URI error page, which the suite accepts.
async fn oidcc_ensure_request_object_with_redirect_uri(app: TestApp) {
    signed_in(&app).await;
    let object = unsigned_request_object(&app, REDIRECT_URI);
    let bad = format!("{REDIRECT_URI}/invalid");
    let url = request(&app, &[], &[("redirect_uri", &bad), ("request", &object)]);
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 400, "the invalid redirect_uri error page");
    assert!(res.headers().get("location").is_none());
}
