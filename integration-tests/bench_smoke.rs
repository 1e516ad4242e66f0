//! `devicelink bench --quick` runs end to end against SQLite and writes its JSON report.
//! Only the shape and the absence of errors are checked, never a timing.

use std::process::Command;

#[test]
fn a_quick_bench_of_s0_s3_and_s7_writes_a_json_report_with_the_expected_fields() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_devicelink"))
        .args([
            "bench",
            "--quick",
            "--scenario",
            "S0,S3,S7",
            "--db",
            "sqlite",
        ])
        .args(["--devices", "2", "--no-peer", "--out"])
        .arg(out.path())
        .output()
        .expect("devicelink bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("targets:"),
        "the table is printed:\n{stdout}"
    );

    let text = std::fs::read_to_string(out.path().join("latest-sqlite.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(report["commit"]["rev"].is_string());
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(report["server"]["database"], "sqlite");
    assert!(
        report["baseline"]["es256_verify_per_core_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["S0", "S3", "S7"]);
    for s in scenarios {
        assert_eq!(s["status"], "measured", "{s}");
        assert!(
            s["saturation_ops_per_second"].as_f64().unwrap() > 0.0,
            "{s}"
        );
        assert!(!s["closed_loop"].as_array().unwrap().is_empty());
        for run in s["closed_loop"].as_array().unwrap() {
            assert_eq!(run["errors"], 0, "no operation failed: {run}");
        }
        for run in s["open_loop"].as_array().unwrap() {
            assert!(run["latency_ms"]["p99"].is_number(), "{run}");
        }
    }
    let s7 = &scenarios[2];
    assert!(s7["crypto_ceiling_ops_per_core_second"].as_f64().unwrap() > 0.0);
    let s3 = &scenarios[1];
    assert!(s3["crypto_ceiling_ops_per_core_second"].as_f64().unwrap() > 0.0);
    assert!(s3["fraction_of_crypto_ceiling"].is_number());
    assert!(report["targets"].as_array().unwrap().len() >= 5);
}
