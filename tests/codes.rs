//! Every problem and warning code is documented, shown and tested: a row in
//! the README's table, a golden mail that gives it (`tests/golden/`), and a
//! test that names it. Adding a code without them fails here.

use std::path::Path;

use licgate::judge::{ProblemCode, WarningCode};

/// Codes no golden mail can give, and where they are tested instead.
const NO_GOLDEN_MAIL: &[(&str, &str)] = &[
    (
        "duplicate_request",
        "needs accepted requests before it: tests/check.rs, tests/daemon.rs",
    ),
    (
        "too_large",
        "needs a mail over 10 MB, judged from its header: tests/check.rs",
    ),
    (
        "confirmation_sender",
        "needs a request held before it: tests/upgrade.rs, src/daemon/intake.rs",
    ),
    (
        "confirmation_code",
        "needs a request held before it: tests/upgrade.rs, src/daemon/intake.rs",
    ),
    (
        "confirmation_expired",
        "needs a request held before it: tests/upgrade.rs, src/daemon/intake.rs",
    ),
    (
        "cancelled",
        "needs a request held before it: tests/upgrade.rs, src/daemon/intake.rs",
    ),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The files under `dir` ending with `extension`, but those named in `skip`,
/// each through `keep`, end to end.
fn read_all(dir: &str, extension: &str, skip: &[&str]) -> String {
    read_each(dir, extension, skip, |text| text.to_owned())
}

fn read_each(dir: &str, extension: &str, skip: &[&str], keep: impl Fn(&str) -> String) -> String {
    let mut text = String::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(extension) && !skip.contains(&name.as_str()) {
                text.push_str(&keep(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    text
}

/// Every code, with the name of its variant.
fn codes() -> Vec<(&'static str, String)> {
    let problems = ProblemCode::ALL
        .iter()
        .map(|c| (c.as_str(), format!("ProblemCode::{c:?}")));
    let warnings = WarningCode::ALL
        .iter()
        .map(|c| (c.as_str(), format!("WarningCode::{c:?}")));
    problems.chain(warnings).collect()
}

#[test]
fn every_code_has_a_readme_row_a_golden_mail_and_a_test() {
    let readme = read("README.md");
    let golden = read_all("tests/golden", ".json", &[]);
    let tests = read_all("tests", ".rs", &["codes.rs", "golden.rs"]);
    // Each file's own test module: what follows its `#[cfg(test)]`.
    let unit_tests = read_each("src", ".rs", &[], |file| {
        file.split_once("#[cfg(test)]")
            .map(|(_, tests)| tests.to_owned())
            .unwrap_or_default()
    });
    let mut missing = Vec::new();
    for (code, variant) in codes() {
        if !readme.contains(&format!("| `{code}` |")) {
            missing.push(format!("{code}: no row in the README's table of codes"));
        }
        let exempt = NO_GOLDEN_MAIL.iter().any(|(c, _)| *c == code);
        if !exempt && !golden.contains(&format!("\"code\": \"{code}\"")) {
            missing.push(format!("{code}: no golden mail gives it (tests/golden/)"));
        }
        let named = tests.contains(&format!("\"{code}\""))
            || tests.contains(&variant)
            || unit_tests.contains(&variant);
        if !named {
            missing.push(format!(
                "{code}: no test names it ({variant} or \"{code}\")"
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn codes_are_unique_and_the_exemptions_are_codes() {
    let all = codes();
    let mut names: Vec<&str> = all.iter().map(|(c, _)| *c).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len());
    assert!(all.len() > 25);
    for (code, _) in NO_GOLDEN_MAIL {
        assert!(names.contains(code), "{code}");
    }
}
