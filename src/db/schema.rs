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
diesel::allow_tables_to_appear_in_same_query!(accounts, audit_events);
