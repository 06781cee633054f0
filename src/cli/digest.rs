//! `licgate digest`: prints purchasing's digest on demand, from the running
//! daemon or a copy of the store, leaving the scheduled digests as they are;
//! or (`--send`) sends now what the next scheduled digest holds, in one
//! query to the running daemon, else from here.

use std::process::ExitCode;

use anyhow::Context;

use jiff::Timestamp;
use jiff::civil::Date;
use licgate::config::Config;
use licgate::net::smtp::Sender;
use licgate::net::{Outbound, OutgoingMail};
use licgate::query::{self, DigestParts, Query, Queued};

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
    /// Send it now to purchasing ([purchasing] to and cc) instead of
    /// printing it: the requests not yet in a digest, taken out of the next
    /// one (not with --since). The running daemon sends it; without one, it
    /// is sent from here with the SMTP secrets.
    #[arg(long)]
    send: bool,
}

pub fn run(args: DigestArgs) -> anyhow::Result<ExitCode> {
    if args.send {
        return send(args);
    }
    let config = Config::load_without_secrets(&args.config.config)?;
    let query = Query::Digest { since: args.since };
    let answer = query::ask(&config, &query)?;
    let digest: DigestParts = serde_json::from_slice(&answer.output)?;
    if digest.items == 0 {
        eprintln!("aucune demande acceptée sur cette période\u{a0}: pas de synthèse");
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.html {
        digest.html
    } else {
        format!("Objet\u{a0}: {}\n\n{}", digest.subject, digest.text)
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `--send`: the digest of the requests not yet in one, queued in one step
/// (by the running daemon, which sends it; else here, then sent from here).
fn send(args: DigestArgs) -> anyhow::Result<ExitCode> {
    // NOTE: a digest sent lists only what purchasing has not had yet: with
    // --since it would list again requests already ordered (issue 18, item 6).
    if let Some(day) = args.since {
        anyhow::bail!(
            "{}",
            licgate::text::typography(&format!(
                "--since {day} et --send ne vont pas ensemble : une synthèse envoyée ne liste \
                 que les demandes pas encore transmises aux achats, pour qu'aucune ne soit \
                 commandée deux fois ; envoyez « licgate digest --send » seul, ou imprimez \
                 « licgate digest --since {day} » pour la relire"
            ))
        );
    }
    let path = &args.config.config;
    // Only sending from here needs the SMTP secrets: the running daemon
    // sends with its own.
    let config = Config::load_without_secrets(path)?;
    anyhow::ensure!(
        !config.purchasing.to.is_empty(),
        "{}: [purchasing] to is empty: nobody to send the digest to; give purchasing's address",
        path.display()
    );
    let query = Query::SendDigest {
        mailing: config.mailing(),
    };
    let daemon = query::daemon_answers(&config);
    let config = if daemon { config } else { Config::load(path)? };
    let (queued, store) = if daemon {
        let answer = query::ask(&config, &query)?;
        (serde_json::from_slice::<Queued>(&answer.output)?, None)
    } else {
        let rules = licgate::Rules::load(&config.rules)?;
        let store = licgate::store::Store::open(&config.store)?;
        let answer = query::answer(&store, &rules, &query, Timestamp::now())?;
        (
            serde_json::from_slice::<Queued>(&answer.output)?,
            Some(store),
        )
    };
    if queued.mails.is_empty() {
        eprintln!("aucune demande acceptée en attente de synthèse\u{a0}: rien à envoyer");
        return Ok(ExitCode::SUCCESS);
    }
    let requests = licgate::text::count(queued.requests as u64, "demande", "demandes");
    let parts = match queued.mails.len() {
        1 => String::new(),
        n => format!(" en {n} parties"),
    };
    let to = queued.mails[0].1.to.join(", ");
    // Queued in the outbox and recorded in the audit trail, like a
    // scheduled digest: the running daemon sends it (within seconds);
    // without one, it is sent from here and recorded as sent.
    let Some(store) = store else {
        eprintln!("synthèse de {requests}{parts} mise en file pour {to}\u{a0}: le démon l'envoie");
        return Ok(ExitCode::SUCCESS);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // NOTE: lettre's connection pool starts a task: inside the runtime.
    let _runtime = runtime.enter();
    let sender = Sender::new(&config.smtp)?;
    for (id, item) in &queued.mails {
        runtime
            .block_on(async {
                let mail = OutgoingMail {
                    from: &item.from,
                    to: &item.to,
                    message: item.message.as_bytes(),
                };
                sender.send(mail).await?;
                anyhow::Ok(())
            })
            .context(
                "pas envoyée maintenant : elle reste en file, le démon l'enverra à son démarrage",
            )?;
        store.reply_sent(*id, item, Timestamp::now())?;
        runtime.block_on(store.flush())?;
    }
    eprintln!("synthèse de {requests}{parts} envoyée à {to}");
    Ok(ExitCode::SUCCESS)
}
