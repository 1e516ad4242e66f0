//! WebAuthn (passkeys with user verification) for the app's biometrics, via webauthn-rs.
//! Ceremony state lives in the database (link session or device), never in memory.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{Passkey, Webauthn, WebauthnBuilder};

use crate::config::WebauthnSettings;

#[derive(Debug, thiserror::Error)]
#[error("WebAuthn is misconfigured: {0}")]
pub struct WebauthnConfigError(String);

/// The relying party: its id, the web origin, and the apps' origins.
pub fn build_webauthn(settings: &WebauthnSettings) -> Result<Webauthn, WebauthnConfigError> {
    let mut builder = WebauthnBuilder::new(&settings.rp_id, &settings.web_origin)
        .map_err(|e| WebauthnConfigError(e.to_string()))?
        .rp_name(&settings.rp_name);
    for origin in &settings.app_origins {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|e| WebauthnConfigError(e.to_string()))
}

/// The credential id of a stored passkey, base64url; unique across all accounts.
pub fn credential_id_of(passkey_json: &str) -> Option<String> {
    let passkey: Passkey = serde_json::from_str(passkey_json).ok()?;
    let bytes: &[u8] = passkey.cred_id().as_ref();
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

    /// docs/api.md: the W3C name `clientExtensionResults` is read, as is webauthn-rs's
    /// own `extensions`; both at once are a repeated field, which the API answers 400.
    #[test]
    fn extension_results_are_read_under_either_name_but_not_both() {
        let registration = |extensions: &str| {
            format!(
                r#"{{"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                    "response": {{"attestationObject": "AAAA", "clientDataJSON": "AAAA"}}
                    {extensions}}}"#
            )
        };
        let assertion = |extensions: &str| {
            format!(
                r#"{{"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                    "response": {{"authenticatorData": "AAAA", "clientDataJSON": "AAAA",
                                  "signature": "AAAA"}}
                    {extensions}}}"#
            )
        };
        for (extensions, is_accepted) in [
            ("", true),
            (r#", "clientExtensionResults": {}"#, true),
            (r#", "extensions": {}"#, true),
            (r#", "extensions": {}, "clientExtensionResults": {}"#, false),
        ] {
            let parsed =
                serde_json::from_str::<RegisterPublicKeyCredential>(&registration(extensions));
            assert_eq!(
                parsed.is_ok(),
                is_accepted,
                "registration {extensions}: {parsed:?}"
            );
            let parsed = serde_json::from_str::<PublicKeyCredential>(&assertion(extensions));
            assert_eq!(
                parsed.is_ok(),
                is_accepted,
                "assertion {extensions}: {parsed:?}"
            );
        }
    }
}
