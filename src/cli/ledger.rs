//! `licgate ledger`: per client and licence, this month's net change, the
//! pending removals, and what took effect when, from the audit trail.

use std::process::ExitCode;

use jiff::civil::Date;
use licgate::query::Query;

use super::Format;
use super::run::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this client.
    #[arg(long)]
    client: Option<String>,
    /// The day to look from (YYYY-MM-DD); default: today in the calendar's time zone.
    #[arg(long, value_name = "DATE")]
    at: Option<Date>,
    /// Output format, as for `check` and `audit list`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as `--format json` (the option's first name, kept working).
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
}

pub fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let query = Query::Ledger {
        client: args.client,
        at: args.at,
        json: args.json || args.format == Format::Json,
    };
    args.config.ask_and_print(&query)
}
