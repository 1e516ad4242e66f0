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
        language -> Nullable<Text>,
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
    link_codes,
    link_sessions,
    devices,
    secret_codes,
    passkeys,
    dpop_jtis,
    rate_limits,
    outbox,
    signing_keys,
    refresh_tokens,
    device_ceremonies,
    provider_requests,
    provider_grants,
    provider_codes,
    provider_refresh_tokens,
    provider_consents,
    logout_outbox,
    provider_pushed_requests,
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
        reauth_at -> Nullable<Timestamp>,
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
    link_codes (id) {
        id -> Text,
        code_hash -> Text,
        account_id -> Text,
        browser_session_hash -> Text,
        status -> Text,
        link_id -> Nullable<Text>,
        allows_static -> Bool,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        code_sealed -> Nullable<Text>,
    }
}

diesel::table! {
    link_sessions (id) {
        id -> Text,
        device_jkt -> Text,
        device_name -> Text,
        platform -> Text,
        method -> Text,
        state -> Text,
        account_id -> Nullable<Text>,
        link_code_id -> Nullable<Text>,
        secret_code_verifier -> Nullable<Text>,
        passkey -> Nullable<Text>,
        webauthn_state -> Nullable<Text>,
        device_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
        product -> Nullable<Text>,
        app_redirect_uri -> Nullable<Text>,
        result_hash -> Nullable<Text>,
        pending_account_id -> Nullable<Text>,
        refusal -> Nullable<Text>,
        resets_device_id -> Nullable<Text>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        account_id -> Text,
        jkt -> Text,
        name -> Text,
        platform -> Text,
        method -> Text,
        status -> Text,
        linked_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        unlinked_at -> Nullable<Timestamp>,
        token_generation -> Integer,
    }
}

diesel::table! {
    secret_codes (device_id) {
        device_id -> Text,
        verifier -> Text,
        failed_attempts -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        device_id -> Text,
        credential_id -> Text,
        passkey -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    dpop_jtis (jti_hash) {
        jti_hash -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(link_codes -> accounts (account_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::joinable!(secret_codes -> devices (device_id));
diesel::joinable!(passkeys -> devices (device_id));

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> Timestamp,
        hits -> Integer,
    }
}

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

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Text,
        state -> Text,
        created_at -> Timestamp,
        retire_after -> Nullable<Timestamp>,
        kty -> Text,
    }
}

diesel::table! {
    refresh_tokens (id_hash) {
        id_hash -> Text,
        device_id -> Text,
        family_id -> Text,
        generation -> Integer,
        jkt -> Text,
        amr -> Text,
        spent_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        idle_expires_at -> Timestamp,
        auth_time -> Timestamp,
    }
}

diesel::table! {
    device_ceremonies (id) {
        id -> Text,
        device_id -> Text,
        purpose -> Text,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> devices (device_id));
diesel::joinable!(device_ceremonies -> devices (device_id));

diesel::table! {
    provider_requests (id_hash) {
        id_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        max_age -> Nullable<Integer>,
        acr_values -> Nullable<Text>,
        prompt -> Nullable<Text>,
        session_id_hash -> Nullable<Text>,
        status -> Text,
        approval_code_hash -> Nullable<Text>,
        approval_state -> Text,
        approval_expires_at -> Nullable<Timestamp>,
        device_id -> Nullable<Text>,
        account_id -> Nullable<Text>,
        amr -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        unlocked_at -> Nullable<Timestamp>,
        acr_essential -> Bool,
        dpop_jkt -> Nullable<Text>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    provider_grants (id) {
        id -> Text,
        client_id -> Text,
        account_id -> Text,
        scope -> Text,
        auth_time -> Timestamp,
        acr -> Text,
        amr -> Text,
        device_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        session_id_hash -> Nullable<Text>,
        jkt -> Nullable<Text>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    logout_outbox (id) {
        id -> Text,
        client_id -> Text,
        subject -> Text,
        sid -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    provider_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        redeemed_at -> Nullable<Timestamp>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    provider_refresh_tokens (id_hash) {
        id_hash -> Text,
        grant_id -> Text,
        generation -> Integer,
        spent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    provider_consents (account_id, client_id) {
        account_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> Timestamp,
    }
}

diesel::joinable!(provider_grants -> accounts (account_id));
diesel::joinable!(provider_codes -> provider_grants (grant_id));
diesel::joinable!(provider_refresh_tokens -> provider_grants (grant_id));

diesel::table! {
    provider_pushed_requests (id_hash) {
        id_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}
