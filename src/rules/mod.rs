//! The rules operators edit, as TOML files in one folder:
//! `licences.toml` (official and internal names), `clients.toml`,
//! `calendar.toml`, `upgrades.toml` (the upgrade paths allowed) and
//! `tickets.toml` (optional: the ticket patterns).
//!
//! Reading is separate from parsing: [`Rules::load`] reads the folder,
//! each part's `from_toml` parses text, so tests feed literals. A file with an
//! error fails with the file, the line and the key at fault.

mod calendar;
mod catalog;
mod clients;
mod tickets;
mod upgrades;

use std::fmt;
use std::path::{Path, PathBuf};

pub use calendar::{
    Calendar, RECKONED_YEARS, Window, easter_sunday, french_date, french_date_time,
    french_holidays, french_time, reckoned,
};
pub use catalog::{Catalog, Licence, LicenceMatch, Sku, import_products};
pub use clients::{Client, Clients};
pub use tickets::{DEFAULT_PATTERNS, Pattern, Tickets};
pub use upgrades::Upgrades;

/// File names inside the rules folder.
pub const LICENCES_FILE: &str = "licences.toml";
pub const CLIENTS_FILE: &str = "clients.toml";
pub const CALENDAR_FILE: &str = "calendar.toml";
pub const UPGRADES_FILE: &str = "upgrades.toml";
/// Optional: without it, the default ticket patterns.
pub const TICKETS_FILE: &str = "tickets.toml";

/// Everything the judgement checks a request against.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Official licence names and the internal names that stand for them.
    pub catalog: Catalog,
    /// The clients, their aliases, domains and annual licences.
    pub clients: Clients,
    /// When orders may be placed.
    pub calendar: Calendar,
    /// The upgrade paths allowed.
    pub upgrades: Upgrades,
    /// How a ticket reference is written in a request.
    pub tickets: Tickets,
}

impl Rules {
    /// Reads and checks the files of `dir`.
    pub fn load(dir: &Path) -> Result<Rules, RulesError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let source = std::fs::read_to_string(&path).map_err(|err| RulesError {
                file: path.clone(),
                error: SourceError {
                    line: None,
                    message: format!("cannot read: {err}"),
                },
            })?;
            Ok::<_, RulesError>((path, source))
        };
        let in_file = |path: &PathBuf| {
            let path = path.clone();
            move |error| RulesError { file: path, error }
        };
        let (path, source) = read(LICENCES_FILE)?;
        let catalog = Catalog::from_toml(&source).map_err(in_file(&path))?;
        let (path, source) = read(CLIENTS_FILE)?;
        let clients = Clients::from_toml(&source, &catalog).map_err(in_file(&path))?;
        let (path, source) = read(CALENDAR_FILE)?;
        let calendar = Calendar::from_toml(&source).map_err(in_file(&path))?;
        let (path, source) = read(UPGRADES_FILE)?;
        let upgrades = Upgrades::from_toml(&source, &catalog).map_err(in_file(&path))?;
        let tickets = if dir.join(TICKETS_FILE).exists() {
            let (path, source) = read(TICKETS_FILE)?;
            Tickets::from_toml(&source).map_err(in_file(&path))?
        } else {
            Tickets::default()
        };
        Ok(Rules {
            catalog,
            clients,
            calendar,
            upgrades,
            tickets,
        })
    }
}

/// An error in one rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// The file at fault.
    pub file: PathBuf,
    /// What is wrong, and where in the file.
    pub error: SourceError,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.error.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.error.message)
    }
}

impl std::error::Error for RulesError {}

/// An error in the text of a rules file: its 1-based line, and a message that
/// names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// Line of the fault, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl SourceError {
    /// An error about the value at byte `span` of `source`.
    pub(crate) fn at(source: &str, span: std::ops::Range<usize>, message: String) -> SourceError {
        SourceError {
            line: Some(line_of(source, span.start)),
            message,
        }
    }

    /// Turns a TOML syntax or shape error into one that quotes the faulty line.
    pub(crate) fn from_toml(source: &str, err: toml::de::Error) -> SourceError {
        let message = err.message().trim().to_owned();
        match err.span() {
            Some(span) => {
                let line = line_of(source, span.start);
                let text = source.lines().nth(line - 1).unwrap_or_default().trim();
                SourceError {
                    line: Some(line),
                    message: format!("{message} (at `{text}`)"),
                }
            }
            None => SourceError {
                line: None,
                message,
            },
        }
    }
}

fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_load() {
        let rules = Rules::load(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rules")
                .as_path(),
        )
        .unwrap();
        assert!(rules.catalog.len() >= 555);
        assert!(!rules.clients.is_empty());
        assert!(
            rules
                .upgrades
                .allows("Exchange Online (Plan 1)", "Exchange Online (Plan 2)")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("licgate-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        for name in [LICENCES_FILE, CALENDAR_FILE, UPGRADES_FILE] {
            std::fs::copy(shipped.join(name), dir.join(name)).unwrap();
        }
        std::fs::write(
            dir.join(CLIENTS_FILE),
            "[[client]]\nname = \"A\"\ndomain = [\"a.fr\"]\n",
        )
        .unwrap();
        let err = Rules::load(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(err.file, dir.join(CLIENTS_FILE));
        assert_eq!(err.error.line, Some(3));
        assert!(
            err.to_string()
                .contains("clients.toml:3: unknown field `domain`"),
            "{err}"
        );
    }
}
