//! Pure rules of linking: input newtypes and the link-session state machine.

use std::fmt;

/// A device name as the citizen typed it: trimmed, 1–64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName(String);

/// Why a device name was refused; shown as a sentence in the current language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceNameError {
    Empty,
    TooLong,
    Control,
    Invisible,
}

impl DeviceNameError {
    const ALL: [Self; 4] = [Self::Empty, Self::TooLong, Self::Control, Self::Invisible];

    /// A stable code for the refusal (`empty`, `too_long`, `control`, `invisible`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::Control => "control",
            Self::Invisible => "invisible",
        }
    }

    /// The refusal a [`Self::code`] names.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The message key of the sentence (`locales/*/api.ftl`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Empty => "api-device-name-empty",
            Self::TooLong => "api-device-name-too-long",
            Self::Control => "api-device-name-control",
            Self::Invisible => "api-device-name-invisible",
        }
    }
}

impl fmt::Display for DeviceNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::i18n::t(self.key()))
    }
}

impl From<DeviceNameError> for std::borrow::Cow<'static, str> {
    fn from(err: DeviceNameError) -> Self {
        err.to_string().into()
    }
}

impl TryFrom<&str> for DeviceName {
    type Error = DeviceNameError;

    /// Trimmed, normalised to NFC (one spelling of "é", so a name cannot pose as
    /// another by its code points), at most 64 characters, and with no character that
    /// is invisible or moves text: controls (Cc), format characters (Cf: U+202E
    /// right-to-left override, U+200B zero-width space, …) and line or paragraph
    /// separators (Zl, Zp: U+2028, U+2029).
    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        use unicode_general_category::{GeneralCategory, get_general_category};
        use unicode_normalization::UnicodeNormalization as _;
        let name: String = raw.trim().nfc().collect();
        let count = name.chars().count();
        if count == 0 {
            return Err(DeviceNameError::Empty);
        }
        if count > 64 {
            return Err(DeviceNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(DeviceNameError::Control);
        }
        if name.chars().any(|c| {
            matches!(
                get_general_category(c),
                GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            )
        }) {
            return Err(DeviceNameError::Invisible);
        }
        Ok(Self(name))
    }
}

impl DeviceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The app's platform, for the device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Ios,
    Android,
    Other,
}

impl TryFrom<&str> for Platform {
    type Error = &'static str;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        match raw {
            "ios" => Ok(Self::Ios),
            "android" => Ok(Self::Android),
            "other" => Ok(Self::Other),
            _ => Err("platform must be one of ios, android, other."),
        }
    }
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ios => "ios",
            Self::Android => "android",
            Self::Other => "other",
        }
    }
}

/// How a device is being linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    Qr,
    LuxtrustMobile,
    LuxtrustScan,
}

impl LinkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qr => "qr",
            Self::LuxtrustMobile => "luxtrust_mobile",
            Self::LuxtrustScan => "luxtrust_scan",
        }
    }

    /// How the citizen knows the method, in the current language.
    pub fn label(self) -> String {
        crate::i18n::t(match self {
            Self::Qr => "link-method-qr",
            Self::LuxtrustMobile => "product-luxtrust-mobile",
            Self::LuxtrustScan => "product-luxtrust-scan",
        })
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "qr" => Some(Self::Qr),
            "luxtrust_mobile" => Some(Self::LuxtrustMobile),
            "luxtrust_scan" => Some(Self::LuxtrustScan),
            _ => None,
        }
    }
}

/// The states of a link session. Transitions are conditional UPDATEs in the store;
/// this is the map they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Created,
    AccountBound,
    SecretCodeSet,
    PasskeyAdded,
    Completed,
    Expired,
    Cancelled,
    Refused,
}

