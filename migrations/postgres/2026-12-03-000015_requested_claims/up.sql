-- Individual user claims a portal asked for with the `claims` parameter (OIDC Core
-- 5.5), beyond its scopes: JSON {"id_token": [names], "userinfo": [names]}.
ALTER TABLE provider_requests ADD COLUMN claims TEXT;
ALTER TABLE provider_grants ADD COLUMN claims TEXT;
