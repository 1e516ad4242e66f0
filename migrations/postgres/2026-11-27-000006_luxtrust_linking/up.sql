-- Linking directly with LuxTrust Mobile or Scan: the product the citizen chose, where
-- the app wants the outcome, the one-time result reference (hash) that the app trades
-- for the binding, the account eAccess vouched for, and why a link was refused.
ALTER TABLE link_sessions ADD COLUMN product TEXT;
ALTER TABLE link_sessions ADD COLUMN app_redirect_uri TEXT;
ALTER TABLE link_sessions ADD COLUMN result_hash TEXT;
ALTER TABLE link_sessions ADD COLUMN pending_account_id TEXT;
ALTER TABLE link_sessions ADD COLUMN refusal TEXT;
