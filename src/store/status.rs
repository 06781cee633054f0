//! Health of the daemon: last successful poll, outbox depth and age, and
//! today's decisions (today in the calendar's zone). The daemon writes it to a file beside its store (sled
//! allows one process only) for `licgate status`, and serves it to Prometheus
//! when `[metrics] listen` is set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::Store;
use super::folders::UnknownMail;
use crate::judge::Outcome;
use crate::records::Owed;
use crate::records::audit::{Event, Record};
use crate::rules::french_date_time;
use crate::text::{count, typography};

/// A snapshot of the daemon's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When this snapshot was taken.
    pub updated_at: Timestamp,
    /// Last time the mailbox was looked at successfully.
    pub last_poll: Option<Timestamp>,
    /// Replies waiting to be sent.
    pub outbox_depth: usize,
    /// When the oldest waiting reply was queued.
    pub oldest_queued: Option<Timestamp>,
    /// Decisions of the current day in the calendar's zone, one count per
    /// outcome in the order of [`Outcome::ALL`] (a status file written
    /// before `held` has four).
    pub today: Vec<u32>,
    /// Accepted requests waiting for the next digest.
    #[serde(default)]
    pub awaiting_digest: u64,
    /// The last digest slot done (sent, or nothing to send).
    #[serde(default)]
    pub last_digest: Option<Timestamp>,
    /// Why sending is paused: the SMTP server refuses the gateway itself.
    #[serde(default)]
    pub outbox_paused: Option<String>,
    /// When the daemon stopped cleanly (SIGTERM), if it did.
    #[serde(default)]
    pub stopped_at: Option<Timestamp>,
    /// When the daemon started: a mailbox not read yet is then no problem
    /// for [`STARTING`].
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Mails filed in licgate's folders that the store does not know (a
    /// store restored from an older copy), found when the daemon started.
    #[serde(default)]
    pub unknown_mails: Vec<UnknownMail>,
    /// licgate's own mails the SMTP server refused for good, still owed.
    #[serde(default)]
    pub owed: Vec<Owed>,
    /// The rules files the running daemon refused on their last change (it
    /// keeps the previous ones; the next start will fail), if it did.
    #[serde(default)]
    pub rules_refused: Option<RulesRefused>,
    /// Refusals of the rules files since the daemon started (a counter).
    #[serde(default)]
    pub rules_refusals: u64,
    /// The time zone of the daemon's calendar (IANA name): `licgate status`
    /// shows times in it, even when the rules on disk are refused.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// The rules files refused by the running daemon on a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRefused {
    /// The first refusal since the files last loaded.
    pub since: Timestamp,
    /// Why (the file, line and key at fault).
    pub reason: String,
}

/// How long after its start a daemon that has not read the mailbox yet is
/// « démarrage en cours » rather than a problem (connection, login,
/// folders, then the first listing).
pub const STARTING: Duration = Duration::from_secs(120);

impl Status {
    /// Reads the figures from the store; « today » is the day of `now` in `zone`.
    pub fn collect(store: &Store, now: Timestamp, zone: &TimeZone) -> anyhow::Result<Status> {
        let midnight = now.to_zoned(zone.clone()).start_of_day()?.timestamp();
        let today = decided_since(store, midnight)?;
        Ok(Status {
            updated_at: now,
            last_poll: store.last_poll()?,
            outbox_depth: store.outbox_len(),
            oldest_queued: store
                .outbox_oldest(1)?
                .first()
                .map(|(_, item)| item.queued_at),
            today,
            awaiting_digest: store.undigested_len()?,
            last_digest: store.mark("digest")?.and_then(|m| m.parse().ok()),
            outbox_paused: None,
            stopped_at: None,
            started_at: None,
            unknown_mails: store.unknown_mails()?,
            owed: store.owed()?,
            rules_refused: None,
            rules_refusals: 0,
            time_zone: zone.iana_name().map(str::to_owned),
        })
    }

    /// The file the daemon keeps up to date, inside the store folder.
    pub fn file(store: &Path) -> PathBuf {
        store.join("licgate-status.json")
    }

    /// Writes the snapshot atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }

    /// Reads a snapshot written by the daemon.
    pub fn read(path: &Path) -> anyhow::Result<Status> {
        let text = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(serde_json::from_slice(&text)?)
    }

