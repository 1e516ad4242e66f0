-- Single-use QR link codes shown in a signed-in browser. Only the SHA-256 of the code
-- is kept. active -> redeemed | cancelled | expired.
CREATE TABLE link_codes (
    id TEXT PRIMARY KEY NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    browser_session_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'redeemed', 'cancelled', 'expired')),
    link_id TEXT,
    -- Whether the bare code (no animated frame) is accepted: only for codes shown on
    -- the page for browsers without JavaScript.
    allows_static BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX link_codes_session ON link_codes (browser_session_hash, status);

-- A device being linked. created -> account_bound -> secret_code_set -> [passkey_added]
-- -> completed, or expired | cancelled | refused.
CREATE TABLE link_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    device_jkt TEXT NOT NULL,
    device_name TEXT NOT NULL,
    platform TEXT NOT NULL,
    method TEXT NOT NULL,
    state TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    link_code_id TEXT,
    secret_code_verifier TEXT,
    passkey TEXT,
    webauthn_state TEXT,
    device_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX link_sessions_expires ON link_sessions (state, expires_at);

-- Linked devices. active <-> locked, active | locked -> unlinked (terminal).
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    jkt TEXT NOT NULL,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'locked', 'unlinked')),
    linked_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    unlinked_at TIMESTAMP
);

-- One device key links one account at a time; an unlinked key may link again.
CREATE UNIQUE INDEX devices_live_jkt ON devices (jkt) WHERE status <> 'unlinked';
CREATE INDEX devices_account ON devices (account_id);

-- The secret-code verifier (Argon2id PHC string, keyed with the server's pepper).
CREATE TABLE secret_codes (
    device_id TEXT PRIMARY KEY NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    verifier TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- WebAuthn passkeys; a credential id is unique across all accounts.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

-- DPoP proof ids seen within the acceptance window (replay protection), shared by all
-- instances; purged once expired.
CREATE TABLE dpop_jtis (
    jti_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX dpop_jtis_expires ON dpop_jtis (expires_at);

-- Fixed-window rate-limit counters, shared by all instances.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL
);
