//! The real binary: `predict --cluster` (a model split across hosts on
//! llama.cpp's RPC backend) and `hw links`.

use assert_cmd::Command;

fn rooftune() -> Command {
    let mut c = Command::cargo_bin("rooftune").expect("binary builds");
    c.env(
        "ROOFTUNE_CONFIG_DIR",
        std::env::temp_dir().join("rooftune-test-no-config"),
    );
    c
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = rooftune()
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("json")
}

const GLM: &[&str] = &["predict", "--model", "glm-5.1", "--quant", "q8_0"];

#[test]
fn glm_5_1_q8_0_fits_two_512_gb_macs_but_not_one() {
    let two = json(&[GLM, &["--cluster", "2x m3-ultra-512", "--link", "tb5"]].concat());
    let devices = two["memory"]["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2, "a worker then the head");
    for d in devices {
        let needed = d["weights_bytes"].as_f64().unwrap()
            + d["kv_bytes"].as_f64().unwrap()
            + d["compute_bytes"].as_f64().unwrap();
        assert!(needed <= d["usable_bytes"].as_f64().unwrap(), "{d}");
    }
    // One Mac cannot hold it.
    let one = json(&[GLM, &["--hw", "m3-ultra-512"]].concat());
    assert_eq!(
        one["prediction"]["memory"]["devices"][0]["device"],
        "m3-ultra-512"
    );
    let d0 = &one["prediction"]["memory"]["devices"][0];
    assert!(d0["weights_bytes"].as_f64().unwrap() > d0["usable_bytes"].as_f64().unwrap());
}

#[test]
fn a_slower_link_costs_decode_and_the_table_orders_links_by_what_they_buy() {
    let at = |ms: &str| {
        let v = json(
            &[
                GLM,
                &[
                    "--cluster",
                    "2x m3-ultra-512",
                    "--link",
                    "10gbe",
                    "--link-latency-ms",
                    ms,
                ],
            ]
            .concat(),
        );
        v["decode"][0]["estimate_tok_s"].as_f64().unwrap()
    };
    let near = at("0.025");
    let far = at("20");
    // A 20 ms link adds 40 ms per token to a ~66 ms token.
    assert!(near > 1.4 * far, "near {near}, far {far}");
    let v = json(&[GLM, &["--cluster", "2x m3-ultra-512", "--link", "tb5"]].concat());
    let rate = |name: &str| {
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["link"]["name"] == name)
            .map(|w| w["prefill_ceiling_tok_s"].as_f64().unwrap())
            .unwrap()
    };
    assert!(rate("100gbe") > rate("10gbe"));
}

#[test]
fn three_hosts_make_two_remote_splits() {
    let v = json(&[GLM, &["--cluster", "3x m3-ultra-512", "--link", "10gbe"]].concat());
    let d = &v["decode"][0]["link"];
    assert_eq!(d["remote_splits"], 2);
    // head -> w1, w1 -> w2 through the head, w2 -> head (the head's own layers).
    assert_eq!(d["crossings"], 4);
}

#[test]
fn the_text_report_says_what_fits_and_what_the_link_costs() {
    let out = rooftune()
        .args(GLM)
        .args(["--cluster", "2x m3-ultra-512", "--link", "tb5"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::assert_snapshot!(
        "cluster_glm_5_1_q8_0_2x_m3_ultra_tb5",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn hw_links_lists_every_link_with_its_source() {
    let v: serde_json::Value = serde_json::from_slice(
        &rooftune()
            .args(["hw", "links", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let links = v.as_array().expect("array");
    assert!(links.iter().any(|l| l["name"] == "tb5"));
    assert!(links
        .iter()
        .all(|l| !l["bandwidth_gb_s"]["source"].as_str().unwrap().is_empty()));
}
