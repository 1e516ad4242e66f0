//! Validation of the sections that need more than a range check; called from
//! [`Settings::load`](super::Settings::load).

use super::{ConfigError, DEMO_SECRET_PREFIX, Profile, Settings, decode_secret};

impl Settings {
    pub(super) fn validate_linking(&self, profile: Profile) -> Result<(), ConfigError> {
        let l = &self.linking;
        if !(30..=600).contains(&l.qr_code_ttl_secs) {
            return Err(ConfigError::invalid(
                "linking.qr_code_ttl_secs",
                "must be between 30 and 600 (ten minutes at most)",
            ));
        }
        if l.qr_frame_step_secs == 0 || l.qr_frame_step_secs > l.qr_frame_window_secs {
            return Err(ConfigError::invalid(
                "linking.qr_frame_step_secs",
                "must be at least 1 and at most linking.qr_frame_window_secs",
            ));
        }
        if l.qr_frame_window_secs > 120 {
            return Err(ConfigError::invalid(
                "linking.qr_frame_window_secs",
                "must be at most 120",
            ));
        }
        if !(60..=3600).contains(&l.link_session_ttl_secs) {
            return Err(ConfigError::invalid(
                "linking.link_session_ttl_secs",
                "must be between 60 and 3600",
            ));
        }
        if !(10..=3600).contains(&l.luxtrust_max_auth_age_secs) {
            return Err(ConfigError::invalid(
                "linking.luxtrust_max_auth_age_secs",
                "must be between 10 and 3600",
            ));
        }
        if l.app_redirect_uris.iter().any(|u| {
            u.fragment().is_some() || matches!(u.scheme(), "http" | "javascript" | "data" | "file")
        }) {
            return Err(ConfigError::invalid(
                "linking.app_redirect_uris",
                "each must be an https URL or a custom scheme, without a fragment",
            ));
        }
        if l.link_creations_per_minute_per_address == 0 {
            return Err(ConfigError::invalid(
                "linking.link_creations_per_minute_per_address",
                "must be at least 1",
            ));
        }
        if l.link_creations_per_minute_per_account == 0 {
            return Err(ConfigError::invalid(
                "linking.link_creations_per_minute_per_account",
                "must be at least 1",
            ));
        }
        if l.qr_redemptions_per_minute == 0 {
            return Err(ConfigError::invalid(
                "linking.qr_redemptions_per_minute",
                "must be at least 1",
            ));
        }
        let d = &self.devices;
        if d.argon2_memory_kib < 8 || d.argon2_iterations == 0 || d.argon2_parallelism == 0 {
            return Err(ConfigError::invalid(
                "devices.argon2_memory_kib",
                "Argon2 parameters must be positive (memory at least 8 KiB)",
            ));
        }
        if !(1..=10).contains(&d.max_failed_attempts) {
            return Err(ConfigError::invalid(
                "devices.max_failed_attempts",
                "must be between 1 and 10",
            ));
        }
        if profile == Profile::Production && d.argon2_memory_kib < 19456 {
            return Err(ConfigError::invalid(
                "devices.argon2_memory_kib",
                "must be at least 19456 (OWASP minimum) with `serve`",
            ));
        }
        if !(0..=600).contains(&self.dpop.iat_past_secs)
            || !(0..=600).contains(&self.dpop.iat_future_secs)
        {
            return Err(ConfigError::invalid(
                "dpop.iat_past_secs",
                "DPoP iat windows must be between 0 and 600 seconds",
            ));
        }
        let w = &self.webauthn;
        let origin_ok = w
            .web_origin
            .domain()
            .is_some_and(|d| d == w.rp_id || d.ends_with(&format!(".{}", w.rp_id)));
        if !origin_ok {
            return Err(ConfigError::invalid(
                "webauthn.web_origin",
                "its host must be webauthn.rp_id or a subdomain of it",
            ));
        }
        let s = &self.secrets;
        for (key, value) in [
            ("secrets.qr_frame_key", &s.qr_frame_key),
            ("secrets.dpop_nonce_key", &s.dpop_nonce_key),
            ("secrets.secret_code_pepper", &s.secret_code_pepper),
        ] {
            decode_secret(key, value)?;
            if profile == Profile::Production && value.starts_with(DEMO_SECRET_PREFIX) {
                return Err(ConfigError::invalid(
                    key,
                    "the demo secret cannot be used with `serve`; generate your own",
                ));
            }
        }
        Ok(())
    }
}
