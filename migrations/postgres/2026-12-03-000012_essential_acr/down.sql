ALTER TABLE provider_requests DROP COLUMN acr_essential;
