ALTER TABLE link_sessions DROP COLUMN resets_device_id;
