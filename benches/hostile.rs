//! Cost of the judgement on hostile mails: for each shape of
//! `tests/support/hostile.rs`, at 1 MB and at the 10 MiB size limit, the
//! time to judge it and the peak memory allocated while judging.
//!
//! Run: `cargo bench --bench hostile`. Target (issue 8): every mail up to the
//! size limit judged in under 1 s and under 200 MB.

#[path = "../tests/support/hostile.rs"]
mod hostile;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use licgate::rules::Rules;
use licgate::{Limits, check};

/// Counts the bytes allocated now and at the peak.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let rules = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let at = Some("2026-11-23T10:00:00+01:00".parse().unwrap());
    let limits = Limits::default();
    let (mut worst_time, mut worst_memory) = (0.0f64, 0usize);
    println!(
        "{:<24} {:>8} {:>10} {:>12}",
        "shape", "size", "time", "peak memory"
    );
    for size in [1_000_000, limits.max_message_size] {
        for (name, mail) in hostile::shapes(size) {
            let base = NOW.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let started = Instant::now();
            std::hint::black_box(check(&mail, &rules, at, &limits));
            let seconds = started.elapsed().as_secs_f64();
            let peak = PEAK.load(Ordering::Relaxed) - base;
            worst_time = worst_time.max(seconds);
            worst_memory = worst_memory.max(peak);
            println!(
                "{name:<24} {:>5.1} MB {:>7.0} ms {:>8.1} MiB",
                mail.len() as f64 / 1e6,
                seconds * 1000.0,
                peak as f64 / (1024.0 * 1024.0)
            );
        }
    }
    println!(
        "worst: {:.0} ms, {:.1} MiB (target: under 1,000 ms and 200 MB)",
        worst_time * 1000.0,
        worst_memory as f64 / (1024.0 * 1024.0)
    );
}
