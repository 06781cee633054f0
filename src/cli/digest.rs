//! `licgate digest`: prints (or sends) purchasing's digest on demand, from
//! the store; what the scheduled digests hold is left as it is.

use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use jiff::civil::Date;
use licgate::config::Config;
use licgate::daemon::digest_items;
use licgate::digest::{Digest, Kind, Letter};
use licgate::rules::Rules;
use licgate::smtp::Sender;
use licgate::store::{OutboxItem, Store};

use super::run::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct DigestArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Every request accepted since this day (YYYY-MM-DD, calendar's time
    /// zone), digested or not. Default: those the next scheduled digest holds.
    #[arg(long, value_name = "DATE")]
    since: Option<Date>,
    /// Print the HTML part instead of the text.
    #[arg(long)]
    html: bool,
    /// Send it now to purchasing ([purchasing] to and cc) instead of printing it.
    #[arg(long)]
    send: bool,
}

pub fn run(args: DigestArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config.config)?;
    let calendar = Rules::load(&config.rules)?.calendar;
    let store = Store::open(&config.store)
        .context("is the daemon running? stop it first (systemctl stop licgate)")?;
    let ids: Vec<String> = match args.since {
        None => store.undigested()?.into_iter().map(|(_, id)| id).collect(),
        Some(day) => {
            let start = day
                .to_zoned(calendar.time_zone.clone())
                .context("--since")?
                .timestamp();
            store
                .accepted_entries()
                .filter(|entry| {
                    entry
                        .as_ref()
                        .map_or(true, |e| e.received_at.unwrap_or(e.decided_at) >= start)
                })
                .map(|entry| entry.map(|e| e.request_id))
                .collect::<anyhow::Result<_>>()?
        }
    };
    let items = digest_items(&store, &calendar, &ids)?;
    if items.is_empty() {
        eprintln!("nothing accepted in that period: no digest");
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    let digest = Digest::new(Kind::Digest, items, now, &calendar);
    if !args.send {
        let text = if args.html {
            digest.to_html()
        } else {
            format!("Objet : {}\n\n{}", digest.subject(), digest.to_text())
        };
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        !config.purchasing.to.is_empty(),
        "{}: [purchasing] to is empty: nobody to send the digest to",
        args.config.config.display()
    );
    let letter = Letter {
        from: &config.from,
        to: &config.purchasing.to,
        cc: &config.purchasing.cc,
        id: &format!("digest-on-demand-{}", now.as_millisecond()),
        date: now,
        subject: digest.subject(),
        text: digest.to_text(),
        html: Some(digest.to_html()),
    };
    let item = OutboxItem {
        request_id: letter.id.to_owned(),
        from: config.from.clone(),
        to: letter.to.iter().chain(letter.cc).cloned().collect(),
        message: letter.to_mime()?,
        queued_at: now,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { Sender::new(&config.smtp)?.send(&item).await })?;
    eprintln!(
        "digest of {} request(s) sent to {}",
        digest.items.len(),
        item.to.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
