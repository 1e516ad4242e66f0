-- The code itself, sealed under a key derived from the browser's session token, so the
-- link page can show this session's live code again (src/linking/live_code.rs). NULL
-- for codes made before.
ALTER TABLE link_codes ADD COLUMN code_sealed TEXT;
