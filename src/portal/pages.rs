//! Page templates (askama): one struct per page.

use askama::Template;

use crate::web::NavUser;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub nav: Option<NavUser>,
    /// A sentence about what just happened (e.g. signed out).
    pub notice: Option<String>,
    /// `/auth/login`, with `?next=` when the sign-in continues to a page.
    pub sign_in_url: String,
}

/// The help page: what linking covers, and the way out of each problem with a phone.
#[derive(Template)]
#[template(path = "help.html")]
pub struct HelpPage {
    pub nav: Option<NavUser>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub nav: Option<NavUser>,
    /// "Given Family", as eAccess knows the citizen.
    pub welcome_name: String,
    pub email: String,
    pub csrf_token: String,
    /// HTML-escaped: it goes into the translated sentence's link, shown unescaped.
    pub terms_url: String,
    pub problem: Option<String>,
    /// A portal's sign-in to resume after registering (docs/oidc-provider.md).
    pub continue_request: Option<String>,
}

pub struct EspaceRow {
    pub name: String,
    pub kind: String,
}

pub struct ProductRow {
    pub label: String,
    pub serial: String,
    pub first_used: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nav: Option<NavUser>,
    pub display_name: String,
    pub product_label: String,
    pub espaces: Vec<EspaceRow>,
    pub products: Vec<ProductRow>,
    pub csrf_token: String,
    pub problem: Option<String>,
    /// A sentence about what just happened (e.g. a cancelled re-authentication).
    pub notice: Option<String>,
    /// The account's address cannot receive mail: ask for a correct one.
    pub email_unusable: bool,
    pub email: String,
    pub email_problem: Option<String>,
}
