//! Harnesses for the fuzz targets in `fuzz/` and the property tests below: each takes
//! arbitrary bytes, feeds them to one parser or rule of ours, and panics only if an
//! invariant breaks. Not an API; hidden from the docs.

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use url::Url;

use crate::device_client::DeviceKey;
use crate::devices::service::{WrongCode, after_wrong_code};
use crate::linking::rules::{self, LinkState, Step};
use crate::linking::{LinkCode, QrFrames, ScannedFrame, parse_link_url};
use crate::protocol::redirect_uri;
use crate::tokens::dpop::{self, IatWindow, ProofExpectations};
use crate::tokens::{Jkt, PublicJwk};

/// A fixed "now" so that runs are reproducible.
fn fixed_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn device_key() -> Option<&'static DeviceKey> {
    static KEY: OnceLock<Option<DeviceKey>> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::generate().ok()).as_ref()
}

fn htu() -> &'static Url {
    static HTU: OnceLock<Url> = OnceLock::new();
    HTU.get_or_init(|| {
        Url::parse("https://devicelink.example/api/v1/links").unwrap_or_else(|_| unreachable!())
    })
}

/// DPoP proofs: the first byte picks raw text (anything a client could send) or a proof
/// signed by a real key with fuzzed header and claims (so every check after the
/// signature runs). A proof that passes must satisfy every RFC 9449 rule we rely on.
pub fn dpop_proof(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = fixed_now();
    let expect = ProofExpectations::new("POST", htu());
    if mode % 2 == 0 {
        let text = String::from_utf8_lossy(rest);
        let _ = dpop::verify_proof(&text, &expect, now);
        return;
    }
    let Some(key) = device_key() else {
        return;
    };
    let (header_bytes, claims_bytes) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let header = json_or_default(
        header_bytes,
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}),
    );
    let mut claims = json_or_default(claims_bytes, json!({}));
    // Half the time keep the claims the fuzzer cannot guess right (iat, htu).
    if mode & 2 == 2 {
        if let Some(map) = claims.as_object_mut() {
            map.entry("iat").or_insert(json!(now.timestamp()));
            map.entry("htu").or_insert(json!(htu().as_str()));
            map.entry("htm").or_insert(json!("POST"));
            map.entry("jti").or_insert(json!("fuzz"));
        }
    }
    let Ok(proof) = key.sign_jws(&header, &claims) else {
        return;
    };
    if let Ok(verified) = dpop::verify_proof(&proof, &expect, now) {
        let window = IatWindow::default();
        assert!(verified.iat >= now - window.past && verified.iat <= now + window.future);
        assert_eq!(claims["htm"], json!("POST"));
        assert_eq!(header["typ"], json!("dpop+jwt"));
        assert_eq!(header["alg"], json!("ES256"));
        assert_eq!(verified.jkt.as_str(), key.thumbprint());
        assert!(!verified.jti.is_empty() && verified.jti.chars().count() <= dpop::MAX_JTI_CHARS);
    }
}

fn json_or_default(bytes: &[u8], default: Value) -> Value {
    if bytes.is_empty() {
        return default;
    }
    serde_json::from_slice(bytes).unwrap_or(default)
}

/// JWK parsing: whatever parses is a P-256 public key whose thumbprint is stable through
/// a round trip, and never carries a private part.
pub fn jwk(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = PublicJwk::from_json_str(text) else {
        return;
    };
    let again = PublicJwk::from_json_value(&key.to_json());
    assert_eq!(again.map(|k| k.jkt()).ok(), Some(key.jkt()));
    assert!(key.to_json().get("d").is_none());
    assert!(Jkt::try_from(key.jkt().as_str()).is_ok());
    let _ = key.verify_es256(data, data);
}

fn frames() -> &'static QrFrames {
    static FRAMES: OnceLock<Option<QrFrames>> = OnceLock::new();
    FRAMES
        .get_or_init(|| QrFrames::with_timing(&[7u8; 32], 2, 30).ok())
        .as_ref()
        .unwrap_or_else(|| unreachable!("a 32-byte key is accepted"))
}

/// QR frames: scanned text goes through the link-URL parser and the frame check; only a
/// frame we made passes, and a flipped character never does.
pub fn qr_frame(data: &[u8]) {
    let now = fixed_now();
    let text = String::from_utf8_lossy(data);
    let base = url::Url::parse("https://dl.example/").unwrap_or_else(|_| unreachable!());
    if let Ok(frame) = parse_link_url(&text, &base) {
        // Only frames we made (HMAC) pass, besides bare codes from the no-JavaScript page.
        if let Ok(ScannedFrame::Animated { code, step }) = frames().check(&frame, now) {
            assert_eq!(
                frames().frame(&code, step),
                frame,
                "a frame we did not make passed"
            );
        }
    }
    // Our own frame round-trips; any one-character change to it is refused.
    if data.len() >= 16 {
        let code_text = crate::protocol::b64url_encode(&data[..16]);
        let Ok(code) = LinkCode::try_from(code_text.as_str()) else {
            panic!("16 bytes make a link code");
        };
        let frame = frames().frame_at(&code, now);
        match frames().check(&frame, now) {
            Ok(ScannedFrame::Animated { code: scanned, .. }) => assert!(scanned == code),
            _ => panic!("our own frame is refused"),
        }
        if let Some(&b) = data.get(16) {
            let mut bytes = frame.clone().into_bytes();
            let i = usize::from(b) % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8_lossy(&bytes).into_owned();
            assert!(
                frames().check(&tampered, now).is_err(),
                "a tampered frame passed"
            );
        }
    }
}

