//! The step-up policy: for every operation on a linked device, what the request must
//! prove beyond a valid, DPoP-bound access token. One table, pure, unit-tested; the
//! handlers only ask [`check`]. docs/security.md ("Step-up policy") prints the same table.
//!
//! Why it matters: a stolen phone holds the device key and a refresh token, but not the
//! secret code. A refresh renews the token's `iat` but never its `auth_time` or `amr`
//! (both come from the unlock behind the refresh-token family), so a refreshed token
//! can do no more than the unlock it descends from, within the window of that unlock.
//!
//! The browser's operations on a device (unlink, unlock a locked device, rename) are
//! not the app's: they need a fresh re-authentication at eAccess, checked in one gate,
//! `devices::pages::access`; docs/security.md prints both tables side by side.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;

use crate::http::ApiError;

/// An operation the app performs on its own device or on the citizen's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Add or replace a passkey: turn biometrics on.
    AddPasskey,
    /// Set a new secret code.
    ChangeSecretCode,
    /// Approve a portal's "Sign in with your mobile app".
    ApprovePortalSignIn,
    /// RFC 8693 token exchange for a portal API.
    TokenExchange,
    /// Turn biometrics off (it only removes a way in).
    DisableBiometrics,
    /// Unlink this device (it only removes a way in).
    UnlinkDevice,
    /// "Forgot your code?": a new secret code without the current one.
    ResetSecretCode,
}

/// What an operation requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// An unlock by the secret code (`amr` contains `pin`) at most this many seconds
    /// ago. A biometric unlock does not vouch for a new passkey.
    SecretCodeUnlockWithin(i64),
    /// The current secret code in the request, counted as an attempt on the device's
    /// failure counter (so it is no way around the lockout).
    CurrentSecretCode,
    /// An unlock by either method at most this many seconds ago.
    UnlockWithin(i64),
    /// Any valid token of the device.
    ValidToken,
    /// No token can do it: a fresh LuxTrust authentication in the app, with every check
    /// of LuxTrust linking, by the person the device is linked to, and the device key
    /// (`linking::reset`). An unlock proves nothing here: the code is what was forgotten.
    FreshLuxtrustAuthentication,
}

/// The windows the policy reads from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// `tokens.credential_change_window_secs`.
    pub credential_change_secs: i64,
    /// `provider.approval_unlock_window_secs`.
    pub approval_secs: i64,
}

impl Windows {
    /// The windows as configured.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            credential_change_secs: settings.tokens.credential_change_window_secs,
            approval_secs: settings.provider.approval_unlock_window_secs,
        }
    }
}

/// The policy: every operation and what it needs.
pub fn requirement(operation: Operation, windows: Windows) -> Requirement {
    match operation {
        Operation::AddPasskey => {
            Requirement::SecretCodeUnlockWithin(windows.credential_change_secs)
        }
        Operation::ChangeSecretCode => Requirement::CurrentSecretCode,
        Operation::ApprovePortalSignIn | Operation::TokenExchange => {
            Requirement::UnlockWithin(windows.approval_secs)
        }
        Operation::DisableBiometrics | Operation::UnlinkDevice => Requirement::ValidToken,
        Operation::ResetSecretCode => Requirement::FreshLuxtrustAuthentication,
    }
}

/// What the token says about the unlock behind it.
#[derive(Debug, Clone, Copy)]
pub struct Unlock<'a> {
    /// The token's `amr` (RFC 8176), from the unlock, never renewed by a refresh.
    pub amr: &'a [String],
    /// The token's `auth_time` in seconds; `None` for a token that does not say.
    pub auth_time: Option<i64>,
}

/// Refused: the app must unlock (again) with the secret code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("enter your secret code to continue")]
pub struct UnlockRequired;

/// The sentence the app shows with `401 unlock_required`.
/// The sentence of `unlock_required`, in the current language.
pub fn unlock_required_message() -> String {
    crate::i18n::t("api-unlock-required")
}

impl From<UnlockRequired> for ApiError {
    fn from(_: UnlockRequired) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unlock_required",
            unlock_required_message(),
        )
    }
}

