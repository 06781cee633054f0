//! `licgate digest`: prints (or sends) purchasing's digest on demand, from
//! the running daemon or the store; what the scheduled digests hold is left
//! as it is.

use std::process::ExitCode;

use anyhow::Context;

use jiff::Timestamp;
use jiff::civil::Date;
use licgate::compose::digest::Letter;
use licgate::config::Config;
use licgate::net::smtp::Sender;
use licgate::net::{Outbound, OutgoingMail};
use licgate::query::{self, DigestParts, Query};

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
    // Only sending needs the SMTP secrets.
    let config = if args.send {
        Config::load(&args.config.config)?
    } else {
        Config::load_without_secrets(&args.config.config)?
    };
    let query = Query::Digest {
        since: args.since,
        contact: Some(licgate::daemon::contact(&config).to_owned()),
    };
    let answer = query::ask(&config, &query)?;
    let digest: DigestParts = serde_json::from_slice(&answer.output)?;
    if digest.items == 0 {
        eprintln!("aucune demande acceptée sur cette période\u{a0}: pas de synthèse");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.send {
        let text = if args.html {
            digest.html
        } else {
            format!("Objet\u{a0}: {}\n\n{}", digest.subject, digest.text)
        };
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    anyhow::ensure!(
        !config.purchasing.to.is_empty(),
        "{}: [purchasing] to is empty: nobody to send the digest to; give purchasing's address",
        args.config.config.display()
    );
    let letter = Letter {
        from: &config.from,
        to: &config.purchasing.to,
        cc: &config.purchasing.cc,
        id: &format!("digest-on-demand-{}", now.as_millisecond()),
        date: now,
        subject: digest.subject,
        text: digest.text,
        html: Some(digest.html),
    };
    let item = letter.to_outbox()?;
    // Queued in the outbox and recorded in the audit trail, like a
    // scheduled digest: the running daemon sends it (within seconds);
    // without one, it is sent from here and recorded as sent.
    let queue = Query::Queue {
        item: item.clone(),
        request_ids: digest.request_ids,
    };
    if query::daemon_answers(&config) {
        query::ask(&config, &queue)?;
        eprintln!(
            "synthèse de {} mise en file pour {}\u{a0}: le démon l'envoie",
            licgate::text::count(digest.items as u64, "demande", "demandes"),
            item.to.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rules = licgate::Rules::load(&config.rules)?;
    let store = licgate::store::Store::open(&config.store)?;
    let id: u64 = String::from_utf8(query::answer(&store, &rules, &queue, now)?.output)?.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(async {
            let mail = OutgoingMail {
                from: &item.from,
                to: &item.to,
                message: item.message.as_bytes(),
            };
            Sender::new(&config.smtp)?.send(mail).await?;
            anyhow::Ok(())
        })
        .context(
            "pas envoyée maintenant : elle reste en file, le démon l'enverra à son démarrage",
        )?;
    store.reply_sent(id, &item, Timestamp::now())?;
    runtime.block_on(store.flush())?;
    eprintln!(
        "synthèse de {} envoyée à {}",
        licgate::text::count(digest.items as u64, "demande", "demandes"),
        item.to.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
