//! Throughput of the judgement on one core, with the rules loaded once:
//! valid requests, invalid ones (unknown licence: suggestions are searched),
//! Outlook HTML mails, and a mix of the three. Prints mails judged per second.
//!
//! Run: `cargo bench --bench judge`. Target: at least 20,000 valid mails/s.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use licgate::rules::Rules;
use licgate::{Limits, Outcome, check};

const VALID: &[u8] = include_bytes!("../tests/golden/plain-text-accepted.eml");
const INVALID: &[u8] = include_bytes!("../tests/golden/licence-unknown-rejected.eml");
const OUTLOOK: &[u8] = include_bytes!("../tests/golden/outlook-html-only-accepted.eml");

/// Judges the mails round-robin for about `budget`; returns mails per second.
fn throughput(rules: &Rules, mails: &[&[u8]], budget: Duration) -> f64 {
    let at = Some("2026-11-23T10:00:00+01:00".parse().unwrap());
    let limits = Limits::default();
    let started = Instant::now();
    let mut judged = 0u64;
    while started.elapsed() < budget {
        for mail in mails {
            black_box(check(black_box(mail), rules, at, &limits));
            judged += 1;
        }
    }
    judged as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rules =
        Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).expect("shipped rules");
    let at = Some("2026-11-23T10:00:00+01:00".parse().unwrap());
    assert_eq!(
        check(VALID, &rules, at, &Limits::default()).outcome,
        Outcome::Accepted
    );
    assert_eq!(
        check(INVALID, &rules, at, &Limits::default()).outcome,
        Outcome::Rejected
    );
    assert_eq!(
        check(OUTLOOK, &rules, at, &Limits::default()).outcome,
        Outcome::Accepted
    );

    let budget = Duration::from_secs(2);
    throughput(&rules, &[VALID], Duration::from_millis(300)); // warm-up
    println!(
        "licgate check, one core, rules loaded once ({} official licences); goal: valid ≥ 50,000 mails/s",
        rules.catalog.len()
    );
    for (name, mails) in [
        ("valid (text/plain)", vec![VALID]),
        ("invalid (unknown licence)", vec![INVALID]),
        ("Outlook HTML", vec![OUTLOOK]),
        ("mix 1:1:1", vec![VALID, INVALID, OUTLOOK]),
    ] {
        println!(
            "{name:<28} {:>10.0} mails/s",
            throughput(&rules, &mails, budget)
        );
    }
}
