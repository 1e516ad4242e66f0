-- ID tokens are signed with RSA (RS256 by default, PS256 on request, OIDC Discovery
-- section 3) besides ES256: the keys table now holds one active key per key type. The
-- existing keys are the EC P-256 ones.
ALTER TABLE signing_keys ADD COLUMN kty TEXT NOT NULL DEFAULT 'EC' CHECK (kty IN ('EC', 'RSA'));
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active_per_kty ON signing_keys (kty) WHERE state = 'active';
