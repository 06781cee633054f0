//! `licgate config check`: everything `run` would load, checked at once,
//! every problem named by file, line and key; then the effective
//! configuration as TOML (secrets are only ever named), or with `--connect`
//! the IMAP login, the watched folder and the SMTP login tried.

use std::path::Path;
use std::process::ExitCode;

use licgate::config::{Config, RawConfig};
use licgate::text::{count, typography};

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
    /// Read the secrets given as systemd credentials (/run/credentials/licgate.service/NAME)
    /// from this folder instead, as the service would: the folder the unit's
    /// LoadCredential= takes them from (/etc/licgate/credentials, readable by root).
    #[arg(long, value_name = "DOSSIER")]
    credentials: Option<std::path::PathBuf>,
}

/// Exit 0 when `run` would start (warnings aside), 1 when it would not.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if let Some(folder) = &args.credentials {
        // SAFETY: set before any thread starts; the secrets are read after.
        unsafe { std::env::set_var("CREDENTIALS_DIRECTORY", folder) };
    }
    let path = &args.config.config;
    let text = licgate::config::read_file(path)?;
    let (raw, parse_errors) = RawConfig::parse_all(&text);
    let base = path.parent().unwrap_or(Path::new("."));
    let findings = raw
        .as_ref()
        .map(|raw| raw.diagnose(base))
        .unwrap_or_default();
    let errors = parse_errors.len() + findings.iter().filter(|f| !f.warning).count();
    let warnings = findings.iter().filter(|f| f.warning).count();
    let file = path.display();
    let mut lines: Vec<(Option<usize>, String)> = parse_errors
        .into_iter()
        .map(|(line, err)| match line {
            Some(line) => (Some(line), format!("erreur : {file}:{line}: {err}")),
            None => (None, format!("erreur : {file}: {err}")),
        })
        .collect();
    lines.extend(findings.iter().map(|finding| {
        let kind = if finding.warning {
            "avertissement"
        } else {
            "erreur"
        };
        (
            finding.line(&text),
            format!("{kind} : {}", finding.located(path, &text)),
        )
    }));
    lines.sort_by_key(|(line, _)| *line);
    for (_, line) in lines {
        eprintln!("{}", typography(&line));
    }
    let Some(raw) = raw else {
        return Ok(verdict(path, errors, warnings));
    };
    if errors > 0 {
        return Ok(verdict(path, errors, warnings));
    }
    if !args.quiet {
        println!(
            "# Configuration effective de {} : valeurs par défaut remplies, chemins résolus ;\n\
             # les secrets sont nommés par leur variable ou leur fichier, jamais montrés.\n{}",
            path.display(),
            raw.effective_toml(base)?
        );
    }
    if args.connect {
        let config = Config::load(path)?;
        let failed = connect(&config);
        if !failed.is_empty() {
            let failed_steps = if failed.len() > 1 {
                "ces étapes ont échoué"
            } else {
                "cette étape a échoué"
            };
            eprintln!(
                "{}",
                typography(&format!(
                    "{} : configuration valide, mais {failed_steps} : {} ; voyez la raison \
                     ci-dessus",
                    path.display(),
                    failed.join(", ")
                ))
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(verdict(path, 0, warnings))
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

/// Tries each network step `run` takes first, each one even when one
/// before failed, printing how each went; the names of the failed ones.
fn connect(config: &Config) -> Vec<String> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!(
                "{}",
                typography(&format!(
                    "échec : impossible de préparer les connexions ({err})"
                ))
            );
            return vec!["préparation".into()];
        }
    };
    let mut failed = Vec::new();
    let mut report = |step: String, outcome: anyhow::Result<&str>| match outcome {
        Ok(done) => eprintln!("{}", typography(&format!("ok : {step}{done}"))),
        Err(err) => {
            eprintln!("{}", typography(&format!("échec : {step} : {err:#}")));
            failed.push(step);
        }
    };
    runtime.block_on(async {
        let imap = format!("connexion IMAP à {}:{}", config.imap.host, config.imap.port);
        match licgate::net::imap::Connection::connect(&config.imap).await {
            Ok(mut mailbox) => {
                report(imap, Ok(""));
                let folder = format!("ouverture du dossier IMAP « {} »", config.mailbox);
                let watched = mailbox.folder(&config.mailbox);
                let selected = mailbox.select(&watched).await.map(|_| "");
                report(folder, selected);
                mailbox.logout().await;
            }
            Err(err) => report(imap, Err(err)),
        }
        let smtp = format!("connexion SMTP à {}:{}", config.smtp.host, config.smtp.port);
        let checked = match licgate::net::smtp::Sender::new(&config.smtp) {
            Ok(sender) => sender.check_login().await,
            Err(err) => Err(err),
        };
        report(smtp, checked.map(|()| " (aucun courriel envoyé)"));
    });
    failed
}
