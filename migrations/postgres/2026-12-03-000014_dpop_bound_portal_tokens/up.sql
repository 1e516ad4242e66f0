-- DPoP-bound portal tokens (RFC 9449): the key an authorization request named
-- (`dpop_jkt`, section 10), carried to its code, and the key a portal sign-in's tokens
-- are bound to (its refresh tokens, for a public client, section 5).
ALTER TABLE provider_requests ADD COLUMN dpop_jkt TEXT;
ALTER TABLE provider_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE provider_grants ADD COLUMN jkt TEXT;
