//! `calibrate --run`: measure this machine on generated models of several
//! shapes, fit on them, and check the fit on models it never saw.
//!
//! Each shape (`HIDDENxLAYERS`, `v` at the end for the tokenizer of
//! `--vocab-from`, so the output-vocabulary term has something to fit) is
//! written once under `~/.cache/rooftune/calibrate/` and benched with the
//! real server: prefill of `--prompt-tokens`, decode at each `--depth`.
//! The `--validate` models (more shapes, or GGUF files such as the real
//! model) are measured the same way but left out of the fit; their errors
//! are reported apart and widen the saved band when larger. Every measured
//! rate is also checked against its ceiling: one above is a bug in the
//! profile or the roofline, and is reported as such.

use crate::bench::measure::{self, Plan, Target};
use crate::cli::CalibrateRunArgs;
use crate::compare::calibrate::{mean_of_starts, Anchor, Drift, Measured, MeasuredModel};
use crate::gguf::synth::{SynthArch, SynthConfig, SynthQuant, Vocab};
use crate::gguf::GgufError;
use crate::gguf::GgufModel;
use crate::roofline::machine::Machine;
use crate::server::{self, BackendKind, StartOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One model to measure.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A generated shape: hidden size, layers, with the `--vocab-from` tokenizer.
    Shape {
        /// Hidden size.
        hidden: u64,
        /// Layers.
        layers: u32,
        /// With the `--vocab-from` tokenizer.
        vocab: bool,
        /// Weight type (`:q8_0` after the shape; q4_0 without).
        quant: SynthQuant,
        /// Attention heads (`h4` after the layers: head size hidden / 4;
        /// None: synth's default, heads of 64 below hidden 2048).
        heads: Option<u64>,
    },
    /// A model file.
    File(PathBuf),
}

/// Parse `512x8`, `640x18v`, `512x8:q6_K`, `1024x8h4` or a `.gguf` path.
pub fn parse_subject(s: &str) -> Result<Subject> {
    if s.ends_with(".gguf") {
        return Ok(Subject::File(s.into()));
    }
    let (dims, quant) = match s.split_once(':') {
        None => (s, Some(SynthQuant::Q4_0)),
        Some((d, q)) => (d, SynthQuant::from_name(q)),
    };
    let (body, vocab) = match dims.strip_suffix('v') {
        Some(b) => (b, true),
        None => (dims, false),
    };
    let (body, heads) = match body.split_once('h') {
        Some((b, h)) => (b, Some(h.parse::<u64>().ok().filter(|h| *h > 0))),
        None => (body, None),
    };
    let parsed = body
        .split_once('x')
        .and_then(|(h, l)| Some((h.parse::<u64>().ok()?, l.parse::<u32>().ok()?)));
    match (parsed, quant, heads) {
        (Some((hidden, layers)), Some(quant), None | Some(Some(_)))
            if (64..=16_384).contains(&hidden)
                && hidden % 64 == 0
                && (1..=256).contains(&layers)
                && heads.flatten().is_none_or(|h| hidden % h == 0) =>
        {
            Ok(Subject::Shape {
                hidden,
                layers,
                vocab,
                quant,
                heads: heads.flatten(),
            })
        }
        _ => Err(GgufError::Synth(format!(
            "`{s}` is not a model shape or file\n(hint: write HIDDENxLAYERS with a hidden size that is a multiple of 64, e.g. 512x8, `v` at the end for the --vocab-from tokenizer (640x18v), `:TYPE` for weights other than q4_0 (512x8:q8_0; f16, q8_0, q6_K, q5_0, q4_K, q4_0), `hN` after the layers for N attention heads (1024x8h4), or a path ending in .gguf)"
        ))
        .into()),
    }
}

