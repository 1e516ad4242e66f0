//! Correcting an e-mail address the mailer cannot send to (accounts registered before
//! addresses were checked with the mailer's own parser): the dashboard asks for it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use diesel::Connection as _;
use serde::Deserialize;
use serde_json::json;

use crate::accounts;
use crate::audit::{self, EventKind, NewAuditEvent};
use crate::http::{PageError, RequestContext};
use crate::state::AppState;

use super::routes::render_dashboard_with;
use crate::web::{form_session, see_other};

#[derive(Debug, Deserialize)]
struct EmailForm {
    csrf_token: String,
    email: String,
}

/// The sentence of a refused address, on the registration page and the dashboard.
pub(super) fn invalid_email() -> String {
    crate::i18n::t("portal-invalid-email")
}

#[post("/account/email")]
pub(super) async fn correct_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<EmailForm>,
    ctx: RequestContext,
) -> Result<HttpResponse, PageError> {
    let Some(session) = form_session(&state, &req, &form.csrf_token).await? else {
        return Ok(see_other("/"));
    };
    let Some(account_id) = session.account_id.clone() else {
        return Ok(see_other("/"));
    };
    let email = form.email.trim().chars().take(300).collect::<String>();
    if !crate::mail::is_sendable_address(&email) {
        return render_dashboard_with(
            &state,
            session,
            account_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some((invalid_email(), email)),
            None,
        )
        .await;
    }
    let now = Utc::now().naive_utc();
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                if accounts::store::update_email(conn, &account_id, &email)? {
                    audit::store::insert_event(
                        conn,
                        &NewAuditEvent::new(
                            EventKind::EmailChanged,
                            Some(&account_id),
                            json!({}),
                            &ctx,
                            now,
                        ),
                    )?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/dashboard"))
}
