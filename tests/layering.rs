//! The architecture as a test: data flows one way, spec -> prediction ->
//! measurement -> comparison -> tune -> campaign -> report -> app, and no
//! module imports from one above it (a later stage). Leaves (units, dtypes,
//! the model shape, the trial records, cancellation) import nothing of the
//! crate and may be imported by anyone.
//!
//! The check reads `src/` as text: every `crate::NAME` path (and every name
//! in a `use crate::{A, B}` group) in a file of module `M` must name a
//! module ranked below `M`, or `M` itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rank of each top-level module: a module may import only from lower ranks.
fn ranks() -> BTreeMap<&'static str, u32> {
    let layers: &[&[&str]] = &[
        // leaves
        &["units", "dtype", "shape", "trial", "cancel", "child"],
        // spec: bundled data, model files, the machine at hand
        &["catalog"],
        &["gguf", "mlx", "probe"],
        // prediction
        &["roofline"],
        // measurement
        &["server"],
        &["bench", "logs"],
        &["agentic"],
        // comparison
        &["compare"],
        &["tune"],
        // log
        &["campaign"],
        // report
        &["report"],
        // the binary's edge
        &["exit", "cli"],
        &["app"],
        &["lib", "main"],
    ];
    let mut out = BTreeMap::new();
    for (rank, names) in layers.iter().enumerate() {
        for n in *names {
            out.insert(*n, rank as u32);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let p = entry.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/tune/space.rs` -> `tune`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Every top-level module named after `crate::` in `text`, with its line.
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(pos) = rest.find("crate::") {
            rest = &rest[pos + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b}`: the group may span lines; take this line's names.
                for part in group.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((i + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((i + 1, name));
                }
            }
        }
    }
    out
}

#[test]
fn no_module_imports_from_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let ranks = ranks();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(&mine) = ranks.get(module.as_str()) else {
            bad.push(format!(
                "{}: module `{module}` has no place in the flow (add it to tests/layering.rs)",
                f.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).expect("read file");
        for (line, name) in imports(&text) {
            if name == module {
                continue;
            }
            match ranks.get(name.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(_) => bad.push(format!(
                    "{}:{line}: `{module}` imports `{name}`, which is not below it in the flow",
                    f.display()
                )),
                None => {} // a crate-root item (`crate::run`), not a module
            }
        }
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_imports() {
    let found = imports("use crate::tune::space::Config;\nlet x = crate::units::parse(y); // crate::app\nuse crate::{catalog::X, roofline};");
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["tune", "units", "catalog", "roofline"]);
}
