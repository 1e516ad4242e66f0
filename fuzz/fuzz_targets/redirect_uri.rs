#![no_main]
// Harness: devicelink::fuzzing::redirect_uri (also run by the property tests in `cargo test`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| devicelink::fuzzing::redirect_uri(data));