    /// What looks wrong at `now`, for a daemon that polls every
    /// `poll_interval`, in French, times in `zone`: what is wrong, then what
    /// to do.
    pub fn problems(
        &self,
        now: Timestamp,
        poll_interval: Duration,
        zone: &TimeZone,
    ) -> Vec<String> {
        let age = |t: Timestamp| Duration::try_from(now.duration_since(t)).unwrap_or_default();
        let at = |t: Timestamp| zoned_time(t, zone);
        let mut problems = Vec::new();
        if let Some(stopped) = self.stopped_at {
            problems.push(format!(
                "le démon est arrêté depuis le {} : démarrez-le (« systemctl start licgate »)",
                at(stopped)
            ));
        } else if age(self.updated_at) > Duration::from_secs(60) {
            problems.push(format!(
                "le démon ne tourne pas : son état n'est plus mis à jour depuis le {} ; \
                 voyez « systemctl status licgate »",
                at(self.updated_at)
            ));
        }
        match self.last_poll {
            Some(poll) if age(poll) > poll_interval * 3 + Duration::from_secs(60) => {
                problems.push(format!(
                    "la boîte n'a pas été relevée depuis le {} : voyez « journalctl -u licgate »",
                    at(poll)
                ))
            }
            None if self.stopped_at.is_none()
                && self.started_at.is_some_and(|start| age(start) <= STARTING) => {}
            None => problems
                .push("la boîte n'a jamais été relevée : voyez « journalctl -u licgate »".into()),
            _ => {}
        }
        if !self.unknown_mails.is_empty() {
            problems.push(unknown_mails(&self.unknown_mails, zone));
        }
        for owed in &self.owed {
            problems.push(owed_mail(owed, zone));
        }
        if let Some(reason) = &self.outbox_paused {
            problems.push(format!(
                "envoi suspendu : le serveur SMTP refuse la passerelle ({reason}) ; vérifiez \
                 [smtp] username, le mot de passe ou le jeton, et le droit d'envoyer en tant \
                 que [smtp] from"
            ));
        }
        if let Some(queued) = self
            .oldest_queued
            .filter(|q| age(*q) > Duration::from_secs(900))
        {
            problems.push(format!(
                "une réponse attend depuis le {} : le serveur SMTP est-il joignable ?",
                at(queued)
            ));
        }
        problems.iter().map(|p| typography(p)).collect()
    }

    /// The text `licgate status` prints, in French, times in `zone`.
    pub fn render(&self, zone: &TimeZone) -> String {
        let at =
            |t: Option<Timestamp>| t.map_or_else(|| "jamais".to_owned(), |t| zoned_time(t, zone));
        let today = |outcome: Outcome| {
            let position = Outcome::ALL.iter().position(|o| *o == outcome);
            position
                .and_then(|i| self.today.get(i))
                .map_or(0, |n| u64::from(*n))
        };
        let mut out = String::new();
        let _ = writeln!(out, "mis à jour        {}", at(Some(self.updated_at)));
        match (self.last_poll, self.started_at) {
            (None, Some(started)) if self.stopped_at.is_none() => {
                let _ = writeln!(
                    out,
                    "dernier relevé    pas encore : démarrage en cours (démarré le {})",
                    at(Some(started))
                );
            }
            (last_poll, _) => {
                let _ = writeln!(out, "dernier relevé    {}", at(last_poll));
            }
        }
        let _ = writeln!(
            out,
            "à envoyer         {}{}",
            count(self.outbox_depth as u64, "message", "messages"),
            match self.oldest_queued {
                Some(t) => format!(", le plus ancien depuis le {}", at(Some(t))),
                None => String::new(),
            }
        );
        let _ = writeln!(
            out,
            "aujourd'hui       {}, {}, {}, {} en quarantaine, {} à confirmer",
            count(today(Outcome::Accepted), "acceptée", "acceptées"),
            count(today(Outcome::Rejected), "refusée", "refusées"),
            count(today(Outcome::Ignored), "ignorée", "ignorées"),
            crate::text::french_number(today(Outcome::Quarantined)),
            crate::text::french_number(today(Outcome::Held)),
        );
        let _ = writeln!(
            out,
            "synthèse          {} pour la prochaine, dernier créneau {}",
            count(
                self.awaiting_digest,
                "demande acceptée",
                "demandes acceptées"
            ),
            at(self.last_digest)
        );
        typography(&out)
    }

