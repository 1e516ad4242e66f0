ALTER TABLE provider_grants DROP COLUMN jkt;
ALTER TABLE provider_codes DROP COLUMN dpop_jkt;
ALTER TABLE provider_requests DROP COLUMN dpop_jkt;
