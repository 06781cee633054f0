//! Golden corpus: each `tests/golden/NAME.eml` is judged with the shipped rules
//! (reception time from its own headers) and compared with `NAME.json`.
//!
//! On a mismatch the actual output is written to `NAME.actual.json` and the
//! test fails naming it. `LICGATE_BLESS=1 cargo test --test golden` rewrites
//! the expected files: review their diff before committing.

use std::path::{Path, PathBuf};

use licgate::rules::Rules;
use licgate::{Limits, check};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn golden_corpus_matches() {
    let rules = Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let bless = std::env::var_os("LICGATE_BLESS").is_some();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    fixtures.sort();
    assert!(
        fixtures.len() >= 30,
        "golden corpus has only {} mails",
        fixtures.len()
    );

    let mut mismatches = Vec::new();
    for eml in &fixtures {
        let verdict = check(
            &std::fs::read(eml).unwrap(),
            &rules,
            None,
            &Limits::default(),
        );
        let mut actual = serde_json::to_value(&verdict).unwrap();
        let name = eml.file_name().unwrap().to_string_lossy().into_owned();
        actual["file"] = name.clone().into();
        let expected_path = eml.with_extension("json");
        let actual_path = eml.with_extension("actual.json");
        let pretty = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        if bless {
            std::fs::write(&expected_path, &pretty).unwrap();
            continue;
        }
        let expected: Option<serde_json::Value> = std::fs::read_to_string(&expected_path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if expected.as_ref() == Some(&actual) {
            let _ = std::fs::remove_file(&actual_path);
        } else {
            std::fs::write(&actual_path, &pretty).unwrap();
            mismatches.push(actual_path.display().to_string());
        }
        // The file name says what the verdict must be, so a careless bless cannot hide a regression.
        let outcome = actual["verdict"].as_str().unwrap();
        assert!(
            name.ends_with(&format!("-{outcome}.eml")),
            "{name}: verdict is {outcome}"
        );
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches, see:\n{}",
        mismatches.join("\n")
    );
}
