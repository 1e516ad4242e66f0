//! The database schema, kept by hand in step with both migration folders
//! (a test checks that SQLite and PostgreSQL end up with the same tables and columns).

diesel::table! {
    accounts (id) {
        id -> Text,
        eaccess_sub -> Text,
        email -> Text,
        given_name -> Text,
        family_name -> Text,
        webauthn_user_handle -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        account_id -> Nullable<Text>,
        device_id -> Nullable<Text>,
        kind -> Text,
        details -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(audit_events -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    audit_events,
    espaces,
    auth_products,
    browser_sessions,
    oidc_login_states,
    outbox,
);

diesel::table! {
    espaces (id) {
        id -> Text,
        account_id -> Text,
        kind -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    auth_products (id) {
        id -> Text,
        account_id -> Text,
        kind -> Text,
        serial -> Text,
        first_used_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    browser_sessions (id_hash) {
        id_hash -> Text,
        account_id -> Nullable<Text>,
        csrf_token -> Text,
        eaccess_sub -> Nullable<Text>,
        auth_time -> Nullable<Timestamp>,
        acr -> Nullable<Text>,
        product_kind -> Nullable<Text>,
        product_serial -> Nullable<Text>,
        id_token_hint -> Nullable<Text>,
        pending_registration -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    oidc_login_states (state_hash) {
        state_hash -> Text,
        session_id_hash -> Text,
        purpose -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(espaces -> accounts (account_id));
diesel::joinable!(auth_products -> accounts (account_id));
diesel::joinable!(browser_sessions -> accounts (account_id));

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}
