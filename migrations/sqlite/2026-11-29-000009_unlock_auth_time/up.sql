-- When the unlock that started a refresh-token family happened. A refresh copies it to
-- the new token, so the app's access tokens carry the time of the secret code or
-- biometric check (`auth_time`), not the time of the last refresh: approving a portal
-- sign-in requires a recent unlock, and the portal's ID token says when it was.
-- Existing families: the creation of their first token, which is when the unlock
-- happened. The default only matters for a row written by an older instance during a
-- rolling upgrade; it reads as "unlocked long ago", so such a token cannot approve.
ALTER TABLE refresh_tokens ADD COLUMN auth_time TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE refresh_tokens SET auth_time = (
    SELECT MIN(f.created_at) FROM refresh_tokens f
    WHERE f.family_id = refresh_tokens.family_id
);

-- The unlock behind a "Sign in with your mobile app" approval: the sign-in's auth_time.
ALTER TABLE provider_requests ADD COLUMN unlocked_at TIMESTAMP;
