//! Cost of the judgement on hostile mails: for each shape of
//! `tests/support/hostile.rs`, at 1 MB and at the 10 MiB size limit, the
//! time to judge it and the peak memory allocated while judging.
//!
//! Run: `cargo bench --bench hostile`. Target (issue 8): every mail up to the
//! size limit judged in under 1 s and under 200 MB.

#[path = "../tests/support/hostile.rs"]
mod hostile;

use std::path::Path;

use licgate::rules::Rules;
use licgate::{Limits, check};

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
            let (_, elapsed, peak) =
                hostile::measure(|| std::hint::black_box(check(&mail, &rules, at, &limits)));
            let seconds = elapsed.as_secs_f64();
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
