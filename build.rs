//! Bundles the data files into the binary: every `*.toml` under
//! `hardware-profiles/`, `model-specs/` and `measurements/` becomes an
//! `include_str!` entry, so rooftune works from any directory.
use std::{env, fs, path::Path};

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::new();
    for (konst, dir) in [
        ("HARDWARE", "hardware-profiles"),
        ("MODELS", "model-specs"),
        ("MEASUREMENTS", "measurements"),
    ] {
        let path = Path::new(&root).join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        let mut files: Vec<_> = fs::read_dir(&path)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
        out.push_str(&format!("/// Bundled `{dir}/*.toml` files: (file name, contents).\npub const {konst}: &[(&str, &str)] = &[\n"));
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            out.push_str(&format!(
                "    ({:?}, include_str!({:?})),\n",
                format!("{dir}/{name}"),
                f.display().to_string()
            ));
        }
        out.push_str("];\n");
    }
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled.rs");
    fs::write(dest, out).expect("write bundled.rs");
}
