//! Mail to citizens through a persistent outbox.
//!
//! An event writes its message into the `outbox` table with [`enqueue`], inside the same
//! transaction as the event itself, so a mail is queued if and only if the event
//! happened. Bodies are rendered at that moment. A background worker ([`spawn_worker`])
//! claims due messages with a conditional UPDATE, sends them through a [`MailTransport`]
//! (SMTP, `.eml` files, or memory in tests) and records the outcome: `pending → sending →
//! sent`, or back to `pending` with exponential backoff, or `dead` after
//! `mail.max_attempts` failures. See docs/mail.md.

pub mod report;
pub mod store;
pub mod templates;
pub mod transport;
pub mod worker;

use chrono::NaiveDateTime;
use url::Url;

use crate::db::{DbConnection, StoreError};
use crate::i18n::Lang;

/// An e-mail address the outbox can send to: exactly what `lettre` (the outbox's own
/// parser) accepts as one bare address, no display name, at most 254 characters (RFC
/// 5321 section 4.5.3.1.3), with a dot in the domain. `"x"<evil@evil.example>` is a
/// mailbox, not an address: every later security mail to it would silently fail.
pub fn is_sendable_address(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    (3..=254).contains(&email.len())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        && email.parse::<Address>().is_ok()
}

pub use lettre::Address;
pub use store::{OutboxMessage, OutboxStatus};
pub use templates::RenderedMail;
pub use transport::{
    FileTransport, MailTransport, MemoryTransport, SendError, SentMail, SmtpTransport,
    TransportError, build_transport,
};
pub use worker::{TickReport, Worker, WorkerHandle, backoff_delay, mask_recipient, spawn_worker};

/// The kinds of mail, as stored in `outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    DeviceLinked,
    DeviceUnlinked,
    DeviceLocked,
    SecretCodeReset,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceLinked => "device_linked",
            Self::DeviceUnlinked => "device_unlinked",
            Self::DeviceLocked => "device_locked",
            Self::SecretCodeReset => "secret_code_reset",
        }
    }
}

/// "A mobile device was linked to your account".
#[derive(Debug, Clone)]
pub struct DeviceLinkedMail {
    /// How the citizen is greeted, e.g. "Marie Dupont".
    pub display_name: String,
    pub device_name: String,
    /// How the link was confirmed, e.g. "LuxTrust Scan" or "QR code", in the mail's language.
    pub method_label: String,
    /// UTC.
    pub linked_at: NaiveDateTime,
    /// Target of the "This was not me" link: the device-management page.
    pub manage_url: Url,
}

/// Where an unlink was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkedBy {
    /// The citizen's device-management page in the portal.
    Browser,
    /// The app on the device itself.
    App,
}

/// "A mobile device was unlinked from your account".
#[derive(Debug, Clone)]
pub struct DeviceUnlinkedMail {
    pub display_name: String,
    pub device_name: String,
    /// UTC.
    pub unlinked_at: NaiveDateTime,
    pub by: UnlinkedBy,
    pub manage_url: Url,
}

/// "Your mobile device was locked after too many wrong secret codes".
#[derive(Debug, Clone)]
pub struct DeviceLockedMail {
    pub display_name: String,
    pub device_name: String,
    /// UTC.
    pub locked_at: NaiveDateTime,
    pub manage_url: Url,
}

/// "The secret code of your mobile device was reset" (after a LuxTrust authentication in
/// the app: "Forgot your code?").
#[derive(Debug, Clone)]
pub struct SecretCodeResetMail {
    pub display_name: String,
    pub device_name: String,
    /// The LuxTrust product that vouched for the reset, e.g. "LuxTrust Mobile".
    pub product_label: String,
    /// UTC.
    pub reset_at: NaiveDateTime,
    pub manage_url: Url,
}

#[derive(Debug, Clone)]
enum Content {
    Linked(DeviceLinkedMail),
    Unlinked(DeviceUnlinkedMail),
    Locked(DeviceLockedMail),
    CodeReset(SecretCodeResetMail),
}

/// One message to one citizen in their language, built from a typed message and ready
/// to [`enqueue`]. The language is the account's ([`crate::accounts::store::mail_language`]:
/// the one the citizen chose, else the one of the request that caused the mail).
#[derive(Debug, Clone)]
pub struct Mail {
    to: Address,
    lang: Lang,
    content: Content,
}

impl Mail {
    pub fn device_linked(to: Address, lang: Lang, mail: DeviceLinkedMail) -> Self {
        Self {
            to,
            lang,
            content: Content::Linked(mail),
        }
    }

    pub fn device_unlinked(to: Address, lang: Lang, mail: DeviceUnlinkedMail) -> Self {
        Self {
            to,
            lang,
            content: Content::Unlinked(mail),
        }
    }

    pub fn device_locked(to: Address, lang: Lang, mail: DeviceLockedMail) -> Self {
        Self {
            to,
            lang,
            content: Content::Locked(mail),
        }
    }

    pub fn secret_code_reset(to: Address, lang: Lang, mail: SecretCodeResetMail) -> Self {
        Self {
            to,
            lang,
            content: Content::CodeReset(mail),
        }
    }

    pub fn kind(&self) -> MailKind {
        match self.content {
            Content::Linked(_) => MailKind::DeviceLinked,
            Content::Unlinked(_) => MailKind::DeviceUnlinked,
            Content::Locked(_) => MailKind::DeviceLocked,
            Content::CodeReset(_) => MailKind::SecretCodeReset,
        }
    }

    pub fn to(&self) -> &Address {
        &self.to
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The subject and both bodies, as they will be stored and sent.
    pub fn render(&self) -> Result<RenderedMail, askama::Error> {
        match &self.content {
            Content::Linked(m) => templates::device_linked(self.lang, m),
            Content::Unlinked(m) => templates::device_unlinked(self.lang, m),
            Content::Locked(m) => templates::device_locked(self.lang, m),
            Content::CodeReset(m) => templates::secret_code_reset(self.lang, m),
        }
    }
}

/// Queues `mail` for sending and returns its outbox id. Call it inside the transaction
/// that records the event, so the message exists exactly when the event does; the
/// worker picks it up once that transaction commits.
pub fn enqueue(
    conn: &mut DbConnection,
    mail: &Mail,
    now: NaiveDateTime,
) -> Result<String, StoreError> {
    let rendered = mail.render().map_err(|e| {
        StoreError::Corrupt(format!(
            "cannot render the {} mail: {e}",
            mail.kind().as_str()
        ))
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    store::insert_message(
        conn,
        &store::NewOutboxMessage {
            id: &id,
            kind: mail.kind().as_str(),
            recipient: mail.to.as_ref(),
            subject: &rendered.subject,
            text_body: &rendered.text_body,
            html_body: &rendered.html_body,
            status: store::PENDING,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        },
    )?;
    tracing::debug!(
        outbox_id = %id,
        kind = mail.kind().as_str(),
        lang = mail.lang.code(),
        to = %mask_recipient(mail.to.as_ref()),
        "mail queued"
    );
    Ok(id)
}

/// How many messages are in each state, and since when the oldest one waits; for
/// operators (`devicelink mail status`, metrics).
pub fn status_counts(conn: &mut DbConnection) -> Result<OutboxStatus, StoreError> {
    store::count_by_status(conn)
}
