//! A campaign log written by the real campaign loop over the scripted fake
//! evaluator: shared by the tests of `campaign` and `report`.
#![allow(dead_code)]

use rooftune::campaign::record::{HardwareInfo, ModelInfo};
use rooftune::campaign::runner::{self, Setup};
use rooftune::cancel::Cancel;
use rooftune::tune::fake::{FakeEvaluator, Script};
use rooftune::tune::plan::Feasibility;
use rooftune::tune::space::MachineFacts;
use rooftune::tune::spec;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the logged command line says the model and the server are.
pub struct Paths<'a> {
    /// The model path in the log.
    pub model: &'a str,
    /// The server binary in the log.
    pub server_bin: &'a str,
}

/// Write `NAME.toml` in `dir`, run it on the fake with `script` against a
/// decode ceiling of `ceiling` tok/s, and return the campaign's folder.
pub fn run_fake_campaign(
    dir: &Path,
    name: &str,
    spec_text: &str,
    script: Script,
    ceiling: f64,
    paths: Paths,
) -> PathBuf {
    let spec_path = dir.join(format!("{name}.toml"));
    std::fs::write(&spec_path, spec_text).unwrap();
    let campaign = spec::load(&spec_path).unwrap();
    let setup = Setup {
        log_path: dir.join(name).join("trials.jsonl"),
        resume: false,
        feasibility: Feasibility {
            backend: rooftune::server::BackendKind::Llama,
            machine: MachineFacts { physical_cores: 2 },
            min_ctx: 0,
            shape: None,
            memory_bytes: None,
            headroom_bytes: 0.0,
            split: None,
        },
        campaign,
        accelerated: false,
        hardware: HardwareInfo::default(),
        model: ModelInfo {
            path: paths.model.into(),
            ..Default::default()
        },
        ceilings: BTreeMap::from([("decode_tok_s@0".to_string(), ceiling)]),
        server_bin: paths.server_bin.into(),
    };
    let flag = Cancel::new();
    let mut fake = FakeEvaluator::new(script, flag.clone());
    runner::run(&setup, &mut fake, &flag, &mut |_| {}).unwrap();
    dir.join(name)
}
