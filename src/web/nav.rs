//! The signed-in citizen as the page header (templates/base.html) shows them.

use super::store::BrowserSession;

/// What the header needs: the name to show and the CSRF token of the sign-out form.
pub struct NavUser {
    pub display_name: String,
    pub csrf_token: String,
}

/// The header of a page for `session`, showing `display_name`.
pub fn nav_for(session: &BrowserSession, display_name: String) -> NavUser {
    NavUser {
        display_name,
        csrf_token: session.csrf_token.clone(),
    }
}
