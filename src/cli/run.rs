//! `licgate run` (the daemon) and `licgate status`.

use std::path::PathBuf;
use std::process::ExitCode;

use licgate::config::{Config, LogFormat};
use licgate::store::status::Status;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The `--config` option.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file (commented example: /etc/licgate/licgate.toml
    /// as installed, config/licgate.example.toml in the sources).
    #[arg(
        long,
        value_name = "FILE",
        env = "LICGATE_CONFIG",
        default_value = "/etc/licgate/licgate.toml"
    )]
    pub config: PathBuf,
}

impl ConfigArg {
    /// Asks `query` of the daemon of this configuration (or of its store
    /// when it is stopped), prints the answer and gives its exit code.
    pub fn ask_and_print(&self, query: &licgate::query::Query) -> anyhow::Result<ExitCode> {
        let answer = licgate::query::ask(&Config::load_without_secrets(&self.config)?, query)?;
        std::io::Write::write_all(&mut std::io::stdout().lock(), &answer.output)?;
        Ok(ExitCode::from(answer.code))
    }
}

/// `licgate run`: watches the mailbox until SIGTERM or SIGINT.
pub fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let filter = log_filter(std::env::var("LICGATE_LOG").ok().as_deref());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let layer = match config.log {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(no_protocol_dumps()))
        .init();
    // NOTE: files and the query socket are the daemon's alone, whatever
    // umask it was started with.
    // SAFETY: umask only sets the process's file creation mask.
    unsafe {
        libc::umask(0o077);
    }
    // NOTE: one thread: the daemon waits on the network, and a single malloc
    // arena keeps its memory small after a burst of mails.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        licgate::daemon::run(config, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The filter of `LICGATE_LOG` (default `info`). sled's own debug lines
/// (page cache, flushes) drown the daemon's: they are kept out unless the
/// variable names sled (`LICGATE_LOG=debug,sled=debug`).
fn log_filter(spec: Option<&str>) -> EnvFilter {
    let spec = spec.unwrap_or("info");
    let spec = if spec.contains("sled") {
        spec.to_owned()
    } else {
        format!("{spec},sled=info")
    };
    EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info,sled=info"))
}

/// Drops the debug and trace events of the IMAP library, whatever
/// `LICGATE_LOG` says: they dump the protocol, `LOGIN` and its password
/// included, and whole mails.
fn no_protocol_dumps() -> tracing_subscriber::filter::FilterFn {
    tracing_subscriber::filter::filter_fn(|meta| {
        let protocol = ["async_imap", "imap_proto"]
            .iter()
            .any(|c| meta.target().starts_with(c));
        !protocol || *meta.level() <= tracing::Level::INFO
    })
}

/// `licgate status`: the daemon's health, from the file it keeps up to date.
/// Exits 0 only when the daemon is healthy; 1 when anything looks wrong,
/// including no status file yet (daemon never started, or a wrong store path).
pub fn status(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = Config::load_without_secrets(&args.config)?;
    let mut problems = Vec::new();
    let file = Status::file(&config.store);
    let status = Status::read(&file);
    // NOTE: broken rules do not stop the daemon (it keeps the previous
    // ones) and must not stop its monitoring; but `config check`, run
    // before each start, refuses them: the next start fails (issue 18,
    // item 9). Times then in the zone of the daemon's calendar.
    let zone = match licgate::Rules::load(&config.rules) {
        Ok(rules) => rules.calendar.time_zone,
        Err(err) => {
            let kept = match status.as_ref().ok().and_then(|s| s.rules_refused.as_ref()) {
                Some(refused) => format!(
                    "le démon en marche les a refusées le {} et garde les précédentes",
                    licgate::store::status::zoned_time(
                        refused.since,
                        &daemon_zone(status.as_ref().ok())
                    )
                ),
                None => "le démon en marche garde les précédentes".to_owned(),
            };
            problems.push(format!(
                "le prochain démarrage échouera : {err} ; {kept} ; corrigez le fichier nommé \
                 (« licgate rules check »), puis « systemctl reload licgate »"
            ));
            daemon_zone(status.as_ref().ok())
        }
    };
    match status {
        Ok(status) => {
            print!("{}", status.render(&zone));
            problems.extend(status.problems(jiff::Timestamp::now(), config.poll_interval, &zone));
        }
        Err(err) => problems.push(format!(
            "aucun état lisible ({err:#}) : le démon n'a jamais tourné avec ce [store] path, \
             ou il est faux ; voyez « systemctl status licgate »"
        )),
    }
    let problems: Vec<String> = problems
        .iter()
        .map(|p| licgate::text::typography(p))
        .collect();
    for problem in &problems {
        println!("PROBLÈME\u{a0}: {problem}");
    }
    // A warning, not a problem: the daemon works, but trusts From: alone.
    if config.authenticated_by.is_none() {
        println!(
            "{}",
            licgate::text::typography(
                "AVERTISSEMENT : les expéditeurs ne sont pas authentifiés ([senders] \
                 require-authentication) : n'importe qui peut écrire l'adresse d'un technicien \
                 dans From: et commander, confirmer ou annuler en son nom ; mettez \
                 require-authentication = \"exchange-online\" (ou l'authserv-id du serveur de \
                 réception)"
            )
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The zone of the running daemon's calendar, from its status file; else
/// the system's.
fn daemon_zone(status: Option<&Status>) -> jiff::tz::TimeZone {
    status
        .and_then(|s| s.time_zone.as_deref())
        .and_then(|name| jiff::tz::TimeZone::get(name).ok())
        .unwrap_or_else(jiff::tz::TimeZone::system)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 13: LICGATE_LOG=debug drowned the daemon's lines in sled's.
    #[test]
    fn sled_debug_lines_only_when_asked_for() {
        assert_eq!(log_filter(None).to_string(), "sled=info,info");
        assert!(log_filter(Some("debug")).to_string().contains("sled=info"));
        assert!(
            log_filter(Some("debug,sled=debug"))
                .to_string()
                .contains("sled=debug")
        );
        assert!(
            !log_filter(Some("debug,sled=debug"))
                .to_string()
                .contains("sled=info")
        );
    }
}
