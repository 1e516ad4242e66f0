ALTER TABLE browser_sessions DROP COLUMN reauth_at;
