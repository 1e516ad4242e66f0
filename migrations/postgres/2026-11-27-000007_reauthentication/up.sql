-- When the citizen last re-authenticated at eAccess to manage their devices.
ALTER TABLE browser_sessions ADD COLUMN reauth_at TIMESTAMP;
