//! `rooftune model inspect FILE.gguf` and `rooftune synth`.

use crate::cli::{SynthArchArg, SynthArgs, SynthQuantArg};
use crate::exit::ExitCode;
use crate::gguf::synth::{SynthArch, SynthConfig, SynthQuant, Vocab};
use crate::gguf::{GgufError, GgufModel};
use crate::report;
use crate::units;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Convert `rooftune synth` arguments into a config.
pub fn synth_config(a: &SynthArgs) -> Result<SynthConfig> {
    let arch = match a.arch {
        SynthArchArg::Llama => SynthArch::Llama,
        SynthArchArg::Moe => SynthArch::Moe,
    };
    let quant = match a.quant {
        SynthQuantArg::F16 => SynthQuant::F16,
        SynthQuantArg::Q8_0 => SynthQuant::Q8_0,
        SynthQuantArg::Q4_0 => SynthQuant::Q4_0,
    };
    let vocab = match &a.vocab_from {
        Some(p) => Vocab::from_gguf(&GgufModel::open(p).context("--vocab-from")?)?,
        None => Vocab::ByteSpm,
    };
    let mut c = match (&a.size, a.layers, a.hidden) {
        (Some(size), _, _) => {
            let bytes = units::parse_bytes(size).context("--size")?;
            if !(1.0..1e15).contains(&bytes) {
                return Err(GgufError::Synth(format!("--size {size} must be between 1 byte and 1 PB")).into());
            }
            SynthConfig::for_size(arch, bytes as u64, quant, &vocab)?
        }
        (None, Some(layers), Some(hidden)) => SynthConfig::with_hidden(arch, hidden, layers, quant),
        _ => {
            return Err(GgufError::Synth(
                "give --size, or both --layers and --hidden (hint: `rooftune synth --size 400MB -o m.gguf`)".into(),
            )
            .into())
        }
    };
    if let Some(ff) = a.ff {
        c.ff = ff;
    }
    if let Some(h) = a.heads {
        c.heads = h;
        c.kv_heads = (h / 4).max(1);
    }
    if let Some(k) = a.kv_heads {
        c.kv_heads = k;
    }
    if let Some(e) = a.experts {
        c.experts = e;
    }
    if let Some(k) = a.experts_used {
        c.experts_used = k;
    }
    if arch == SynthArch::Llama && (a.experts.is_some() || a.experts_used.is_some()) {
        return Err(GgufError::Synth("--experts/--experts-used need --arch moe".into()).into());
    }
    c.ctx_train = units::parse_tokens(&a.ctx_train).context("--ctx-train")?;
    c.seed = a.seed;
    c.vocab = vocab;
    c.validate()?;
    Ok(c)
}

/// `rooftune synth`
pub fn synth(a: &SynthArgs) -> Result<ExitCode> {
    let c = synth_config(a)?;
    let t0 = Instant::now();
    let bytes = c.write(&a.output).with_context(|| {
        format!(
            "writing `{}` (hint: check the directory exists and has space)",
            a.output.display()
        )
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let info = json!({
        "path": a.output,
        "arch": match c.arch { SynthArch::Llama => "llama", SynthArch::Moe => "qwen3moe" },
        "layers": c.layers,
        "hidden": c.hidden,
        "ff": c.ff,
        "heads": c.heads,
        "kv_heads": c.kv_heads,
        "experts": c.experts,
        "experts_used": c.experts_used,
        "quant": c.quant.ggml_type().ggml_name(),
        "vocab": c.vocab.n_vocab(),
        "ctx_train": c.ctx_train,
        "params": c.params(),
        "weight_bytes": c.weight_bytes(),
        "file_bytes": bytes,
        "seconds": secs,
    });
    if a.json {
        print!("{}", report::json(&info));
    } else {
        let moe = if c.arch == SynthArch::Moe {
            format!(", {} experts ({} used)", c.experts, c.experts_used)
        } else {
            String::new()
        };
        println!(
            "wrote {} ({}): {} layers, hidden {}, ff {}{moe}, {} params, {}, in {:.1} s",
            a.output.display(),
            c.quant.ggml_type(),
            c.layers,
            c.hidden,
            c.ff,
            units::fmt_count(c.params()),
            units::fmt_bytes(bytes as f64),
            secs
        );
    }
    Ok(ExitCode::OK)
}

/// `rooftune model inspect FILE.gguf`
pub fn inspect(file: &Path, toml: bool, json: bool) -> Result<ExitCode> {
    let m = GgufModel::open(file)?;
    let _ = (toml, json, m);
    Ok(ExitCode::OK)
}
