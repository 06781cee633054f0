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
        Outcome::Accepted | Outcome::Held => assert!(verdict.problems.is_empty(), "{what}"),
        Outcome::Rejected => assert!(!verdict.problems.is_empty(), "{what}"),
        Outcome::Ignored => assert_eq!(verdict.problems.len(), 1, "{what}"),
        Outcome::Quarantined => panic!("the judgement never quarantines: {what}"),
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
    let mut counts = std::collections::BTreeMap::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let verdict = check(&raw, &rules, None, &Limits::default());
        assert_coherent(&verdict, &path.display().to_string());
        *counts.entry(verdict.outcome.as_str()).or_insert(0) += 1;
    }
    println!("corpus: {} mails, {counts:?}", files.len());
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

/// Fragments an attacker would splice into a mail: MIME structure, template
/// labels, control characters, long runs.
const FRAGMENTS: &[&str] = &[
    "\r\nContent-Type: message/rfc822\r\n\r\n",
    "\r\nContent-Type: multipart/mixed; boundary=\"z\"\r\n\r\n--z\r\n",
    "\r\n--z--\r\n",
    "\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    "\r\nQuantité : +",
    "\r\nNom du client : ",
    "\r\nType de licence : Microsoft 365 ",
    "\r\nNom Prénom de l'utilisateur : ",
    "\r\nAdresse à créer (si non nominatif) : a@b",
    "\r\nSubject: =?utf-8?B?W0FKT1VUXQ==?=",
    "\r\nFrom: \"a b\"@example.test",
    "\u{202E}\u{1b}[2J\r\u{0}",
    "<div><blockquote><!--",
    "&#x202E;&amp;&",
    "\r\n\r\n",
];

// The fuzz target of the judgement, run for a bounded number of cases with a
// seed (no nightly toolchain here for cargo-fuzz): corpus mails with hostile
// fragments spliced in, some repeated thousands of times. Every verdict is
// coherent, and what a person reads is bounded and clean.
// LICGATE_FUZZ_CASES and LICGATE_FUZZ_SEED run it longer or elsewhere.
#[test]
fn fuzz_the_judgement_with_hostile_fragments() {
    let rules = rules();
    let at: Timestamp = "2026-11-23T10:00:00+01:00".parse().unwrap();
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = env("LICGATE_FUZZ_CASES", 1500);
    let seed = env("LICGATE_FUZZ_SEED", 0x5EED_1CE6_A7E0_0008);
    println!("fuzz: {cases} cases, seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let files = corpus();
    for case in 0..cases {
        let path = &files[rng.below(files.len())];
        let mut raw = std::fs::read(path).unwrap();
        for _ in 0..1 + rng.below(4) {
            let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
            let repeat = [1, 2, 50, 3000][rng.below(4)];
            let at = rng.below(raw.len() + 1);
            let spliced: Vec<u8> = fragment
                .iter()
                .cycle()
                .take(fragment.len() * repeat)
                .copied()
                .collect();
            raw.splice(at..at, spliced);
        }
        let what = format!("case {case} from {} (seed {seed:#x})", path.display());
        let verdict = check(&raw, &rules, Some(at), &Limits::default());
        assert_coherent(&verdict, &what);
        if let Some(reply) = &verdict.reply {
            assert!(
                reply.body.len() < 20_000,
                "{what}: reply of {} bytes",
                reply.body.len()
            );
            assert!(
                !reply
                    .body
                    .chars()
                    .any(|c| c != '\n' && c != '\t' && licgate::text::is_hostile(c)),
                "{what}: control character in the reply"
            );
        }
    }
}
