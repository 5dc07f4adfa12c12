//! `rooftune model inspect FILE.gguf` and `rooftune synth`.

use crate::cli::{SynthArchArg, SynthArgs, SynthFormat, SynthQuantArg};
use crate::exit::ExitCode;
use crate::gguf::shape::Inspection;
use crate::gguf::synth::{SynthArch, SynthConfig, SynthQuant, Vocab};
use crate::gguf::{GgufError, GgufModel};
use crate::report;
use crate::shape::CacheKind;
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
    let quant = match a.quant.unwrap_or(SynthQuantArg::Q8_0) {
        SynthQuantArg::F32 => SynthQuant::F32,
        SynthQuantArg::F16 => SynthQuant::F16,
        SynthQuantArg::Q8_0 => SynthQuant::Q8_0,
        SynthQuantArg::Q4_0 => SynthQuant::Q4_0,
        SynthQuantArg::Q5_0 => SynthQuant::Q5_0,
        SynthQuantArg::Q4K => SynthQuant::Q4K,
        SynthQuantArg::Q6K => SynthQuant::Q6K,
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
    match a.format {
        SynthFormat::Mlx => return synth_mlx(a),
        SynthFormat::Both => return synth_both(a),
        SynthFormat::Gguf => {}
    }
    if a.vocab_size.is_some() {
        return Err(GgufError::Synth(
            "--vocab-size is for --format mlx (hint: a GGUF takes --vocab-from FILE.gguf)".into(),
        )
        .into());
    }
    let c = synth_config(a)?;
    let t0 = Instant::now();
    let written = if a.sparse {
        c.writer().write_sparse(&a.output)
    } else {
        c.write(&a.output)
    };
    let bytes = written.with_context(|| {
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
        print!("{}", report::json(&info)?);
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

/// The MLX shape `synth --format mlx|both` writes: the same shape arguments
/// as a GGUF, a dense llama, float32 (the only weight type MLX's CPU build
/// sends to BLAS), its own tokenizer.
fn mlx_synth(a: &SynthArgs) -> Result<crate::mlx::synth::MlxSynth> {
    let f32_only = matches!(a.quant, None | Some(SynthQuantArg::F32));
    if !f32_only || a.vocab_from.is_some() || a.sparse || a.arch != SynthArchArg::Llama {
        return Err(crate::mlx::MlxError::Synth(
            "--format mlx and --format both write a dense llama with float32 weights and their own tokenizer (hint: drop --quant, --vocab-from, --sparse and --arch)".into(),
        )
        .into());
    }
    let c = synth_config(a)?;
    Ok(crate::mlx::synth::MlxSynth {
        layers: c.layers,
        hidden: c.hidden,
        ff: c.ff,
        heads: c.heads,
        kv_heads: c.kv_heads,
        vocab: a.vocab_size.unwrap_or(512),
        ctx_train: c.ctx_train,
        seed: c.seed,
    })
}

/// `rooftune synth --format both -o DIR`: `DIR/model.gguf` and `DIR/mlx/`
/// with the same weights and vocabulary (`crate::twin`).
fn synth_both(a: &SynthArgs) -> Result<ExitCode> {
    let m = mlx_synth(a)?;
    let t0 = Instant::now();
    let w = crate::twin::write(&m, &a.output)?;
    let secs = t0.elapsed().as_secs_f64();
    let info = with_shape(
        &m,
        json!({
            "format": "both",
            "gguf": w.gguf,
            "mlx": w.mlx,
            "params": w.params,
            "gguf_bytes": w.gguf_bytes,
            "mlx_weights_bytes": w.mlx_weights_bytes,
            "seconds": secs,
        }),
    );
    if a.json {
        print!("{}", report::json(&info)?);
    } else {
        println!(
            "wrote {} and {}/ (float32, the same weights and vocabulary): {} layers, hidden {}, ff {}, vocab {}, {} params, in {:.1} s",
            w.gguf.display(),
            w.mlx.display(),
            m.layers,
            m.hidden,
            m.ff,
            m.vocab,
            units::fmt_count(w.params),
            secs
        );
    }
    Ok(ExitCode::OK)
}

/// `info` with the float32 llama shape of an MLX synth added (what
/// `--format mlx` and `--format both` both report).
fn with_shape(m: &crate::mlx::synth::MlxSynth, mut info: serde_json::Value) -> serde_json::Value {
    let shape = json!({
        "arch": "llama",
        "layers": m.layers,
        "hidden": m.hidden,
        "ff": m.ff,
        "heads": m.heads,
        "kv_heads": m.kv_heads,
        "dtype": "float32",
        "vocab": m.vocab,
        "ctx_train": m.ctx_train,
    });
    if let (Some(o), serde_json::Value::Object(s)) = (info.as_object_mut(), shape) {
        o.extend(s);
    }
    info
}

/// `rooftune synth --format mlx`: the same shape arguments, an MLX directory.
fn synth_mlx(a: &SynthArgs) -> Result<ExitCode> {
    let m = mlx_synth(a)?;
    let t0 = Instant::now();
    let w = m.write(&a.output)?;
    let secs = t0.elapsed().as_secs_f64();
    let info = with_shape(
        &m,
        json!({
            "path": a.output,
            "format": "mlx",
            "params": w.params,
            "weight_bytes": w.weights_bytes,
            "seconds": secs,
        }),
    );
    if a.json {
        print!("{}", report::json(&info)?);
    } else {
        println!(
            "wrote {}/ (MLX, float32): {} layers, hidden {}, ff {}, vocab {}, {} params, {}, in {:.1} s",
            a.output.display(),
            m.layers,
            m.hidden,
            m.ff,
            m.vocab,
            units::fmt_count(w.params),
            units::fmt_bytes(w.weights_bytes as f64),
            secs
        );
    }
    Ok(ExitCode::OK)
}

/// `rooftune model inspect FILE.gguf` (or an MLX directory)
pub fn inspect(file: &Path, toml: bool, out: &crate::cli::OutputArgs) -> Result<ExitCode> {
    let sink = super::output::Sink::open(out)?;
    if file.is_dir() {
        if toml {
            anyhow::bail!("--toml reads GGUF files only (hint: drop --toml for an MLX directory)");
        }
        let (_, ins) = crate::mlx::shape::inspect(file)?;
        sink.emit_text(&ins, || render_mlx(&ins))?;
        return Ok(ExitCode::OK);
    }
    let m = GgufModel::open(file)?;
    if toml {
        let spec = crate::gguf::shape::model_spec(&m)?;
        sink.write(&::toml::to_string(&spec).context("rendering the spec as TOML")?)?;
        return Ok(ExitCode::OK);
    }
    let (_, ins) = crate::gguf::shape::inspect(&m)?;
    if let Some(w) = crate::gguf::chat_template::missing_warning(&m, &[]) {
        eprintln!("warning: {w}");
    }
    for w in crate::gguf::shape::metadata_warnings(&m) {
        eprintln!("warning: {w}");
    }
    sink.emit_text(&ins, || render(&ins))?;
    Ok(ExitCode::OK)
}

/// The human-readable `model inspect` report of an MLX directory.
fn render_mlx(i: &crate::mlx::shape::MlxInspection) -> String {
    let gq = |n: &std::collections::BTreeMap<String, usize>| {
        n.iter()
            .map(|(k, v)| format!("{v} x {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "{}\n  directory: {} ({} safetensors file{}, {})\n  architecture: {} (MLX)\n",
        i.dir,
        i.dir,
        i.files,
        if i.files == 1 { "" } else { "s" },
        units::fmt_bytes(i.weights_file_bytes as f64),
        i.model_type,
    );
    out += &format!(
        "  parameters: {} in {} tensors, {} of weights, {:.3} bits/weight\n",
        units::fmt_count(i.total.params as u64),
        i.n_tensors,
        units::fmt_bytes(i.total.bytes),
        i.bits_per_weight
    );
    match &i.quantization {
        Some(q) => out += &format!(
            "  quantization: {}-bit, group {} ({:.2} bits/weight with scales and biases); quantized layers: {}; float tensors: {}\n",
            q.bits, q.group_size, q.bits_per_element(), gq(&i.quantized_layers), gq(&i.float_tensors)
        ),
        None => out += &format!("  quantization: none; tensors: {}\n", gq(&i.float_tensors)),
    }
    out += &format!(
        "  read per token: {} params, {}\n",
        units::fmt_count(i.active_per_token.params as u64),
        units::fmt_bytes(i.active_per_token.bytes)
    );
    if let Some(e) = i.experts {
        out += &format!("  experts: {} routed, {} used per token\n", e.count, e.used);
    }
    out += &format!(
        "  layers: {}; hidden {}; heads {} (KV {}), head dim {}; vocab {}\n  training context: {}\n  KV cache: {} per token at 16 bits\n",
        i.layers, i.hidden, i.heads.0, i.heads.1, i.head_dim, i.vocab, i.ctx_train,
        units::fmt_bytes(i.kv_bytes_per_token_f16 as f64)
    );
    out
}

fn pct(part: u64, whole: u64) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

/// The human-readable `model inspect` report.
fn render(i: &Inspection) -> String {
    let hp = &i.hparams;
    let mut out = format!(
        "{}\n  file: {} ({} shard{}, GGUF v{}, {})\n  architecture: {}\n",
        i.name.as_deref().unwrap_or("(no general.name)"),
        i.file,
        i.shards,
        if i.shards == 1 { "" } else { "s" },
        i.version,
        units::fmt_bytes(i.file_bytes as f64),
        i.architecture,
    );
    out += &format!(
        "  parameters: {} in {} tensors, {} of weights, {:.3} bits/weight\n",
        units::fmt_count(i.total.params),
        i.n_tensors,
        units::fmt_bytes(i.total.bytes as f64),
        i.bits_per_weight
    );
    out += &format!(
        "  read per token: {} params, {} ({} of the weights)\n",
        units::fmt_count(i.active_per_token.params),
        units::fmt_bytes(i.active_per_token.bytes as f64),
        pct(i.active_per_token.bytes, i.total.bytes)
    );
    if let Some(e) = i.experts {
        out += &format!("  experts: {} routed, {} used per token\n", e.count, e.used);
    }
    out += &format!(
        "  layers: {} decode{}; hidden {}; vocab {}\n",
        hp.n_layer(),
        if hp.n_nextn > 0 {
            format!(" + {} MTP", hp.n_nextn)
        } else {
            String::new()
        },
        hp.n_embd,
        hp.n_vocab
    );
    out += &format!("  training context: {}", hp.ctx_train);
    if let Some(r) = &hp.rope_scaling {
        out += &format!(" ({} x{} from {})", r.kind, r.factor, r.original_ctx);
    }
    out += "\n";
    out += &format!("  KV cache: {}\n", kv_summary(i));
    if let Some((model, n)) = &i.tokenizer {
        out += &format!("  tokenizer: {model}, {n} tokens\n");
    }
    if !i.groups.is_empty() {
        let rows = i
            .groups
            .iter()
            .map(|(g, c)| {
                vec![
                    g.label().to_string(),
                    units::fmt_count(c.params),
                    units::fmt_bytes(c.bytes as f64),
                    pct(c.bytes, i.total.bytes),
                ]
            })
            .collect();
        out += &format!(
            "\n{}\n",
            report::table(&["group", "params", "bytes", "share"], rows)
        );
        let rows = i
            .quant_mix
            .iter()
            .map(|(t, c)| {
                vec![
                    t.clone(),
                    units::fmt_count(c.params),
                    units::fmt_bytes(c.bytes as f64),
                    pct(c.bytes, i.total.bytes),
                ]
            })
            .collect();
        out += &format!(
            "\n{}\n",
            report::table(&["type", "params", "bytes", "share"], rows)
        );
    }
    out
}

/// `32 layers: 28 full (1024 el/token K+V), 4 recurrent (2.1 MiB state); 128 KiB/token at f16`.
fn kv_summary(i: &Inspection) -> String {
    use std::collections::BTreeMap;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for c in &i.cache {
        let k = match c {
            CacheKind::Full {
                k_per_token: 0,
                v_per_token: 0,
            } => "no KV (shared)".to_string(),
            CacheKind::Full {
                k_per_token,
                v_per_token,
            } => format!("full K {k_per_token} + V {v_per_token} el/token"),
            CacheKind::Sliding {
                k_per_token,
                v_per_token,
                window,
            } => {
                format!("sliding {window} K {k_per_token} + V {v_per_token} el/token")
            }
            CacheKind::Latent { per_token } => format!("latent {per_token} el/token"),
            CacheKind::Recurrent { state_bytes } => format!(
                "recurrent {} f32 state/seq",
                units::fmt_bytes(*state_bytes as f64)
            ),
        };
        *kinds.entry(k).or_default() += 1;
    }
    if kinds.is_empty() {
        return "no decoder layers".into();
    }
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} x {k}")).collect();
    format!(
        "{}; {}/token at f16",
        parts.join(", "),
        units::fmt_bytes(i.kv_bytes_per_token_f16 as f64)
    )
}
