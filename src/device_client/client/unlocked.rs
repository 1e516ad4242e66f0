//! The reference app after linking: unlock, tokens, the account, and the app's
//! self-service (code change, biometrics, unlink).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use super::{ClientError, DeviceClient};

/// After linking: unlock, tokens, the account, and the app's self-service.
impl DeviceClient {
    fn keep_tokens(&mut self, tokens: &Value) {
        self.state.access_token = tokens["access_token"].as_str().map(str::to_owned);
        self.state.refresh_token = tokens["refresh_token"].as_str().map(str::to_owned);
    }

    fn access_token(&self) -> Result<String, ClientError> {
        self.state
            .access_token
            .clone()
            .ok_or_else(|| ClientError::Usage("unlock the app first".into()))
    }

    fn soft_token(&self) -> Result<SoftToken, ClientError> {
        let cbor =
            self.state.authenticator.as_deref().ok_or_else(|| {
                ClientError::Usage("biometrics are not set up in this app".into())
            })?;
        let bytes = STANDARD
            .decode(cbor)
            .map_err(|e| ClientError::State(format!("unreadable authenticator: {e}")))?;
        SoftToken::from_cbor(&bytes).map_err(|e| ClientError::Passkey(format!("{e:?}")))
    }

    fn keep_soft_token(&mut self, token: &SoftToken) -> Result<(), ClientError> {
        let cbor = token
            .to_cbor()
            .map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        self.state.authenticator = Some(STANDARD.encode(cbor));
        Ok(())
    }

    /// Opens the app with the secret code; keeps and returns the token response.
    pub async fn unlock_with_secret_code(
        &mut self,
        secret_code: &str,
    ) -> Result<Value, ClientError> {
        let body = json!({"method": "secret_code", "secret_code": secret_code});
        let tokens = self
            .call(Method::POST, "/api/v1/device/unlock", Some(&body), None)
            .await?;
        self.keep_tokens(&tokens);
        Ok(tokens)
    }

    /// "Sign in with your mobile app", step 1: claims the code the browser shows (the
    /// QR code's text); returns which portal asks (`approval_id`, `client_name`, `shares`).
    pub async fn scan_approval(&mut self, scanned: &str) -> Result<Value, ClientError> {
        let body = json!({"code": scanned.trim()});
        self.call(
            Method::POST,
            "/api/v1/provider/approvals/scan",
            Some(&body),
            None,
        )
        .await
    }

    /// Step 2: approves with the access token of an unlock just done (secret code or
    /// biometrics).
    pub async fn approve_sign_in(&mut self, approval_id: &str) -> Result<(), ClientError> {
        let token = self
            .state
            .access_token
            .clone()
            .ok_or_else(|| ClientError::Usage("unlock the app first".into()))?;
        self.call(
            Method::POST,
            &format!("/api/v1/provider/approvals/{approval_id}/approve"),
            None,
            Some(&token),
        )
        .await
        .map(|_| ())
    }

    /// Step 2, the other way: refuses; the portal gets `access_denied`.
    pub async fn refuse_sign_in(&mut self, approval_id: &str) -> Result<(), ClientError> {
        self.call(
            Method::POST,
            &format!("/api/v1/provider/approvals/{approval_id}/refuse"),
            None,
            None,
        )
        .await
        .map(|_| ())
    }

    /// WebAuthn request options for a biometric unlock.
    pub async fn biometric_unlock_options(
        &mut self,
    ) -> Result<RequestChallengeResponse, ClientError> {
        let options = self
            .call(
                Method::POST,
                "/api/v1/device/unlock/biometrics/options",
                None,
                None,
            )
            .await?;
        serde_json::from_value(options)
            .map_err(|e| ClientError::Passkey(format!("unreadable options: {e}")))
    }

    /// Signs a biometric assertion for `options` with this app's passkey (user verified).
    pub fn biometric_assertion(
        &mut self,
        options: RequestChallengeResponse,
    ) -> Result<Value, ClientError> {
        let mut token = self.soft_token()?;
        let credential = token
            .do_authentication(self.state.webauthn_origin.clone(), options)
            .map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        // The signature counter moved: keep the authenticator's new state.
        self.keep_soft_token(&token)?;
        serde_json::to_value(credential).map_err(|e| ClientError::Passkey(e.to_string()))
    }

