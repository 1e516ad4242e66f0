DROP TABLE logout_outbox;
DROP INDEX provider_grants_session;
ALTER TABLE provider_grants DROP COLUMN session_id_hash;
