ALTER TABLE provider_grants DROP COLUMN claims;
ALTER TABLE provider_requests DROP COLUMN claims;
