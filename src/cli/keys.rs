//! `licgate keys rotate`: draws a new secret key for the confirmation codes;
//! the codes given before stay valid until the next rotation.

use std::process::ExitCode;

use licgate::config::Config;
use licgate::store::keys;

use super::run::ConfigArg;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Draw a new key for the confirmation codes of held requests.
    ///
    /// The codes sent before still hold until the next rotation: rotate at
    /// most once per confirmation delay. Run it as the daemon's user
    /// (runuser -u licgate -- licgate keys rotate); the running daemon uses
    /// the new key from its next batch.
    Rotate(ConfigArg),
}

pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let KeysCommand::Rotate(args) = command;
    let config = Config::load_without_secrets(&args.config)?;
    let rotated = keys::rotate(&config.store)?;
    let before = if rotated.previous.is_some() {
        "les codes déjà envoyés restent valables jusqu'à la prochaine rotation"
    } else {
        "aucune clé n'existait : aucun code n'avait été envoyé"
    };
    println!(
        "{}",
        licgate::text::typography(&format!(
            "Nouvelle clé des codes de confirmation écrite dans {} ; {before}.",
            keys::path(&config.store).display()
        ))
    );
    Ok(ExitCode::SUCCESS)
}
