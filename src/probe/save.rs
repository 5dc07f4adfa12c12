//! Saving a probed profile as `<config dir>/hardware/NAME.toml`, where
//! `Catalog::with_user_profiles` (and so `--hw NAME`) finds it. The file is
//! written in the bundled profiles' layout (one key per line, sourced values
//! as inline tables) and through a temporary file, so a crash never leaves
//! half a profile that would break every later command.

use super::ProbeError;
use crate::catalog::hardware::HardwareProfile;
use crate::catalog::Catalog;
use std::path::{Path, PathBuf};

/// Key order of the bundled files (docs/data-format.md); unknown keys follow.
const KEY_ORDER: &[&str] = &[
    "schema",
    "name",
    "display_name",
    "aliases",
    "family",
    "memory_kind",
    "capacity_gib",
    "capacity_options_gib",
    "bandwidth_gb_s",
    "measured_bandwidth_gb_s",
    "gpu_usable_fraction",
    "fp16_tflops",
    "int8_tops",
    "measured_matmul_gflop_s",
    "eta",
    "overhead_ms",
    "calibration",
    "notes",
    "origin",
];

/// Check a `--save` name before any measuring: selectable by `--hw`
/// (lowercase letters, digits, dashes) and not a bundled profile's name or alias.
pub fn check_name(name: &str, bundled: &Catalog) -> Result<(), ProbeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if !ok {
        return Err(ProbeError::BadName { name: name.into() });
    }
    if bundled
        .hardware
        .iter()
        .any(|h| h.name == name || h.aliases.iter().any(|a| a == name))
    {
        return Err(ProbeError::BundledName { name: name.into() });
    }
    Ok(())
}

/// The profile as TOML, keys in the bundled files' order.
pub fn render(p: &HardwareProfile) -> Result<String, ProbeError> {
    let mut table = toml::Table::try_from(p).map_err(|e| ProbeError::Render(e.to_string()))?;
    let mut out = format!(
        "# Written by `rooftune hw probe --save {}`. Edit freely; see docs/data-format.md.\n",
        p.name
    );
    let mut keys: Vec<String> = KEY_ORDER.iter().map(|k| k.to_string()).collect();
    keys.extend(
        table
            .keys()
            .filter(|k| !KEY_ORDER.contains(&k.as_str()))
            .cloned(),
    );
    for key in keys {
        if let Some(v) = table.remove(&key) {
            out.push_str(&format!("{key} = {}\n", value(v)));
        }
    }
    Ok(out)
}

/// A sourced value reads `{ value = .., source = "..", verified = false, note = ".." }`,
/// as in the bundled files (`verified = true` is the default and left out).
fn value(v: toml::Value) -> String {
    let toml::Value::Table(mut t) = v else {
        return v.to_string();
    };
    if !t.contains_key("value") {
        return toml::Value::Table(t).to_string();
    }
    if t.get("verified") == Some(&toml::Value::Boolean(true)) {
        t.remove("verified");
    }
    let mut parts = Vec::new();
    for key in ["value", "source", "verified", "note"] {
        if let Some(v) = t.remove(key) {
            parts.push(format!("{key} = {v}"));
        }
    }
    parts.extend(t.into_iter().map(|(k, v)| format!("{k} = {v}")));
    format!("{{ {} }}", parts.join(", "))
}

/// Write `dir/NAME.toml` (creating `dir`); returns the path.
pub fn save(p: &HardwareProfile, dir: &Path) -> Result<PathBuf, ProbeError> {
    let text = render(p)?;
    let path = dir.join(format!("{}.toml", p.name));
    let tmp = dir.join(format!(".{}.toml.tmp", p.name));
    let io = |at: &Path| {
        let at = at.to_path_buf();
        move |source| ProbeError::Write { path: at, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> &'static Catalog {
        Catalog::bundled().expect("bundled")
    }

    #[test]
    fn names_must_be_selectable_and_not_bundled() {
        assert!(check_name("my-box", bundled()).is_ok());
        assert!(check_name("box2", bundled()).is_ok());
        for bad in ["", "My-Box", "a b", "-x", "../x", "x.toml"] {
            assert!(
                matches!(check_name(bad, bundled()), Err(ProbeError::BadName { .. })),
                "{bad}"
            );
        }
        for taken in ["rtx-4090", "m3-ultra-512", "m3-ultra", "epyc-genoa"] {
            let e = check_name(taken, bundled()).expect_err(taken);
            assert!(matches!(e, ProbeError::BundledName { .. }));
            assert!(e.is_usage());
        }
    }

    #[test]
    fn rendered_profiles_parse_back_equal() {
        for h in &bundled().hardware {
            let text = render(h).expect("render");
            let back: HardwareProfile =
                crate::catalog::parse_toml("x.toml", &text).expect("parses");
            assert_eq!(&back, h);
            assert!(text.contains("\nbandwidth_gb_s = { value = "), "{text}");
        }
    }

    #[test]
    fn save_writes_a_file_the_catalog_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = bundled()
            .hardware("ddr5-6000-2ch")
            .expect("profile")
            .clone();
        p.name = "mine".into();
        p.aliases.clear();
        let path = save(&p, &dir.path().join("hardware")).expect("save");
        assert!(path.ends_with("hardware/mine.toml"));
        let cat = Catalog::with_user_profiles(Some(&dir.path().join("hardware"))).expect("load");
        assert_eq!(cat.hardware("mine").expect("found"), &p);
    }
}
