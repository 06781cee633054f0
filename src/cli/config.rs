//! `licgate config check`: everything `run` would load, checked at once,
//! every problem named by file, line and key; then the effective
//! configuration as TOML (secrets are only ever named), or with `--connect`
//! the IMAP login, the watched folder and the SMTP login tried.

use std::path::Path;
use std::process::ExitCode;

use licgate::config::{Config, RawConfig};
use licgate::text::count;

use super::run::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print only the problems and the verdict, not the effective configuration.
    #[arg(long, short)]
    quiet: bool,
    /// Also log in to the IMAP server, open the watched folder, and log in to
    /// the SMTP server (no mail is sent); say which step failed.
    #[arg(long)]
    connect: bool,
}

/// Exit 0 when `run` would start (warnings aside), 1 when it would not.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let path = &args.config.config;
    let text = licgate::config::read_file(path)?;
    let raw = match RawConfig::from_toml(&text) {
        Ok(raw) => raw,
        Err(err) => {
            eprintln!("error: {}:{err}", path.display());
            return Ok(verdict(path, 1, 0));
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut findings = raw.diagnose(base);
    findings.sort_by_key(|f| f.line(&text));
    let errors = findings.iter().filter(|f| !f.warning).count();
    for finding in &findings {
        let kind = if finding.warning { "warning" } else { "error" };
        eprintln!(
            "{kind}: {}",
            licgate::text::typography(&finding.located(path, &text))
        );
    }
    if errors > 0 {
        return Ok(verdict(path, errors, findings.len() - errors));
    }
    if !args.quiet {
        println!(
            "# Effective configuration of {}: defaults filled in, paths resolved;\n\
             # secrets are named by their variable or file, never shown.\n{}",
            path.display(),
            raw.effective_toml(base)?
        );
    }
    if args.connect {
        let config = Config::load(path)?;
        if let Err((step, err)) = connect(&config) {
            eprintln!("{step}\u{a0}: {err:#}");
            eprintln!(
                "{}\u{a0}: configuration valide, mais l'étape «\u{a0}{step}\u{a0}» a échoué\u{a0}: \
                 voyez la raison ci-dessus",
                path.display()
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(verdict(path, 0, findings.len()))
}

/// Prints the verdict line and gives the exit code.
fn verdict(path: &Path, errors: usize, warnings: usize) -> ExitCode {
    let warnings = match warnings {
        0 => String::new(),
        n => format!(" ({})", count(n as u64, "avertissement", "avertissements")),
    };
    if errors == 0 {
        eprintln!("{}\u{a0}: configuration valide{warnings}", path.display());
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{}\u{a0}: configuration refusée, {}{warnings}\u{a0}: corrigez {} ci-dessus",
            path.display(),
            count(errors as u64, "erreur", "erreurs"),
            if errors > 1 {
                "les erreurs"
            } else {
                "l'erreur"
            }
        );
        ExitCode::from(1)
    }
}

/// Tries each network step `run` takes first; the failed step and why.
fn connect(config: &Config) -> Result<(), (String, anyhow::Error)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| ("runtime".to_owned(), err.into()))?;
    runtime.block_on(async {
        let imap = format!("connexion IMAP à {}:{}", config.imap.host, config.imap.port);
        let mut mailbox = licgate::net::imap::Connection::connect(&config.imap)
            .await
            .map_err(|err| (imap.clone(), err))?;
        eprintln!("{imap}\u{a0}: ok");
        let folder = format!("dossier IMAP «\u{a0}{}\u{a0}»", config.mailbox);
        let watched = mailbox.folder(&config.mailbox);
        mailbox
            .select(&watched)
            .await
            .map_err(|err| (folder.clone(), err))?;
        eprintln!("{folder}\u{a0}: ok");
        mailbox.logout().await;
        let smtp = format!("connexion SMTP à {}:{}", config.smtp.host, config.smtp.port);
        let sender =
            licgate::net::smtp::Sender::new(&config.smtp).map_err(|err| (smtp.clone(), err))?;
        sender
            .check_login()
            .await
            .map_err(|err| (smtp.clone(), err))?;
        eprintln!("{smtp}\u{a0}: ok (aucun message envoyé)");
        Ok(())
    })
}
