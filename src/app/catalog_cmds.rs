//! `hw list|show`, `model list|show|quants`.

use super::build;
use crate::catalog::ggml_type::ALL_TYPES;
use crate::cli::{HwCommand, ModelCommand};
use crate::exit::ExitCode;
use crate::report;
use anyhow::Result;
use serde_json::json;

/// `rooftune hw ...`
pub fn hw(c: HwCommand) -> Result<ExitCode> {
    if let HwCommand::Probe(a) = c {
        return super::probe_cmds::probe(&a);
    }
    let cat = build::catalog()?;
    match c {
        HwCommand::List(j) if j.json => print!("{}", report::json(&cat.hardware)),
        HwCommand::List(_) => print!("{}", report::catalog::hw_list(&cat.hardware)),
        HwCommand::Show { name, json } => {
            let h = cat.hardware(&name)?;
            if json {
                print!("{}", report::json(h));
            } else {
                print!("{}", report::catalog::hw_show(h));
            }
        }
        HwCommand::Probe(_) => unreachable!("dispatched above"),
    }
    Ok(ExitCode::OK)
}

/// `rooftune model ...`
pub fn model(c: ModelCommand) -> Result<ExitCode> {
    if let ModelCommand::Inspect { file, toml, json } = &c {
        return super::gguf_cmds::inspect(file, *toml, *json);
    }
    let cat = build::catalog()?;
    match c {
        ModelCommand::List(j) => {
            let q = cat
                .quant("q4_k_m")
                .unwrap_or(crate::catalog::quant::QuantScheme::Uniform(
                    crate::catalog::ggml_type::GgmlType::Q4_K,
                ));
            let models: Vec<_> = cat
                .models
                .iter()
                .map(|m| (m.clone(), m.shape(&q)))
                .collect();
            if j.json {
                print!("{}", report::json(&cat.models));
            } else {
                print!("{}", report::catalog::model_list(&models));
            }
        }
        ModelCommand::Show { name, quant, json } => {
            let m = cat.model(&name)?;
            let s = m.shape(&cat.quant(&quant)?);
            if json {
                print!("{}", report::json(&json!({ "spec": m, "shape": s })));
            } else {
                print!("{}", report::catalog::model_show(m, &s));
            }
        }
        ModelCommand::Quants(j) => {
            let types: Vec<_> = ALL_TYPES
                .iter()
                .map(|t| json!({"name": t.ggml_name(), "id": t.id(), "block_size": t.block_size(), "type_size": t.type_size(), "bpw": t.bits_per_weight()}))
                .collect();
            if j.json {
                print!(
                    "{}",
                    report::json(&json!({ "types": types, "mixes": cat.mixes }))
                );
            } else {
                let rows = ALL_TYPES
                    .iter()
                    .map(|t| {
                        vec![
                            t.ggml_name().into(),
                            t.block_size().to_string(),
                            t.type_size().to_string(),
                            format!("{:.4}", t.bits_per_weight()),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    report::table(&["type", "block", "bytes/block", "bits/weight"], rows)
                );
                let rows = cat
                    .mixes
                    .iter()
                    .map(|(n, m)| vec![n.clone(), m.source.chars().take(90).collect()])
                    .collect();
                println!("\n{}", report::table(&["mix", "source"], rows));
            }
        }
        ModelCommand::Inspect { .. } => {}
    }
    Ok(ExitCode::OK)
}
