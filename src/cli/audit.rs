//! `licgate audit`: list, show, verify and export the audit trail.
//!
//! Answered by the running daemon through its socket, or from the store
//! when the daemon is stopped ([`licgate::query`]).

use std::process::ExitCode;

use clap::Subcommand;
use licgate::Outcome;
use licgate::query::{ExportFormat, ListFormat, Query};
use licgate::records::audit::Filter;

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
        /// Only this month of reception (YYYY-MM, in the calendar's time zone).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// Only this verdict: accepted, rejected, ignored or quarantined.
        #[arg(long)]
        verdict: Option<Outcome>,
        /// Output: text, json (one object per line) or csv.
        #[arg(long, default_value = "text")]
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
        /// Also print the chain's hash after record N, to compare with the
        /// one a digest names (« Empreinte du journal d'audit »).
        #[arg(long, value_name = "N")]
        records: Option<u64>,
    },
    /// Export every request for the accounting side.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// Output: json or csv.
        #[arg(long)]
        format: ExportFormat,
        /// CSV field separator (`;` for a French spreadsheet).
        #[arg(long, default_value_t = ',')]
        separator: char,
    },
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let (config, query) = match command {
        AuditCommand::List {
            config,
            client,
            month,
            verdict,
            format,
            separator,
        } => (
            config,
            Query::AuditList {
                filter: Filter {
                    client,
                    month,
                    verdict,
                },
                format,
                separator,
            },
        ),
        AuditCommand::Show { config, id, raw } => (config, Query::AuditShow { id, raw }),
        AuditCommand::Verify { config, records } => (config, Query::AuditVerify { records }),
        AuditCommand::Export {
            config,
            format,
            separator,
        } => (config, Query::AuditExport { format, separator }),
    };
    config.ask_and_print(&query)
}
