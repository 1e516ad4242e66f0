//! `devicelink device link`: the reference app on the command line, run as a separate
//! process against a running server, reading the QR code from a PNG as a camera would.

use std::path::Path;
use std::process::Output;

use crate::backend_tests;
use crate::helpers::TestApp;

backend_tests!(
    the_cli_links_a_device_from_a_png_of_the_qr_code_and_the_browser_shows_it_linked,
    the_cli_reports_a_used_qr_code_with_its_error_code_and_exits_with_1,
    the_cli_unlocks_shows_the_account_changes_the_code_and_unlinks,
    five_wrong_codes_on_the_cli_lock_the_device_and_the_lock_email_is_written,
    the_cli_links_with_luxtrust_mobile_filling_the_mock_eaccess_form,
);

/// Runs `devicelink device <args...> --state <state>`.
async fn device(state: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_devicelink"))
        .env_remove("DEVICELINK_CONFIG")
        .env_remove("DEVICELINK_SECRET_CODE")
        .arg("device")
        .args(args)
        .arg("--state")
        .arg(state)
        .output()
        .await
        .expect("devicelink runs")
}

/// Links a device with the CLI from a fresh QR code; returns the state file.
async fn linked_with_cli(app: &TestApp, dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let png = dir.join("qr.png");
    save_qr_png(app, &id, &code, &png).await;
    let state = dir.join("state.json");
    let out = device_link(app, png.to_str().unwrap(), &state, extra).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    state
}

