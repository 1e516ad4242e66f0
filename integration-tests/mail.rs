//! The mail outbox: delivery through a running app's file transport, and the worker
//! against a real database (both backends) with an in-memory transport and a test clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use devicelink::config::MailSettings;
use devicelink::db::{Db, StoreError};
use devicelink::mail::{
    self, DeviceLinkedMail, Mail, MailTransport, MemoryTransport, OutboxMessage, Worker,
};
use diesel::Connection;

use crate::backend_tests;
use crate::helpers::{Backend, PgDatabase, TestApp, postgres_url, test_settings};

backend_tests!(a_queued_message_is_delivered_once_as_an_eml_file_by_the_running_app);

/// Declares each listed async test body `fn(MailDb)` once per backend:
/// `sqlite_db::<name>` and `postgres_db::<name>`.
macro_rules! outbox_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_db {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ctx = super::MailDb::open(super::Backend::Sqlite)
                        .expect("SQLite is always available");
                    super::$name(ctx).await;
                }
            )*
        }
        mod postgres_db {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(ctx) = super::MailDb::open(super::Backend::Postgres) {
                        super::$name(ctx).await;
                    }
                }
            )*
        }
    };
}

outbox_tests!(
    a_message_enqueued_in_a_rolled_back_transaction_is_never_sent,
    a_failing_transport_is_retried_with_backoff_then_delivers_exactly_once,
    a_message_that_always_fails_is_dead_after_max_attempts_with_its_last_error,
    two_workers_on_one_database_never_send_the_same_message_twice,
    a_message_claimed_by_a_crashed_worker_is_picked_up_once_the_claim_runs_out,
    a_message_queued_before_a_restart_is_delivered_once_by_the_new_worker,
    status_counts_report_each_state_and_the_oldest_waiting_message,
);

/// A fresh database with the mail settings of the tests.
struct MailDb {
    db: Db,
    settings: devicelink::config::Settings,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl MailDb {
    fn open(backend: Backend) -> Option<Self> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create(&postgres_url()?)),
        };
        let dir = tempfile::tempdir().expect("temporary folder");
        let settings = test_settings(backend, 1, dir.path(), pg.as_ref());
        let db = Db::open(&settings.database).expect("the database opens");
        Some(Self {
            db,
            settings,
            _dir: dir,
            _pg: pg,
        })
    }

    /// A second pool on the same database: another server instance, or a restart.
    fn reopen(&self) -> Db {
        Db::open(&self.settings.database).expect("the database opens again")
    }

    fn mail_settings(&self) -> MailSettings {
        let mut mail = self.settings.mail.clone();
        mail.poll_interval_ms = 20;
        mail.max_attempts = 8;
        mail.backoff_base_secs = 5;
        mail.lock_secs = 60;
        mail
    }

    fn enqueue(&self, n: usize, now: NaiveDateTime) -> String {
        self.db
            .run_blocking(|conn| mail::enqueue(conn, &sample_mail(n), now))
            .expect("the mail is queued")
    }

    fn row(&self, id: &str) -> OutboxMessage {
        let id = id.to_owned();
        self.db
            .run_blocking(move |conn| mail::store::find_message(conn, &id))
            .expect("query")
            .expect("the row exists")
    }

    fn status(&self) -> mail::OutboxStatus {
        self.db
            .run_blocking(mail::status_counts)
            .expect("status counts")
    }
}

fn sample_mail(n: usize) -> Mail {
    Mail::device_linked(
        format!("citizen{n}@example.lu")
            .parse()
            .expect("an address"),
        devicelink::i18n::Lang::En,
        DeviceLinkedMail {
            display_name: "Marie Dupont".into(),
            device_name: format!("Pixel {n}"),
            method_label: "QR code".into(),
            linked_at: t0(),
            manage_url: "https://myportal.example/devices".parse().expect("url"),
        },
    )
}

/// A minute ago, to the millisecond (what both databases store exactly).
fn t0() -> NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(3) - chrono::Duration::minutes(1)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<NaiveDateTime>>);

impl TestClock {
    fn at(now: NaiveDateTime) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }
    fn set(&self, now: NaiveDateTime) {
        *self.0.lock().unwrap() = now;
    }
    fn reader(&self) -> impl Fn() -> NaiveDateTime + Send + Sync + 'static {
        let inner = Arc::clone(&self.0);
        move || *inner.lock().unwrap()
    }
}

fn worker_with_clock(
    ctx: &MailDb,
    settings: MailSettings,
    transport: &Arc<MemoryTransport>,
    clock: &TestClock,
) -> Worker {
    let transport: Arc<dyn MailTransport> = transport.clone();
    Worker::new(ctx.db.clone(), settings, transport)
        .expect("valid from")
        .with_clock(clock.reader())
}

