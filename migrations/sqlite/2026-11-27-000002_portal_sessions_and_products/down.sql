DROP TABLE oidc_login_states;
DROP TABLE browser_sessions;
DROP TABLE auth_products;
DROP TABLE espaces;
