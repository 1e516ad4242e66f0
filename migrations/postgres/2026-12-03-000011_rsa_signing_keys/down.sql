DELETE FROM signing_keys WHERE kty = 'RSA';
DROP INDEX signing_keys_one_active_per_kty;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
ALTER TABLE signing_keys DROP COLUMN kty;
