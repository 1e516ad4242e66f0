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
    pub items: Vec<&'static str>,
}

/// What each scope shares, in the citizen's words.
pub fn scope_items(scope: &[String]) -> Vec<&'static str> {
    let mut items = vec!["A stable identifier of your account"];
    for s in scope {
        match s.as_str() {
            "profile" => items.push("Your name"),
            "email" => items.push("Your email address"),
            "offline_access" => items.push("Access while you are away (until you sign out)"),
            _ => {}
        }
    }
    items
}
