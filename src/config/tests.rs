//! Unit tests of the settings: defaults, overrides, refusals.

use super::*;

#[test]
fn the_embedded_defaults_load_and_validate() {
    let settings = Settings::load(None).expect("defaults load");
    settings
        .validate(Profile::Local)
        .expect("defaults are valid");
}

#[test]
fn the_demo_defaults_are_refused_in_production() {
    let settings = Settings::load(None).expect("defaults load");
    let err = settings.validate(Profile::Production).unwrap_err();
    assert!(err.to_string().contains("eaccess.client_secret"), "{err}");
}

#[test]
fn a_demo_portal_url_must_be_a_folder_url() {
    let mut settings = Settings::load(None).expect("defaults load");
    settings
        .validate(Profile::Local)
        .expect("the defaults are valid");
    settings.demo.portal_url = Url::parse("http://127.0.0.1:8090/portal").unwrap();
    let err = settings.validate(Profile::Local).unwrap_err();
    assert!(err.to_string().contains("demo.portal_url"), "{err}");
}

#[test]
fn a_database_url_with_an_unknown_scheme_names_the_key() {
    let err = DatabaseKind::from_url("mysql://x").unwrap_err();
    assert!(err.to_string().contains("database.url"));
}

#[test]
fn plain_http_is_refused_in_production_except_on_loopback() {
    let remote = Url::parse("http://portal.example").unwrap();
    let local = Url::parse("http://127.0.0.1:8080").unwrap();
    assert!(check_base_url("k", &remote, Profile::Production).is_err());
    assert!(check_base_url("k", &local, Profile::Production).is_ok());
    assert!(check_base_url("k", &remote, Profile::Local).is_ok());
}

#[test]
fn the_memory_mail_transport_is_refused_in_production() {
    let mut settings = Settings::load(None).expect("defaults load");
    settings.mail.transport = MailTransportKind::Memory;
    settings
        .mail
        .validate(Profile::Local)
        .expect("fine for tests");
    let err = settings.mail.validate(Profile::Production).unwrap_err();
    assert!(err.to_string().contains("mail.transport"), "{err}");
}

#[test]
fn a_bad_mail_setting_names_its_key() {
    let mut settings = Settings::load(None).expect("defaults load");
    settings.mail.from = "not an address".into();
    let err = settings.mail.validate(Profile::Local).unwrap_err();
    assert!(err.to_string().contains("mail.from"), "{err}");

    let mut settings = Settings::load(None).expect("defaults load");
    settings.mail.transport = MailTransportKind::Smtp;
    settings.mail.smtp_username = Some("mailer".into());
    let err = settings.mail.validate(Profile::Local).unwrap_err();
    assert!(err.to_string().contains("mail.smtp_password"), "{err}");

    settings.mail.smtp_password = Some("hunter2".into());
    settings.mail.smtp_host = "smtp.example.lu".into();
    settings.mail.smtp_tls = SmtpTls::None;
    let err = settings.mail.validate(Profile::Production).unwrap_err();
    assert!(err.to_string().contains("mail.smtp_tls"), "{err}");
}

#[test]
fn the_smtp_password_is_redacted_in_debug_output() {
    let mut settings = Settings::load(None).expect("defaults load");
    settings.mail.smtp_password = Some("hunter2".into());
    let printed = format!("{:?}", settings.mail);
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("<redacted>"));
}

#[test]
fn bad_token_and_lockout_settings_name_their_key() {
    let mut settings = Settings::load(None).expect("defaults load");
    settings.devices.max_failed_attempts = 11;
    let err = settings.validate(Profile::Local).unwrap_err();
    assert!(
        err.to_string().contains("devices.max_failed_attempts"),
        "{err}"
    );

    let mut settings = Settings::load(None).expect("defaults load");
    settings.tokens.access_token_ttl_secs = 0;
    let err = settings.validate(Profile::Local).unwrap_err();
    assert!(
        err.to_string().contains("tokens.access_token_ttl_secs"),
        "{err}"
    );

    let mut settings = Settings::load(None).expect("defaults load");
    settings.tokens.refresh_token_absolute_secs = settings.tokens.refresh_token_idle_secs - 1;
    let err = settings.validate(Profile::Local).unwrap_err();
    assert!(
        err.to_string()
            .contains("tokens.refresh_token_absolute_secs"),
        "{err}"
    );
}

#[test]
fn passwords_are_hidden_in_printed_database_urls() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
}