/// Polls `check` until it holds, for up to 20 seconds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn a_queued_message_is_delivered_once_as_an_eml_file_by_the_running_app(app: TestApp) {
    let db = Db::open(&app.settings.database).unwrap();
    let mail = Mail::device_linked(
        "marie.dupont@example.lu".parse().unwrap(),
        devicelink::i18n::Lang::En,
        DeviceLinkedMail {
            display_name: "Marie Dupont".into(),
            device_name: "Pixel 8".into(),
            method_label: "QR code".into(),
            linked_at: chrono::Utc::now().naive_utc(),
            manage_url: format!("{}/devices", app.address).parse().unwrap(),
        },
    );
    let now = chrono::Utc::now().naive_utc();
    let id = db
        .run_blocking(|conn| mail::enqueue(conn, &mail, now))
        .unwrap();

    let folder = app.dir.path().join("mail");
    let file = folder.join(format!("{id}.eml"));
    eventually("the .eml file appears", || file.is_file()).await;
    let eml = std::fs::read_to_string(&file).unwrap();
    assert!(
        eml.contains("Subject: A mobile device was linked to your account"),
        "{eml}"
    );
    assert!(eml.contains("To: marie.dupont@example.lu"), "{eml}");
    assert!(
        eml.contains("From: MyPortal <no-reply@myportal.example>"),
        "{eml}"
    );
    assert!(eml.contains("Pixel 8"), "{eml}");

    let id_for_row = id.clone();
    let check_sent = || {
        let id = id_for_row.clone();
        db.run_blocking(move |conn| mail::store::find_message(conn, &id))
            .unwrap()
            .unwrap()
    };
    eventually("the message is marked sent", || {
        check_sent().status == "sent"
    })
    .await;
    let row = check_sent();
    assert!(row.sent_at.is_some());
    assert_eq!(row.attempts, 1);

    // Several more polls: still exactly one file, nothing half-written left behind.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec![format!("{id}.eml")]);
}

async fn a_message_enqueued_in_a_rolled_back_transaction_is_never_sent(ctx: MailDb) {
    let result: Result<(), StoreError> = ctx.db.run_blocking(|conn| {
        conn.transaction(|conn| {
            mail::enqueue(conn, &sample_mail(1), t0())?;
            // The event the mail reports fails after the enqueue: both roll back.
            Err(StoreError::UniqueViolation)
        })
    });
    assert!(result.is_err());
    assert_eq!(ctx.status(), mail::OutboxStatus::default());
}

async fn a_failing_transport_is_retried_with_backoff_then_delivers_exactly_once(ctx: MailDb) {
    let start = t0();
    let id = ctx.enqueue(1, start);
    let transport = Arc::new(MemoryTransport::new());
    transport.fail_next(3);
    let clock = TestClock::at(start);
    let worker = worker_with_clock(&ctx, ctx.mail_settings(), &transport, &clock);

    // Failures 1, 2 and 3 wait 5, 10 and 20 seconds.
    let mut now = start;
    for (attempt, wait) in [(1, 5), (2, 10), (3, 20)] {
        let report = worker.tick().await.unwrap();
        assert_eq!((report.sent, report.retried, report.dead), (0, 1, 0));
        let row = ctx.row(&id);
        assert_eq!(row.status, "pending");
        assert_eq!(row.attempts, attempt);
        assert_eq!(row.next_attempt_at, now + secs(wait));
        assert!(row.last_error.as_deref().unwrap().contains("told to fail"));
        assert!(row.locked_until.is_none());

        // Not yet due a moment before the backoff has passed.
        clock.set(now + secs(wait) - chrono::Duration::milliseconds(1));
        assert_eq!(worker.tick().await.unwrap().handled(), 0);
        now += secs(wait);
        clock.set(now);
    }
    let report = worker.tick().await.unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (1, 0, 0));
    let row = ctx.row(&id);
    assert_eq!(row.status, "sent");
    assert_eq!(row.attempts, 4);
    assert_eq!(row.sent_at, Some(now));
    assert!(row.last_error.is_none());

    clock.set(now + secs(7200));
    assert_eq!(worker.tick().await.unwrap().handled(), 0);
    let sent = transport.sent();
    assert_eq!(sent.len(), 1, "delivered exactly once");
    assert_eq!(sent[0].outbox_id, id);
    assert_eq!(sent[0].to, vec!["citizen1@example.lu".to_owned()]);
}

async fn a_message_that_always_fails_is_dead_after_max_attempts_with_its_last_error(ctx: MailDb) {
    let start = t0();
    let id = ctx.enqueue(1, start);
    let transport = Arc::new(MemoryTransport::new());
    transport.fail_always(true);
    let clock = TestClock::at(start);
    let mut settings = ctx.mail_settings();
    settings.max_attempts = 3;
    let worker = worker_with_clock(&ctx, settings, &transport, &clock);

    let mut dead = 0;
    for _ in 0..3 {
        let report = worker.tick().await.unwrap();
        dead += report.dead;
        clock.set(ctx.row(&id).next_attempt_at);
    }
    assert_eq!(dead, 1);
    let row = ctx.row(&id);
    assert_eq!(row.status, "dead");
    assert_eq!(row.attempts, 3);
    assert!(row.last_error.as_deref().unwrap().contains("told to fail"));
    assert!(row.sent_at.is_none());

    // Dead is final: nothing picks it up again, even much later.
    transport.fail_always(false);
    clock.set(start + secs(30 * 24 * 3600));
    assert_eq!(worker.tick().await.unwrap().handled(), 0);
    assert!(transport.sent().is_empty());
    let status = ctx.status();
    assert_eq!((status.pending, status.dead), (0, 1));
}

