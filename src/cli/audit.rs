//! `licgate audit`: list, show, verify and export the audit trail.
//!
//! These open the store themselves: sled allows one process at a time, so
//! they work while the daemon is stopped (the message says so otherwise).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use licgate::audit::{self, Filter};
use licgate::config::Config;
use licgate::store::Store;

use super::run::ConfigArg;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List the decided requests, oldest first.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this client (name as read from the request).
        #[arg(long)]
        client: Option<String>,
        /// Only this month of reception (YYYY-MM, UTC).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// Only this verdict: accepted, rejected, ignored or quarantined.
        #[arg(long)]
        verdict: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// CSV field separator (`;` for a French spreadsheet).
        #[arg(long, default_value_t = ',')]
        separator: char,
    },
    /// Show everything recorded for one request.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The request id (LG-...).
        id: String,
        /// Print the original mail instead, as received.
        #[arg(long)]
        raw: bool,
    },
    /// Walk the hash chain; exit 1 and name the first bad record if anything
    /// was altered, removed or reordered.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Export every request for the accounting side.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// CSV field separator (`;` for a French spreadsheet).
        #[arg(long, default_value_t = ',')]
        separator: char,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

fn open(config: &ConfigArg) -> anyhow::Result<Store> {
    let config = Config::load(&config.config)?;
    Store::open(&config.store)
        .context("is the daemon running? stop it first (systemctl stop licgate)")
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        AuditCommand::List {
            config,
            client,
            month,
            verdict,
            format,
            separator,
        } => {
            let store = open(&config)?;
            let filter = Filter {
                client,
                month,
                verdict,
            };
            let entries: Vec<_> = audit::entries(store.audit_records())?
                .into_iter()
                .filter(|e| filter.keeps(e))
                .collect();
            let text = match format {
                ListFormat::Text => audit::to_text(&entries),
                ListFormat::Csv => audit::to_csv(&entries, separator),
                ListFormat::Json => entries
                    .iter()
                    .map(|e| serde_json::to_string(e).map(|l| l + "\n"))
                    .collect::<Result<String, _>>()?,
            };
            out.write_all(text.as_bytes())?;
        }
        AuditCommand::Export {
            config,
            format,
            separator,
        } => {
            let store = open(&config)?;
            let entries = audit::entries(store.audit_records())?;
            let text = match format {
                ExportFormat::Csv => audit::to_csv(&entries, separator),
                ExportFormat::Json => serde_json::to_string_pretty(&entries)? + "\n",
            };
            out.write_all(text.as_bytes())?;
        }
        AuditCommand::Show { config, id, raw } => {
            let store = open(&config)?;
            if raw {
                let mail = store
                    .raw_mail(&id)?
                    .with_context(|| format!("{id}: no such request"))?;
                out.write_all(&mail)?;
                return Ok(ExitCode::SUCCESS);
            }
            let records: Vec<_> = store
                .audit_records()
                .filter(|r| match r {
                    Ok(record) => match &record.event {
                        audit::Event::Decision { decision, .. } => decision.request_id == id,
                        audit::Event::ReplySent { request_id, .. } => *request_id == id,
                        // The digest or notice that listed it, or that mail itself.
                        audit::Event::Queued {
                            id: queued,
                            request_ids,
                            ..
                        } => *queued == id || request_ids.contains(&id),
                    },
                    Err(_) => true,
                })
                .collect::<anyhow::Result<_>>()?;
            anyhow::ensure!(!records.is_empty(), "{id}: no such request");
            out.write_all((serde_json::to_string_pretty(&records)? + "\n").as_bytes())?;
        }
        AuditCommand::Verify { config } => {
            let store = open(&config)?;
            match store.verify_audit() {
                Ok(count) => writeln!(out, "audit trail intact: {count} records")?,
                Err(err) => {
                    writeln!(out, "AUDIT TRAIL DAMAGED: {err:#}")?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
