//! The real binary: predict, matrix, speculate, lists, and bad input.

mod browser_support;

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn rooftune() -> Command {
    let mut c = Command::cargo_bin("rooftune").expect("binary builds");
    // Keep the user's saved profiles out of the tests.
    c.env(
        "ROOFTUNE_CONFIG_DIR",
        std::env::temp_dir().join("rooftune-test-no-config"),
    );
    c
}

/// The JSON a successful run of `args` prints.
fn json(args: &[&str]) -> serde_json::Value {
    let out = rooftune()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("valid JSON")
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    rooftune::cli::Cli::command().debug_assert();
}

#[test]
fn predict_glm_5_1_on_m3_ultra_shows_the_arithmetic_and_the_cap() {
    let out = rooftune()
        .args([
            "predict",
            "--hw",
            "m3-ultra-512",
            "--model",
            "glm-5.1",
            "--quant",
            "ud-iq3_xxs",
        ])
        .args(["--ctx", "1M", "--depth", "5460", "--bandwidth", "800"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    insta::assert_snapshot!("predict_glm_5_1_m3_ultra", text);
    assert!(text.contains("caps each slot at 202,752"));
    assert!(text.contains("1,000,192 cells"));
    assert!(text.contains("85709.81 MiB"));
}

#[test]
fn predict_json_carries_the_numbers() {
    let v = json(&[
        "predict",
        "--hw",
        "m3-ultra",
        "--model",
        "glm-5.1",
        "--quant",
        "ud-iq3_xxs",
        "--bandwidth",
        "800",
        "--json",
    ]);
    let ceiling = v["prediction"]["decode"][0]["ceiling_tok_s"]
        .as_f64()
        .expect("ceiling");
    assert!((43.0..48.0).contains(&ceiling), "{ceiling}");
    assert_eq!(v["prediction"]["bars"][0]["verdict"], "no");
    assert_eq!(v["prediction"]["context"]["verdict"], "native");
}

#[test]
fn predict_with_placement_on_a_gpu_and_host() {
    rooftune()
        .args([
            "predict",
            "--hw",
            "rtx-3090",
            "--host",
            "ddr5-6000-2ch",
            "--model",
            "gpt-oss-120b",
            "--quant",
            "mxfp4_moe",
        ])
        .args(["--placement", "cpu-moe"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--cpu-moe")
                .and(predicate::str::contains("host ddr5-6000-2ch")),
        );
}

#[test]
fn two_gpus_split_the_layers() {
    rooftune()
        .args([
            "predict",
            "--hw",
            "2x rtx-3090",
            "--model",
            "llama-3.1-70b",
            "--quant",
            "q4_k_m",
            "--ctx",
            "8k",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("2x rtx-3090").and(predicate::str::contains("rtx-3090 #2")),
        );
}

#[test]
fn matrix_json_has_every_pair() {
    let v = json(&["matrix", "--json"]);
    let rows = v["rows"].as_array().expect("rows");
    let cat = rooftune::catalog::Catalog::bundled().expect("catalog");
    assert_eq!(rows.len(), cat.hardware.len() * cat.models.len());
    assert!(rows
        .iter()
        .any(|r| r["verdict"] == "yes" && r["fits"] == true));
    assert!(rows.iter().any(|r| r["fits"] == false));
}

#[test]
fn speculate_states_the_formula_and_the_needed_acceptance() {
    rooftune()
        .args([
            "speculate",
            "--acceptance",
            "0.7",
            "--draft-len",
            "4",
            "--cost",
            "0.15",
            "--base",
            "37",
            "--target",
            "100",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Leviathan").and(
            predicate::str::contains("out of reach").or(predicate::str::contains("acceptance >=")),
        ));
}

#[test]
fn published_reports_how_many_fall_under_the_ceiling() {
    let out = rooftune()
        .arg("published")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    let line = text
        .lines()
        .find(|l| l.contains("plain-decode measurements are at or under"))
        .expect("summary line");
    let nums: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        nums[0], nums[2],
        "every plain measurement is under its ceiling: {line}"
    );
    // Every row has a share of its ceiling, drafted rows (which may pass
    // the plain-decode ceiling) included: no NaN.
    assert!(!text.contains("NaN"), "{text}");
    let lookup = text
        .lines()
        .find(|l| l.contains("promptlookup"))
        .expect("the prompt-lookup row");
    assert!(lookup.contains("122%"), "{lookup}");
}

#[test]
fn lists_and_shows_work() {
    rooftune()
        .args(["hw", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("m3-ultra-512"));
    rooftune()
        .args(["hw", "show", "dgx-spark"])
        .assert()
        .success()
        .stdout(predicate::str::contains("source:"));
    rooftune()
        .args(["model", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("glm-5.1"));
    rooftune()
        .args(["model", "show", "glm-5.1", "--quant", "ud-iq3_xxs"])
        .assert()
        .success();
    rooftune()
        .args(["model", "quants"])
        .assert()
        .success()
        .stdout(predicate::str::contains("iq3_xxs"));
}

#[test]
fn unknown_names_suggest_the_closest() {
    rooftune()
        .args(["predict", "--hw", "m3-ultr", "--model", "glm-5.1"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown hardware profile `m3-ultr`")
                .and(predicate::str::contains("m3-ultra")),
        );
    rooftune()
        .args(["predict", "--hw", "m3-ultra", "--model", "glm5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean").and(predicate::str::contains("glm-5")));
    rooftune()
        .args([
            "predict", "--hw", "m3-ultra", "--model", "glm-5.1", "--quant", "iq3_xx",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("iq3_xxs"));
}

#[test]
fn absurd_numbers_are_rejected_with_the_reason() {
    for (flag, value) in [
        ("--bandwidth", "-5"),
        ("--bandwidth", "0"),
        ("--ctx", "0"),
        ("--target", "-1"),
        ("--ctk", "q6_k"),
        ("--depth", "1.5"),
        ("--np", "99999999999"),
    ] {
        rooftune()
            .args([
                "predict", "--hw", "m3-ultra", "--model", "glm-5.1", flag, value,
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with("error:"));
    }
}

#[test]
fn a_malformed_user_profile_names_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hw = dir.path().join("hardware");
    fs::create_dir_all(&hw).expect("mkdir");
    fs::write(
        hw.join("broken.toml"),
        "schema = 1\nname = \"broken\"\nbandwidth_gb_s = { value = \"fast\", source = \"x\" }\n",
    )
    .expect("write");
    Command::cargo_bin("rooftune")
        .expect("binary")
        .env("ROOFTUNE_CONFIG_DIR", dir.path())
        .args(["hw", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.toml:3:").and(predicate::str::contains("hint")));
}

#[test]
fn a_depth_beyond_the_slot_context_is_refused() {
    for (args, says) in [
        (
            &["--ctx", "4096", "--depth", "100000"][..],
            "--depth must be within the context of a slot (--ctx 4096 / --np 1 = 4096 tokens)",
        ),
        (
            &["--ctx", "8192", "--np", "4", "--depth", "4096"][..],
            "= 2048 tokens",
        ),
        (
            &["--ctx", "4096", "--np", "99999999999"][..],
            "--np must be at most --ctx (4096)",
        ),
    ] {
        rooftune()
            .args(["predict", "--hw", "m3-ultra", "--model", "glm-5.1"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    rooftune()
        .args([
            "predict", "--hw", "m3-ultra", "--model", "glm-5.1", "--ctx", "8192", "--np", "4",
            "--depth", "2048",
        ])
        .assert()
        .success();
}

#[test]
fn predict_draws_its_roofline_and_depth_charts() {
    let args = [
        "predict",
        "--hw",
        "m3-ultra-512",
        "--model",
        "glm-5.1",
        "--quant",
        "ud-iq3_xxs",
        "--ctx",
        "128k",
        "--depth",
        "0,8k,32k,100k",
    ];
    let out = |format: &str| {
        let o = rooftune()
            .args(args)
            .args(["--format", format])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(o).expect("utf8")
    };
    let svg = out("svg");
    insta::assert_snapshot!("predict_glm_5_1_svg", svg);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("<svg").count(),
        3,
        "one image holding two charts"
    );
    for want in [
        "arithmetic intensity (FLOP/byte)",
        "performance (FLOP/s)",
        "roof: 819 GB/s",
        "decode estimate (band)",
        "prefill ceiling",
        "context depth (tokens)",
        "decode (tok/s per stream)",
        "roofline ceiling",
    ] {
        assert!(svg.contains(want), "{want}");
    }
    // Four depths: four ceilings and four estimates on each chart.
    assert_eq!(svg.matches("<title>decode ceiling at depth").count(), 4);
    assert_eq!(svg.matches("<title>estimate at depth").count(), 4);
    let html = out("html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Content-Security-Policy"));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("decode: ceiling = bandwidth / bytes per token"));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("predict.html");
    std::fs::write(&page, &html).unwrap();
    browser_support::browser_check(&page, 2);
    // The text report stays text.
    assert!(!out("text").contains("<svg"));
}

#[test]
fn an_mlx_quantization_takes_its_family_s_mlx_band() {
    // The same model on the same chip: the MLX rows' band is not llama.cpp's.
    let band = |quant: &str| {
        json(&[
            "predict",
            "--hw",
            "m3-ultra-512",
            "--model",
            "qwen3.5-27b",
            "--quant",
            quant,
            "--depth",
            "0,16384",
            "--ctx",
            "32768",
            "--json",
        ])["band"]
            .clone()
    };
    let (mlx, gguf) = (band("mlx-4bit"), band("q4_k_m"));
    assert_ne!(mlx["low"], gguf["low"], "{mlx} vs {gguf}");
    // llama.cpp on Metal has depth rows enough for its own depth factors; MLX
    // (one series) does not, so its estimate at depth is the KV bytes alone.
    assert!(gguf["depth"].is_object(), "{gguf}");
    assert!(mlx["depth"].is_null(), "{mlx}");
}
