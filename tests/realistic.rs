//! Requests as technicians really write them (issue 19): each mail of
//! `tests/realistic/` (Outlook desktop HTML with its tables, phone and
//! webmail text, Thunderbird's format=flowed, forwards, signatures, comments
//! after values) is judged with the shipped rules, at the reception time of
//! its own headers, and must get the verdict a careful purchasing clerk
//! gives it, as `tests/realistic/expected.toml` says.
//!
//! Every mismatch is listed at once, with the agreement figure.

use std::path::{Path, PathBuf};

use licgate::rules::Rules;
use licgate::{Limits, check};
use serde::Deserialize;

/// The expected verdicts.
#[derive(Deserialize)]
struct Expected {
    /// One entry per mail of the folder.
    mail: Vec<Expectation>,
}

/// What a careful clerk decides for one mail.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    /// The mail's file name in `tests/realistic/`.
    file: String,
    /// `accepted`, `held`, `rejected` or `ignored`.
    verdict: String,
    /// The problem codes, in order, when the verdict is a refusal.
    problems: Option<Vec<String>>,
    /// The signed quantity read.
    quantity: Option<i64>,
    /// How many users were read.
    users: Option<usize>,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realistic")
}

#[test]
fn realistic_mails_get_the_clerks_verdict() {
    let rules = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let expected: Expected =
        toml::from_str(&std::fs::read_to_string(folder().join("expected.toml")).unwrap()).unwrap();
    // Every mail of the folder has its expectation, and the reverse.
    let mut files: Vec<String> = std::fs::read_dir(folder())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.mail.iter().map(|m| m.file.clone()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "tests/realistic/expected.toml lists other files"
    );
    assert!(files.len() >= 45, "only {} realistic mails", files.len());

    let mut mismatches = Vec::new();
    for expectation in &expected.mail {
        let raw = std::fs::read(folder().join(&expectation.file)).unwrap();
        let verdict = check(&raw, &rules, None, &Limits::default());
        let problems: Vec<String> = verdict
            .problems
            .iter()
            .map(|p| p.code.as_str().to_owned())
            .collect();
        let mut wrong = Vec::new();
        if verdict.outcome.as_str() != expectation.verdict {
            wrong.push(format!(
                "verdict {} instead of {}",
                verdict.outcome.as_str(),
                expectation.verdict
            ));
        }
        if let Some(codes) = &expectation.problems
            && *codes != problems
        {
            wrong.push(format!("problems {problems:?} instead of {codes:?}"));
        }
        if let Some(quantity) = expectation.quantity
            && verdict.request.quantity != Some(quantity)
        {
            wrong.push(format!(
                "quantity {:?} instead of {quantity}",
                verdict.request.quantity
            ));
        }
        if let Some(users) = expectation.users
            && verdict.request.users.len() != users
        {
            wrong.push(format!(
                "users {:?} instead of {users} of them",
                verdict.request.users
            ));
        }
        if !wrong.is_empty() {
            let messages: Vec<&str> = verdict
                .problems
                .iter()
                .map(|p| p.message.as_str())
                .collect();
            mismatches.push(format!(
                "{}: {} ({messages:?})",
                expectation.file,
                wrong.join("; ")
            ));
        }
    }
    let total = expected.mail.len();
    println!(
        "realistic corpus: {} of {total} mails as the clerk decides",
        total - mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {total} mails judged otherwise than the clerk:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
