//! `hw list|show|links`, `model list|show|quants`.

use super::build;
use super::output::Sink;
use crate::cli::{HwCommand, ModelCommand};
use crate::dtype::ggml::ALL_TYPES;
use crate::exit::ExitCode;
use crate::report;
use crate::report::doc::{Document, Table};
use anyhow::Result;
use serde_json::json;

/// `rooftune hw ...`
pub fn hw(c: HwCommand) -> Result<ExitCode> {
    if let HwCommand::Probe(a) = c {
        return super::probe_cmds::probe(&a);
    }
    let cat = build::catalog()?;
    match c {
        HwCommand::List(j) => {
            Sink::open(&j.out)?
                .emit_text(&cat.hardware, || report::catalog::hw_list(&cat.hardware))?;
        }
        HwCommand::Show { name, out } => {
            let sink = Sink::open(&out)?;
            let h = cat.hardware(&name)?;
            sink.emit_text(h, || report::catalog::hw_show(h))?;
        }
        HwCommand::Links(j) => {
            let links = crate::catalog::links::bundled()?;
            Sink::open(&j.out)?.emit(&links, || report::cluster::links_doc(links))?;
        }
        HwCommand::Probe(_) => unreachable!("dispatched above"),
    }
    Ok(ExitCode::OK)
}

/// `rooftune model ...`
pub fn model(c: ModelCommand) -> Result<ExitCode> {
    if let ModelCommand::Inspect { file, toml, out } = &c {
        return super::gguf_cmds::inspect(file, *toml, out);
    }
    let cat = build::catalog()?;
    match c {
        ModelCommand::List(j) => {
            let sink = Sink::open(&j.out)?;
            let q = cat
                .quant("q4_k_m")
                .unwrap_or(crate::catalog::quant::QuantScheme::Uniform(
                    crate::dtype::ggml::GgmlType::Q4_K,
                ));
            let models: Vec<_> = cat
                .models
                .iter()
                .map(|m| (m.clone(), m.shape(&q)))
                .collect();
            sink.emit_text(&cat.models, || report::catalog::model_list(&models))?;
        }
        ModelCommand::Show { name, quant, out } => {
            let sink = Sink::open(&out)?;
            let m = cat.model(&name)?;
            let s = m.shape(&cat.quant(&quant)?);
            sink.emit_text(&json!({ "spec": m, "shape": s }), || {
                report::catalog::model_show(m, &s)
            })?;
        }
        ModelCommand::Quants(j) => {
            let sink = Sink::open(&j.out)?;
            let types: Vec<_> = ALL_TYPES
                .iter()
                .map(|t| json!({"name": t.ggml_name(), "id": t.id(), "block_size": t.block_size(), "type_size": t.type_size(), "bpw": t.bits_per_weight()}))
                .collect();
            sink.emit(&json!({ "types": types, "mixes": cat.mixes }), || {
                let mut d = Document::new("");
                d.table(
                    Table::new("types", ["type", "block", "bytes/block", "bits/weight"]).rows(
                        ALL_TYPES.iter().map(|t| {
                            vec![
                                t.ggml_name().into(),
                                t.block_size().to_string(),
                                t.type_size().to_string(),
                                format!("{:.4}", t.bits_per_weight()),
                            ]
                        }),
                    ),
                );
                d.text("\n");
                d.table(
                    Table::new("mixes", ["mix", "source"]).rows(
                        cat.mixes
                            .iter()
                            .map(|(n, m)| vec![n.clone(), m.source.chars().take(90).collect()]),
                    ),
                );
                d
            })?;
        }
        ModelCommand::Inspect { .. } => {}
    }
    Ok(ExitCode::OK)
}
