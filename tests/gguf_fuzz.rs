//! Fuzzing the GGUF reader with proptest: random byte changes, truncations
//! and spliced garbage on a valid header must give an error value, never a
//! panic, and never an allocation proportional to a claimed length (peak
//! heap during a parse is checked with a counting allocator).
//!
//! `ROOFTUNE_FUZZ_CASES` raises the case count for a longer local run.

use proptest::prelude::*;
use rooftune::gguf::synth::{SynthArch, SynthConfig, SynthQuant};
use rooftune::gguf::GgufFile;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(n, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn valid() -> Vec<u8> {
    let mut c = SynthConfig::with_hidden(SynthArch::Moe, 64, 2, SynthQuant::Q4_0);
    c.experts = 4;
    let w = c.writer();
    let (mut b, _) = w.header();
    b.resize(w.file_size() as usize, 0);
    b
}

#[derive(Debug, Clone)]
enum Edit {
    Byte(usize, u8),
    Word(usize, u64),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
        (
            any::<usize>(),
            prop_oneof![any::<u64>(), 0u64..64, Just(u64::MAX), Just(1 << 40)]
        )
            .prop_map(|(i, w)| Edit::Word(i, w)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn cases() -> u32 {
    std::env::var("ROOFTUNE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn corrupted_headers_fail_cleanly(edits in prop::collection::vec(edit(), 1..6), header_only in any::<bool>()) {
        let mut b = valid();
        let f = GgufFile::from_bytes(&b, Path::new("v.gguf")).unwrap();
        let span = if header_only { f.data_offset as usize } else { b.len() };
        for e in edits {
            let span = span.min(b.len());
            if span < 9 {
                break;
            }
            match e {
                Edit::Byte(i, x) => { let i = i % span; b[i] = x; }
                Edit::Word(i, w) => {
                    let i = i % (span - 8);
                    b[i..i + 8].copy_from_slice(&w.to_le_bytes());
                }
                Edit::Truncate(n) => { let n = n % (b.len() + 1); b.truncate(n); }
            }
        }
        let before = NOW.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let r = GgufFile::from_bytes(&b, Path::new("fuzz.gguf"));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        // A parse may hold what the file holds (a few KiB here) plus small fixed buffers.
        prop_assert!(peak < 4 << 20, "parse of {} bytes allocated {} bytes", b.len(), peak);
        if let Err(e) = r {
            let s = e.to_string();
            prop_assert!(s.contains("fuzz.gguf") && !s.contains('\n'), "{}", s);
        }
    }
}
