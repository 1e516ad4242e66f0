ALTER TABLE link_codes DROP COLUMN code_sealed;
