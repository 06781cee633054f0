//! `licgate audit`: list, show, verify and export the audit trail.
//!
//! Answered by the running daemon through its socket, or from the store
//! when the daemon is stopped ([`licgate::query`]).

use std::process::ExitCode;

use clap::Subcommand;
use clap::builder::TypedValueParser as _;
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
        #[arg(long, value_name = "YYYY-MM", value_parser = month)]
        month: Option<String>,
        /// Only this verdict.
        #[arg(long, ignore_case = true, value_parser = outcomes())]
        verdict: Option<Outcome>,
        /// Output (json: one object per line).
        #[arg(long, default_value = "text", value_parser = formats::<ListFormat>(&["text", "json", "csv"]))]
        format: ListFormat,
        /// CSV field separator (`;` for a French spreadsheet).
        #[arg(long, default_value_t = ',')]
        separator: char,
    },
    /// Show everything recorded for one request.
    ///
    /// Records written by an older licgate are shown in the current layout;
    /// their `hash` covers them as they are stored (`audit verify` checks it).
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The request id (LG-...).
        id: String,
        /// Print the original mail instead, as received.
        #[arg(long)]
        raw: bool,
        /// Output: text for a person, or the records as JSON.
        #[arg(long, value_enum, default_value_t = super::Format::Text, conflicts_with = "raw")]
        format: super::Format,
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
        /// Output.
        #[arg(long, value_parser = formats::<ExportFormat>(&["json", "csv"]))]
        format: ExportFormat,
        /// CSV field separator (`;` for a French spreadsheet).
        #[arg(long, default_value_t = ',')]
        separator: char,
    },
}

/// A month as `--month` takes it: `2026-11`.
fn month(text: &str) -> Result<String, String> {
    jiff::civil::Date::strptime("%Y-%m-%d", format!("{text}-01"))
        .ok()
        .filter(|_| text.len() == 7)
        .map(|_| text.to_owned())
        .ok_or_else(|| format!("{text:?} is not a month written YYYY-MM, such as 2026-11"))
}

/// The outcomes, listed in `--help`.
fn outcomes() -> impl clap::builder::TypedValueParser<Value = Outcome> {
    let names = Outcome::ALL.map(Outcome::as_str);
    clap::builder::PossibleValuesParser::new(names)
        .map(|name| name.parse::<Outcome>().expect("a listed outcome"))
}

/// The output formats `names`, listed in `--help`.
fn formats<F>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = F>
where
    F: std::str::FromStr + Clone + Send + Sync + 'static,
    F::Err: std::fmt::Debug,
{
    clap::builder::PossibleValuesParser::new(names)
        .map(|name| name.parse::<F>().expect("a listed format"))
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
        AuditCommand::Show {
            config,
            id,
            raw,
            format,
        } => (
            config,
            Query::AuditShow {
                id,
                raw,
                json: format == super::Format::Json,
            },
        ),
        AuditCommand::Verify { config, records } => (config, Query::AuditVerify { records }),
        AuditCommand::Export {
            config,
            format,
            separator,
        } => (config, Query::AuditExport { format, separator }),
    };
    config.ask_and_print(&query)
}
