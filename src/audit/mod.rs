//! The append-only audit trail: what happened to an account or device, when, and from where.
//! Rows are inserted, never updated; the activity list of the device-management page reads them.

pub mod store;

pub use store::{AuditEvent, NewAuditEvent};

/// The kinds of event, as stored in `audit_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SignedIn,
    Registered,
    SignedOut,
    LinkStarted,
    QrCodeScanned,
    LinkCancelled,
    LinkAbandoned,
    DeviceLinked,
    LuxtrustVouched,
    LuxtrustLinkBound,
    LinkRefused,
    DeviceUnlinked,
    Reauthenticated,
    /// The citizen corrected an e-mail address the mailer could not send to.
    EmailChanged,
    DeviceLocked,
    SecretCodeChanged,
    /// A new secret code set in the app after a LuxTrust authentication ("Forgot your code?").
    SecretCodeReset,
    BiometricsEnabled,
    BiometricsDisabled,
    RefreshTokenReused,
    DeviceUnlocked,
    /// The account holder unlocked a locked device in the browser, after re-authenticating.
    DeviceUnlockedInBrowser,
    DeviceRenamed,
    SecretCodeFailed,
    SignedInToPortal,
    PortalConsentGiven,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::Registered => "registered",
            Self::SignedOut => "signed_out",
            Self::LinkStarted => "link_started",
            Self::QrCodeScanned => "qr_code_scanned",
            Self::LinkCancelled => "link_cancelled",
            Self::LinkAbandoned => "link_abandoned",
            Self::DeviceLinked => "device_linked",
            Self::LuxtrustVouched => "luxtrust_vouched",
            Self::LuxtrustLinkBound => "luxtrust_link_bound",
            Self::LinkRefused => "link_refused",
            Self::DeviceUnlinked => "device_unlinked",
            Self::Reauthenticated => "reauthenticated",
            Self::EmailChanged => "email_changed",
            Self::DeviceLocked => "device_locked",
            Self::SecretCodeChanged => "secret_code_changed",
            Self::SecretCodeReset => "secret_code_reset",
            Self::BiometricsEnabled => "biometrics_enabled",
            Self::BiometricsDisabled => "biometrics_disabled",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::DeviceUnlocked => "device_unlocked",
            Self::DeviceUnlockedInBrowser => "device_unlocked_in_browser",
            Self::DeviceRenamed => "device_renamed",
            Self::SecretCodeFailed => "secret_code_failed",
            Self::SignedInToPortal => "signed_in_to_portal",
            Self::PortalConsentGiven => "portal_consent_given",
        }
    }
}

/// Who sent a request, for the audit trail and the per-address rate limits. Plain data:
/// `crate::http` extracts it from a request (its `FromRequest` impl).
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}
