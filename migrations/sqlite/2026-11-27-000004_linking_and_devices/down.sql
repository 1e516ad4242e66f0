DROP TABLE rate_limits;
DROP TABLE dpop_jtis;
DROP TABLE passkeys;
DROP TABLE secret_codes;
DROP TABLE devices;
DROP TABLE link_sessions;
DROP TABLE link_codes;
