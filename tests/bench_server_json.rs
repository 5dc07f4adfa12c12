//! `bench --json` against the real llama-server carries, next to every
//! measurement, its ceiling and % of ceiling, decided by the one rule in
//! `compare` (a rate above its ceiling is flagged, never a percentage above
//! 100), and records the backend and its build.

#[macro_use]
mod server_support;

use assert_cmd::Command;
use serde_json::Value;
use server_support::*;
use std::time::Duration;

#[test]
fn bench_json_has_pct_of_ceiling_next_to_each_measurement() {
    let server = need_server!();
    let _lock = server_lock();
    let out = Command::cargo_bin("rooftune")
        .unwrap()
        .timeout(Duration::from_secs(240))
        .env(
            "ROOFTUNE_LOG_DIR",
            std::env::temp_dir().join("rooftune-test-logs"),
        )
        .args(["bench", "--json", "--hw", "ddr5-6000-2ch", "--server-bin"])
        .arg(&server)
        .arg("--model")
        .arg(tiny_model())
        .args(QUICK_ARGS)
        .args(["--", "-t", "2", "-c", "1024"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"]["backend"], "llama-server");
    assert!(v["target"]["version"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let m = &v["measurement"];
    let mut seen = 0;
    for vs in std::iter::once(&m["prefill"]["vs_ceiling"]).chain(
        m["decode"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["vs_ceiling"]),
    ) {
        let ceiling = vs["ceiling"].as_f64().expect("a ceiling");
        assert!(ceiling > 0.0);
        match vs["pct_of_ceiling"].as_f64() {
            Some(p) => {
                assert!(p > 0.0 && p <= 100.0, "{vs}");
                assert_eq!(vs["above_ceiling"], false);
            }
            None => assert_eq!(vs["above_ceiling"], true, "{vs}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 2, "prefill and one decode depth");
}