    /// Opens the app with biometrics (the software passkey performs user verification).
    pub async fn unlock_with_biometrics(&mut self) -> Result<Value, ClientError> {
        let options = self.biometric_unlock_options().await?;
        let credential = self.biometric_assertion(options)?;
        self.unlock_with_credential(credential).await
    }

    /// Sends a biometric assertion made by [`DeviceClient::biometric_assertion`].
    pub async fn unlock_with_credential(
        &mut self,
        credential: Value,
    ) -> Result<Value, ClientError> {
        let body = json!({"method": "biometrics", "credential": credential});
        let tokens = self
            .call(Method::POST, "/api/v1/device/unlock", Some(&body), None)
            .await?;
        self.keep_tokens(&tokens);
        Ok(tokens)
    }

    /// Rotates the refresh token; keeps and returns the new tokens.
    pub async fn refresh(&mut self) -> Result<Value, ClientError> {
        let refresh_token = self
            .state
            .refresh_token
            .clone()
            .ok_or_else(|| ClientError::Usage("unlock the app first".into()))?;
        let tokens = self.refresh_with(&refresh_token).await?;
        self.keep_tokens(&tokens);
        Ok(tokens)
    }

    /// Presents `refresh_token` at the token endpoint without touching the kept tokens.
    pub async fn refresh_with(&mut self, refresh_token: &str) -> Result<Value, ClientError> {
        self.call_form(
            Method::POST,
            "/api/v1/device/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// The account: display name, eSpaces, linked devices, this device.
    pub async fn me(&mut self) -> Result<Value, ClientError> {
        let token = self.access_token()?;
        self.call(Method::GET, "/api/v1/me", None, Some(&token))
            .await
    }

    /// Sets a new secret code; the current one is required.
    pub async fn change_secret_code(
        &mut self,
        current: &str,
        new: &str,
    ) -> Result<(), ClientError> {
        let token = self.access_token()?;
        let body = json!({"current_secret_code": current, "new_secret_code": new});
        self.call(
            Method::PUT,
            "/api/v1/device/secret-code",
            Some(&body),
            Some(&token),
        )
        .await?;
        Ok(())
    }

    /// Turns biometrics on: a new software passkey with user verification.
    pub async fn enable_biometrics(&mut self) -> Result<Value, ClientError> {
        let token = self.access_token()?;
        let options = self
            .call(
                Method::POST,
                "/api/v1/device/biometrics/options",
                None,
                Some(&token),
            )
            .await?;
        let options: CreationChallengeResponse = serde_json::from_value(options)
            .map_err(|e| ClientError::Passkey(format!("unreadable options: {e}")))?;
        let (mut soft, _) =
            SoftToken::new(true).map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        let credential = soft
            .do_registration(self.state.webauthn_origin.clone(), options)
            .map_err(|e| ClientError::Passkey(format!("{e:?}")))?;
        let result = self
            .call(
                Method::POST,
                "/api/v1/device/biometrics",
                Some(&json!({"credential": credential})),
                Some(&token),
            )
            .await?;
        self.keep_soft_token(&soft)?;
        Ok(result)
    }

    /// Turns biometrics off (the server deletes the passkey; the app forgets it).
    pub async fn disable_biometrics(&mut self) -> Result<(), ClientError> {
        let token = self.access_token()?;
        self.call(
            Method::DELETE,
            "/api/v1/device/biometrics",
            None,
            Some(&token),
        )
        .await?;
        self.state.authenticator = None;
        Ok(())
    }

    /// Unlinks this device; the app forgets its tokens and passkey.
    pub async fn unlink(&mut self) -> Result<(), ClientError> {
        let token = self.access_token()?;
        self.call(Method::DELETE, "/api/v1/device", None, Some(&token))
            .await?;
        self.state.access_token = None;
        self.state.refresh_token = None;
        self.state.authenticator = None;
        self.state.device_id = None;
        Ok(())
    }
}
