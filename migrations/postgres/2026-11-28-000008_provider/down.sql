DROP TABLE provider_consents;
DROP TABLE provider_refresh_tokens;
DROP TABLE provider_codes;
DROP TABLE provider_grants;
DROP TABLE provider_requests;
