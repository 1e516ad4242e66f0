//! `devicelink mail status`: the outbox at a glance for an operator. Shows counts, the
//! age of the oldest undelivered message and the dead messages with their last error;
//! never a body, and recipients masked.

use std::fmt::Write as _;

use chrono::NaiveDateTime;

use super::store::{self, DeadMessage};
use super::{OutboxStatus, mask_recipient};
use crate::db::{DbConnection, StoreError};

/// Dead messages listed at most.
pub const DEAD_LISTED: i64 = 50;

/// Everything the report shows, read in one go.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub counts: OutboxStatus,
    pub dead: Vec<DeadMessage>,
}

pub fn load_status(conn: &mut DbConnection) -> Result<StatusReport, StoreError> {
    Ok(StatusReport {
        counts: store::count_by_status(conn)?,
        dead: store::find_dead(conn, DEAD_LISTED)?,
    })
}

impl StatusReport {
    /// The report as text, ages relative to `now` (UTC).
    pub fn render(&self, now: NaiveDateTime) -> String {
        let c = &self.counts;
        let mut out = String::new();
        let _ = writeln!(out, "outbox");
        for (status, n) in [
            ("pending", c.pending),
            ("sending", c.sending),
            ("sent", c.sent),
            ("dead", c.dead),
        ] {
            let _ = writeln!(out, "  {status:<8} {n}");
        }
        match c.oldest_pending_at {
            Some(at) => {
                let secs = (now - at).num_seconds().max(0);
                let _ = writeln!(out, "oldest undelivered: {secs}s old (queued {at} UTC)");
            }
            None => {
                let _ = writeln!(out, "oldest undelivered: none");
            }
        }
        if self.dead.is_empty() {
            let _ = writeln!(out, "dead messages: none");
        } else {
            let _ = writeln!(
                out,
                "dead messages (newest first, at most {DEAD_LISTED}; never retried by themselves):"
            );
            for d in &self.dead {
                let _ = writeln!(
                    out,
                    "  {id}  {kind}  to {to}  queued {at} UTC  {attempts} attempts  last error: {err}",
                    id = d.id,
                    kind = d.kind,
                    to = mask_recipient(&d.recipient),
                    at = d.created_at,
                    attempts = d.attempts,
                    err = d.last_error.as_deref().unwrap_or("-"),
                );
            }
        }
        out
    }

    /// Whether something needs an operator: dead messages exist.
    pub fn needs_attention(&self) -> bool {
        self.counts.dead > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_masks_recipients_and_shows_no_body() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(4, 0, 0)
            .unwrap();
        let report = StatusReport {
            counts: OutboxStatus {
                pending: 2,
                sending: 0,
                sent: 7,
                dead: 1,
                oldest_pending_at: Some(at),
            },
            dead: vec![DeadMessage {
                id: "m-1".into(),
                kind: "device_linked".into(),
                recipient: "marie@example.lu".into(),
                attempts: 8,
                last_error: Some("connection refused".into()),
                created_at: at,
            }],
        };
        let text = report.render(at + chrono::Duration::seconds(90));
        assert!(text.contains("pending  2"), "{text}");
        assert!(text.contains("dead     1"), "{text}");
        assert!(text.contains("90s old"), "{text}");
        assert!(text.contains("m***@example.lu"), "{text}");
        assert!(!text.contains("marie@"), "{text}");
        assert!(text.contains("last error: connection refused"), "{text}");
        assert!(report.needs_attention());
    }
}