async fn the_cli_unlocks_shows_the_account_changes_the_code_and_unlinks(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let state = linked_with_cli(&app, dir.path(), &["--biometrics"]).await;

    let out = device(&state, &["unlock", "--secret-code", "482913"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Unlocked with the secret code"));
    let out = device(&state, &["me"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let me = text(&out.stdout);
    assert!(
        me.contains("Marie Schmit")
            && me.contains("linked devices: 1")
            && me.contains("biometrics on"),
        "{me}"
    );

    let out = device(&state, &["unlock", "--biometrics"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Unlocked with biometrics"));

    let out = device(
        &state,
        &[
            "change-secret-code",
            "--current",
            "482913",
            "--new",
            "739204",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = device(&state, &["unlock", "--secret-code", "739204"]).await;
    assert!(
        out.status.success(),
        "the new code works: {}",
        text(&out.stderr)
    );

    let out = device(&state, &["unlink"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(app.count_rows("devices WHERE status = 'unlinked'"), 1);
    let out = device(&state, &["unlock", "--secret-code", "739204"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid_device"),
        "{}",
        text(&out.stderr)
    );
}

async fn five_wrong_codes_on_the_cli_lock_the_device_and_the_lock_email_is_written(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let state = linked_with_cli(&app, dir.path(), &[]).await;
    for attempt in 1..=5 {
        let out = device(&state, &["unlock", "--secret-code", "000001"]).await;
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        if attempt < 5 {
            assert!(err.contains("invalid_secret_code (HTTP 401)"), "{err}");
        } else {
            assert!(err.contains("device_locked (HTTP 423)"), "{err}");
            assert!(
                err.contains("Unlock it in your browser: sign in, open My devices and choose “Unlock this device”."),
                "{err}"
            );
        }
    }
    let out = device(&state, &["unlock", "--secret-code", "482913"]).await;
    assert!(
        text(&out.stderr).contains("device_locked"),
        "even the right code is refused now"
    );
    let mail = crate::linking::wait_for_mail(&app, 2).await;
    assert!(
        mail.iter().any(|m| m.contains("locked")),
        "the lock email is delivered"
    );
}

async fn the_cli_links_with_luxtrust_mobile_filling_the_mock_eaccess_form(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    // Luc is not registered: the documented refusal.
    let refused = device(
        &state,
        &[
            "link",
            "--server",
            &app.address,
            "--name",
            "Luc's phone",
            "--luxtrust",
            "mobile",
            "--identity",
            "luc",
            "--secret-code",
            "482913",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(
        err.contains("account_not_registered")
            && err.contains("register on the portal in a web browser"),
        "{err}"
    );

    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let state = dir.path().join("marie.json");
    let out = device(
        &state,
        &[
            "link",
            "--server",
            &app.address,
            "--name",
            "Marie's phone",
            "--luxtrust",
            "mobile",
            "--identity",
            "marie",
            "--secret-code",
            "482913",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Linked “Marie's phone” to the account of Marie Schmit"));
    assert_eq!(
        app.count_rows("devices WHERE method = 'luxtrust_mobile'"),
        1
    );
}

/// Runs `devicelink device link` against `app` with a QR input and a state file.
async fn device_link(app: &TestApp, qr: &str, state: &Path, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_devicelink"))
        .env_remove("DEVICELINK_CONFIG")
        .env_remove("DEVICELINK_SECRET_CODE")
        .args(["device", "link", "--server", &app.address])
        .args(["--name", "CLI phone", "--qr", qr, "--secret-code", "482913"])
        .args([
            "--webauthn-origin",
            app.settings.webauthn.web_origin.as_str(),
        ])
        .arg("--state")
        .arg(state)
        .args(extra)
        .output()
        .await
        .expect("devicelink runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Saves the QR code the browser shows right now as a PNG file.
async fn save_qr_png(app: &TestApp, id: &str, code: &str, path: &Path) {
    let res = app
        .get(&format!("/devices/link/{id}/qr.png?c={code}"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    std::fs::write(path, res.bytes().await.unwrap()).unwrap();
}

async fn the_cli_links_a_device_from_a_png_of_the_qr_code_and_the_browser_shows_it_linked(
    app: TestApp,
) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("qr.png");
    save_qr_png(&app, &id, &code, &png).await;
    let state = dir.path().join("phone").join("state.json");

    let out = device_link(&app, png.to_str().unwrap(), &state, &["--biometrics"]).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("Linked “CLI phone” to the account of Marie Schmit (device id "),
        "{stdout}"
    );
    assert!(stdout.contains(&state.display().to_string()), "{stdout}");
    assert!(stdout.contains("Biometrics: on"), "{stdout}");

    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let device_id = saved["device_id"].as_str().expect("the device id is saved");
    assert!(stdout.contains(device_id), "{stdout}");
    assert!(saved["device_key"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(
        saved["authenticator"].as_str().is_some(),
        "the passkey is kept"
    );
    assert_eq!(saved["device_name"], "CLI phone");

    assert_eq!(app.code_status(&id, &code).await["status"], "linked");
    let page = app
        .get(&format!("/devices/link/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("“CLI phone” is now linked"), "{page}");
    assert_eq!(app.count_rows("devices"), 1);
    assert_eq!(app.count_rows("passkeys"), 1);

    // The same installation (its state file, its device key) cannot link again.
    let (id, code) = app.new_qr_code("").await;
    save_qr_png(&app, &id, &code, &png).await;
    let out = device_link(&app, png.to_str().unwrap(), &state, &["--skip-biometrics"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("device_already_linked (HTTP 409)"),
        "{stderr}"
    );
    assert!(stderr.contains("Unlink it first"), "{stderr}");
    assert_eq!(app.count_rows("devices"), 1);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(kept, saved, "a refused link leaves the state file alone");
}

async fn the_cli_reports_a_used_qr_code_with_its_error_code_and_exits_with_1(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    app.device()
        .link_with_qr("First phone", &scanned, "482913", false)
        .await
        .expect("the first device links");

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let out = device_link(&app, &scanned, &state, &["--skip-biometrics"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "redeeming the QR code was refused: qr_code_already_used (HTTP 409): This QR code has already been used."
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
    assert!(!state.exists(), "nothing is saved for a refused link");
    assert_eq!(app.count_rows("devices"), 1);
}
