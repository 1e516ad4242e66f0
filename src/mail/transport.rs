//! Ways a message leaves the server, behind one trait so tests can swap in a fake.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, MailTransportKind, SmtpTls};

/// Why a send failed. `permanent` failures (the relay refused the recipient for good,
/// the address cannot be used) are not retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub is_permanent: bool,
    /// Short, for `outbox.last_error` and logs; never carries credentials.
    pub message: String,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            is_permanent: false,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            is_permanent: true,
            message: message.into(),
        }
    }
}

/// Sends one formatted message. `outbox_id` identifies it across re-sends (the file
/// transport names its file after it).
pub trait MailTransport: Send + Sync {
    fn send<'a>(
        &'a self,
        outbox_id: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

/// Why the configured transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot set up SMTP to {host}: {reason}")]
    Smtp { host: String, reason: String },
}

/// The transport `mail.transport` names.
pub fn build_transport(settings: &MailSettings) -> Result<Arc<dyn MailTransport>, TransportError> {
    Ok(match settings.transport {
        MailTransportKind::File => Arc::new(FileTransport::new(settings.file_dir.clone())),
        MailTransportKind::Smtp => Arc::new(SmtpTransport::new(settings)?),
        MailTransportKind::Memory => Arc::new(MemoryTransport::new()),
    })
}

/// Writes each message as `<outbox id>.eml` into a folder: written to a temporary name
/// and renamed, so a reader never sees half a file and a re-send overwrites.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    async fn write(&self, outbox_id: &str, message: &Message) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let target = self.dir.join(format!("{outbox_id}.eml"));
        let partial = self.dir.join(format!(".{outbox_id}.eml.partial"));
        tokio::fs::write(&partial, message.formatted()).await?;
        tokio::fs::rename(&partial, &target).await
    }
}

impl MailTransport for FileTransport {
    fn send<'a>(
        &'a self,
        outbox_id: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            // The outbox id is a UUID we generated; refuse anything that could leave the folder.
            if outbox_id.is_empty()
                || !outbox_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(SendError::permanent("the outbox id is not a file name"));
            }
            self.write(outbox_id, message).await.map_err(|e| {
                SendError::transient(format!(
                    "cannot write the message into {}: {e}",
                    self.dir.display()
                ))
            })
        })
    }
}

/// Sends through an SMTP relay (pooled connections).
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    pub fn new(settings: &MailSettings) -> Result<Self, TransportError> {
        let host = settings.smtp_host.trim();
        let err = |e: lettre::transport::smtp::Error| TransportError::Smtp {
            host: host.to_owned(),
            reason: e.to_string(),
        };
        let builder = match settings.smtp_tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(err)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(err)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        // Each SMTP command must answer well within the claim the worker holds.
        let timeout = Duration::from_secs((settings.lock_secs / 4).clamp(5, 60));
        let mut builder = builder.port(settings.smtp_port).timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&settings.smtp_username, &settings.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            inner: builder.build(),
        })
    }
}

impl MailTransport for SmtpTransport {
    fn send<'a>(
        &'a self,
        _outbox_id: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.inner
                .send_raw(message.envelope(), &message.formatted())
                .await
                .map(|_| ())
                .map_err(|e| SendError {
                    is_permanent: e.is_permanent(),
                    message: format!("SMTP: {e}"),
                })
        })
    }
}

/// A message the [`MemoryTransport`] accepted.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub outbox_id: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The whole formatted message (headers and MIME body).
    pub raw: String,
}

#[derive(Debug, Default)]
struct MemoryState {
    sent: Vec<SentMail>,
    fail_next: u32,
    fail_always: bool,
    delay: Option<Duration>,
}

/// Keeps messages in memory instead of sending them; can be told to fail. For tests
/// (`serve` refuses it).
#[derive(Debug, Default)]
pub struct MemoryTransport {
    state: Mutex<MemoryState>,
}

impl MemoryTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` sends fail with a transient error.
    pub fn fail_next(&self, n: u32) {
        self.state().fail_next = n;
    }

    /// Every send fails with a transient error (or, with `false`, none does).
    pub fn fail_always(&self, fail: bool) {
        self.state().fail_always = fail;
    }

    /// Each send takes this long (to widen race windows in tests).
    pub fn delay_each(&self, delay: Duration) {
        self.state().delay = Some(delay);
    }

    /// The messages accepted so far, in order.
    pub fn sent(&self) -> Vec<SentMail> {
        self.state().sent.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MailTransport for MemoryTransport {
    fn send<'a>(
        &'a self,
        outbox_id: &'a str,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let delay = self.state().delay;
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let mut state = self.state();
            if state.fail_always {
                return Err(SendError::transient("memory transport: told to fail"));
            }
            if state.fail_next > 0 {
                state.fail_next -= 1;
                return Err(SendError::transient("memory transport: told to fail"));
            }
            state.sent.push(SentMail {
                outbox_id: outbox_id.to_owned(),
                to: message
                    .envelope()
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                raw: String::from_utf8_lossy(&message.formatted()).into_owned(),
            });
            Ok(())
        })
    }
}
