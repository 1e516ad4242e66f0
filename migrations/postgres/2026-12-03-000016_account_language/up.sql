-- The citizen's chosen language (fr, de, en), NULL until they choose one: e-mails and
-- their next sign-in speak it.
ALTER TABLE accounts ADD COLUMN language TEXT;
