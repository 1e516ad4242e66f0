//! The logout outbox worker: claims due rows, signs a logout token, POSTs it to the
//! portal's `backchannel_logout_uri` (section 2.5), records the outcome.
//!
//! Claims are conditional UPDATEs ([`store::claim_next_due`]), so any number of workers
//! on one database never send the same row at the same time; a worker that dies
//! mid-send leaves a claim that runs out after `lock_secs`, and the row is then taken
//! over. Delivery is therefore at least once, never lost across a restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::store::{self, Failure, LogoutRow};
use super::{Logout, is_delivered};
use crate::config::Settings;
use crate::db::{Db, StoreError};
use crate::mail::backoff_delay;
use crate::tokens::TokenIssuer;

/// Most rows one tick handles before it yields (and checks for shutdown).
const BATCH: usize = 50;
/// Most characters of an error kept in `logout_outbox.last_error`.
const MAX_ERROR_CHARS: usize = 300;

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

impl TickReport {
    fn handled(self) -> usize {
        self.sent + self.retried + self.dead
    }
}

/// Delivers what is due in the logout outbox.
#[derive(Clone)]
pub struct LogoutWorker {
    db: Db,
    settings: Arc<Settings>,
    tokens: Arc<TokenIssuer>,
    http: reqwest::Client,
}

impl LogoutWorker {
    pub fn new(
        db: Db,
        settings: Arc<Settings>,
        tokens: Arc<TokenIssuer>,
    ) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_secs(settings.provider.backchannel_logout.timeout_secs);
        // Section 2.5: a plain POST; a redirect is not followed (it would be a failure).
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            db,
            settings,
            tokens,
            http,
        })
    }

    /// Millisecond precision: claims are compared for equality after a round trip
    /// through the database, which keeps microseconds at best.
    fn now() -> NaiveDateTime {
        Utc::now().naive_utc().trunc_subsecs(3)
    }

    /// Delivers every due row, up to a batch.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let mut report = TickReport::default();
        let lock_secs = self.settings.provider.backchannel_logout.lock_secs;
        let lock = chrono::Duration::seconds(i64::try_from(lock_secs).unwrap_or(60));
        while report.handled() < BATCH {
            let now = Self::now();
            let claim = now + lock;
            let Some(row) = self
                .db
                .run(move |conn| store::claim_next_due(conn, now, claim))
                .await?
            else {
                break;
            };
            self.deliver(row, claim, &mut report).await?;
        }
        Ok(report)
    }

    /// One attempt: `Ok(())` when the portal answered 200 or 204 (section 2.8).
    async fn attempt(&self, row: &LogoutRow) -> Result<(), String> {
        let settings = &self.settings.provider;
        let client = settings
            .client(&row.client_id)
            .ok_or("the client is no longer registered")?;
        let uri = client
            .backchannel_logout_uri
            .as_deref()
            .ok_or("the client no longer registers a backchannel_logout_uri")?;
        let logout = Logout {
            subject: &row.subject,
            sid: &row.sid,
            ttl_secs: settings.backchannel_logout.token_ttl_secs,
        };
        let token = super::ptokens::logout_token(&self.tokens, client, &logout, Utc::now())
            .map_err(|e| format!("cannot sign the logout token: {e}"))?;
        let response = self
            .http
            .post(uri)
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
            .map_err(|e| format!("cannot reach the portal: {e}"))?;
        let status = response.status().as_u16();
        if is_delivered(status) {
            Ok(())
        } else {
            Err(format!("the portal answered HTTP {status}"))
        }
    }

    #[tracing::instrument(
        name = "backchannel_logout.deliver",
        skip_all,
        fields(logout_id = %row.id, client_id = %row.client_id)
    )]
    async fn deliver(
        &self,
        row: LogoutRow,
        claim: NaiveDateTime,
        report: &mut TickReport,
    ) -> Result<(), StoreError> {
        let outcome = self.attempt(&row).await;
        let now = Self::now();
        let id = row.id.clone();
        let attempts = row.attempts.saturating_add(1);
        match outcome {
            Ok(()) => {
                let is_marked = self
                    .db
                    .run(move |conn| store::update_sent(conn, &id, claim, now))
                    .await?;
                if is_marked {
                    tracing::info!(attempts, "logout token delivered");
                } else {
                    tracing::warn!(
                        "logout token delivered, but the claim had run out; it may be sent again"
                    );
                }
                report.sent += 1;
            }
            Err(error) => {
                let settings = &self.settings.provider.backchannel_logout;
                let is_dead = attempts >= settings.max_attempts;
                let delay = backoff_delay(attempts, settings.backoff_base_secs);
                let next_attempt_at =
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                let last_error: String = error.chars().take(MAX_ERROR_CHARS).collect();
                let logged = last_error.clone();
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
                    tracing::warn!(error = %logged, "logout token failed after the claim had run out");
                } else if is_dead {
                    tracing::warn!(
                        attempts,
                        error = %logged,
                        "logout token given up: marked dead; the portal keeps its session until it expires"
                    );
                } else {
                    tracing::warn!(
                        attempts,
                        error = %logged,
                        retry_in_secs = delay.as_secs(),
                        "logout token not delivered; will retry"
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

/// Keeps the background worker alive; dropping it (or [`LogoutWorkerHandle::shutdown`])
/// stops the worker after the row in hand.
pub struct LogoutWorkerHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LogoutWorkerHandle {
    /// Stops the worker and waits until the row in hand is recorded.
    pub async fn shutdown(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the logout worker ended abnormally");
            }
        }
    }
}

impl Drop for LogoutWorkerHandle {
    fn drop(&mut self) {
        drop(self.stop.take());
    }
}

/// Starts the logout outbox worker on the current tokio runtime.
pub fn spawn_worker(
    db: Db,
    settings: Arc<Settings>,
    tokens: Arc<TokenIssuer>,
) -> Result<LogoutWorkerHandle, reqwest::Error> {
    let poll = Duration::from_millis(settings.provider.backchannel_logout.poll_interval_ms);
    let worker = LogoutWorker::new(db, settings, tokens)?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(run(worker, poll, stopped));
    Ok(LogoutWorkerHandle {
        stop: Some(stop),
        task: Some(task),
    })
}

async fn run(worker: LogoutWorker, poll: Duration, mut stopped: oneshot::Receiver<()>) {
    tracing::info!(poll_ms = poll.as_millis(), "logout worker started");
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
                    tracing::info!("logout worker reaches the database again");
                    is_failing = false;
                }
                is_full = report.handled() >= BATCH;
            }
            Ok(Err(e)) => {
                if !is_failing {
                    tracing::warn!(error = %e, "logout worker cannot use the database; retrying");
                    is_failing = true;
                }
            }
            Err(e) => tracing::error!(error = %e, "a logout worker tick panicked; continuing"),
        }
        if is_full {
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
    tracing::info!("logout worker stopped");
}
