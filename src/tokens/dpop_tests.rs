//! DPoP proofs made by the reference device client, checked by the server, and every
//! tampering RFC 9449 section 4.3 asks the server to notice.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac as _};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;

use super::dpop::*;
use super::jwk::Jkt;
use super::nonce::DpopNonces;
use crate::device_client::DeviceKey;
use crate::protocol::{self, b64url_encode};

const TOKEN: &str = "an-access-token";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn url() -> Url {
    Url::parse("https://dl.example/api/v1/devices").unwrap()
}

fn check(proof: &str, expect: &ProofExpectations<'_>) -> Result<VerifiedProof, DpopError> {
    verify_proof(proof, expect, now())
}

/// Header and claims as the device client makes them, for hand-made variants.
fn parts(key: &DeviceKey) -> (Value, Value) {
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()});
    let claims = json!({
        "jti": "j1", "htm": "POST", "htu": url().as_str(), "iat": now().timestamp(),
    });
    (header, claims)
}

#[test]
fn a_proof_from_the_device_client_is_accepted_with_its_thumbprint() {
    let key = DeviceKey::generate().unwrap();
    let proof = key.proof_at("POST", &url(), None, None, now()).unwrap();
    let u = url();
    let verified = check(&proof, &ProofExpectations::new("POST", &u)).unwrap();
    assert_eq!(verified.jkt.as_str(), key.thumbprint());
    assert_eq!(verified.iat, now());
    assert!(!verified.jti.is_empty());
    assert_eq!(
        verified.jti_expires_at(IatWindow::default()),
        now() + TimeDelta::seconds(60)
    );
}

#[test]
fn a_proof_with_token_nonce_and_binding_is_accepted() {
    let key = DeviceKey::generate().unwrap();
    let nonces = DpopNonces::new(&[3u8; 32]).unwrap();
    let nonce = nonces.issue(now());
    let proof = key
        .proof_at("GET", &url(), Some(TOKEN), Some(&nonce), now())
        .unwrap();
    let jkt = Jkt::try_from(key.thumbprint()).unwrap();
    let u = url();
    let expect = ProofExpectations {
        access_token: Some(TOKEN),
        nonce: NonceCheck::Server(&nonces),
        expected_jkt: Some(&jkt),
        ..ProofExpectations::new("GET", &u)
    };
    assert_eq!(check(&proof, &expect).unwrap().jkt, jkt);
}

#[test]
fn a_signature_by_another_key_than_the_jwk_is_refused() {
    let (key, other) = (
        DeviceKey::generate().unwrap(),
        DeviceKey::generate().unwrap(),
    );
    let (header, claims) = parts(&key);
    let proof = other.sign_jws(&header, &claims).unwrap();
    let u = url();
    assert_eq!(
        check(&proof, &ProofExpectations::new("POST", &u)),
        Err(DpopError::BadSignature)
    );
}

#[test]
fn another_method_or_url_is_refused() {
    let key = DeviceKey::generate().unwrap();
    let proof = key.proof_at("POST", &url(), None, None, now()).unwrap();
    let u = url();
    assert_eq!(
        check(&proof, &ProofExpectations::new("GET", &u)),
        Err(DpopError::HtmMismatch)
    );
    assert_eq!(
        check(&proof, &ProofExpectations::new("post", &u)),
        Err(DpopError::HtmMismatch)
    );
    let other = Url::parse("https://dl.example/api/v1/tokens").unwrap();
    assert_eq!(
        check(&proof, &ProofExpectations::new("POST", &other)),
        Err(DpopError::HtuMismatch)
    );
}

#[test]
fn htu_is_compared_after_normalization_ignoring_query_and_fragment() {
    let request = url();
    for same in [
        "https://dl.example/api/v1/devices",
        "HTTPS://DL.Example:443/api/v1/devices",
        "https://dl.example/api/v1/devices?x=1#frag",
        "https://dl.example/api/v1/./devices",
    ] {
        assert!(same_target_uri(same, &request), "{same}");
    }
    for other in [
        "http://dl.example/api/v1/devices",
        "https://dl.example:8443/api/v1/devices",
        "https://evil.example/api/v1/devices",
        "https://dl.example/api/v1/Devices",
        "https://dl.example/api/v1/devices/",
        "/api/v1/devices",
        "",
    ] {
        assert!(!same_target_uri(other, &request), "{other}");
    }
    let root = Url::parse("https://dl.example").unwrap();
    assert!(same_target_uri("https://dl.example/", &root));
}

