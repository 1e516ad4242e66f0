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
    /// Accounts whose address the mailer cannot send to (ids; at most
    /// [`DEAD_LISTED`] kept), and how many there are in all.
    pub unsendable: Vec<String>,
    pub unsendable_count: usize,
}

pub fn load_status(conn: &mut DbConnection) -> Result<StatusReport, StoreError> {
    let unsendable: Vec<String> = crate::accounts::store::find_emails(conn)?
        .into_iter()
        .filter(|(_, email)| !super::is_sendable_address(email))
        .map(|(id, _)| id)
        .collect();
    Ok(StatusReport {
        counts: store::count_by_status(conn)?,
        dead: store::find_dead(conn, DEAD_LISTED)?,
        unsendable_count: unsendable.len(),
        unsendable: unsendable.into_iter().take(DEAD_LISTED as usize).collect(),
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
        if self.unsendable_count == 0 {
            let _ = writeln!(out, "accounts with an unsendable address: none");
        } else {
            let _ = writeln!(
                out,
                "accounts with an unsendable address: {} (security mail to them cannot be sent; the dashboard asks each citizen to correct it):",
                self.unsendable_count
            );
            for id in &self.unsendable {
                let _ = writeln!(out, "  account {id}");
            }
        }
        out
    }

    /// Whether something needs an operator: dead messages, or accounts the mailer
    /// cannot reach.
    pub fn needs_attention(&self) -> bool {
        self.counts.dead > 0 || self.unsendable_count > 0
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
            unsendable: vec!["acc-1".into()],
            unsendable_count: 1,
        };
        let text = report.render(at + chrono::Duration::seconds(90));
        assert!(text.contains("unsendable address: 1"), "{text}");
        assert!(text.contains("account acc-1"), "{text}");
        assert!(text.contains("pending  2"), "{text}");
        assert!(text.contains("dead     1"), "{text}");
        assert!(text.contains("90s old"), "{text}");
        assert!(text.contains("m***@example.lu"), "{text}");
        assert!(!text.contains("marie@"), "{text}");
        assert!(text.contains("last error: connection refused"), "{text}");
        assert!(report.needs_attention());
    }
}