    /// The Prometheus text exposition of the snapshot.
    pub fn prometheus(&self) -> String {
        let seconds = |t: Option<Timestamp>| t.map_or(0, |t| t.as_second());
        let today: Vec<(String, i64)> = Outcome::ALL
            .iter()
            .zip(&self.today)
            .map(|(outcome, count)| (format!("{{verdict=\"{outcome}\"}}"), i64::from(*count)))
            .collect();
        let gauges = [
            (
                "licgate_last_poll_timestamp_seconds",
                "Last successful look at the mailbox.",
                vec![(String::new(), seconds(self.last_poll))],
            ),
            (
                "licgate_outbox_depth",
                "Replies waiting to be sent.",
                vec![(String::new(), self.outbox_depth as i64)],
            ),
            (
                "licgate_outbox_oldest_timestamp_seconds",
                "When the oldest waiting reply was queued (0: none).",
                vec![(String::new(), seconds(self.oldest_queued))],
            ),
            (
                "licgate_decisions_today",
                "Decisions of the current day in the calendar's time zone.",
                today,
            ),
            (
                "licgate_awaiting_digest",
                "Accepted requests waiting for the next digest.",
                vec![(String::new(), self.awaiting_digest as i64)],
            ),
            (
                "licgate_owed_mails",
                "licgate's own mails (digest, notice) the SMTP server refused for good, still owed.",
                vec![(String::new(), self.owed.len() as i64)],
            ),
            (
                "licgate_rules_refused",
                "1 while the rules files on disk are refused: the daemon keeps the previous ones, and its next start will fail.",
                vec![(String::new(), i64::from(self.rules_refused.is_some()))],
            ),
        ];
        let mut out = String::new();
        for (name, help, samples) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        let name = "licgate_rules_refusals_total";
        let _ = writeln!(
            out,
            "# HELP {name} Changes of the rules files refused since the daemon started.\n\
             # TYPE {name} counter\n{name} {}",
            self.rules_refusals
        );
        out
    }
}

/// A time in `zone`, in French, naming the zone (« lundi 23 novembre 2026
/// à 10 h (Europe/Paris) »): a reader never takes UTC for Paris.
pub fn zoned_time(t: Timestamp, zone: &TimeZone) -> String {
    format!(
        "{} ({})",
        french_date_time(&t.to_zoned(zone.clone())),
        zone.iana_name().unwrap_or("heure locale")
    )
}

/// The problem of a mail of licgate's own the server refuses: which, why,
/// since when, what becomes of it, and what to do.
fn owed_mail(owed: &Owed, zone: &TimeZone) -> String {
    let what = if owed.request_ids.is_empty() {
        format!(
            "le message « {} » à {} est refusé par le serveur SMTP depuis le {} ({}) : il reste \
             en file et il est réessayé toutes les 5 minutes",
            owed.id,
            owed.to.join(", "),
            zoned_time(owed.since, zone),
            owed.reason
        )
    } else {
        format!(
            "la synthèse « {} » à {} est refusée par le serveur SMTP depuis le {} ({}) : {} \
             en attente, la prochaine synthèse {}",
            owed.id,
            owed.to.join(", "),
            zoned_time(owed.since, zone),
            owed.reason,
            count(
                owed.request_ids.len() as u64,
                "demande reste",
                "demandes restent"
            ),
            if owed.request_ids.len() > 1 {
                "les reprend"
            } else {
                "la reprend"
            }
        )
    };
    format!(
        "{what} ; corrigez la cause (un message trop gros : baissez [digest] max-size ; une \
         adresse refusée : [purchasing] to et cc ; la boîte des achats pleine : prévenez-les)"
    )
}

/// Most unknown mails named one by one in `licgate status`.
const UNKNOWN_NAMED: usize = 10;

