//! Link profiles: the networks between the hosts of a llama.cpp RPC cluster
//! (Thunderbolt, Ethernet, loopback), each figure with its source. Bundled
//! from `link-profiles/links.toml`; the roofline's split math takes them as
//! plain numbers (`roofline::split::Link`), converted at the edge.

use super::sourced::Sourced;
use super::{find_named, parse_toml, CatalogError};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const BUNDLED: (&str, &str) = (
    "link-profiles/links.toml",
    include_str!("../../link-profiles/links.toml"),
);

/// One link profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkProfile {
    /// Short name (`tb5`, `10gbe`).
    pub name: String,
    /// Human name.
    pub display_name: String,
    /// Other names.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Payload rate one way, decimal GB/s.
    pub bandwidth_gb_s: Sourced<f64>,
    /// One-way latency of a small TCP message, microseconds.
    pub latency_us: Sourced<f64>,
    /// Software cost of one RPC message, microseconds.
    pub per_call_us: Sourced<f64>,
}

#[derive(Deserialize)]
struct LinkFile {
    #[allow(dead_code)]
    schema: u32,
    link: Vec<LinkProfile>,
}

impl LinkProfile {
    fn validate(&self) -> Result<(), (String, String)> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err((field.to_string(), format!("must be above 0, got {v}")))
            }
        };
        positive("bandwidth_gb_s", self.bandwidth_gb_s.value)?;
        positive("latency_us", self.latency_us.value)?;
        positive("per_call_us", self.per_call_us.value)
    }
}

/// Parse a link file.
pub fn parse(file: &str, text: &str) -> Result<Vec<LinkProfile>, CatalogError> {
    let f: LinkFile = parse_toml(file, text)?;
    for l in &f.link {
        l.validate()
            .map_err(|(field, reason)| CatalogError::Invalid {
                file: file.to_string(),
                field: format!("{}.{field}", l.name),
                reason,
            })?;
    }
    Ok(f.link)
}

/// The bundled link profiles, parsed once.
pub fn bundled() -> Result<&'static [LinkProfile], CatalogError> {
    static CELL: OnceLock<Result<Vec<LinkProfile>, String>> = OnceLock::new();
    let r = CELL.get_or_init(|| parse(BUNDLED.0, BUNDLED.1).map_err(|e| e.to_string()));
    r.as_deref().map_err(|m| CatalogError::Invalid {
        file: BUNDLED.0.into(),
        field: "-".into(),
        reason: m.clone(),
    })
}

/// Find a bundled link by name or alias.
pub fn find(name: &str) -> Result<&'static LinkProfile, CatalogError> {
    find_named(
        bundled()?,
        name,
        |l| (&l.name, &l.aliases),
        "link",
        "hw links",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_links_parse_and_are_ordered_by_rate_sensibly() {
        let links = bundled().expect("bundled links parse");
        let rate = |n: &str| find(n).expect(n).bandwidth_gb_s.value;
        assert!(links.len() >= 5);
        assert!(rate("10gbe") < rate("25gbe"));
        assert!(rate("25gbe") < rate("100gbe"));
        assert!(rate("tb4") < rate("tb5"));
    }

    #[test]
    fn an_unknown_link_suggests_a_known_one() {
        let e = find("tb6").expect_err("no such link");
        assert!(matches!(e, CatalogError::Unknown { .. }));
    }

    #[test]
    fn a_zero_rate_is_refused_with_its_field() {
        let text = r#"schema = 1
[[link]]
name = "x"
display_name = "x"
bandwidth_gb_s = { value = 0.0, source = "t" }
latency_us = { value = 1.0, source = "t" }
per_call_us = { value = 1.0, source = "t" }
"#;
        match parse("t.toml", text) {
            Err(CatalogError::Invalid { field, .. }) => assert_eq!(field, "x.bandwidth_gb_s"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}
