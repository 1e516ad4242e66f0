//! The signed-in citizen as the page header (templates/base.html) shows them.

use actix_web::HttpRequest;

use crate::http::PageError;
use crate::state::AppState;

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

/// The header for whoever asks: the signed-in citizen's, or none (signed out, or a
/// session whose account is gone). For pages anyone may read, such as help.
pub async fn signed_in_nav(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<NavUser>, PageError> {
    let Some(session) = super::current_session(state, req).await? else {
        return Ok(None);
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(None);
    };
    let account = state
        .db
        .run(move |conn| crate::accounts::store::find_account(conn, &account_id))
        .await?;
    Ok(account.map(|account| nav_for(&session, account.display_name())))
}
