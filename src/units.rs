//! Values people type: `800GB/s`, `16GiB`, `400MB`, `10k`, `1M`.
//!
//! Bandwidth is decimal (GB/s = 1e9 bytes/s) as vendors quote it; memory
//! sizes accept both decimal (`GB`) and binary (`GiB`) units and say which.

/// A value that could not be parsed or is out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Not a number with a known unit.
    #[error("`{input}` is not a valid {what} (examples: {examples})")]
    Invalid {
        /// What was typed.
        input: String,
        /// What was expected.
        what: &'static str,
        /// Examples of valid input.
        examples: &'static str,
    },
    /// A number that makes no physical sense here.
    #[error("{what} must be {rule}, got {value}")]
    OutOfRange {
        /// What the number is.
        what: String,
        /// The rule it broke.
        rule: String,
        /// The value.
        value: f64,
    },
}

fn split_number(s: &str) -> Option<(f64, String)> {
    let s = s.trim().replace(['_', ','], "");
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let v: f64 = num.parse().ok()?;
    v.is_finite().then(|| (v, unit.trim().to_ascii_lowercase()))
}

/// Parse a bandwidth into GB/s (decimal): `800`, `800GB/s`, `1.2TB/s`, `273 GB/s`.
pub fn parse_bandwidth_gb_s(s: &str) -> Result<f64, UnitError> {
    let err = || UnitError::Invalid {
        input: s.into(),
        what: "bandwidth",
        examples: "800, 800GB/s, 1.2TB/s",
    };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let scale = match unit.trim_end_matches("/s").trim_end_matches("ps") {
        "" | "gb" | "g" => 1.0,
        "tb" | "t" => 1000.0,
        "mb" | "m" => 0.001,
        _ => return Err(err()),
    };
    positive("bandwidth (GB/s)", v * scale, 1e5)
}

/// Parse a memory size into bytes: `16GiB`, `24GB`, `512G` (binary), `400MB`, `92MiB`.
///
/// A bare `G`/`M`/`K` suffix is binary, as llama.cpp prints sizes.
pub fn parse_bytes(s: &str) -> Result<f64, UnitError> {
    let err = || UnitError::Invalid {
        input: s.into(),
        what: "size",
        examples: "16GiB, 24GB, 400MB, 92MiB",
    };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024f64.powi(4),
        "tb" => 1e12,
        _ => return Err(err()),
    };
    positive("size (bytes)", v * scale, 1e16)
}

/// Parse a token count: `8192`, `8k`, `200K`, `1M`, `1m` (k = 1000, as people say "200K context").
pub fn parse_tokens(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Invalid {
        input: s.into(),
        what: "token count",
        examples: "8192, 8k, 200k, 1M",
    };
    let (v, unit) = split_number(s).ok_or_else(err)?;
    let scale = match unit.as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        _ => return Err(err()),
    };
    let v = v * scale;
    if !(0.0..=1e9).contains(&v) || v.fract() != 0.0 {
        return Err(UnitError::OutOfRange {
            what: format!("token count `{s}`"),
            rule: "a whole number from 0 to 1e9".into(),
            value: v,
        });
    }
    Ok(v as u64)
}

/// A duration as people type it: `300` (seconds), `90s`, `1.5m`, `2h`, `250ms`; in seconds.
pub fn parse_duration_s(s: &str) -> Result<f64, UnitError> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 1e-3,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hours" => 3600.0,
        _ => f64::NAN,
    };
    let v: f64 = num.trim().parse().unwrap_or(f64::NAN);
    let secs = v * scale;
    if !(secs.is_finite() && secs > 0.0 && secs <= 1e6) {
        return Err(UnitError::Invalid {
            input: s.into(),
            what: "duration",
            examples: "300, 90s, 5m, 1h",
        });
    }
    Ok(secs)
}

/// Check that `v` is positive, finite and at most `max`.
pub fn positive(what: &str, v: f64, max: f64) -> Result<f64, UnitError> {
    if !(v.is_finite() && v > 0.0 && v <= max) {
        return Err(UnitError::OutOfRange {
            what: what.into(),
            rule: format!("positive and at most {max}"),
            value: v,
        });
    }
    Ok(v)
}

/// Bytes as binary units the way llama.cpp prints them: `85709.81 MiB`, `249.6 GiB`.
pub fn fmt_bytes(bytes: f64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes.abs();
    if b >= KIB.powi(4) {
        format!("{:.2} TiB", bytes / KIB.powi(4))
    } else if b >= KIB.powi(3) {
        format!("{:.2} GiB", bytes / KIB.powi(3))
    } else if b >= KIB.powi(2) {
        format!("{:.2} MiB", bytes / KIB.powi(2))
    } else if b >= KIB {
        format!("{:.2} KiB", bytes / KIB)
    } else {
        format!("{bytes:.0} B")
    }
}

/// A decimal GB figure (`17.50 GB`), used next to bandwidth in GB/s.
pub fn fmt_gb(bytes: f64) -> String {
    // `+ 0.0` turns an empty sum's -0.0 into 0.0.
    format!("{:.2} GB", bytes / 1e9 + 0.0)
}

/// A token count with thousands separators: `202,752`.
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_accepts_what_people_type() {
        assert_eq!(parse_bandwidth_gb_s("800").unwrap(), 800.0);
        assert_eq!(parse_bandwidth_gb_s("800GB/s").unwrap(), 800.0);
        assert_eq!(parse_bandwidth_gb_s("273 GB/s").unwrap(), 273.0);
        assert_eq!(parse_bandwidth_gb_s("1.2TB/s").unwrap(), 1200.0);
        assert!(parse_bandwidth_gb_s("fast").is_err());
        assert!(parse_bandwidth_gb_s("0").is_err());
        assert!(parse_bandwidth_gb_s("-5").is_err());
        assert!(parse_bandwidth_gb_s("1e99").is_err());
    }

    #[test]
    fn sizes_and_tokens() {
        assert_eq!(parse_bytes("16GiB").unwrap(), 16.0 * 1024f64.powi(3));
        assert_eq!(parse_bytes("400MB").unwrap(), 400e6);
        assert_eq!(parse_tokens("200k").unwrap(), 200_000);
        assert_eq!(parse_tokens("1M").unwrap(), 1_000_000);
        assert_eq!(parse_tokens("202,752").unwrap(), 202_752);
        assert!(parse_tokens("1.5").is_err());
        assert!(parse_tokens("-3").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,24}") {
            let _ = parse_bandwidth_gb_s(&s);
            let _ = parse_bytes(&s);
            let _ = parse_tokens(&s);
        }
    }

    #[test]
    fn formatting_matches_llama_cpp_style() {
        assert_eq!(fmt_bytes(85709.81 * 1024.0 * 1024.0), "83.70 GiB");
        assert_eq!(fmt_count(202752), "202,752");
        assert_eq!(fmt_count(5), "5");
    }
}
