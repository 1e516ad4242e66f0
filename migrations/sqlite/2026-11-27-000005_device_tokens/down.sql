DROP TABLE device_ceremonies;
ALTER TABLE devices DROP COLUMN token_generation;
DROP TABLE refresh_tokens;
DROP TABLE signing_keys;
