CREATE TABLE espaces (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('private', 'business')),
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE auth_products (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    serial TEXT NOT NULL,
    first_used_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, kind, serial)
);

CREATE TABLE browser_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    eaccess_sub TEXT,
    auth_time TIMESTAMP,
    acr TEXT,
    product_kind TEXT,
    product_serial TEXT,
    id_token_hint TEXT,
    pending_registration TEXT,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX browser_sessions_expires ON browser_sessions (expires_at);

CREATE TABLE oidc_login_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    session_id_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX oidc_login_states_expires ON oidc_login_states (expires_at);
