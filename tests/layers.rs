//! The layers of `src/lib.rs` hold: each module uses only the layers below
//! it, so there is no cycle, and the judgement reaches neither sled, tokio
//! nor the network. Read from the sources, as `cargo tree` reads manifests.

use std::collections::BTreeSet;
use std::path::Path;

/// The top-level modules, lowest layer first, with the crates each layer
/// may not use (beyond those of the layers below it).
const LAYERS: &[(&str, &[&str])] = &[
    ("text", FORBIDDEN_IN_CORE),
    ("mail", FORBIDDEN_IN_CORE),
    ("rules", FORBIDDEN_IN_CORE),
    ("judge", FORBIDDEN_IN_CORE),
    ("records", FORBIDDEN_IN_CORE),
    ("compose", &["sled", "tokio", "async_imap", "clap"]),
    ("store", &["async_imap", "lettre", "clap"]),
    ("net", &["sled", "clap"]),
    ("config", &["sled", "clap"]),
    ("query", &["clap"]),
    ("daemon", &["clap"]),
];

/// What the pure core (the judgement and the records) never uses.
const FORBIDDEN_IN_CORE: &[&str] = &["sled", "tokio", "async_imap", "lettre", "clap", "futures"];

/// The `crate::x` modules and the external crates a source file names.
fn uses(source: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut modules = BTreeSet::new();
    let mut crates = BTreeSet::new();
    // Unit tests may use what they like: only the code they test counts.
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    for line in code.lines().map(str::trim) {
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            modules.insert(name);
        }
        for krate in ["sled", "tokio", "async_imap", "lettre", "clap", "futures"] {
            if line.contains(&format!("{krate}::")) {
                crates.insert(krate.to_owned());
            }
        }
    }
    (modules, crates)
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_owned());
        return;
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for (rank, (layer, forbidden_crates)) in LAYERS.iter().enumerate() {
        let below: BTreeSet<&str> = LAYERS[..=rank].iter().map(|(name, _)| *name).collect();
        let mut files = Vec::new();
        let dir = src.join(layer);
        sources(
            &if dir.is_dir() {
                dir
            } else {
                src.join(format!("{layer}.rs"))
            },
            &mut files,
        );
        assert!(!files.is_empty(), "no source for layer {layer}");
        for file in files {
            let (modules, crates) = uses(&std::fs::read_to_string(&file).unwrap());
            for module in &modules {
                assert!(
                    below.contains(module.as_str()),
                    "{} ({layer}) uses crate::{module}, a layer above it or unknown",
                    file.display()
                );
            }
            for krate in &crates {
                assert!(
                    !forbidden_crates.contains(&krate.as_str()),
                    "{} ({layer}) uses {krate}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} files checked");
}

#[test]
fn the_library_is_made_of_the_layers_and_nothing_else() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let layers: BTreeSet<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
    assert_eq!(declared, layers);
}

#[test]
fn the_check_sees_a_use_of_a_higher_layer() {
    let (modules, crates) = uses("use crate::store::Store;\nlet x = tokio::spawn(y);\n");
    assert!(modules.contains("store"));
    assert!(crates.contains("tokio"));
    let (modules, _) = uses("// crate::daemon in a comment\n#[cfg(test)]\nuse crate::daemon;");
    assert!(modules.is_empty());
}