#[test]
fn iat_outside_the_window_is_refused_and_its_edges_are_accepted() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    let at = |secs: i64| {
        key.proof_at("POST", &u, None, None, now() + TimeDelta::seconds(secs))
            .unwrap()
    };
    assert!(check(&at(-60), &expect).is_ok());
    assert!(check(&at(5), &expect).is_ok());
    assert_eq!(check(&at(-61), &expect), Err(DpopError::IatTooOld));
    assert_eq!(check(&at(6), &expect), Err(DpopError::IatInFuture));
}

#[test]
fn iat_must_be_a_number() {
    let key = DeviceKey::generate().unwrap();
    let (header, mut claims) = parts(&key);
    claims["iat"] = json!("1700000000");
    let proof = key.sign_jws(&header, &claims).unwrap();
    let u = url();
    assert_eq!(
        check(&proof, &ProofExpectations::new("POST", &u)),
        Err(DpopError::MissingClaim("iat"))
    );
    claims["iat"] = json!(1_700_000_000.5);
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert!(check(&proof, &ProofExpectations::new("POST", &u)).is_ok());
}

#[test]
fn a_missing_or_wrong_ath_is_refused_when_a_token_is_presented() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations {
        access_token: Some(TOKEN),
        ..ProofExpectations::new("POST", &u)
    };
    let without = key.proof_at("POST", &u, None, None, now()).unwrap();
    assert_eq!(check(&without, &expect), Err(DpopError::MissingAth));
    let wrong = key
        .proof_at("POST", &u, Some("another-token"), None, now())
        .unwrap();
    assert_eq!(check(&wrong, &expect), Err(DpopError::AthMismatch));
}

#[test]
fn alg_none_and_hs256_keyed_with_the_jwk_are_refused() {
    let key = DeviceKey::generate().unwrap();
    let (mut header, claims) = parts(&key);
    let u = url();
    let expect = ProofExpectations::new("POST", &u);

    header["alg"] = json!("none");
    let input = protocol::jws_signing_input(&header, &claims);
    assert_eq!(
        check(&format!("{input}."), &expect),
        Err(DpopError::Malformed)
    );
    assert_eq!(
        check(&format!("{input}.AAAA"), &expect),
        Err(DpopError::UnsupportedAlgorithm)
    );

    // The classic confusion: a MAC whose "secret" is the public key itself.
    header["alg"] = json!("HS256");
    let input = protocol::jws_signing_input(&header, &claims);
    let mut mac = Hmac::<Sha256>::new_from_slice(header["jwk"].to_string().as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let forged = format!("{input}.{}", b64url_encode(mac.finalize().into_bytes()));
    assert_eq!(
        check(&forged, &expect),
        Err(DpopError::UnsupportedAlgorithm)
    );

    header["alg"] = json!("ES384");
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::UnsupportedAlgorithm));
}

#[test]
fn a_jwk_with_a_private_key_or_another_curve_or_none_at_all_is_refused() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    let (mut header, claims) = parts(&key);
    header["jwk"]["d"] = json!(b64url_encode([5u8; 32]));
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::PrivateKeyInJwk));

    let (mut header, claims) = parts(&key);
    header["jwk"]["crv"] = json!("P-384");
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::InvalidJwk));

    let (mut header, claims) = parts(&key);
    header.as_object_mut().unwrap().remove("jwk");
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::MissingJwk));
}

#[test]
fn typ_must_be_dpop_jwt_and_crit_is_refused() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    for typ in [json!("jwt"), json!("at+jwt"), Value::Null] {
        let (mut header, claims) = parts(&key);
        header["typ"] = typ;
        let proof = key.sign_jws(&header, &claims).unwrap();
        assert_eq!(check(&proof, &expect), Err(DpopError::WrongType));
    }
    let (mut header, claims) = parts(&key);
    header["typ"] = json!("DPoP+JWT");
    assert!(check(&key.sign_jws(&header, &claims).unwrap(), &expect).is_ok());
    header["crit"] = json!(["exp"]);
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::UnsupportedCritical));
}

#[test]
fn jti_must_be_present_and_1_to_128_characters() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    let (header, mut claims) = parts(&key);
    claims.as_object_mut().unwrap().remove("jti");
    let proof = key.sign_jws(&header, &claims).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::MissingClaim("jti")));
    for (jti, ok) in [
        ("", false),
        (&*"é".repeat(128), true),
        (&*"a".repeat(129), false),
    ] {
        claims["jti"] = json!(jti);
        let proof = key.sign_jws(&header, &claims).unwrap();
        assert_eq!(check(&proof, &expect).is_ok(), ok, "{} chars", jti.len());
    }
}

#[test]
fn missing_htm_or_htu_is_reported_by_name() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    for name in ["htm", "htu", "iat"] {
        let (header, mut claims) = parts(&key);
        claims.as_object_mut().unwrap().remove(name);
        let proof = key.sign_jws(&header, &claims).unwrap();
        assert_eq!(check(&proof, &expect), Err(DpopError::MissingClaim(name)));
    }
}

