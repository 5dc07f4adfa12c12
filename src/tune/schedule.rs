//! Restart-aware scheduling: configurations that differ only in settings
//! the server also takes per request (flag-table rows with `per_request`,
//! such as llama-server's `--cache-reuse` / `n_cache_reuse`) need one
//! server start between them, not one each. This module groups a list of
//! configurations by the part that needs a start, in first-seen order, so
//! the campaign runs each group on one server.

use super::space::{Config, FlagTable};

/// Groups of indices into `configs` that share a server part (the flags
/// that are not per request), each group and the groups in first-seen order.
pub fn by_server_start(configs: &[Config], table: &FlagTable) -> Vec<Vec<usize>> {
    let mut keys: Vec<Config> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        let key = Config(
            c.server_part(table)
                .0
                .into_iter()
                .filter(|(_, v)| v != super::space::DEFAULT)
                .collect(),
        );
        match keys.iter().position(|k| *k == key) {
            Some(g) => groups[g].push(i),
            None => {
                keys.push(key);
                groups.push(vec![i]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::BackendKind;

    #[test]
    fn per_request_settings_share_a_start_and_start_up_flags_do_not() {
        let table = BackendKind::Llama.get().flags();
        let configs = [
            Config::from_pairs(&[]),
            Config::from_pairs(&[("-t", "2"), ("--cache-reuse", "256")]),
            Config::from_pairs(&[("--cache-reuse", "256")]),
            Config::from_pairs(&[("-t", "2"), ("--cache-reuse", "0")]),
            Config::from_pairs(&[("-t", "default"), ("--cache-reuse", "1024")]),
            Config::from_pairs(&[("-t", "1"), ("--cache-reuse", "256")]),
        ];
        assert_eq!(
            by_server_start(&configs, table),
            vec![vec![0, 2, 4], vec![1, 3], vec![5]]
        );
        // The split itself: `--cache-reuse` goes into the request.
        let c = &configs[1];
        assert_eq!(c.server_part(table).args(), vec!["-t", "2"]);
        assert_eq!(
            c.per_request_fields(table),
            serde_json::json!({"n_cache_reuse": 256})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        // Without per-request flags every configuration is its own start.
        let starts = [
            Config::from_pairs(&[("-t", "1")]),
            Config::from_pairs(&[("-t", "2")]),
        ];
        assert_eq!(by_server_start(&starts, table), vec![vec![0], vec![1]]);
    }
}
