//! Which QR code the "Link a device" page shows.
//!
//! A visit reuses this browser session's live code while it has more than
//! [`MIN_LEFT_SECS`] left, so reloading the page or coming back to it neither voids the
//! code on the screen nor counts against `linking.link_creations_per_minute_per_account`;
//! "Generate a new QR code" (`?new=1`) always makes one.
//!
//! To show a code again the server needs it in clear, but the database keeps only its
//! hash. So the code is also kept sealed: AES-256-GCM under a key derived (HKDF-SHA256)
//! from the browser's session token, with the code's id as associated data. Only the
//! browser's cookie holds that token (the database has its hash), so a copy of the
//! database opens nothing, and a sealed code moved to another row does not open.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use ring::aead::{self, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};

use super::LinkCode;
use super::store::LinkCodeRow;

/// A code with this little time left is not shown again: a citizen needs time to open
/// the app, type a name and scan.
pub const MIN_LEFT_SECS: i64 = 60;

const SALT: &[u8] = b"devicelink link code sealed v1";

fn key(session_token: &str) -> Option<LessSafeKey> {
    let prk = Salt::new(HKDF_SHA256, SALT).extract(session_token.as_bytes());
    let okm = prk.expand(&[b"aes-256-gcm"], &AES_256_GCM).ok()?;
    Some(LessSafeKey::new(UnboundKey::from(okm)))
}

/// `code` sealed for the browser holding `session_token`, bound to the code's id.
pub fn seal(session_token: &str, code_id: &str, code: &LinkCode) -> Option<String> {
    let key = key(session_token)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).ok()?;
    let mut sealed = code.expose().as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(code_id.as_bytes()),
        &mut sealed,
    )
    .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(URL_SAFE_NO_PAD.encode(out))
}

/// The code [`seal`] sealed, if this session token and code id open it.
pub fn open(session_token: &str, code_id: &str, sealed: &str) -> Option<LinkCode> {
    if sealed.len() > 256 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN + aead::MAX_TAG_LEN {
        return None;
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = rest.to_vec();
    let plain = key(session_token)?
        .open_in_place(nonce, Aad::from(code_id.as_bytes()), &mut buf)
        .ok()?;
    LinkCode::try_from(std::str::from_utf8(plain).ok()?).ok()
}

/// The code of `row` to show again: the row is this session's live code (active, not
/// scanned, with more than [`MIN_LEFT_SECS`] left), its sealed copy opens with the
/// session token, and what opens is the code the row's hash names.
pub fn reusable(row: &LinkCodeRow, session_token: &str, now: NaiveDateTime) -> Option<LinkCode> {
    let live = row.status == "active"
        && row.link_id.is_none()
        && (row.expires_at - now).num_seconds() > MIN_LEFT_SECS;
    if !live {
        return None;
    }
    let code = open(session_token, &row.id, row.code_sealed.as_deref()?)?;
    (code.hash() == row.code_hash).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    fn row(code: &LinkCode, token: &str, left_secs: i64) -> LinkCodeRow {
        let id = "5f0e7a3c-1111-4d2a-9c1e-2b9a7c3d4e5f".to_owned();
        LinkCodeRow {
            code_sealed: seal(token, &id, code),
            id,
            code_hash: code.hash(),
            account_id: "a".into(),
            browser_session_hash: "h".into(),
            status: "active".into(),
            link_id: None,
            allows_static: false,
            created_at: now() - Duration::seconds(10),
            expires_at: now() + Duration::seconds(left_secs),
        }
    }

    #[test]
    fn a_sealed_code_opens_only_with_its_session_token_and_its_id() {
        let code = LinkCode::generate();
        let sealed = seal("token-a", "id-1", &code).unwrap();
        assert!(!sealed.contains(code.expose()));
        assert_eq!(
            open("token-a", "id-1", &sealed).unwrap().expose(),
            code.expose()
        );
        assert!(
            open("token-b", "id-1", &sealed).is_none(),
            "another browser"
        );
        assert!(open("token-a", "id-2", &sealed).is_none(), "another row");
        // Two seals of one code differ (a fresh nonce each time).
        assert_ne!(seal("token-a", "id-1", &code).unwrap(), sealed);
    }

    #[test]
    fn tampered_or_hostile_sealed_values_open_nothing() {
        let code = LinkCode::generate();
        let sealed = seal("t", "id", &code).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(open("t", "id", &URL_SAFE_NO_PAD.encode(&bytes)).is_none());
        for junk in [
            "",
            "a",
            "!!!!",
            &"A".repeat(300),
            &URL_SAFE_NO_PAD.encode([0u8; 20]),
        ] {
            assert!(open("t", "id", junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn only_a_live_unscanned_code_of_this_session_is_shown_again() {
        let code = LinkCode::generate();
        assert!(reusable(&row(&code, "t", 240), "t", now()).is_some());
        assert!(reusable(&row(&code, "t", 240), "other", now()).is_none());
        assert!(
            reusable(&row(&code, "t", MIN_LEFT_SECS), "t", now()).is_none(),
            "a minute left"
        );
        let mut scanned = row(&code, "t", 240);
        scanned.link_id = Some("l".into());
        assert!(reusable(&scanned, "t", now()).is_none());
        let mut redeemed = row(&code, "t", 240);
        redeemed.status = "redeemed".into();
        assert!(reusable(&redeemed, "t", now()).is_none());
        let mut unsealed = row(&code, "t", 240);
        unsealed.code_sealed = None;
        assert!(
            reusable(&unsealed, "t", now()).is_none(),
            "a code from before sealing"
        );
        let mut swapped = row(&code, "t", 240);
        swapped.code_hash = LinkCode::generate().hash();
        assert!(
            reusable(&swapped, "t", now()).is_none(),
            "the hash names another code"
        );
    }
}
