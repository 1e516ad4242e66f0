//! The single-use link code shown as a QR code in the browser, and its anti-relay
//! animated frames (after Swedish BankID's animated QR): the page shows a new frame
//! every `step_secs`, each carrying a MAC over the code and the time step, and the server
//! only accepts a frame seen within `accept_window_secs`. A QR code photographed and
//! relayed to a victim therefore goes stale within seconds, while the code's own TTL
//! (minutes, enforced by the caller) bounds the whole ceremony.
//!
//! Frame: `<code>.<step>.<mac>`, where `step` is the decimal number of `step_secs`
//! periods since the Unix epoch and `mac` is base64url of the first 16 bytes of
//! HMAC-SHA256(secret, label || code || "." || step) (RFC 2104; 128-bit tag). A *static*
//! frame is the bare code, for the page without JavaScript; the caller must accept it
//! only for a code issued for static display, since every animated frame shows the code.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::protocol;

/// Random bytes in a link code: 128 bits, 22 base64url characters.
pub const LINK_CODE_BYTES: usize = 16;
const LINK_CODE_CHARS: usize = 22;
/// Shortest frame secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;
const LABEL: &[u8] = b"devicelink qr-frame v1\0";
const TAG_BYTES: usize = 16;
/// Longest step accepted, in decimal digits (now is about 9 with 2-second steps).
const MAX_STEP_DIGITS: usize = 12;
/// Longest frame or link URL looked at.
const MAX_INPUT_CHARS: usize = 2048;
/// The path of the link page under the public base URL.
pub const LINK_PATH: &str = "link";

/// A single-use link code: 128 random bits, base64url. `Debug` hides it; the database
/// stores [`LinkCode::hash`] only.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCode(String);

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCode(<redacted>)")
    }
}

impl TryFrom<&str> for LinkCode {
    type Error = QrError;

    /// Exactly 22 base64url characters encoding 16 bytes (canonically).
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if value.len() != LINK_CODE_CHARS {
            return Err(QrError::Invalid);
        }
        match protocol::b64url_decode(value) {
            Some(bytes) if bytes.len() == LINK_CODE_BYTES => Ok(Self(value.to_owned())),
            _ => Err(QrError::Invalid),
        }
    }
}

impl LinkCode {
    /// A fresh code from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; LINK_CODE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(protocol::b64url_encode(bytes))
    }

    /// The code itself, to render into a frame or a QR code. Secret: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 hex of the code, the form stored and looked up. 128 random bits need no
    /// salt or slow hash: the code cannot be guessed from its hash.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// Why a scanned frame or link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("This is not a devicelink QR code.")]
    Invalid,
    #[error("This QR code has expired. Scan the code currently on the screen.")]
    Expired,
}

impl QrError {
    /// A stable snake_case code for the device API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_qr_code",
            Self::Expired => "expired_qr_code",
        }
    }
}

/// The frame secret is too short, or the timing is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrKeyError {
    #[error("the QR frame secret must have at least 32 bytes")]
    SecretTooShort,
    #[error("the QR frame step must be at least one second and at most the accept window")]
    BadTiming,
}

/// What a valid scan carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannedFrame {
    /// An animated frame shown at `step`, within the accept window.
    Animated { code: LinkCode, step: i64 },
    /// The bare code of the no-JavaScript page: the caller applies the code's normal TTL,
    /// and only if the code was issued for static display.
    Static(LinkCode),
}

impl ScannedFrame {
    pub fn code(&self) -> &LinkCode {
        match self {
            Self::Animated { code, .. } | Self::Static(code) => code,
        }
    }

    pub fn into_code(self) -> LinkCode {
        match self {
            Self::Animated { code, .. } | Self::Static(code) => code,
        }
    }

    pub fn is_static(&self) -> bool {
        matches!(self, Self::Static(_))
    }
}

/// Makes and checks animated frames. Every instance with the same secret agrees.
/// `Debug` hides the secret.
#[derive(Clone)]
pub struct QrFrames {
    mac: Hmac<Sha256>,
    step_secs: i64,
    accept_window_secs: i64,
}

impl fmt::Debug for QrFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrFrames")
            .field("secret", &"<redacted>")
            .field("step_secs", &self.step_secs)
            .field("accept_window_secs", &self.accept_window_secs)
            .finish_non_exhaustive()
    }
}

impl QrFrames {
    pub const DEFAULT_STEP_SECS: u32 = 2;
    pub const DEFAULT_ACCEPT_WINDOW_SECS: u32 = 30;

    pub fn new(secret: &[u8]) -> Result<Self, QrKeyError> {
        Self::with_timing(
            secret,
            Self::DEFAULT_STEP_SECS,
            Self::DEFAULT_ACCEPT_WINDOW_SECS,
        )
    }

