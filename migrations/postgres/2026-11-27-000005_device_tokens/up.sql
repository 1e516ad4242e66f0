-- The server's ES256 keys for access tokens, shared by every instance. At most one is
-- active (the partial unique index makes the first start race-safe); retired keys stay
-- published in the JWKS until `retire_after`. The private key is PKCS#8 DER, base64;
-- sealing it with a key-encryption key is future work (docs/security.md).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    private_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    created_at TIMESTAMP NOT NULL,
    retire_after TIMESTAMP
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- Refresh tokens of unlocked devices: only the SHA-256 of the token is kept. Each token
-- works once (live -> spent); presenting a spent one revokes the family and every
-- token of the device.
CREATE TABLE refresh_tokens (
    id_hash TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    jkt TEXT NOT NULL,
    amr TEXT NOT NULL,
    spent_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    idle_expires_at TIMESTAMP NOT NULL
);

CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Access tokens carry the device's token generation; bumping it (reuse of a spent
-- refresh token) kills every access token of the device at once.
ALTER TABLE devices ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- WebAuthn ceremonies of linked devices (unlock with biometrics, turn biometrics on):
-- one live ceremony per device and purpose, single use, with an expiry.
CREATE TABLE device_ceremonies (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('unlock', 'register')),
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE UNIQUE INDEX device_ceremonies_device_purpose ON device_ceremonies (device_id, purpose);
