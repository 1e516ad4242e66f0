CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    eaccess_sub TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    webauthn_user_handle TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    account_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    device_id TEXT,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    at TIMESTAMP NOT NULL
);

CREATE INDEX audit_events_account_at ON audit_events (account_id, at);
