-- The OpenID Connect provider for other portals (docs/oidc-provider.md).

-- Authorization requests in flight: kept server-side while the citizen signs in (at
-- eAccess or with the app) and consents, so any instance can resume them (the browser
-- holds the request id, the table its SHA-256). `status`
-- goes pending -> completed | denied, once (a conditional UPDATE). The app approval
-- of the "Sign in with your mobile app" method lives here too: a single-use code shown
-- as a QR code (only its SHA-256 is kept) and its own small state machine
-- none -> shown -> scanned -> approved | refused.
CREATE TABLE provider_requests (
    id_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    max_age INTEGER,
    acr_values TEXT,
    prompt TEXT,
    session_id_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'denied')),
    approval_code_hash TEXT UNIQUE,
    approval_state TEXT NOT NULL CHECK (approval_state IN ('none', 'shown', 'scanned', 'approved', 'refused')),
    approval_expires_at TIMESTAMP,
    device_id TEXT,
    account_id TEXT,
    amr TEXT,
    approved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX provider_requests_expires ON provider_requests (expires_at);

-- What a portal obtained from one sign-in: the tokens issued from one authorization
-- code share a grant. Revoking the grant (code reuse, refresh-token reuse, RFC 7009
-- revocation, unlinking the device that approved the sign-in) stops all of them.
CREATE TABLE provider_grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time TIMESTAMP NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    device_id TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE INDEX provider_grants_account ON provider_grants (account_id);
CREATE INDEX provider_grants_device ON provider_grants (device_id);

-- Authorization codes (only their SHA-256): single use, short-lived.
CREATE TABLE provider_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES provider_grants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    redeemed_at TIMESTAMP
);

-- Refresh tokens given to portals (only their SHA-256): each works once; presenting a
-- spent one revokes the grant (RFC 9700 section 4.14.2).
CREATE TABLE provider_refresh_tokens (
    id_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES provider_grants (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    spent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX provider_refresh_tokens_grant ON provider_refresh_tokens (grant_id);

-- The citizen's consent to share the listed scopes with a portal.
CREATE TABLE provider_consents (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