/// The problem of mails filed in licgate's folders that the store does not
/// know: how many, which, and what to do.
fn unknown_mails(mails: &[UnknownMail], zone: &TimeZone) -> String {
    let n = mails.len() as u64;
    let named: Vec<String> = mails
        .iter()
        .take(UNKNOWN_NAMED)
        .map(|mail| {
            let received = mail.received_at.map_or_else(
                || "date de réception inconnue".to_owned(),
                |t| format!("reçu le {}", zoned_time(t, zone)),
            );
            let id = mail
                .message_id
                .as_deref()
                .map_or_else(|| "sans Message-ID".to_owned(), str::to_owned);
            format!("« {} » n°\u{a0}{}, {received}, {id}", mail.folder, mail.uid)
        })
        .collect();
    let more = match mails.len().saturating_sub(UNKNOWN_NAMED) {
        0 => String::new(),
        rest => format!(" et {}", count(rest as u64, "autre", "autres")),
    };
    let (filed, unknown) = if n > 1 {
        ("classés", "sont inconnus")
    } else {
        ("classé", "est inconnu")
    };
    format!(
        "{} {filed} dans les dossiers de licgate {unknown} de sa base de données, \
         sans doute restaurée d'une copie plus ancienne : {}{more} ; arrêtez le démon, lancez \
         « licgate recover --config FICHIER », puis redémarrez-le",
        count(n, "courriel", "courriels"),
        named.join(" ; "),
    )
}

