//! The outbox worker: claims due messages, sends them, records the outcome.
//!
//! Claims are conditional UPDATEs (see [`store::claim_next_due`]), so any number of
//! workers on one database never send the same message at the same time; a worker that
//! dies mid-send leaves a claim that runs out after `mail.lock_secs`, and the message is
//! then taken over. Delivery is therefore at least once: a crash between the send and
//! the "sent" mark can repeat a message, never lose it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{NaiveDateTime, SubsecRound, TimeZone, Utc};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::store::{self, Failure, OutboxMessage};
use super::transport::{MailTransport, SendError};
use crate::config::MailSettings;
use crate::db::{Db, StoreError};

/// Longest wait between two attempts, whatever the backoff says.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Most messages one tick handles before it yields (and checks for shutdown).
const BATCH: usize = 50;
/// Most characters of an error kept in `outbox.last_error`.
const MAX_ERROR_CHARS: usize = 300;

/// How long to wait after the `attempts`-th failed attempt: `base`, then doubling each
/// time, at most one hour.
pub fn backoff_delay(attempts: i32, base_secs: u64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(32);
    let secs = base_secs.saturating_mul(1u64 << doublings);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// A recipient fit for logs: `marie.dupont@example.lu` becomes `m***@example.lu`.
pub fn mask_recipient(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => "***".to_owned(),
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    /// Failed and scheduled for a retry.
    pub retried: usize,
    /// Failed for the last time.
    pub dead: usize,
}

impl TickReport {
    /// Messages the tick dealt with, whatever the outcome.
    pub fn handled(self) -> usize {
        self.sent + self.retried + self.dead
    }
}

type Clock = dyn Fn() -> NaiveDateTime + Send + Sync;

/// Sends what is due in the outbox. [`spawn_worker`] runs one in the background; tests
/// may drive [`Worker::tick`] directly with their own clock.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    settings: MailSettings,
    from: Mailbox,
    transport: Arc<dyn MailTransport>,
    clock: Arc<Clock>,
}

impl Worker {
    /// Fails only if `mail.from` is not an address (validated settings never are).
    pub fn new(
        db: Db,
        settings: MailSettings,
        transport: Arc<dyn MailTransport>,
    ) -> Result<Self, lettre::address::AddressError> {
        let from = settings.from.parse::<Mailbox>()?;
        Ok(Self {
            db,
            settings,
            from,
            transport,
            clock: Arc::new(|| Utc::now().naive_utc()),
        })
    }

    /// The same worker reading time from `clock` (UTC).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> NaiveDateTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Millisecond precision: claims are compared for equality after a round trip
    /// through the database, which keeps microseconds at best.
    fn now(&self) -> NaiveDateTime {
        (self.clock)().trunc_subsecs(3)
    }

    /// Sends every due message, up to a batch. A database error ends the tick early;
    /// messages already claimed are retried once their claim runs out.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let mut report = TickReport::default();
        let lock = chrono::Duration::seconds(i64::try_from(self.settings.lock_secs).unwrap_or(60));
        while report.handled() < BATCH {
            let now = self.now();
            let claim = now + lock;
            let Some(message) = self
                .db
                .run(move |conn| store::claim_next_due(conn, now, claim))
                .await?
            else {
                break;
            };
            self.deliver(message, claim, &mut report).await?;
        }
        Ok(report)
    }

    #[tracing::instrument(
        name = "mail.deliver",
        skip_all,
        fields(outbox_id = %message.id, kind = %message.kind, to = %mask_recipient(&message.recipient))
    )]
    async fn deliver(
        &self,
        message: OutboxMessage,
        claim: NaiveDateTime,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let outcome = match build_message(&message, &self.from) {
            Ok(formatted) => {
                // Give up well before the claim runs out, so no other worker can take the
                // message over while this send may still go through.
                let limit = Duration::from_secs(self.settings.lock_secs / 2);
                match tokio::time::timeout(limit, self.transport.send(&message.id, &formatted))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(SendError::transient(format!(
                        "the send took longer than {}s",
                        limit.as_secs()
                    ))),
                }
            }
            Err(e) => Err(e),
        };
        let now = self.now();
        let id = message.id.clone();
        match outcome {
            Ok(()) => {
                let is_marked = self
                    .db
                    .run(move |conn| store::update_sent(conn, &id, claim, now))
                    .await?;
                if is_marked {
                    tracing::info!(attempts = message.attempts + 1, "mail sent");
                } else {
                    tracing::warn!("mail sent, but the claim had run out; it may be sent again");
                }
                report.sent += 1;
            }
            Err(error) => {
                let attempts = message.attempts.saturating_add(1);
                let is_dead = error.is_permanent || attempts >= self.settings.max_attempts;
                let delay = backoff_delay(attempts, self.settings.backoff_base_secs);
                let next_attempt_at =
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                let last_error: String = error.message.chars().take(MAX_ERROR_CHARS).collect();
                let logged_error = last_error.clone();
                let is_marked = self
                    .db
                    .run(move |conn| {
                        store::update_failed(
                            conn,
                            &id,
                            claim,
                            &Failure {
                                attempts,
                                last_error: &last_error,
                                is_dead,
                                next_attempt_at,
                            },
                        )
                    })
                    .await?;
                if !is_marked {
                    tracing::warn!(error = %logged_error, "mail send failed after the claim had run out");
                } else if is_dead {
                    tracing::error!(
                        attempts,
                        error = %logged_error,
                        "mail given up: marked dead; an operator should look at it"
                    );
                } else {
                    tracing::warn!(
                        attempts,
                        error = %logged_error,
                        retry_in_secs = delay.as_secs(),
                        "mail send failed; will retry"
                    );
                }
                if is_dead {
                    report.dead += 1;
                } else {
                    report.retried += 1;
                }
            }
        }
        Ok(())
    }
}