/// Whether `unlock` satisfies what `operation` requires at `now`. The current secret
/// code ([`Requirement::CurrentSecretCode`]) is checked by the handler against the
/// verifier; here it needs only a valid token.
pub fn check(
    operation: Operation,
    windows: Windows,
    unlock: Unlock<'_>,
    now: NaiveDateTime,
) -> Result<(), UnlockRequired> {
    let now = now.and_utc().timestamp();
    // One second of slack for the granularity of `auth_time`.
    let within = |window: i64| {
        unlock
            .auth_time
            .is_some_and(|t| t <= now + 1 && now - t <= window)
    };
    let is_met = match requirement(operation, windows) {
        Requirement::SecretCodeUnlockWithin(window) => {
            unlock.amr.iter().any(|m| m == "pin") && within(window)
        }
        Requirement::UnlockWithin(window) => within(window),
        Requirement::CurrentSecretCode | Requirement::ValidToken => true,
        Requirement::FreshLuxtrustAuthentication => false,
    };
    if is_met { Ok(()) } else { Err(UnlockRequired) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    const WINDOWS: Windows = Windows {
        credential_change_secs: 120,
        approval_secs: 60,
    };

    fn at(secs: i64) -> NaiveDateTime {
        DateTime::from_timestamp(secs, 0).unwrap().naive_utc()
    }

    fn amr(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn a_new_passkey_needs_a_recent_secret_code_unlock() {
        let pin = amr(&["hwk", "pin"]);
        let fresh = Unlock {
            amr: &pin,
            auth_time: Some(1_000),
        };
        assert_eq!(
            check(Operation::AddPasskey, WINDOWS, fresh, at(1_120)),
            Ok(())
        );
        assert_eq!(
            check(Operation::AddPasskey, WINDOWS, fresh, at(1_121)),
            Err(UnlockRequired)
        );
    }

    #[test]
    fn a_biometric_unlock_never_vouches_for_a_new_passkey() {
        let user = amr(&["hwk", "user"]);
        let unlock = Unlock {
            amr: &user,
            auth_time: Some(1_000),
        };
        assert_eq!(
            check(Operation::AddPasskey, WINDOWS, unlock, at(1_000)),
            Err(UnlockRequired)
        );
        // It does approve a sign-in while recent.
        assert_eq!(
            check(Operation::ApprovePortalSignIn, WINDOWS, unlock, at(1_060)),
            Ok(())
        );
    }

    #[test]
    fn a_token_that_does_not_say_when_it_was_unlocked_steps_up_nothing() {
        let pin = amr(&["hwk", "pin"]);
        let unknown = Unlock {
            amr: &pin,
            auth_time: None,
        };
        for operation in [
            Operation::AddPasskey,
            Operation::ApprovePortalSignIn,
            Operation::TokenExchange,
        ] {
            assert_eq!(
                check(operation, WINDOWS, unknown, at(0)),
                Err(UnlockRequired)
            );
        }
    }

    #[test]
    fn an_unlock_from_the_future_beyond_a_second_is_refused() {
        let pin = amr(&["hwk", "pin"]);
        let future = Unlock {
            amr: &pin,
            auth_time: Some(1_010),
        };
        assert_eq!(
            check(Operation::AddPasskey, WINDOWS, future, at(1_000)),
            Err(UnlockRequired)
        );
    }

    #[test]
    fn no_token_resets_a_forgotten_code() {
        let pin = amr(&["hwk", "pin"]);
        let fresh = Unlock {
            amr: &pin,
            auth_time: Some(1_000),
        };
        assert_eq!(
            requirement(Operation::ResetSecretCode, WINDOWS),
            Requirement::FreshLuxtrustAuthentication
        );
        assert_eq!(
            check(Operation::ResetSecretCode, WINDOWS, fresh, at(1_000)),
            Err(UnlockRequired)
        );
    }

    #[test]
    fn operations_that_only_remove_power_need_any_valid_token() {
        let none = amr(&[]);
        let stale = Unlock {
            amr: &none,
            auth_time: None,
        };
        for operation in [
            Operation::DisableBiometrics,
            Operation::UnlinkDevice,
            Operation::ChangeSecretCode,
        ] {
            assert_eq!(check(operation, WINDOWS, stale, at(1_000_000)), Ok(()));
        }
        assert_eq!(
            requirement(Operation::ChangeSecretCode, WINDOWS),
            Requirement::CurrentSecretCode
        );
    }
}
