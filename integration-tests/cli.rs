//! The `devicelink` command line: clear refusals of bad configuration.

use std::process::Command;

fn devicelink() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_devicelink"));
    cmd.env_remove("DEVICELINK_CONFIG");
    // `demo` would start the demo portal on :8090, which another test may hold.
    cmd.env("DEVICELINK__DEMO__PORTAL", "false");
    cmd
}

#[test]
fn help_lists_the_subcommands() {
    let out = devicelink().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["demo", "serve", "migrate"] {
        assert!(text.contains(sub), "help mentions {sub}: {text}");
    }
}

#[test]
fn a_malformed_config_value_stops_start_up_with_one_line_naming_the_key() {
    let out = devicelink()
        .arg("migrate")
        .env("DEVICELINK__DATABASE__POOL_SIZE", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("pool_size"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_invalid_config_value_names_the_key_and_the_problem() {
    let out = devicelink()
        .arg("demo")
        .env("DEVICELINK__DATABASE__URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("database.url") && err.contains("sqlite://"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_is_refused() {
    let out = devicelink()
        .args(["demo", "--config", "/nonexistent/devicelink.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("does not exist")
    );
}

#[test]
fn an_unreachable_database_stops_start_up_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = devicelink()
        .arg("demo")
        .current_dir(dir.path())
        .env(
            "DEVICELINK__DATABASE__URL",
            "postgres://devicelink:hunter2@127.0.0.1:1/none",
        )
        .env("DEVICELINK__DATABASE__CONNECT_TIMEOUT_SECS", "1")
        .env("DEVICELINK__SERVER__BIND", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(!err.contains("hunter2"), "the password is hidden: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
