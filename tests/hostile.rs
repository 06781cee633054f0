//! Hostile mails are judged at bounded cost: each shape that once stopped the
//! daemon (issue 8) is judged at 10 MB, within 200 MB of memory above the
//! rules, with a verdict a person can act on; and no value a person reads
//! carries a control character or is longer than the cap.
//!
//! Time and memory are printed (`--nocapture`); the time targets live in
//! `cargo bench --bench hostile`, not here.

#[path = "support/hostile.rs"]
mod hostile;

use std::path::Path;

use licgate::rules::Rules;
use licgate::{Limits, Outcome, check};

const MIB: usize = 1024 * 1024;

fn rules() -> Rules {
    Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
}

// Issue 8, items 1, 3, 4 and 6: nested parts aborted the process, repeated
// fields took minutes, a long licence name took gigabytes, and a 10 MB value
// was quoted whole in the reply.
#[test]
fn every_hostile_shape_is_judged_within_the_bounds() {
    let rules = rules();
    let at = Some("2026-11-23T10:00:00+01:00".parse().unwrap());
    let limits = Limits::default();
    // NOTE: the other test of this file may allocate meanwhile: a few MB at
    // most, well within the margin.
    for (name, mail) in hostile::shapes(limits.max_message_size) {
        let (verdict, elapsed, peak) = hostile::measure(|| check(&mail, &rules, at, &limits));
        println!(
            "{name:<24} {:>5.1} MB  {:>8.0} ms  peak {:>6.1} MiB  {:?} {:?}",
            mail.len() as f64 / 1e6,
            elapsed.as_secs_f64() * 1000.0,
            peak as f64 / MIB as f64,
            verdict.outcome,
            verdict
                .problems
                .iter()
                .map(|p| p.code.as_str())
                .collect::<Vec<_>>(),
        );
        assert!(peak < 200 * MIB, "{name}: {} MiB", peak / MIB);
        assert_eq!(verdict.outcome, Outcome::Rejected, "{name}");
        let reply = verdict.reply.as_ref().expect("a rejected mail is answered");
        assert!(
            reply.body.len() < 20_000,
            "{name}: reply of {} bytes",
            reply.body.len()
        );
        let stored = serde_json::to_string(&verdict).unwrap();
        assert!(
            stored.len() < 40_000,
            "{name}: verdict of {} bytes",
            stored.len()
        );
        for text in [&reply.subject, &reply.body, &stored] {
            assert!(
                !text
                    .chars()
                    .any(|c| c != '\n' && c != '\t' && licgate::text::is_hostile(c)),
                "{name}: a control character reaches a person"
            );
        }
    }
}

// Issue 8, item 1: the mail that aborted the process is refused, unread,
// with a reason the sender can act on.
#[test]
fn nested_parts_beyond_the_limit_are_not_parsed() {
    let (_, mail) = hostile::shapes(MIB).swap_remove(0);
    let verdict = check(&mail, &rules(), None, &Limits::default());
    assert_eq!(verdict.problems[0].code.as_str(), "unreadable");
    assert!(
        verdict.problems[0].message.contains("parties MIME"),
        "{}",
        verdict.problems[0].message
    );
    assert_eq!(verdict.from.as_deref(), Some("jean.dupont@example.test"));
}