impl LinkState {
    pub const ALL: [Self; 8] = [
        Self::Created,
        Self::AccountBound,
        Self::SecretCodeSet,
        Self::PasskeyAdded,
        Self::Completed,
        Self::Expired,
        Self::Cancelled,
        Self::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AccountBound => "account_bound",
            Self::SecretCodeSet => "secret_code_set",
            Self::PasskeyAdded => "passkey_added",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Expired | Self::Cancelled | Self::Refused
        )
    }

    /// What the app may do next, for the API's `next` hints.
    pub fn next_steps(self) -> &'static [&'static str] {
        match self {
            Self::Created => &["redeem_qr_code"],
            Self::AccountBound => &["set_secret_code"],
            Self::SecretCodeSet => &["add_passkey", "complete"],
            Self::PasskeyAdded => &["complete"],
            _ => &[],
        }
    }

    /// The states from which `step` may run.
    pub fn allowed_from(step: Step) -> &'static [Self] {
        match step {
            Step::RedeemQr | Step::BindLuxtrust => &[Self::Created],
            Step::SetSecretCode => &[Self::AccountBound],
            Step::AddPasskey => &[Self::SecretCodeSet],
            Step::Complete => &[Self::SecretCodeSet, Self::PasskeyAdded],
        }
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of the linking protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    RedeemQr,
    BindLuxtrust,
    SetSecretCode,
    AddPasskey,
    Complete,
}

/// Applies `step` to `state`: the new state, or `None` when the step is out of order.
pub fn apply(state: LinkState, step: Step) -> Option<LinkState> {
    if !LinkState::allowed_from(step).contains(&state) {
        return None;
    }
    Some(match step {
        Step::RedeemQr | Step::BindLuxtrust => LinkState::AccountBound,
        Step::SetSecretCode => LinkState::SecretCodeSet,
        Step::AddPasskey => LinkState::PasskeyAdded,
        Step::Complete => LinkState::Completed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_trimmed_and_bounded() {
        assert_eq!(
            DeviceName::try_from("  Marie's phone ").unwrap().as_str(),
            "Marie's phone"
        );
        assert!(DeviceName::try_from("   ").is_err());
        assert!(DeviceName::try_from(&"é".repeat(65)[..]).is_err());
        assert!(DeviceName::try_from(&"é".repeat(64)[..]).is_ok());
        assert!(DeviceName::try_from("tab\there").is_err());
        for spoof in [
            "evil\u{202E}enohp",
            "a\u{200B}b",
            "line\u{2028}break",
            "p\u{2029}q",
            "\u{FEFF}x",
        ] {
            assert_eq!(
                DeviceName::try_from(spoof).unwrap_err(),
                DeviceNameError::Invisible,
                "{spoof:?}"
            );
        }
        // NFC: a decomposed "é" is stored composed.
        assert_eq!(
            DeviceName::try_from("Te\u{301}le\u{301}phone")
                .unwrap()
                .as_str(),
            "Téléphone"
        );
    }

    #[test]
    fn the_happy_path_reaches_completed_only_through_every_step() {
        let mut state = LinkState::Created;
        for step in [
            Step::RedeemQr,
            Step::SetSecretCode,
            Step::AddPasskey,
            Step::Complete,
        ] {
            state = apply(state, step).unwrap();
        }
        assert_eq!(state, LinkState::Completed);
    }

    #[test]
    fn out_of_order_steps_are_refused() {
        assert_eq!(apply(LinkState::Created, Step::Complete), None);
        assert_eq!(apply(LinkState::Created, Step::SetSecretCode), None);
        assert_eq!(apply(LinkState::AccountBound, Step::RedeemQr), None);
        assert_eq!(apply(LinkState::AccountBound, Step::Complete), None);
        assert_eq!(apply(LinkState::Completed, Step::Complete), None);
        for terminal in LinkState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for step in [
                Step::RedeemQr,
                Step::BindLuxtrust,
                Step::SetSecretCode,
                Step::AddPasskey,
                Step::Complete,
            ] {
                assert_eq!(apply(terminal, step), None);
            }
        }
    }

    /// Exhaustive search over call sequences: "completed" is reachable only through a
    /// binding step followed by setting the secret code.
    #[test]
    fn no_sequence_of_steps_reaches_completed_without_binding_and_a_secret_code() {
        let steps = [
            Step::RedeemQr,
            Step::BindLuxtrust,
            Step::SetSecretCode,
            Step::AddPasskey,
            Step::Complete,
        ];
        let mut frontier = vec![(LinkState::Created, false, false)];
        for _ in 0..6 {
            let mut next = Vec::new();
            for (state, bound, coded) in &frontier {
                for step in steps {
                    if let Some(s) = apply(*state, step) {
                        let bound = *bound || matches!(step, Step::RedeemQr | Step::BindLuxtrust);
                        let coded = *coded || step == Step::SetSecretCode;
                        if s == LinkState::Completed {
                            assert!(bound && coded, "completed without every required step");
                        }
                        next.push((s, bound, coded));
                    }
                }
            }
            frontier = next;
        }
    }
}