#[test]
fn a_required_nonce_that_is_missing_or_stale_asks_for_a_new_one() {
    let key = DeviceKey::generate().unwrap();
    let nonces = DpopNonces::new(&[3u8; 32]).unwrap();
    let u = url();
    let expect = ProofExpectations {
        nonce: NonceCheck::Server(&nonces),
        ..ProofExpectations::new("POST", &u)
    };
    let without = key.proof_at("POST", &u, None, None, now()).unwrap();
    let err = check(&without, &expect).unwrap_err();
    assert_eq!(err, DpopError::MissingNonce);
    assert_eq!(err.error(), "use_dpop_nonce");

    let stale = nonces.issue(now() - TimeDelta::minutes(5));
    let proof = key.proof_at("POST", &u, None, Some(&stale), now()).unwrap();
    let err = check(&proof, &expect).unwrap_err();
    assert_eq!(err, DpopError::InvalidNonce);
    assert_eq!(err.error(), "use_dpop_nonce");
}

#[test]
fn a_custom_nonce_verifier_is_consulted() {
    let key = DeviceKey::generate().unwrap();
    let u = url();
    let is_ours = |nonce: &str| nonce == "ceremony-nonce";
    let expect = ProofExpectations {
        nonce: NonceCheck::Verifier(&is_ours),
        ..ProofExpectations::new("POST", &u)
    };
    let good = key
        .proof_at("POST", &u, None, Some("ceremony-nonce"), now())
        .unwrap();
    assert!(check(&good, &expect).is_ok());
    let bad = key
        .proof_at("POST", &u, None, Some("other"), now())
        .unwrap();
    assert_eq!(check(&bad, &expect), Err(DpopError::InvalidNonce));
}

#[test]
fn a_proof_from_a_key_other_than_the_bound_one_is_refused() {
    let key = DeviceKey::generate().unwrap();
    let bound = Jkt::try_from(DeviceKey::generate().unwrap().thumbprint()).unwrap();
    let u = url();
    let expect = ProofExpectations {
        expected_jkt: Some(&bound),
        ..ProofExpectations::new("POST", &u)
    };
    let proof = key.proof_at("POST", &u, None, None, now()).unwrap();
    assert_eq!(check(&proof, &expect), Err(DpopError::JktMismatch));
    assert_eq!(DpopError::JktMismatch.error(), "invalid_dpop_proof");
}

#[test]
fn oversized_garbled_and_duplicated_proofs_are_refused() {
    let u = url();
    let expect = ProofExpectations::new("POST", &u);
    let big = "a".repeat(MAX_PROOF_BYTES + 1);
    assert_eq!(check(&big, &expect), Err(DpopError::TooLarge));
    assert_eq!(check("a.b", &expect), Err(DpopError::Malformed));
    assert_eq!(check("a.b.c.d", &expect), Err(DpopError::Malformed));
    assert_eq!(single_proof(["p"]), Ok("p"));
    assert_eq!(single_proof([]), Err(DpopError::MissingProof));
    assert_eq!(single_proof(["p", "q"]), Err(DpopError::MultipleProofs));
}

#[test]
fn error_codes_are_stable_snake_case_with_a_sentence() {
    for err in [
        DpopError::MissingProof,
        DpopError::BadSignature,
        DpopError::MissingClaim("jti"),
        DpopError::InvalidNonce,
    ] {
        assert!(
            err.code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
        );
        assert!(err.to_string().ends_with('.'));
    }
    assert_eq!(DpopError::BadSignature.error(), "invalid_dpop_proof");
}

#[test]
fn jti_keys_are_hex_digests_that_separate_keys_and_jtis() {
    let a = Jkt::try_from("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I").unwrap();
    let k = jti_key(&a, "j1");
    assert_eq!(k.len(), 64);
    assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(k, jti_key(&a, "j1"));
    assert_ne!(k, jti_key(&a, "j2"));
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_never_passes(text in ".{0,400}") {
        let u = url();
        prop_assert!(check(&text, &ProofExpectations::new("POST", &u)).is_err());
    }

    #[test]
    fn arbitrary_claims_signed_by_a_real_key_never_panic(
        htm in "[A-Z]{0,8}", htu in ".{0,60}", iat in any::<i64>(), jti in ".{0,140}",
    ) {
        let key = DeviceKey::generate().unwrap();
        let (header, _) = parts(&key);
        let claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": iat});
        let proof = key.sign_jws(&header, &claims).unwrap();
        let u = url();
        let _ = check(&proof, &ProofExpectations::new("POST", &u));
    }
}