/// Where generated models are kept between runs.
fn model_dir() -> Result<PathBuf> {
    let dir = crate::server::locate::cache_dir()
        .context("no cache folder (hint: set ROOFTUNE_CACHE_DIR)")?
        .join("calibrate");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The model file for a subject, generating a shape once.
fn model_file(s: &Subject, vocab: Option<&(Vocab, String)>, ctx: u64) -> Result<PathBuf> {
    let (hidden, layers, with_vocab, quant, heads) = match s {
        Subject::File(p) => return Ok(p.clone()),
        Subject::Shape {
            hidden,
            layers,
            vocab,
            quant,
            heads,
        } => (*hidden, *layers, *vocab, *quant, *heads),
    };
    let mut c = SynthConfig::with_hidden(SynthArch::Llama, hidden, layers, quant);
    c.ctx_train = ctx;
    let mut name = format!("calib-{hidden}x{layers}");
    if let Some(h) = heads {
        // Same projections' sizes: kv heads keep synth's rule (heads / 4, at least 1).
        c.heads = h;
        c.kv_heads = (h / 4).max(1);
        name.push_str(&format!("h{h}"));
    }
    name.push_str(&format!("-{}-c{ctx}", quant.ggml_type().ggml_name()));
    if with_vocab {
        let (v, tag) = vocab.ok_or_else(|| {
            GgufError::Synth(format!(
                "--shapes/--validate `{hidden}x{layers}v` asks for the --vocab-from tokenizer, but no --vocab-from was given\n(hint: add --vocab-from MODEL.gguf, or drop the `v`)"
            ))
        })?;
        c.vocab = v.clone();
        name.push_str(&format!("-v{tag}"));
    }
    c.validate().with_context(|| {
        format!("generating the calibration shape `{name}` (hint: kv heads are heads / 4: take a hidden size whose hidden / 64 heads divide by 4, e.g. 768, 1024 or 1280, or give the heads with hN, e.g. 896x16h8)")
    })?;
    let path = model_dir()?.join(format!("{name}.gguf"));
    if !path.is_file() {
        let tmp = path.with_extension("gguf.part");
        c.write(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("moving {}", path.display()))?;
    }
    Ok(path)
}

/// What `--run` measured: the models and their points.
pub struct Runs {
    /// Models fitted on.
    pub train: Vec<Measured>,
    /// Models held out of the fit.
    pub validate: Vec<Measured>,
    /// Every model with its ceilings.
    pub models: Vec<MeasuredModel>,
    /// The first model measured again every few models: how far one
    /// start's pace can be from another's.
    pub drift: Option<Drift>,
}

/// Measure every subject (the server is started once per model, stopped before the next).
pub fn measure_all(a: &CalibrateRunArgs, machine: &Machine) -> Result<Runs> {
    let train: Vec<Subject> = a
        .shapes
        .iter()
        .map(|s| parse_subject(s))
        .collect::<Result<_>>()?;
    let validate: Vec<Subject> = a
        .validate
        .iter()
        .map(|s| parse_subject(s))
        .collect::<Result<_>>()?;
    let vocab = match &a.vocab_from {
        Some(p) => {
            let g = GgufModel::open(p).with_context(|| format!("--vocab-from {}", p.display()))?;
            let v = Vocab::from_gguf(&g)?;
            let tag = v.n_vocab().to_string();
            Some((v, tag))
        }
        None => None,
    };
    let depth_max = a.depths.iter().copied().max().unwrap_or(0);
    let ctx = (depth_max.max(a.prompt_tokens) + a.n_predict + 64).next_multiple_of(256);
    let plan = Plan {
        prompt_tokens: a.prompt_tokens,
        depths: a.depths.clone(),
        n_predict: a.n_predict,
        repeats: a.repeats,
        concurrency: 1,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let cancel = crate::cancel::Cancel::from_signals();
    let mut out = Runs {
        train: Vec::new(),
        validate: Vec::new(),
        models: Vec::new(),
        drift: None,
    };
    let subjects: Vec<(&Subject, bool)> = train
        .iter()
        .map(|s| (s, false))
        .chain(validate.iter().map(|s| (s, true)))
        .collect();
    let measure = |file: &Path, plan: &Plan| {
        rt.block_on(async {
            tokio::select! {
                r = measure_one(a, file, plan, ctx) => r,
                signal = cancel.cancelled() => Err(crate::server::ServerError::Interrupted {
                    signal,
                    had_server: true,
                }
                .into()),
            }
        })
    };
    // The first model's first decode point, measured again every few models.
    let anchor_plan = Plan {
        depths: plan.depths.first().copied().into_iter().collect(),
        ..plan.clone()
    };
    let mut anchors: Vec<Anchor> = Vec::new();
    let mut anchor_file: Option<PathBuf> = None;
    let total = subjects.len();
    // Every model file first: a shape that cannot be generated fails before any measuring.
    let files: Vec<PathBuf> = subjects
        .iter()
        .map(|(s, _)| model_file(s, vocab.as_ref(), ctx))
        .collect::<Result<_>>()?;
    for (k, ((_, held), file)) in subjects.iter().zip(files).enumerate() {
        let mut starts = Vec::new();
        for start in 0..a.starts.max(1) {
            let n = a.starts.max(1);
            match n {
                1 => eprintln!("measuring {} ...", file.display()),
                _ => eprintln!("measuring {} (start {}/{n}) ...", file.display(), start + 1),
            }
            let m = measure(&file, &plan)?;
            if k == 0 && start == 0 {
                anchors.extend(anchor_of(&m, 0.5));
                anchor_file = Some(file.clone());
            }
            // Each start's rates next to their ceilings: a ceiling holds for every measurement.
            let (measured, model) = with_ceilings(&file, m, machine, *held)?;
            out.models.push(model);
            starts.push(measured);
        }
        let measured = mean_of_starts(&starts).context("no start measured")?;
        if *held {
            out.validate.push(measured);
        } else {
            out.train.push(measured);
        }
        let done = k + 1;
        let due = total > 1 && (done % ANCHOR_EVERY == 0 || done == total);
        if let Some(f) = anchor_file.as_ref().filter(|_| due) {
            eprintln!("measuring {} again (between-start spread) ...", f.display());
            anchors.extend(anchor_of(&measure(f, &anchor_plan)?, done as f64));
        }
    }
    let first = out.models.first().map(|m| m.model.clone());
    let depth = plan.depths.first().copied().unwrap_or(0);
    out.drift = first.and_then(|m| Drift::new(m, depth, anchors));
    Ok(out)
}

/// The first model is measured again after every this many models, and at the end.
const ANCHOR_EVERY: usize = 4;

/// An anchor from a measurement of the first model: its first decode point and its prefill.
fn anchor_of(m: &measure::Measurement, at: f64) -> Option<Anchor> {
    let rate = |s: &Option<crate::trial::Stat>| s.as_ref().map(|s| s.median).filter(|x| *x > 0.0);
    let d = m.decode.first()?;
    Some(Anchor {
        at,
        decode_tok_s: rate(&d.server_tok_s).or(rate(&d.client_tok_s))?,
        prefill_tok_s: rate(&m.prefill.server_tok_s),
    })
}

/// One model: start the server, run the plan, stop it.
async fn measure_one(
    a: &CalibrateRunArgs,
    model: &Path,
    plan: &Plan,
    ctx: u64,
) -> Result<measure::Measurement> {
    let backend = BackendKind::Llama.get();
    let found = backend.locate(a.server_bin.clone())?;
    let version = backend.version(&found.path);
    let timeout = Duration::from_secs(600);
    let opts = StartOptions {
        ready_timeout: timeout,
        env: vec![(
            "ROOFTUNE_RUN".into(),
            format!("calibrate-{}", std::process::id()),
        )],
        ..StartOptions::default()
    };
    let flags = vec!["-c".to_string(), ctx.to_string(), "-np".into(), "1".into()];
    let session =
        server::start_for_measurement(backend, &found.path, version, model, &flags, &opts, timeout)
            .await?;
    let target = Target::for_session(&session);
    let m = measure::run(&target, plan, &mut |_| {}).await;
    session.stop().await;
    // A busy machine shows here (`bench::contention`): such a point measures the contention.
    for note in m.iter().flat_map(|m| &m.notes) {
        eprintln!("note: {}: {note}", model.display());
    }
    m.with_context(|| format!("measuring {}", model.display()))
}

/// Medians as calibration points, and each next to its ceiling.
fn with_ceilings(
    file: &Path,
    m: measure::Measurement,
    machine: &Machine,
    validation: bool,
) -> Result<(Measured, MeasuredModel)> {
    let g = GgufModel::open(file)?;
    let shape = crate::gguf::shape::model_shape(&g)?;
    let rate = |s: &Option<crate::trial::Stat>| s.as_ref().map(|s| s.median).filter(|x| *x > 0.0);
    let decode: Vec<(u64, f64)> = m
        .decode
        .iter()
        .filter_map(|d| Some((d.depth, rate(&d.server_tok_s).or(rate(&d.client_tok_s))?)))
        .collect();
    let prefill: Vec<(u64, f64)> = rate(&m.prefill.server_tok_s)
        .map(|r| (m.prefill.prompt_tokens, r))
        .into_iter()
        .collect();
    let label = file.file_name().map_or(file.display().to_string(), |f| {
        f.to_string_lossy().into_owned()
    });
    let ceil = crate::compare::ceiling::prefill_tok_s(&shape, machine);
    let model = MeasuredModel {
        model: label.clone(),
        decode: decode
            .iter()
            .map(|&(d, r)| {
                (
                    d,
                    r,
                    crate::compare::ceiling::decode_tok_s(&shape, machine, d),
                )
            })
            .collect(),
        prefill: prefill.iter().map(|&(n, r)| (n, r, ceil)).collect(),
        validation,
    };
    let measured = Measured {
        model: label,
        shape,
        decode,
        prefill,
    };
    Ok((measured, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_and_bad_ones_say_how() {
        assert_eq!(
            parse_subject("512x8").expect("shape"),
            Subject::Shape {
                hidden: 512,
                layers: 8,
                vocab: false,
                quant: SynthQuant::Q4_0,
                heads: None,
            }
        );
        assert_eq!(
            parse_subject("640x18v").expect("shape"),
            Subject::Shape {
                hidden: 640,
                layers: 18,
                vocab: true,
                quant: SynthQuant::Q4_0,
                heads: None,
            }
        );
        assert_eq!(
            parse_subject("768x12v:Q6_K").expect("typed shape"),
            Subject::Shape {
                hidden: 768,
                layers: 12,
                vocab: true,
                quant: SynthQuant::Q6K,
                heads: None,
            }
        );
        assert_eq!(
            parse_subject("1024x8h4:q8_0").expect("shape with heads"),
            Subject::Shape {
                hidden: 1024,
                layers: 8,
                vocab: false,
                quant: SynthQuant::Q8_0,
                heads: Some(4),
            }
        );
        assert_eq!(
            parse_subject("m/gemma.gguf").expect("file"),
            Subject::File("m/gemma.gguf".into())
        );
        for bad in [
            "512",
            "500x8",
            "512x0",
            "x",
            "512x8q",
            "512x8:q3_K",
            "512x8:",
        ] {
            let e = parse_subject(bad).expect_err(bad).to_string();
            assert!(e.contains("HIDDENxLAYERS"), "{e}");
        }
    }
}
