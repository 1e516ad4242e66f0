-- Pushed authorization requests (RFC 9126): the parameters a portal pushed, keyed by the
-- SHA-256 of their request_uri, usable once until expires_at.
CREATE TABLE provider_pushed_requests (
    id_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX provider_pushed_requests_expiry ON provider_pushed_requests (expires_at);
