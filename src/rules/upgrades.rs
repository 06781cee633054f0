//! The upgrade paths, from `upgrades.toml`: which licence may be moved to
//! which other (`[MISE À NIVEAU]` requests). An upgrade is irreversible in
//! the partner console, so only the paths listed here are accepted.

use serde::Deserialize;
use toml::Spanned;

use super::{Catalog, SourceError};

/// The allowed (from, to) pairs, by official name.
#[derive(Debug, Clone, Default)]
pub struct Upgrades {
    paths: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpgrades {
    #[serde(default)]
    path: Vec<RawPath>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    from: Spanned<String>,
    to: Spanned<String>,
}

impl Upgrades {
    /// Parses and checks the text of `upgrades.toml`: both ends of each path
    /// must be official names of `catalog`, and different.
    pub fn from_toml(source: &str, catalog: &Catalog) -> Result<Upgrades, SourceError> {
        let raw: RawUpgrades =
            toml::from_str(source).map_err(|e| SourceError::from_toml(source, e))?;
        let mut upgrades = Upgrades::default();
        for path in raw.path {
            for (key, name) in [("from", &path.from), ("to", &path.to)] {
                if catalog.get(name.get_ref()).is_none() {
                    let msg = format!(
                        "path.{key}: « {} » is not an official licence name (licences.toml)",
                        name.get_ref()
                    );
                    return Err(SourceError::at(source, name.span(), msg));
                }
            }
            if path.from.get_ref() == path.to.get_ref() {
                let msg = format!(
                    "path.to: « {} » is the same licence as path.from",
                    path.to.get_ref()
                );
                return Err(SourceError::at(source, path.to.span(), msg));
            }
            let pair = (path.from.into_inner(), path.to.into_inner());
            if !upgrades.paths.contains(&pair) {
                upgrades.paths.push(pair);
            }
        }
        Ok(upgrades)
    }

    /// True when `from` may be upgraded to `to` (official names).
    pub fn allows(&self, from: &str, to: &str) -> bool {
        self.paths.iter().any(|(f, t)| f == from && t == to)
    }

    /// The licences `from` may be upgraded to, in the file's order.
    pub fn targets(&self, from: &str) -> Vec<&str> {
        self.paths
            .iter()
            .filter(|(f, _)| f == from)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    /// How many paths are allowed.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when no upgrade is allowed.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_toml(
            "[[licence]]\nname = \"Exchange Online (Plan 1)\"\n\
             [[licence]]\nname = \"Exchange Online (Plan 2)\"\n",
        )
        .unwrap()
    }

    #[test]
    fn paths_are_read_and_looked_up() {
        let source =
            "[[path]]\nfrom = \"Exchange Online (Plan 1)\"\nto = \"Exchange Online (Plan 2)\"\n";
        let upgrades = Upgrades::from_toml(source, &catalog()).unwrap();
        assert!(upgrades.allows("Exchange Online (Plan 1)", "Exchange Online (Plan 2)"));
        assert!(!upgrades.allows("Exchange Online (Plan 2)", "Exchange Online (Plan 1)"));
        assert_eq!(
            upgrades.targets("Exchange Online (Plan 1)"),
            ["Exchange Online (Plan 2)"]
        );
        assert!(upgrades.targets("Exchange Online (Plan 2)").is_empty());
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let unknown =
            "[[path]]\nfrom = \"Exchange Online (Plan 1)\"\nto = \"Exchange Online Plan 3\"\n";
        let err = Upgrades::from_toml(unknown, &catalog()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message
                .starts_with("path.to: « Exchange Online Plan 3 »"),
            "{}",
            err.message
        );

        let same =
            "[[path]]\nfrom = \"Exchange Online (Plan 1)\"\nto = \"Exchange Online (Plan 1)\"\n";
        let err = Upgrades::from_toml(same, &catalog()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("same licence"), "{}", err.message);

        let typo = "[[path]]\nfrom = \"Exchange Online (Plan 1)\"\ntarget = \"x\"\n";
        let err = Upgrades::from_toml(typo, &catalog()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message.contains("unknown field `target`"),
            "{}",
            err.message
        );
    }
}
