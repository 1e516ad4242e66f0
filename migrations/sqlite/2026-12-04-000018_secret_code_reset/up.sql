-- A LuxTrust link that sets a new secret code on a device already linked (the app's
-- "Forgot your code?"): the device it resets. NULL for a link that makes a new device.
ALTER TABLE link_sessions ADD COLUMN resets_device_id TEXT;
