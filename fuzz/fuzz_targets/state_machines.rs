#![no_main]
// Harness: devicelink::fuzzing::state_machines (also run by the property tests in `cargo test`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| devicelink::fuzzing::state_machines(data));
