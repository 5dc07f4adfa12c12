//! "Did you mean": the closest known names to a mistyped one.

/// Edit distance between two strings (Levenshtein, by characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn normalize(s: &str) -> String {
    s.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Up to three known names closest to `wanted`: substring matches first, then by edit distance.
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let w = normalize(wanted);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .map(|k| {
            let n = normalize(k);
            let score = if !w.is_empty() && (n.contains(&w) || w.contains(&n)) {
                0
            } else {
                edit_distance(&w, &n)
            };
            (score, k)
        })
        .collect();
    scored.sort();
    let limit = (w.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(s, _)| *s <= limit)
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names() {
        let known = ["m3-ultra-512", "m2-ultra-192", "rtx-4090", "rtx-3090"];
        assert_eq!(closest("m3-ultra", known)[0], "m3-ultra-512");
        assert_eq!(closest("rtx4090", known)[0], "rtx-4090");
        assert!(closest("zzzzzzzzzzzz", known).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