    pub fn with_timing(
        secret: &[u8],
        step_secs: u32,
        accept_window_secs: u32,
    ) -> Result<Self, QrKeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(QrKeyError::SecretTooShort);
        }
        if step_secs == 0 || step_secs > accept_window_secs {
            return Err(QrKeyError::BadTiming);
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| QrKeyError::SecretTooShort)?;
        Ok(Self {
            mac,
            step_secs: i64::from(step_secs),
            accept_window_secs: i64::from(accept_window_secs),
        })
    }

    /// The step shown at `now`.
    pub fn step_at(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(self.step_secs)
    }

    fn tagger(&self, code: &str, step: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(code.as_bytes());
        mac.update(b".");
        mac.update(step.to_string().as_bytes());
        mac
    }

    /// The frame for `code` shown during step `shown_at_step`.
    pub fn frame(&self, code: &LinkCode, shown_at_step: i64) -> String {
        let tag = self.tagger(&code.0, shown_at_step).finalize().into_bytes();
        format!(
            "{}.{shown_at_step}.{}",
            code.0,
            protocol::b64url_encode(&tag[..TAG_BYTES])
        )
    }

    /// The frame to show at `now`.
    pub fn frame_at(&self, code: &LinkCode, now: DateTime<Utc>) -> String {
        self.frame(code, self.step_at(now))
    }

    /// Checks a scanned frame: a garbled frame or a wrong MAC is [`QrError::Invalid`];
    /// a frame shown more than `accept_window_secs` ago, or more than one step ahead of
    /// `now` (the slack for clocks of several instances), is [`QrError::Expired`]. A bare
    /// code is returned as [`ScannedFrame::Static`].
    pub fn check(&self, frame: &str, now: DateTime<Utc>) -> Result<ScannedFrame, QrError> {
        if frame.len() > MAX_INPUT_CHARS {
            return Err(QrError::Invalid);
        }
        let mut parts = frame.split('.');
        let (Some(code), step, tag, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(QrError::Invalid);
        };
        let code = LinkCode::try_from(code)?;
        let (step, tag) = match (step, tag) {
            (None, None) => return Ok(ScannedFrame::Static(code)),
            (Some(step), Some(tag)) => (step, tag),
            _ => return Err(QrError::Invalid),
        };
        let step = parse_step(step)?;
        let tag = protocol::b64url_decode(tag)
            .filter(|t| t.len() == TAG_BYTES)
            .ok_or(QrError::Invalid)?;
        // The MAC first: an attacker learns nothing about timing from forged frames.
        self.tagger(&code.0, step)
            .verify_truncated_left(&tag)
            .map_err(|_| QrError::Invalid)?;
        let shown_at = step.checked_mul(self.step_secs).ok_or(QrError::Invalid)?;
        let age = now.timestamp().saturating_sub(shown_at);
        if age > self.accept_window_secs || age < -self.step_secs {
            return Err(QrError::Expired);
        }
        Ok(ScannedFrame::Animated { code, step })
    }
}

/// Decimal digits only: no sign, no leading zeros, no spaces.
fn parse_step(text: &str) -> Result<i64, QrError> {
    let is_canonical = !text.is_empty()
        && text.len() <= MAX_STEP_DIGITS
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !is_canonical {
        return Err(QrError::Invalid);
    }
    text.parse().map_err(|_| QrError::Invalid)
}

