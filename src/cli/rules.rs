//! `licgate rules`: validates the rules folder, or refreshes the official
//! licence names from Microsoft's product CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use licgate::rules::{LICENCES_FILE, import_products};

use super::RulesDir;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load the rules as the daemon would and print what they hold.
    Check {
        #[command(flatten)]
        rules: RulesDir,
    },
    /// Rewrite licences.toml from Microsoft's "Product names and service plan
    /// identifiers for licensing" CSV, keeping sold, [[usual]] and [[internal]].
    ImportProducts {
        #[command(flatten)]
        rules: RulesDir,
        /// The CSV as downloaded from Microsoft.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
    },
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Check { rules } => {
            let loaded = rules.load()?;
            println!(
                "{}: {} official licences, {} internal names, {} clients, {} extra closed days, {} upgrade paths",
                rules.dir.display(),
                loaded.catalog.len(),
                loaded.catalog.internal_names().count(),
                loaded.clients.len(),
                loaded.calendar.closed_days.len(),
                loaded.upgrades.len()
            );
            let patterns: Vec<&str> = loaded
                .tickets
                .patterns
                .iter()
                .map(|p| p.written.as_str())
                .collect();
            println!(
                "tickets: subject patterns {}; body labels {}",
                patterns.join(" "),
                loaded.tickets.labels.join(", ")
            );
        }
        RulesCommand::ImportProducts { rules, csv } => {
            let target = rules.dir.join(LICENCES_FILE);
            let csv_text = std::fs::read_to_string(&csv)
                .with_context(|| format!("{}: cannot read", csv.display()))?;
            let current = std::fs::read_to_string(&target)
                .with_context(|| format!("{}: cannot read", target.display()))?;
            let generated = import_products(&csv_text, &current)
                .map_err(|e| anyhow::anyhow!("{}: {e}", csv.display()))?;
            std::fs::write(&target, generated)
                .with_context(|| format!("{}: cannot write", target.display()))?;
            println!("{}: rewritten from {}", target.display(), csv.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
