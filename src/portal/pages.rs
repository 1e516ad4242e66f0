//! Page templates (askama): one struct per page.

use askama::Template;

use crate::web::NavUser;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub nav: Option<NavUser>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub nav: Option<NavUser>,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub csrf_token: String,
    pub terms_url: String,
    pub problem: Option<&'static str>,
    /// A portal's sign-in to resume after registering (docs/oidc-provider.md).
    pub continue_request: Option<String>,
}

pub struct EspaceRow {
    pub name: String,
    pub kind: String,
}

pub struct ProductRow {
    pub label: &'static str,
    pub serial: String,
    pub first_used: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nav: Option<NavUser>,
    pub display_name: String,
    pub product_label: &'static str,
    pub espaces: Vec<EspaceRow>,
    pub products: Vec<ProductRow>,
    pub csrf_token: String,
    pub problem: Option<&'static str>,
    /// The account's address cannot receive mail: ask for a correct one.
    pub email_unusable: bool,
    pub email: String,
    pub email_problem: Option<&'static str>,
}