async fn two_workers_on_one_database_never_send_the_same_message_twice(ctx: MailDb) {
    let start = t0();
    let ids: BTreeSet<String> = (0..30).map(|n| ctx.enqueue(n, start)).collect();
    let first = Arc::new(MemoryTransport::new());
    let second = Arc::new(MemoryTransport::new());
    first.delay_each(Duration::from_millis(5));
    second.delay_each(Duration::from_millis(5));
    // Two instances: separate pools, same database.
    let a = mail::spawn_worker(ctx.reopen(), ctx.mail_settings(), first.clone());
    let b = mail::spawn_worker(ctx.reopen(), ctx.mail_settings(), second.clone());

    eventually("all 30 are sent", || ctx.status().sent == 30).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.shutdown().await;
    b.shutdown().await;

    let sent: Vec<String> = first
        .sent()
        .into_iter()
        .chain(second.sent())
        .map(|m| m.outbox_id)
        .collect();
    assert_eq!(sent.len(), 30, "30 sends in total");
    let distinct: BTreeSet<String> = sent.into_iter().collect();
    assert_eq!(distinct, ids, "each message sent once");
    let status = ctx.status();
    assert_eq!((status.pending, status.sending, status.sent), (0, 0, 30));
}

async fn a_message_claimed_by_a_crashed_worker_is_picked_up_once_the_claim_runs_out(ctx: MailDb) {
    let start = t0();
    let id = ctx.enqueue(1, start);
    // A worker claims the message for 60 s and dies before sending.
    let claimed = ctx
        .db
        .run_blocking(move |conn| mail::store::claim_next_due(conn, start, start + secs(60)))
        .unwrap()
        .expect("claimed");
    assert_eq!(claimed.id, id);
    assert_eq!(ctx.row(&id).status, "sending");

    let transport = Arc::new(MemoryTransport::new());
    let clock = TestClock::at(start + secs(30));
    let worker = worker_with_clock(&ctx, ctx.mail_settings(), &transport, &clock);
    assert_eq!(
        worker.tick().await.unwrap().handled(),
        0,
        "the claim still holds"
    );
    assert!(transport.sent().is_empty());

    clock.set(start + secs(61));
    assert_eq!(worker.tick().await.unwrap().sent, 1);
    assert_eq!(worker.tick().await.unwrap().handled(), 0);
    assert_eq!(transport.sent().len(), 1);
    let row = ctx.row(&id);
    assert_eq!(row.status, "sent");
    assert!(row.locked_until.is_none());
}

async fn a_message_queued_before_a_restart_is_delivered_once_by_the_new_worker(ctx: MailDb) {
    let id = ctx.enqueue(1, t0());
    // The first instance stops before its worker got to the message.
    let first = Arc::new(MemoryTransport::new());
    mail::spawn_worker(ctx.reopen(), ctx.mail_settings(), first.clone())
        .shutdown()
        .await;

    let restarted = ctx.reopen();
    let transport = Arc::new(MemoryTransport::new());
    let worker = mail::spawn_worker(restarted, ctx.mail_settings(), transport.clone());
    eventually("the message is sent", || ctx.row(&id).status == "sent").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.shutdown().await;
    let sends = first.sent().len() + transport.sent().len();
    assert_eq!(sends, 1, "delivered once across the restart");
}

async fn status_counts_report_each_state_and_the_oldest_waiting_message(ctx: MailDb) {
    let start = t0();
    let sent_id = ctx.enqueue(1, start);
    let dead_id = ctx.enqueue(2, start + secs(1));
    ctx.enqueue(3, start + secs(2));
    ctx.enqueue(4, start + secs(3));

    let transport = Arc::new(MemoryTransport::new());
    let clock = TestClock::at(start);
    let mut settings = ctx.mail_settings();
    settings.max_attempts = 1;
    let worker = worker_with_clock(&ctx, settings, &transport, &clock);
    assert_eq!(worker.tick().await.unwrap().sent, 1);
    transport.fail_always(true);
    clock.set(start + secs(1));
    assert_eq!(worker.tick().await.unwrap().dead, 1);
    assert_eq!(ctx.row(&sent_id).status, "sent");
    assert_eq!(ctx.row(&dead_id).status, "dead");

    let status = ctx.status();
    assert_eq!(
        (status.pending, status.sending, status.sent, status.dead),
        (2, 0, 1, 1)
    );
    assert_eq!(status.oldest_pending_at, Some(start + secs(2)));
}
