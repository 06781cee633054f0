//! `licgate keys rotate`: draws a new secret key for the confirmation codes;
//! the codes given before stay valid until the next rotation.

use std::process::ExitCode;

use licgate::config::Config;
use licgate::rules::Rules;
use licgate::store::keys;

use super::run::ConfigArg;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Draw a new key for the confirmation codes of held requests.
    ///
    /// The codes sent before still hold until the next rotation, so a second
    /// rotation is refused while a request held before the first may still
    /// be confirmed (until its confirmation deadline), unless --force. Run it
    /// as the daemon's user (runuser -u licgate -- licgate keys rotate); the
    /// running daemon uses the new key from its next batch.
    Rotate(RotateArgs),
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Rotate even though codes made with the key about to be dropped may
    /// still wait for a confirmation (those requests can then only expire).
    #[arg(long)]
    force: bool,
}

pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let KeysCommand::Rotate(args) = command;
    let config = Config::load_without_secrets(&args.config.config)?;
    let path = keys::path(&config.store);
    if let Some(keys) = keys::load(&config.store)?
        && keys.previous.is_some()
        && !args.force
    {
        // NOTE: the file is written at each rotation: its time is the last one's.
        let rotated: jiff::Timestamp = std::fs::metadata(&path)?.modified()?.try_into()?;
        let calendar = Rules::load(&config.rules)?.calendar;
        let safe_from = calendar.confirmation_deadline(rotated);
        if jiff::Timestamp::now() < safe_from.timestamp() {
            anyhow::bail!(
                "la dernière rotation date du {} : une demande mise en attente avant elle porte \
                 un code de la clé précédente, que cette rotation effacerait, et pourrait \
                 encore être confirmée jusqu'au {} ; attendez cette date, ou forcez avec \
                 --force (ces demandes ne pourront plus qu'expirer)",
                licgate::rules::french_date_time(&rotated.to_zoned(calendar.time_zone.clone())),
                licgate::rules::french_date_time(&safe_from)
            );
        }
    }
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
            path.display()
        ))
    );
    Ok(ExitCode::SUCCESS)
}
