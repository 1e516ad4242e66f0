ALTER TABLE provider_requests DROP COLUMN unlocked_at;
ALTER TABLE refresh_tokens DROP COLUMN auth_time;
