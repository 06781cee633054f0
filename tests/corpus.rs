//! Robustness: every real-world message of `tests/data/mail-corpus/` (test
//! suites of mail libraries: malformed, legacy, odd charsets), and damaged
//! copies of them, go through the judgement without a panic and with a
//! coherent verdict.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use licgate::rules::Rules;
use licgate::{Limits, Outcome, Verdict, check};

fn corpus() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mail-corpus")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n != "SOURCE.txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn rules() -> Rules {
    Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
}

/// What every verdict must be, whatever the input.
fn assert_coherent(verdict: &Verdict, what: &str) {
    match verdict.outcome {
        Outcome::Accepted => assert!(verdict.problems.is_empty(), "{what}"),
        Outcome::Rejected => assert!(!verdict.problems.is_empty(), "{what}"),
        Outcome::Ignored => assert_eq!(verdict.problems.len(), 1, "{what}"),
    }
    assert_eq!(
        verdict.reply.is_none(),
        verdict.outcome == Outcome::Ignored,
        "{what}"
    );
    if let Some(reply) = &verdict.reply {
        assert!(reply.subject.starts_with('['), "{what}");
        assert!(reply.body.contains(&verdict.request_id), "{what}");
    }
}

#[test]
fn every_corpus_mail_gets_a_verdict() {
    let rules = rules();
    let files = corpus();
    assert!(files.len() >= 300, "corpus has only {} files", files.len());
    let mut counts = [0usize; 3];
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let verdict = check(&raw, &rules, None, &Limits::default());
        assert_coherent(&verdict, &path.display().to_string());
        counts[verdict.outcome as usize] += 1;
    }
    println!(
        "corpus: {} mails, accepted/rejected/ignored = {counts:?}",
        files.len()
    );
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn damaged_corpus_mails_never_panic() {
    let rules = rules();
    let at: Timestamp = "2026-11-23T10:00:00+01:00".parse().unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let interesting = b"<>&;:[]=?\r\n-\xff\x00";
    for path in corpus() {
        let original = std::fs::read(&path).unwrap();
        for round in 0..8 {
            let mut raw = original.clone();
            match round % 4 {
                0 => raw.truncate(rng.below(raw.len())),
                1 => {
                    for _ in 0..16 {
                        let at = rng.below(raw.len());
                        if let Some(byte) = raw.get_mut(at) {
                            *byte = interesting[rng.below(interesting.len())];
                        }
                    }
                }
                2 => {
                    let start = rng.below(raw.len());
                    let end = (start + rng.below(200)).min(raw.len());
                    let chunk = raw[start..end].to_vec();
                    raw.splice(
                        start..start,
                        chunk.iter().cycle().take(chunk.len() * 50).copied(),
                    );
                }
                _ => {
                    let start = rng.below(raw.len());
                    raw.drain(start..(start + rng.below(500)).min(raw.len()));
                }
            }
            let verdict = check(&raw, &rules, Some(at), &Limits::default());
            assert_coherent(
                &verdict,
                &format!("{} (damage round {round})", path.display()),
            );
        }
    }
}
