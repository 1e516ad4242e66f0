DROP INDEX outbox_status_next_attempt_at;
DROP TABLE outbox;
