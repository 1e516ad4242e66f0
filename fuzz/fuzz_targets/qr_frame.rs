#![no_main]
// Harness: devicelink::fuzzing::qr_frame (also run by the property tests in `cargo test`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| devicelink::fuzzing::qr_frame(data));
