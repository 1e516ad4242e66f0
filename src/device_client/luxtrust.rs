//! The LuxTrust method in the reference app: start the link, let the (system) browser
//! authenticate at eAccess, and trade the one-time result from the redirect URI.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::client::{ClientError, DeviceClient};

/// The outcome the system browser delivered to the app's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuxtrustOutcome {
    /// The one-time result reference to trade for the binding.
    Result(String),
    /// eAccess or devicelink refused: a stable code and a sentence.
    Refused { error: String, description: String },
}

impl LuxtrustOutcome {
    /// Reads the redirect to the app (`<app_redirect_uri>?link_id=..&result=..|error=..`).
    pub fn from_redirect(url: &Url) -> Result<Self, ClientError> {
        let get = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(result) = get("result") {
            return Ok(Self::Result(result));
        }
        match get("error") {
            Some(error) => Ok(Self::Refused {
                error,
                description: get("error_description").unwrap_or_default(),
            }),
            None => Err(ClientError::Usage(format!(
                "the redirect to the app carries neither result nor error: {url}"
            ))),
        }
    }
}

impl DeviceClient {
    /// "Link your device" with the LuxTrust method: returns the link, whose
    /// `authorization_url` the app opens in the system browser.
    pub async fn start_luxtrust_link(
        &mut self,
        device_name: &str,
        product: &str,
        app_redirect_uri: &str,
    ) -> Result<Value, ClientError> {
        let body = json!({
            "device_name": device_name,
            "method": "luxtrust",
            "product": product,
            "app_redirect_uri": app_redirect_uri,
            "platform": "other",
            "device_key": self.key().public_jwk(),
        });
        let link = self
            .call(Method::POST, "/api/v1/links", Some(&body), None)
            .await?;
        self.state.link_id = link["link_id"].as_str().map(str::to_owned);
        self.state.device_name = Some(device_name.to_owned());
        Ok(link)
    }

    /// "Forgot your code?": starts a LuxTrust link that sets a new secret code on this
    /// (linked, possibly locked) device. The steps after it are those of LuxTrust linking.
    pub async fn start_secret_code_reset(
        &mut self,
        product: &str,
        app_redirect_uri: &str,
    ) -> Result<Value, ClientError> {
        let body = json!({
            "product": product,
            "app_redirect_uri": app_redirect_uri,
            "device_key": self.key().public_jwk(),
        });
        let link = self
            .call(
                Method::POST,
                "/api/v1/device/secret-code/reset",
                Some(&body),
                None,
            )
            .await?;
        self.state.link_id = link["link_id"].as_str().map(str::to_owned);
        Ok(link)
    }

    /// Trades the result reference for the binding of the link to the account.
    pub async fn redeem_luxtrust_result(&mut self, result: &str) -> Result<Value, ClientError> {
        let path = self.link_path("/luxtrust")?;
        self.call(Method::POST, &path, Some(&json!({"result": result})), None)
            .await
    }

    /// The link as the server sees it (state, refusal).
    pub async fn link_status(&mut self) -> Result<Value, ClientError> {
        let path = self.link_path("")?;
        self.call(Method::GET, &path, None, None).await
    }
}
