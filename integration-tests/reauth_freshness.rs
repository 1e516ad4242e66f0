//! Re-authentication is as fresh as the login that asked for it: an eAccess that
//! answers from an older session (because `prompt=login`/`max_age=0` were stripped on the
//! way) grants nothing, however young that session is.

use devicelink::mock_idp::MockIdpSettings;

use crate::helpers::{Backend, location, location_path, spawn_app_custom};

fn strips_prompt_login(s: &mut MockIdpSettings) {
    s.faults.ignore_prompt_login = true;
}

#[tokio::test]
async fn a_silent_answer_from_an_older_eaccess_session_does_not_open_the_device_list() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_custom(backend, strips_prompt_login, |s| {
            // The allowed clock skew, small so that the test need not wait long.
            s.eaccess.id_token_max_clock_skew_secs = 2;
        })
        .await
        else {
            continue;
        };
        app.sign_in_registered("marie", "luxtrust_mobile").await;
        // The eAccess session is now older than the skew.
        tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
        let res = app.get("/devices").await;
        assert_eq!(location_path(&res), "/auth/reauth");
        let res = app.client.get(location(&res)).send().await.unwrap();
        let eaccess = location(&res);
        assert!(eaccess.query().unwrap().contains("prompt=login"));
        // The mock answers at once from its session: no login page, no credentials typed.
        let res = app.client.get(eaccess).send().await.unwrap();
        assert_eq!(res.status(), 303, "a silent answer");
        let callback = location(&res);
        assert_eq!(callback.path(), "/auth/eaccess/callback");
        let res = app.client.get(callback).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("reauthentication_too_old")
        );
        // Still closed.
        let res = app.get("/devices").await;
        assert_eq!(location_path(&res), "/auth/reauth");
        assert_eq!(
            app.count_rows("audit_events WHERE kind = 'reauthenticated'"),
            0
        );
    }
}
