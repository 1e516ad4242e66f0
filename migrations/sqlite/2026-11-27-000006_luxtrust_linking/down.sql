ALTER TABLE link_sessions DROP COLUMN refusal;
ALTER TABLE link_sessions DROP COLUMN pending_account_id;
ALTER TABLE link_sessions DROP COLUMN result_hash;
ALTER TABLE link_sessions DROP COLUMN app_redirect_uri;
ALTER TABLE link_sessions DROP COLUMN product;