/// The stored message as MIME: plain text and HTML alternatives. Its Message-ID and
/// Date derive from the outbox row, so a re-send is the same message to the receiver.
fn build_message(message: &OutboxMessage, from: &Mailbox) -> Result<Message, SendError> {
    let to: lettre::Address = message
        .recipient
        .parse()
        .map_err(|_| SendError::permanent("the recipient address is not valid"))?;
    let date: SystemTime = Utc.from_utc_datetime(&message.created_at).into();
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(message.subject.clone())
        .message_id(Some(format!("<{}@{}>", message.id, from.email.domain())))
        .date(date)
        .multipart(MultiPart::alternative_plain_html(
            message.text_body.clone(),
            message.html_body.clone(),
        ))
        .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))
}

/// Keeps the background worker alive; dropping it (or [`WorkerHandle::shutdown`]) stops
/// the worker after the message in hand.
pub struct WorkerHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Stops the worker and waits until the message in hand is recorded.
    pub async fn shutdown(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the mail worker ended abnormally");
            }
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the worker, which stops after the current tick.
        drop(self.stop.take());
    }
}

/// Starts the outbox worker on the current tokio runtime.
pub fn spawn_worker(
    db: Db,
    settings: MailSettings,
    transport: Arc<dyn MailTransport>,
) -> WorkerHandle {
    let (stop, stopped) = oneshot::channel();
    let poll = Duration::from_millis(settings.poll_interval_ms);
    let task = match Worker::new(db, settings, transport) {
        Ok(worker) => tokio::spawn(run(worker, poll, stopped)),
        Err(e) => {
            tracing::error!(error = %e, "mail.from is not an address; the mail worker does not run");
            tokio::spawn(async {})
        }
    };
    WorkerHandle {
        stop: Some(stop),
        task: Some(task),
    }
}

async fn run(worker: Worker, poll: Duration, mut stopped: oneshot::Receiver<()>) {
    tracing::info!(poll_ms = poll.as_millis(), "mail worker started");
    let mut is_failing = false;
    loop {
        // Each tick is its own task: should anything in it panic, the worker goes on.
        let tick = tokio::spawn({
            let worker = worker.clone();
            async move { worker.tick().await }
        });
        let mut is_full = false;
        match tick.await {
            Ok(Ok(report)) => {
                if is_failing {
                    tracing::info!("mail worker reaches the database again");
                    is_failing = false;
                }
                is_full = report.handled() >= BATCH;
            }
            Ok(Err(e)) => {
                if is_failing {
                    tracing::debug!(error = %e, "mail worker: the database is still unavailable");
                } else {
                    tracing::warn!(error = %e, "mail worker cannot use the database; retrying");
                    is_failing = true;
                }
            }
            Err(e) => tracing::error!(error = %e, "a mail worker tick panicked; continuing"),
        }
        if is_full {
            // More is due: go on at once, unless asked to stop.
            if !matches!(stopped.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = &mut stopped => break,
            () = tokio::time::sleep(poll) => {}
        }
    }
    tracing::info!("mail worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_the_base_up_to_one_hour() {
        let schedule: Vec<u64> = (1..=12).map(|n| backoff_delay(n, 5).as_secs()).collect();
        assert_eq!(
            schedule,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff_delay(1_000, 5), MAX_BACKOFF);
        assert_eq!(backoff_delay(0, 5).as_secs(), 5);
        assert_eq!(backoff_delay(40, u64::MAX), MAX_BACKOFF);
    }

    #[test]
    fn recipients_are_masked_in_logs() {
        assert_eq!(mask_recipient("marie.dupont@example.lu"), "m***@example.lu");
        assert_eq!(mask_recipient("j@example.lu"), "j***@example.lu");
        assert_eq!(mask_recipient("@example.lu"), "***@example.lu");
        assert_eq!(mask_recipient("not-an-address"), "***");
        assert_eq!(mask_recipient("élise@exämple.lu"), "é***@exämple.lu");
    }

    #[test]
    fn a_stored_message_becomes_a_multipart_mail_with_a_stable_message_id() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let row = OutboxMessage {
            id: "0b7d8c1e-0000-4000-8000-000000000001".into(),
            kind: "device_linked".into(),
            recipient: "marie@example.lu".into(),
            subject: "A mobile device was linked to your account".into(),
            text_body: "plain".into(),
            html_body: "<p>html</p>".into(),
            status: "sending".into(),
            attempts: 0,
            next_attempt_at: at,
            locked_until: None,
            last_error: None,
            created_at: at,
            sent_at: None,
        };
        let from: Mailbox = "MyPortal <no-reply@myportal.example>".parse().unwrap();
        let raw = String::from_utf8(build_message(&row, &from).unwrap().formatted()).unwrap();
        assert!(raw.contains("To: marie@example.lu"), "{raw}");
        assert!(
            raw.contains("From: MyPortal <no-reply@myportal.example>"),
            "{raw}"
        );
        assert!(
            raw.contains("Message-ID: <0b7d8c1e-0000-4000-8000-000000000001@myportal.example>"),
            "{raw}"
        );
        assert!(
            raw.contains("Date: Fri, 27 Nov 2026 09:00:00 +0000"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");

        let bad = OutboxMessage {
            recipient: "not an address".into(),
            ..row
        };
        let err = build_message(&bad, &from).unwrap_err();
        assert!(err.is_permanent);
    }
}
