//! The `[mail]` section: how outgoing mail leaves the server.

use serde::Deserialize;

use std::path::PathBuf;

use super::{ConfigError, Profile};

/// How outgoing mail leaves the server.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// One `.eml` file per message under `mail.file_dir` (demo, pickup folders).
    File,
    /// An SMTP relay.
    Smtp,
    /// Kept in memory and never delivered; tests only, refused by `serve`.
    Memory,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (usually port 587); the upgrade is required.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption; only for a relay on this machine.
    None,
}

/// The outbox worker and its transport (`[mail]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub from: String,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    #[serde(default)]
    pub smtp_username: Option<String>,
    #[serde(default)]
    pub smtp_password: Option<String>,
    pub poll_interval_ms: u64,
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    pub lock_secs: u64,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("file_dir", &self.file_dir)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_secs", &self.backoff_base_secs)
            .field("lock_secs", &self.lock_secs)
            .finish()
    }
}

impl MailSettings {
    /// Checks the `[mail]` values that types alone cannot.
    pub fn validate(&self, profile: Profile) -> Result<(), ConfigError> {
        if profile == Profile::Production && self.transport == MailTransportKind::Memory {
            return Err(ConfigError::invalid(
                "mail.transport",
                "`memory` never delivers mail and is for tests only; use `smtp` or `file`",
            ));
        }
        self.from.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::invalid(
                "mail.from",
                format!("must be an address like `MyPortal <no-reply@myportal.example>`: {e}"),
            )
        })?;
        if self.transport == MailTransportKind::File && self.file_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("mail.file_dir", "must name a folder"));
        }
        if self.transport == MailTransportKind::Smtp {
            self.validate_smtp(profile)?;
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError::invalid(
                "mail.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ConfigError::invalid(
                "mail.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if !(1..=3600).contains(&self.backoff_base_secs) {
            return Err(ConfigError::invalid(
                "mail.backoff_base_secs",
                "must be between 1 and 3600",
            ));
        }
        // A send is abandoned after half the lock, so the lock must leave room for an
        // SMTP conversation.
        if !(10..=3600).contains(&self.lock_secs) {
            return Err(ConfigError::invalid(
                "mail.lock_secs",
                "must be between 10 and 3600",
            ));
        }
        Ok(())
    }

    fn validate_smtp(&self, profile: Profile) -> Result<(), ConfigError> {
        let host = self.smtp_host.trim();
        if host.is_empty() || host.contains(['/', '@']) || host.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "mail.smtp_host",
                "must be a host name or IP address",
            ));
        }
        if self.smtp_port == 0 {
            return Err(ConfigError::invalid("mail.smtp_port", "must not be 0"));
        }
        match (&self.smtp_username, &self.smtp_password) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "mail.smtp_password",
                    "must be set when mail.smtp_username is",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "mail.smtp_username",
                    "must be set when mail.smtp_password is",
                ));
            }
            _ => {}
        }
        let is_local_relay = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
        if profile == Profile::Production && self.smtp_tls == SmtpTls::None && !is_local_relay {
            return Err(ConfigError::invalid(
                "mail.smtp_tls",
                "`none` is only allowed for a relay on this machine (localhost)",
            ));
        }
        Ok(())
    }
}
