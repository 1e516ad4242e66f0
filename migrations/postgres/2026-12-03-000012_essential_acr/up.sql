-- acr_values are voluntary (OIDC Core 3.1.2.1): only an essential acr request (the
-- `claims` parameter, section 5.5.1.1) refuses a sign-in that cannot meet it.
ALTER TABLE provider_requests ADD COLUMN acr_essential BOOLEAN NOT NULL DEFAULT FALSE;
