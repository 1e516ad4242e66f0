//! Micro-benchmarks of the pure pieces on the hot paths (docs/performance.md):
//! DPoP proof validation, access-token signing and verification, secret-code
//! verification, QR frame generation and check. `cargo bench --bench hot_paths`.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};
use url::Url;

use devicelink::device_client::DeviceKey;
use devicelink::devices::{SecretCode, SecretCodeHasher, SecretCodeParams};
use devicelink::linking::{LinkCode, QrFrames};
use devicelink::tokens::{ProofExpectations, SigningKey, verify_jwt, verify_proof};

fn dpop(c: &mut Criterion) {
    let key = DeviceKey::generate().expect("a device key");
    let url: Url = "https://devicelink.example/api/v1/me"
        .parse()
        .expect("a URL");
    let proof = key.proof("GET", &url, None, None).expect("a proof");
    c.bench_function("dpop_proof_verify", |b| {
        b.iter(|| {
            let expect = ProofExpectations::new("GET", &url);
            verify_proof(std::hint::black_box(&proof), &expect, Utc::now()).expect("valid")
        });
    });
    c.bench_function("dpop_proof_sign (client)", |b| {
        b.iter(|| key.proof("GET", &url, None, None).expect("a proof"));
    });
}

fn tokens(c: &mut Criterion) {
    let key = SigningKey::generate().expect("a signing key");
    let claims = json!({
        "iss": "https://devicelink.example", "sub": "account-1", "aud": "devicelink",
        "iat": 1_700_000_000, "exp": 1_700_000_300, "jti": "abc",
        "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
    });
    let header = Map::new();
    c.bench_function("access_token_sign", |b| {
        b.iter(|| key.sign_jwt("at+jwt", &header, &claims).expect("signed"));
    });
    let token = key.sign_jwt("at+jwt", &header, &claims).expect("signed");
    let keys = [key.public_key()];
    c.bench_function("access_token_verify", |b| {
        b.iter(|| verify_jwt(std::hint::black_box(&token), &keys, "at+jwt").expect("valid"));
    });
}

fn secret_code(c: &mut Criterion) {
    let hasher = SecretCodeHasher::new(&[7u8; 32], SecretCodeParams::default()).expect("hasher");
    let code = SecretCode::try_from("482913").expect("a code");
    let verifier = hasher.hash(&code).expect("a verifier");
    let mut group = c.benchmark_group("secret_code");
    group.sample_size(10);
    group.bench_function("verify (Argon2id, default cost)", |b| {
        b.iter(|| assert!(hasher.verify(&code, &verifier)));
    });
    group.finish();
}

fn qr(c: &mut Criterion) {
    let frames = QrFrames::new(&[9u8; 32]).expect("frames");
    let code = LinkCode::generate();
    c.bench_function("qr_frame_make", |b| {
        b.iter(|| frames.frame_at(&code, Utc::now()));
    });
    let frame = frames.frame_at(&code, Utc::now());
    c.bench_function("qr_frame_check", |b| {
        b.iter(|| {
            frames
                .check(std::hint::black_box(&frame), Utc::now())
                .expect("valid")
        });
    });
}

criterion_group!(hot_paths, dpop, tokens, secret_code, qr);
criterion_main!(hot_paths);