/// The decisions recorded since `since`, by outcome (in [`Outcome::ALL`]'s
/// order), read from the end of the audit trail: a day's records at most.
fn decided_since(store: &Store, since: Timestamp) -> anyhow::Result<Vec<u32>> {
    let mut counts = vec![0; Outcome::ALL.len()];
    // A held request decided again (confirmed, cancelled, expired) is one
    // mail: counted once, as it stands now.
    let mut seen = std::collections::HashSet::new();
    for entry in store.audit.iter().rev() {
        let record = Record::from_json(&entry?.1)?;
        if record.at < since {
            break;
        }
        // An answer to a held request counts with the request it answers.
        if let Event::Decision { decision, .. } = record.event
            && decision.closes().is_none()
            && seen.insert(decision.mailbox_key.clone())
            && let Some(i) = Outcome::ALL.iter().position(|o| *o == decision.outcome)
        {
            counts[i] += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 13: status spoke of the UTC day and printed UTC times; a person
    // reads the calendar's day and time.
    #[test]
    fn status_in_french_in_the_calendars_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let status = Status {
            updated_at: "2026-11-23T09:00:05Z".parse().unwrap(),
            last_poll: Some("2026-11-23T09:00:00Z".parse().unwrap()),
            outbox_depth: 1,
            oldest_queued: Some("2026-11-23T08:30:00Z".parse().unwrap()),
            today: vec![1, 2, 0, 0, 1],
            awaiting_digest: 1,
            last_digest: None,
            outbox_paused: None,
            stopped_at: None,
            started_at: None,
            unknown_mails: Vec::new(),
            owed: Vec::new(),
            rules_refused: None,
            rules_refusals: 0,
            time_zone: None,
        };
        assert_eq!(
            status.render(&paris),
            "mis à jour        lundi 23 novembre 2026 à 10\u{a0}h (Europe/Paris)\n\
             dernier relevé    lundi 23 novembre 2026 à 10\u{a0}h (Europe/Paris)\n\
             à envoyer         1 message, le plus ancien depuis le lundi 23 novembre 2026 à 9\u{a0}h\u{a0}30 (Europe/Paris)\n\
             aujourd'hui       1 acceptée, 2 refusées, 0 ignorée, 0 en quarantaine, 1 à confirmer\n\
             synthèse          1 demande acceptée pour la prochaine, dernier créneau jamais\n"
        );
        let later: Timestamp = "2026-11-23T09:20:00Z".parse().unwrap();
        assert_eq!(
            status.problems(later, Duration::from_secs(60), &paris),
            [
                "le démon ne tourne pas\u{a0}: son état n'est plus mis à jour depuis le lundi 23 \
                 novembre 2026 à 10\u{a0}h (Europe/Paris)\u{a0}; voyez «\u{a0}systemctl status licgate\u{a0}»",
                "la boîte n'a pas été relevée depuis le lundi 23 novembre 2026 à 10\u{a0}h \
                 (Europe/Paris)\u{a0}: \
                 voyez «\u{a0}journalctl -u licgate\u{a0}»",
                "une réponse attend depuis le lundi 23 novembre 2026 à 9\u{a0}h\u{a0}30 \
                 (Europe/Paris)\u{a0}: le \
                 serveur SMTP est-il joignable\u{a0}?",
            ]
        );
        // Found by review: a clean stop read as healthy for a minute.
        let stopped = Status {
            stopped_at: Some(status.updated_at),
            ..status
        };
        assert_eq!(
            stopped.problems(stopped.updated_at, Duration::from_secs(60), &paris)[0],
            "le démon est arrêté depuis le lundi 23 novembre 2026 à 10\u{a0}h (Europe/Paris)\u{a0}: \
             démarrez-le («\u{a0}systemctl start licgate\u{a0}»)"
        );
    }

    // Issue 18, item 8: a store restored from an older copy did not know
    // requests accepted after it, and status said nothing.
    #[test]
    fn mails_unknown_to_the_store_are_a_problem_naming_them() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let now: Timestamp = "2026-11-23T09:00:05Z".parse().unwrap();
        let mut status = Status {
            updated_at: now,
            last_poll: Some(now),
            outbox_depth: 0,
            oldest_queued: None,
            today: vec![0; 5],
            awaiting_digest: 0,
            last_digest: None,
            outbox_paused: None,
            stopped_at: None,
            started_at: None,
            unknown_mails: Vec::new(),
            owed: Vec::new(),
            rules_refused: None,
            rules_refusals: 0,
            time_zone: None,
        };
        assert!(
            status
                .problems(now, Duration::from_secs(60), &paris)
                .is_empty()
        );
        status.unknown_mails = vec![UnknownMail {
            folder: "licgate/acceptees".into(),
            uid_validity: 7,
            uid: 3,
            received_at: Some("2026-11-16T09:00:00Z".parse().unwrap()),
            message_id: Some("<b@example.test>".into()),
        }];
        assert_eq!(
            status.problems(now, Duration::from_secs(60), &paris),
            [
                "1 courriel classé dans les dossiers de licgate est inconnu de sa base de \
              données, sans doute restaurée d'une copie plus ancienne\u{a0}: «\u{a0}licgate/acceptees\u{a0}» \
              n°\u{a0}3, reçu le lundi 16 novembre 2026 à 10\u{a0}h (Europe/Paris), <b@example.test>\u{a0}; \
              arrêtez le démon, lancez «\u{a0}licgate recover --config FICHIER\u{a0}», puis \
              redémarrez-le"
            ]
        );
        let second = UnknownMail {
            uid: 4,
            received_at: None,
            message_id: None,
            ..status.unknown_mails[0].clone()
        };
        status.unknown_mails.push(second);
        let problems = status.problems(now, Duration::from_secs(60), &paris);
        assert!(
            problems[0]
                .starts_with("2 courriels classés dans les dossiers de licgate sont inconnus"),
            "{problems:?}"
        );
        assert!(
            problems[0].contains("n°\u{a0}4, date de réception inconnue, sans Message-ID"),
            "{problems:?}"
        );
    }

    // Issue 18, item 3: a digest refused for good (552) left status at 0.
    #[test]
    fn a_mail_of_licgates_own_refused_for_good_is_a_problem_naming_it() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let now: Timestamp = "2026-11-23T09:00:05Z".parse().unwrap();
        let owed = |id: &str, request_ids: &[&str]| Owed {
            id: id.into(),
            to: vec!["achats@example.test".into()],
            reason: "552 5.3.4 message file too big".into(),
            since: "2026-11-23T07:30:00Z".parse().unwrap(),
            request_ids: request_ids.iter().map(|r| r.to_string()).collect(),
        };
        let status = Status {
            updated_at: now,
            last_poll: Some(now),
            outbox_depth: 0,
            oldest_queued: None,
            today: vec![0; 5],
            awaiting_digest: 2,
            last_digest: None,
            outbox_paused: None,
            stopped_at: None,
            started_at: None,
            unknown_mails: Vec::new(),
            owed: vec![
                owed("digest-20261123-083000", &["LG-1", "LG-2"]),
                owed("LG-3.notice", &[]),
            ],
            rules_refused: None,
            rules_refusals: 0,
            time_zone: None,
        };
        let problems = status.problems(now, Duration::from_secs(60), &paris);
        assert_eq!(
            problems[0],
            "la synthèse «\u{a0}digest-20261123-083000\u{a0}» à achats@example.test est refusée \
             par le serveur SMTP depuis le lundi 23 novembre 2026 à 8\u{a0}h\u{a0}30 \
             (Europe/Paris) (552 5.3.4 message file too big)\u{a0}: 2 demandes restent en \
             attente, la prochaine synthèse les reprend\u{a0}; corrigez la cause (un message \
             trop gros\u{a0}: baissez [digest] max-size\u{a0}; une adresse refusée\u{a0}: \
             [purchasing] to et cc\u{a0}; la boîte des achats pleine\u{a0}: prévenez-les)"
        );
        assert!(
            problems[1].starts_with(
                "le message «\u{a0}LG-3.notice\u{a0}» à achats@example.test est refusé par le \
                 serveur SMTP depuis le lundi 23 novembre 2026 à 8\u{a0}h\u{a0}30 (Europe/Paris) \
                 (552 5.3.4 message file too big)\u{a0}: il reste en file et il est réessayé \
                 toutes les 5 minutes\u{a0}; "
            ),
            "{problems:?}"
        );
    }

    #[tokio::test]
    async fn today_is_the_calendars_day() {
        let dir = std::env::temp_dir().join(format!("licgate-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        // 23:30 UTC on the 22nd is already the 23rd in Paris; 22:30 is not.
        for (id, at) in [
            ("LG-1", "2026-11-22T22:30:00Z"),
            ("LG-2", "2026-11-22T23:30:00Z"),
        ] {
            let decision = crate::records::fixture::accepted(id, at, "Garage", "E1", 1);
            let decided = crate::store::Decided {
                decision,
                raw: b"raw".to_vec(),
                reply: None,
                notice: None,
            };
            store.record(&[decided], &[]).await.unwrap();
        }
        let now = "2026-11-23T08:00:00Z".parse().unwrap();
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            Status::collect(&store, now, &paris).unwrap().today,
            [1, 0, 0, 0, 0]
        );
        assert_eq!(
            Status::collect(&store, now, &TimeZone::UTC).unwrap().today,
            [0, 0, 0, 0, 0]
        );
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prometheus_exposition() {
        let status = Status {
            updated_at: "2026-11-23T09:00:05Z".parse().unwrap(),
            last_poll: Some("2026-11-23T09:00:00Z".parse().unwrap()),
            outbox_depth: 2,
            oldest_queued: None,
            today: vec![5, 1, 0, 3, 2],
            awaiting_digest: 4,
            last_digest: None,
            outbox_paused: None,
            stopped_at: None,
            started_at: None,
            unknown_mails: Vec::new(),
            owed: Vec::new(),
            rules_refused: None,
            rules_refusals: 0,
            time_zone: None,
        };
        assert_eq!(
            status.prometheus(),
            "# HELP licgate_last_poll_timestamp_seconds Last successful look at the mailbox.\n\
             # TYPE licgate_last_poll_timestamp_seconds gauge\n\
             licgate_last_poll_timestamp_seconds 1795424400\n\
             # HELP licgate_outbox_depth Replies waiting to be sent.\n\
             # TYPE licgate_outbox_depth gauge\n\
             licgate_outbox_depth 2\n\
             # HELP licgate_outbox_oldest_timestamp_seconds When the oldest waiting reply was queued (0: none).\n\
             # TYPE licgate_outbox_oldest_timestamp_seconds gauge\n\
             licgate_outbox_oldest_timestamp_seconds 0\n\
             # HELP licgate_decisions_today Decisions of the current day in the calendar's time zone.\n\
             # TYPE licgate_decisions_today gauge\n\
             licgate_decisions_today{verdict=\"accepted\"} 5\n\
             licgate_decisions_today{verdict=\"rejected\"} 1\n\
             licgate_decisions_today{verdict=\"ignored\"} 0\n\
             licgate_decisions_today{verdict=\"quarantined\"} 3\n\
             licgate_decisions_today{verdict=\"held\"} 2\n\
             # HELP licgate_awaiting_digest Accepted requests waiting for the next digest.\n\
             # TYPE licgate_awaiting_digest gauge\n\
             licgate_awaiting_digest 4\n\
             # HELP licgate_owed_mails licgate's own mails (digest, notice) the SMTP server refused for good, still owed.\n\
             # TYPE licgate_owed_mails gauge\n\
             licgate_owed_mails 0\n\
             # HELP licgate_rules_refused 1 while the rules files on disk are refused: the daemon keeps the previous ones, and its next start will fail.\n\
             # TYPE licgate_rules_refused gauge\n\
             licgate_rules_refused 0\n\
             # HELP licgate_rules_refusals_total Changes of the rules files refused since the daemon started.\n\
             # TYPE licgate_rules_refusals_total counter\n\
             licgate_rules_refusals_total 0\n"
        );
    }
}
