//! `licgate ledger`: per client and licence, this month's net change, the
//! pending removals, and what took effect when, from the audit trail.

use std::process::ExitCode;

use jiff::civil::Date;
use licgate::config::Config;
use licgate::rules::Rules;
use licgate::store::Store;
use licgate::{audit, ledger};

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
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config.config)?;
    let rules = Rules::load(&config.rules)?;
    let store = Store::open(&config.store).map_err(|e| {
        anyhow::anyhow!("{e:#}; is the daemon running? stop it first (systemctl stop licgate)")
    })?;
    let at = args.at.unwrap_or_else(|| {
        jiff::Zoned::now()
            .with_time_zone(rules.calendar.time_zone.clone())
            .date()
    });
    let entries = audit::entries(store.audit_records())?;
    let movements = ledger::movements(&entries, &rules.calendar);
    let lines = ledger::ledger(&movements, at, args.client.as_deref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
    } else {
        print!("{}", ledger::to_text(&lines, at));
    }
    Ok(ExitCode::SUCCESS)
}
