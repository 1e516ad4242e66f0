-- OpenID Connect Back-Channel Logout 1.0 (docs/oidc-provider.md).

-- The browser session a portal sign-in came from (the SHA-256 of its token, as in
-- browser_sessions): signing out of devicelink ends the grants of that session. NULL
-- for tokens the app exchanged (no portal session) and for grants made before this.
ALTER TABLE provider_grants ADD COLUMN session_id_hash TEXT;
CREATE INDEX provider_grants_session ON provider_grants (session_id_hash);

-- Logout tokens to deliver: one row per ended grant of a portal that registered a
-- backchannel_logout_uri, written in the transaction that ends the grant. The token is
-- signed at each attempt (fresh iat/exp/jti), so a late retry is not already expired.
-- `status` goes pending -> sending -> sent, or back to pending with a backoff, or dead
-- after provider.backchannel_logout.max_attempts; each step a conditional UPDATE.
CREATE TABLE logout_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    sid TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);

CREATE INDEX logout_outbox_status_next_attempt_at ON logout_outbox (status, next_attempt_at);