/// Redirect URIs: `0x00` separates registered URIs, the last piece is presented.
pub fn redirect_uri(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let Some(presented) = parts.pop() else {
        return;
    };
    let registered = parts;
    let matched = redirect_uri::is_registered(&registered, &presented);
    assert_eq!(
        matched,
        !presented.contains('#') && registered.iter().any(|r| r == &presented)
    );
    if matched {
        for variant in [
            format!("{presented}/"),
            format!("{presented}#"),
            format!("{presented}%2F.."),
            presented.replacen("://", "://user@", 1),
            presented.to_uppercase(),
        ] {
            if variant != presented && !registered.contains(&variant) {
                assert!(!redirect_uri::is_registered(&registered, &variant));
            }
        }
    }
}

/// The link state machine and the lockout rule, driven by arbitrary call sequences:
/// "completed" needs a binding and a secret code first; a device is unlocked only by
/// the right code while not locked, and locks after `max` wrong codes in a row.
pub fn state_machines(data: &[u8]) {
    let steps = [
        Step::RedeemQr,
        Step::BindLuxtrust,
        Step::SetSecretCode,
        Step::AddPasskey,
        Step::Complete,
    ];
    let mut state = LinkState::Created;
    let (mut bound, mut coded) = (false, false);
    for &b in data {
        let step = steps[usize::from(b) % steps.len()];
        if let Some(next) = rules::apply(state, step) {
            assert!(!state.is_terminal(), "a terminal state moved on");
            bound |= matches!(step, Step::RedeemQr | Step::BindLuxtrust);
            coded |= step == Step::SetSecretCode;
            state = next;
        }
        if state == LinkState::Completed {
            assert!(bound && coded, "completed without every required step");
        }
    }

    let max = u32::from(data.first().copied().unwrap_or(5) % 10) + 1;
    let (mut failures, mut locked, mut unlocks) = (0u32, false, 0u32);
    for &b in data.iter().skip(1) {
        let right_code = b & 1 == 1;
        if locked {
            continue; // a locked device refuses before any code is checked
        }
        if right_code {
            failures = 0;
            unlocks += 1;
        } else {
            failures += 1;
            match after_wrong_code(failures, max) {
                WrongCode::Retry { attempts_remaining } => {
                    assert!(attempts_remaining >= 1 && failures < max);
                    assert_eq!(failures + attempts_remaining, max);
                }
                WrongCode::Lock => {
                    assert_eq!(failures, max);
                    locked = true;
                }
            }
        }
    }
    let rights = data.iter().skip(1).filter(|b| *b & 1 == 1).count() as u32;
    assert!(unlocks <= rights, "unlocked without the right code");
}

/// The skew rule used for eAccess ID tokens (small skew passes, an hour does not).
pub fn id_token_iat(data: &[u8]) {
    let mut raw = [0u8; 8];
    for (slot, b) in raw.iter_mut().zip(data) {
        *slot = *b;
    }
    let offset = i64::from_le_bytes(raw) % (10 * 24 * 3600);
    let now = fixed_now();
    let skew = TimeDelta::seconds(120);
    let iat = now + TimeDelta::seconds(offset);
    let ok = crate::eaccess::claims::check_issue_time(iat, now, skew).is_ok();
    assert_eq!(ok, offset.abs() <= 120);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn dpop_proofs_never_panic_and_what_passes_is_valid(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            super::dpop_proof(&data);
        }

        #[test]
        fn dpop_proofs_from_json_shaped_input(header in "\\{(\"[a-z]{1,4}\":(\"[a-zA-Z0-9+._-]{0,12}\"|[0-9]{1,10}|null|\\{\\}),?){0,5}\\}", claims in "\\{(\"(iat|htm|htu|jti|nonce|ath|exp)\":(\"[a-zA-Z0-9:/._-]{0,20}\"|-?[0-9]{1,12}(\\.[0-9]+)?|null|true),?){0,6}\\}", mode in 0u8..4) {
            let mut data = vec![mode * 2 + 1];
            data.extend_from_slice(header.as_bytes());
            data.push(0xff);
            data.extend_from_slice(claims.as_bytes());
            super::dpop_proof(&data);
        }

        #[test]
        fn jwks_never_panic_and_round_trip(data in "\\{(\"(kty|crv|x|y|d|alg|use|kid)\":(\"[A-Za-z0-9_-]{0,44}\"|[0-9]{1,3}|null|\\[\\]),?){0,8}\\}") {
            super::jwk(data.as_bytes());
        }

        #[test]
        fn jwk_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::jwk(&data);
        }

        #[test]
        fn qr_frames_never_panic_and_only_ours_pass(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            super::qr_frame(&data);
        }

        #[test]
        fn scanned_link_urls_never_panic(text in "(https?://[a-z.:0-9]{0,20}/link#)?[A-Za-z0-9_.~-]{0,80}") {
            super::qr_frame(text.as_bytes());
        }

        #[test]
        fn redirect_uris_match_only_exactly(
            reg in proptest::collection::vec("(https|HTTPS|lu.app)://[a-zA-Z.@:%0-9]{0,16}(/[a-z.%/]{0,10})?", 0..3),
            presented in "(https|HTTPS|lu.app)://[a-zA-Z.@:%0-9]{0,16}(/[a-z.%/#]{0,10})?",
            pick in any::<bool>(),
        ) {
            let presented = if pick { reg.first().cloned().unwrap_or(presented) } else { presented };
            let mut data = reg.join("\0").into_bytes();
            if !reg.is_empty() {
                data.push(0);
            }
            data.extend_from_slice(presented.as_bytes());
            super::redirect_uri(&data);
        }

        #[test]
        fn no_call_sequence_links_or_unlocks_without_every_step(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            super::state_machines(&data);
        }

        #[test]
        fn id_token_skew_rule(data in proptest::collection::vec(any::<u8>(), 0..8)) {
            super::id_token_iat(&data);
        }
    }
}
