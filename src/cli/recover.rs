//! `licgate recover`: after the store was restored from an older copy,
//! judges again the mails filed in licgate's folders that it does not know
//! (see `licgate::daemon::recover`), the daemon stopped; sends nothing.

use std::process::ExitCode;

use licgate::config::Config;
use licgate::judge::Outcome;
use licgate::text::{count, typography};

use super::run::ConfigArg;

pub fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    // NOTE: sled creates a missing store: a mistyped path must not look
    // like a store that knows nothing.
    anyhow::ensure!(
        config.store.join("db").is_file(),
        typography(&format!(
            "{} : aucune base de données à cet endroit ([store] path de la configuration) ; vérifiez le chemin",
            config.store.display()
        ))
    );
    let zone = licgate::Rules::load(&config.rules)?.calendar.time_zone;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let recovered = runtime
        .block_on(licgate::daemon::recover(config))
        .map_err(|err| {
            if err.is::<licgate::store::Locked>() {
                anyhow::anyhow!(typography(
                    "le démon tourne et tient la base de données : arrêtez-le (« systemctl stop \
                     licgate »), lancez licgate recover, puis redémarrez-le"
                ))
            } else {
                err
            }
        })?;
    if recovered.is_empty() {
        println!(
            "{}",
            typography(
                "les dossiers de licgate ne tiennent aucun courriel inconnu de la base de données : rien à rétablir"
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut differs = 0;
    let mut accepted = 0;
    for mail in &recovered {
        let found = &mail.found;
        let received = found.received_at.map_or_else(
            || "date de réception inconnue".to_owned(),
            |t| {
                format!(
                    "reçu le {}",
                    licgate::rules::french_date_time(&t.to_zoned(zone.clone()))
                )
            },
        );
        let what = match &mail.decision {
            None => format!("copie de {}, classée à côté", mail.request_id),
            Some(decision) => {
                if decision.outcome == Outcome::Accepted {
                    accepted += 1;
                }
                let mut what = format!("{} {}", mail.request_id, outcome(decision.outcome));
                if decision.folder != found.folder {
                    differs += 1;
                    what.push_str(&format!(
                        " ; ATTENTION : classé dans « {} », donc traité ainsi avant la \
                         restauration : vérifiez-le avec licgate audit show {}",
                        found.folder, mail.request_id
                    ));
                }
                what
            }
        };
        println!(
            "{}",
            typography(&format!(
                "« {} » n°\u{a0}{} ({received}) : {what}",
                found.folder, found.uid
            ))
        );
    }
    println!(
        "{}",
        typography(&format!(
            "{} dans la piste d'audit (note « rétablie par licgate recover ») ; {} de \
             nouveau dans la prochaine synthèse. Aucune réponse n'a été envoyée : chaque \
             expéditeur avait reçu la sienne avant la restauration. Une synthèse envoyée aux \
             achats après la copie restaurée a pu déjà lister ces demandes : vérifiez-le \
             avant la prochaine.",
            count(
                recovered.len() as u64,
                "courriel rétabli",
                "courriels rétablis"
            ),
            count(accepted, "demande acceptée", "demandes acceptées"),
        ))
    );
    Ok(if differs == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// An outcome as the output says it.
fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted => "acceptée",
        Outcome::Held => "à confirmer",
        Outcome::Rejected => "refusée",
        Outcome::Ignored => "ignorée",
        Outcome::Quarantined => "en quarantaine",
    }
}
