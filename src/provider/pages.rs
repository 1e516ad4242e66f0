//! The provider's pages (askama): how to sign in, and consent.

use askama::Template;

use crate::web::NavUser;

#[derive(Template)]
#[template(path = "provider_choose.html")]
pub struct ChoosePage {
    pub nav: Option<NavUser>,
    pub client_name: String,
    pub request_id: String,
    pub eaccess: bool,
    pub app: bool,
}

#[derive(Template)]
#[template(path = "provider_app.html")]
pub struct AppApprovalPage {
    pub nav: Option<NavUser>,
    pub client_name: String,
    pub request_id: String,
    pub qr_png: String,
    pub ttl_minutes: i64,
    /// The code, for the script that animates the frames; empty on the static page.
    pub code: String,
    pub step_ms: i64,
}

/// "I approved in the app — continue" while the app has not answered yet: where it
/// stands, "Check again", and the way back to the portal.
#[derive(Template)]
#[template(path = "provider_waiting.html")]
pub struct WaitingPage {
    pub nav: Option<NavUser>,
    pub client_name: String,
    pub request_id: String,
    /// `shown` (not scanned yet) or `scanned`.
    pub state: &'static str,
    pub status: String,
}

/// Where a phone camera lands when it opens an approval QR code's URL.
#[derive(Template)]
#[template(path = "approve_landing.html")]
pub struct ApproveLandingPage {
    pub nav: Option<NavUser>,
}

#[derive(Template)]
#[template(path = "provider_consent.html")]
pub struct ConsentPage {
    pub nav: Option<NavUser>,
    pub client_name: String,
    pub request_id: String,
    pub csrf_token: String,
    pub items: Vec<String>,
}

/// What each scope shares, in the citizen's words and language.
pub fn scope_items(scope: &[String]) -> Vec<String> {
    let mut keys = vec!["provider-scope-sub"];
    for s in scope {
        match s.as_str() {
            "profile" => keys.push("provider-scope-profile"),
            "email" => keys.push("provider-scope-email"),
            "offline_access" => keys.push("provider-scope-offline"),
            _ => {}
        }
    }
    keys.into_iter().map(crate::i18n::t).collect()
}