/// The URL put in the QR code: `<base>/link#<frame>`. The frame travels in the fragment,
/// which browsers never send to a server (RFC 3986 section 3.5), so it stays out of
/// access logs, proxies and `Referer` headers; the app reads it locally after scanning,
/// and a phone camera that opens the URL lands on a page explaining to use the app.
pub fn link_url(base: &Url, frame: &str) -> Url {
    let mut url = base.clone();
    let path = format!("{}/{LINK_PATH}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(Some(frame));
    url
}

/// The frame in a scanned text: a link made by [`link_url`] for this server's own
/// `base` (its `public_url`), or the bare frame (typed in or from an older QR code).
/// A frame inside any other URL (`http://evil.example/link#<frame>`) is refused: a QR
/// code pointing elsewhere is not ours, whatever it carries. The frame is only checked
/// for its alphabet here; [`QrFrames::check`] judges it.
pub fn parse_link_url(text: &str, base: &Url) -> Result<String, QrError> {
    parse_scanned(text, base, LINK_PATH)
}

/// [`parse_link_url`] for any path of ours: `<base>/<path>#<frame>` or a bare frame.
pub fn parse_scanned(text: &str, base: &Url, path: &str) -> Result<String, QrError> {
    let text = text.trim();
    if text.len() > MAX_INPUT_CHARS {
        return Err(QrError::Invalid);
    }
    let frame = match Url::parse(text) {
        Ok(url) => {
            let expected = format!("{}/{path}", base.path().trim_end_matches('/'));
            let is_ours = url.origin() == base.origin()
                && url.path().trim_end_matches('/') == expected
                && url.query().is_none()
                && url.username().is_empty()
                && url.password().is_none();
            match url.fragment() {
                Some(frame) if is_ours => frame.to_owned(),
                _ => return Err(QrError::Invalid),
            }
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => text.to_owned(),
        Err(_) => return Err(QrError::Invalid),
    };
    let is_frame_alphabet = frame
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if frame.is_empty() || !is_frame_alphabet {
        return Err(QrError::Invalid);
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn frames() -> QrFrames {
        QrFrames::new(&[4u8; 32]).unwrap()
    }

    #[test]
    fn a_generated_code_has_128_bits_and_parses_back() {
        let code = LinkCode::generate();
        assert_eq!(code.expose().len(), 22);
        assert_eq!(LinkCode::try_from(code.expose()), Ok(code.clone()));
        assert_ne!(LinkCode::generate(), code);
    }

    #[test]
    fn codes_of_other_lengths_or_alphabets_are_invalid() {
        let good = LinkCode::generate();
        let good = good.expose();
        for bad in [
            "",
            &good[..21],
            &format!("{good}A"),
            &format!("{}+", &good[..21]),
            &format!("{}=", &good[..21]),
        ] {
            assert_eq!(LinkCode::try_from(bad), Err(QrError::Invalid), "{bad}");
        }
        // 22 characters carry 132 bits; the last 4 must be zero.
        assert_eq!(
            LinkCode::try_from("AAAAAAAAAAAAAAAAAAAAAB"),
            Err(QrError::Invalid)
        );
    }

    #[test]
    fn the_code_is_hidden_from_debug_and_stored_as_a_hash() {
        let code = LinkCode::generate();
        assert_eq!(format!("{code:?}"), "LinkCode(<redacted>)");
        assert_eq!(code.hash().len(), 64);
        assert!(!code.hash().contains(code.expose()));
        assert!(!format!("{:?}", frames()).contains("4, 4"));
    }

    #[test]
    fn a_current_frame_yields_its_code() {
        let qr = frames();
        let code = LinkCode::generate();
        let frame = qr.frame_at(&code, now());
        let scanned = qr.check(&frame, now()).unwrap();
        assert_eq!(scanned.code(), &code);
        assert!(!scanned.is_static());
        assert_eq!(
            scanned,
            ScannedFrame::Animated {
                code,
                step: qr.step_at(now())
            }
        );
    }

    #[test]
    fn a_frame_is_accepted_for_the_window_and_then_expires() {
        let qr = frames();
        let code = LinkCode::generate();
        let frame = qr.frame_at(&code, now());
        assert!(qr.check(&frame, now() + TimeDelta::seconds(30)).is_ok());
        assert_eq!(
            qr.check(&frame, now() + TimeDelta::seconds(31)),
            Err(QrError::Expired)
        );
    }

    #[test]
    fn a_frame_from_the_future_expires_beyond_one_step_of_clock_slack() {
        let qr = frames();
        let code = LinkCode::generate();
        let step = qr.step_at(now());
        assert!(qr.check(&qr.frame(&code, step + 1), now()).is_ok());
        assert_eq!(
            qr.check(&qr.frame(&code, step + 2), now()),
            Err(QrError::Expired)
        );
    }

    #[test]
    fn a_forged_or_moved_frame_is_invalid() {
        let qr = frames();
        let code = LinkCode::generate();
        let step = qr.step_at(now());
        let frame = qr.frame(&code, step - 1);
        let moved = frame.replacen(&format!(".{}.", step - 1), &format!(".{step}."), 1);
        assert_eq!(qr.check(&moved, now()), Err(QrError::Invalid));
        let other_secret = QrFrames::new(&[5u8; 32]).unwrap();
        assert_eq!(other_secret.check(&frame, now()), Err(QrError::Invalid));
        let other_code = qr.frame(&LinkCode::generate(), step);
        let mac = other_code.rsplit('.').next().unwrap();
        let swapped = format!("{}.{step}.{mac}", code.expose());
        assert_eq!(qr.check(&swapped, now()), Err(QrError::Invalid));
    }

    #[test]
    fn garbled_frames_are_invalid() {
        let qr = frames();
        let code = LinkCode::generate();
        let c = code.expose();
        let step = qr.step_at(now());
        let good = qr.frame(&code, step);
        let mac = good.rsplit('.').next().unwrap();
        for bad in [
            String::new(),
            format!("{c}."),
            format!("{c}.{step}"),
            format!("{c}.{step}."),
            format!("{c}.+{step}.{mac}"),
            format!("{c}.0{step}.{mac}"),
            format!("{c}.{step}.{mac}.x"),
            format!("{c}.{step}.{}", &mac[..21]),
            format!("{c}.99999999999999.{mac}"),
        ] {
            assert_eq!(qr.check(&bad, now()), Err(QrError::Invalid), "{bad}");
        }
    }

    #[test]
    fn a_bare_code_is_a_static_frame() {
        let code = LinkCode::generate();
        let scanned = frames().check(code.expose(), now()).unwrap();
        assert!(scanned.is_static());
        assert_eq!(scanned.into_code(), code);
    }

    #[test]
    fn short_secrets_and_impossible_timings_are_refused() {
        assert_eq!(
            QrFrames::new(&[0u8; 31]).err(),
            Some(QrKeyError::SecretTooShort)
        );
        assert_eq!(
            QrFrames::with_timing(&[0u8; 32], 0, 30).err(),
            Some(QrKeyError::BadTiming)
        );
        assert_eq!(
            QrFrames::with_timing(&[0u8; 32], 31, 30).err(),
            Some(QrKeyError::BadTiming)
        );
    }

    #[test]
    fn the_link_url_carries_the_frame_in_the_fragment_and_parses_back() {
        let frame = frames().frame_at(&LinkCode::generate(), now());
        for base in [
            "https://dl.example",
            "https://dl.example/",
            "https://dl.example/portal/",
        ] {
            let base = Url::parse(base).unwrap();
            let url = link_url(&base, &frame);
            assert!(url.as_str().ends_with(&format!("/link#{frame}")), "{url}");
            assert_eq!(url.query(), None);
            assert_eq!(parse_link_url(url.as_str(), &base), Ok(frame.clone()));
            assert_eq!(parse_link_url(&frame, &base), Ok(frame.clone()));
        }
        let base = Url::parse("https://dl.example").unwrap();
        assert_eq!(
            parse_link_url(&format!("  {frame}\n"), &base),
            Ok(frame.clone())
        );
    }

    #[test]
    fn a_frame_inside_another_servers_url_is_refused() {
        let frame = frames().frame_at(&LinkCode::generate(), now());
        let base = Url::parse("https://dl.example/portal/").unwrap();
        for other in [
            "http://evil.example/link",
            "https://evil.example/portal/link",
            "http://dl.example/portal/link",
            "https://dl.example:8443/portal/link",
            "https://dl.example/link",
            "https://dl.example/portal/link?x=1",
            "https://user@dl.example/portal/link",
        ] {
            assert_eq!(
                parse_link_url(&format!("{other}#{frame}"), &base),
                Err(QrError::Invalid),
                "{other}"
            );
        }
    }

    #[test]
    fn other_urls_and_texts_are_not_links() {
        for bad in [
            "",
            "https://dl.example/link",
            "https://dl.example/other#abc",
            "ftp://dl.example/link#abc",
            "https://dl.example/link#a b",
            "hello world",
            "javascript:alert(1)",
        ] {
            let base = Url::parse("https://dl.example").unwrap();
            assert_eq!(parse_link_url(bad, &base), Err(QrError::Invalid), "{bad}");
        }
        assert_eq!(QrError::Expired.code(), "expired_qr_code");
    }

    proptest! {
        #[test]
        fn checking_arbitrary_text_never_panics(text in ".{0,120}") {
            let _ = frames().check(&text, now());
            let _ = parse_link_url(&text, &Url::parse("https://dl.example").unwrap());
        }

        #[test]
        fn every_frame_round_trips_through_its_link(offset in 0i64..=30) {
            let qr = frames();
            let code = LinkCode::generate();
            let shown = now() - TimeDelta::seconds(offset);
            let base = Url::parse("https://dl.example").unwrap();
            let url = link_url(&base, &qr.frame_at(&code, shown));
            let frame = parse_link_url(url.as_str(), &base).unwrap();
            prop_assert_eq!(qr.check(&frame, now()).unwrap().into_code(), code);
        }

        #[test]
        fn any_16_bytes_make_a_code(bytes in any::<[u8; 16]>()) {
            let text = protocol::b64url_encode(bytes);
            let code = LinkCode::try_from(text.as_str()).unwrap();
            prop_assert_eq!(code.expose(), text.as_str());
        }
    }
}
