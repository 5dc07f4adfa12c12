//! The campaign log against its published schema, and the `tune --dry-run`
//! and `campaign list|show|compare` commands on logs the campaign loop wrote
//! (with the scripted fake evaluator; the real server is in `tune_server.rs`).

mod campaign_support;

use assert_cmd::Command;
use campaign_support::{run_fake_campaign, Paths};
use predicates::prelude::*;
use rooftune::tune::fake::Script;
use serde_json::Value;
use std::path::Path;

/// A small JSON-schema checker: type, const, enum, required, properties,
/// additionalProperties (schema), items, minimum, oneOf, $ref to #/$defs.
fn check(root: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], v, at);
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts
            .iter()
            .filter(|s| check(root, s, v, at).is_ok())
            .count();
        return if ok == 1 {
            Ok(())
        } else {
            Err(format!("{at}: matches {ok} of oneOf"))
        };
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            return Err(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |ty: &str| match ty {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let (Some(m), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < m {
            return Err(format!("{at}: {x} < {m}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap_or_default();
            if !obj.contains_key(k) {
                return Err(format!("{at}: missing `{k}`"));
            }
        }
        for (k, x) in obj {
            let sub = format!("{at}.{k}");
            if let Some(ps) = schema.get("properties").and_then(|p| p.get(k)) {
                check(root, ps, x, &sub)?;
            } else if let Some(ap) = schema.get("additionalProperties") {
                if ap.is_object() {
                    check(root, ap, x, &sub)?;
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(root, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

const SPEC: &str = r#"
model = "m.gguf"
seed = 3
[space]
"-t" = [1, 2]
"-ub" = [128, 512]
"-ctk" = ["f16", "q8_0"]
[objective]
metric = "decode"
[budget]
trials = 6
[anchor]
every = 2
drift = 0.05
settle_s = 0
"#;

fn write_campaign(dir: &Path, name: &str, spec_text: &str, script: Script) {
    let paths = Paths {
        model: "m.gguf",
        server_bin: "llama-server",
    };
    run_fake_campaign(dir, name, spec_text, script, 500.0, paths);
}

fn script() -> Script {
    Script {
        effects: vec![
            ("-t".into(), "2".into(), 1.9),
            ("-ctk".into(), "q8_0".into(), 1.3),
        ],
        noise: 0.02,
        drift_from: Some((4, 0.8)),
        crash_when: vec![("-ub".into(), "128".into())],
        ..Script::default()
    }
}

#[test]
fn every_log_line_validates_against_the_published_schema() {
    let dir = tempfile::tempdir().unwrap();
    write_campaign(dir.path(), "a", SPEC, script());
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/campaign-log.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.path().join("a/trials.jsonl")).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        check(&schema, &schema, &v, &format!("line {}", i + 1)).unwrap();
        kinds.insert(format!("{}/{}", v["kind"], v["role"]));
        kinds.insert(v["status"].to_string());
    }
    // The fixture exercises the interesting lines.
    for k in [
        "\"crashed\"",
        "\"ok\"",
        "\"trial\"/\"anchor\"",
        "\"trial\"/\"rerun\"",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    // A line missing a field does not validate.
    let mut v: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("verdict");
    assert!(check(&schema, &schema, &v, "x").is_err());
}

fn rooftune() -> Command {
    Command::cargo_bin("rooftune").unwrap()
}

#[test]
fn show_prints_the_table_the_winner_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    write_campaign(dir.path(), "a", SPEC, script());
    rooftune()
        .args(["campaign", "show", "a", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("Best search score: trial"))
        .stdout(predicate::str::contains("over llama-server's defaults"))
        .stdout(predicate::str::contains("llama-server -m m.gguf -t 2"))
        .stdout(predicate::str::contains("LOSSY"))
        .stdout(predicate::str::contains(
            "quality vs the defaults: top-1 agreement",
        ))
        .stdout(predicate::str::contains("Drift: trial"));
    let out = rooftune()
        .args(["campaign", "show", "--json", "--dir"])
        .arg(dir.path())
        .arg("a")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["winner"]["gain_pct"].as_f64().unwrap() > 50.0);
    assert_eq!(v["format"], 1);
    rooftune()
        .args(["campaign", "show", "--markdown"])
        .arg(dir.path().join("a"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("# Campaign `a`"))
        .stdout(predicate::str::contains("```sh"));
}

#[test]
fn list_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    write_campaign(dir.path(), "a", SPEC, script());
    let no_lossy = SPEC.replace("[\"f16\", \"q8_0\"]", "[\"f16\"]");
    write_campaign(dir.path(), "b", &no_lossy, script());
    rooftune()
        .args(["campaign", "list", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("| a "))
        .stdout(predicate::str::contains("| b "));
    rooftune()
        .args(["campaign", "compare", "a", "b", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("-ctk"));
    rooftune()
        .args(["campaign", "show", "nope", "--dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("no campaign log"));
}

#[test]
fn dry_run_prints_trials_skips_and_a_time_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("d.toml");
    std::fs::write(
        &spec_path,
        "model = \"m.gguf\"\nhardware = \"m3-ultra-512\"\n[space]\n\"-b\" = [256, 2048]\n\"-ub\" = [512, 1024]\n[objective]\nmetric = \"prefill\"\n[budget]\ntrials = 3\n",
    )
    .unwrap();
    // The plan is printed even though the model is missing; the missing
    // model is then refused as the real run would (exit 2).
    rooftune()
        .args(["tune", "--dry-run"])
        .arg(&spec_path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("m.gguf` does not exist"))
        .stdout(predicate::str::contains(
            "4 configurations in the space, 2 can run, 2 skipped",
        ))
        .stdout(predicate::str::contains("Budget allows 3 trials"))
        .stdout(predicate::str::contains("Estimated time"))
        .stdout(predicate::str::contains("-ub 512 is larger than -b 256"));
    assert!(!dir.path().join("d").exists(), "a dry run writes nothing");
}

#[test]
fn a_bad_spec_is_rejected_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("bad.toml");
    std::fs::write(
        &spec_path,
        "model = \"m.gguf\"\n[space]\n\"-t\" = [1, 2]\n\"-ctk\" = [\"f16\", \"q9_0\"]\n[objective]\nmetric = \"decode\"\n",
    )
    .unwrap();
    rooftune()
        .args(["tune", "--dry-run"])
        .arg(&spec_path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:4:"))
        .stderr(predicate::str::contains("q9_0"));
}

#[test]
fn list_shows_an_unreadable_log_as_unreadable_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write_campaign(dir.path(), "a", SPEC, script());
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(
        dir.path().join("broken/trials.jsonl"),
        "not json\n{\"v\":1}\n",
    )
    .unwrap();
    rooftune()
        .args(["campaign", "list", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("| a "))
        .stdout(predicate::str::contains("| broken "))
        .stdout(predicate::str::contains("UNREADABLE"));
}

/// A dry-run spec with `budget` lines and a space (its model `m.gguf` is not written).
fn dry_spec(dir: &Path, budget: &str, space: &str) -> std::path::PathBuf {
    let p = dir.join("v.toml");
    std::fs::write(
        &p,
        format!("model = \"m.gguf\"\nhardware = \"m3-ultra-512\"\n[space]\n{space}\n[objective]\nmetric = \"decode\"\n[budget]\n{budget}\n"),
    )
    .unwrap();
    p
}

#[test]
fn budget_overrides_follow_the_specs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dry_spec(dir.path(), "trials = 3", "\"-b\" = [256, 2048]");
    for (args, says) in [
        (
            &["--minutes", "nan"][..],
            "--minutes must be a number of minutes above 0",
        ),
        (
            &["--minutes=-1"][..],
            "--minutes must be a number of minutes above 0",
        ),
        (&["--trials", "0"][..], "--trials must be at least 1"),
    ] {
        rooftune()
            .args(["tune", "--dry-run"])
            .args(args)
            .arg(&spec)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    for (budget, says) in [
        ("repeats = 0", "budget.repeats must be at least 1"),
        ("minutes = nan", "budget.minutes must be a number"),
        ("trials = 0", "budget.trials must be at least 1"),
    ] {
        let spec = dry_spec(dir.path(), budget, "\"-b\" = [256, 2048]");
        rooftune()
            .args(["tune", "--dry-run"])
            .arg(&spec)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn dry_run_checks_the_model_as_the_real_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dry_spec(dir.path(), "trials = 3", "\"-b\" = [256, 2048]");
    rooftune()
        .args(["tune", "--dry-run"])
        .arg(&spec)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("m.gguf` does not exist"));
    std::fs::create_dir(dir.path().join("m.gguf")).unwrap();
    for extra in [&["--dry-run"][..], &[][..]] {
        rooftune()
            .arg("tune")
            .args(extra)
            .arg(&spec)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("m.gguf` is not a file"));
    }
}
