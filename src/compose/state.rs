//! The answer to a technician's `[ÉTAT]` question, pure: what licgate
//! recorded of one client (or one of its users), as a list of sections:
//! per licence the month's net change, the removals still pending with the
//! day they take effect, the requests waiting for their requester's
//! confirmation, and the last accepted requests. Nothing here is an order,
//! and none of it goes to purchasing.

use std::fmt::Write as _;

use jiff::Zoned;

use crate::judge::{Action, Held, Movement, Reply, StateQuery};
use crate::records::ledger::Line;
use crate::rules::{french_date, french_date_time};
use crate::text;

/// Most accepted requests listed in « Dernières demandes ».
pub const LAST_REQUESTS: usize = 10;

/// An accepted request as the answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    pub movement: Movement,
    /// Who asked.
    pub sender: Option<String>,
}

/// What licgate knows of a known client, as of `at`.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    /// The client's canonical name.
    pub client: &'a str,
    /// Only this user's requests were kept.
    pub user: Option<&'a str>,
    /// Who asks, lower case: only their own held requests are named, and
    /// no one else's address is given.
    pub asker: &'a str,
    pub at: &'a Zoned,
    /// The client's ledger as of `at`, one line per licence.
    pub lines: &'a [Line],
    /// The newest accepted requests first, at most [`LAST_REQUESTS`].
    pub last: &'a [Last],
    /// The client's requests waiting for their requester's confirmation.
    pub held: &'a [Held],
}

/// One part of the answer: a title and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

/// True when `movement` names `user` (case, accents, punctuation and the
/// order of first and last names ignored).
pub fn concerns(movement: &Movement, user: &str) -> bool {
    names(&movement.users, user)
}

/// True when `users` names `user`, compared as [`concerns`] does.
pub fn names(users: &[String], user: &str) -> bool {
    let key = person(user);
    users.iter().any(|u| person(u) == key)
}

fn person(name: &str) -> Vec<String> {
    let mut words: Vec<String> = text::words(name)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

/// The sections of the answer, in order.
pub fn sections(known: &Known) -> Vec<Section> {
    vec![licences(known), pending(known), held(known), last(known)]
}

fn held(known: &Known) -> Section {
    let zone = known.at.time_zone();
    let lines = known
        .held
        .iter()
        .map(|held| {
            let request = &held.request;
            let licence = request.licence.as_deref().unwrap_or("?");
            let what = match (&request.action, &request.from_licence) {
                (Some(Action::MiseANiveau), Some(from)) => {
                    format!("mise à niveau de « {from} » vers « {licence} »")
                }
                _ => licence.to_owned(),
            };
            let users = users(&request.users);
            let deadline = french_date_time(&held.confirm_before.to_zoned(zone.clone()));
            let quantity = request.quantity.unwrap_or_default();
            // NOTE: another's held request is told without its reference nor
            // its requester: nothing in the answer lets the asker act on it.
            if held.requester == known.asker {
                format!(
                    "{quantity:+} {what}{users} ; référence {}, demandée par vous, à confirmer avant le {deadline}",
                    held.request_id,
                )
            } else {
                format!(
                    "{quantity:+} {what}{users} ; demandée par un autre technicien, qui doit la confirmer avant le {deadline}"
                )
            }
        })
        .collect();
    Section {
        title: "En attente de confirmation (rien n'est commandé)".into(),
        lines,
    }
}

/// `, A, B` after a licence, or nothing without users.
fn users(users: &[String]) -> String {
    if users.is_empty() {
        String::new()
    } else {
        format!(", {}", users.join(", "))
    }
}

fn licences(known: &Known) -> Section {
    // `lundi 23 novembre 2026`: its last two words.
    let date = french_date(known.at.date());
    let words: Vec<&str> = date.split(' ').collect();
    let month = words[words.len().saturating_sub(2)..].join(" ");
    let lines = known
        .lines
        .iter()
        .map(|line| {
            let pending = -line.pending;
            let pending = if pending > 0 {
                format!(
                    " ; {} en attente",
                    text::count(pending as u64, "suppression", "suppressions")
                )
            } else {
                String::new()
            };
            format!(
                "{} : {:+} ce mois-ci{pending}",
                line.licence, line.net_this_month
            )
        })
        .collect();
    Section {
        title: format!("Licences, changements de {month}"),
        lines,
    }
}

fn pending(known: &Known) -> Section {
    let today = known.at.date();
    let zone = known.at.time_zone();
    let lines = known
        .lines
        .iter()
        .flat_map(|line| &line.movements)
        .filter(|m| m.quantity < 0 && m.effective_on > today)
        .map(|m| {
            format!(
                "{:+} {}{} : prend effet le {} ({}, reçue le {})",
                m.quantity,
                m.licence,
                users(&m.users),
                french_date(m.effective_on),
                m.request_id,
                french_date_time(&m.received_at.to_zoned(zone.clone()))
            )
        })
        .collect();
    Section {
        title: "Suppressions en attente".into(),
        lines,
    }
}

fn last(known: &Known) -> Section {
    let zone = known.at.time_zone();
    let lines = known
        .last
        .iter()
        .map(|last| {
            let m = &last.movement;
            let mut line = format!(
                "{} : {:+} {}{} ; référence {}",
                french_date_time(&m.received_at.to_zoned(zone.clone())),
                m.quantity,
                m.licence,
                users(&m.users),
                m.request_id
            );
            if last.sender.as_deref() == Some(known.asker) {
                line.push_str(", demandée par vous");
            }
            if let Some(ticket) = &m.ticket {
                let _ = write!(line, ", ticket {ticket}");
            }
            line
        })
        .collect();
    Section {
        title: "Dernières demandes acceptées".into(),
        lines,
    }
}

/// The reply to `query`: what is known of the client, or, when licgate does
/// not know the client, what is wrong and what to do.
pub fn reply(query: &StateQuery, known: Option<&Known>, suggestion: Option<&str>) -> Reply {
    let mut body = String::from("Bonjour,\n\n");
    let client = known.map_or(query.client.as_str(), |k| k.client);
    match known {
        None => {
            let _ = writeln!(
                body,
                "Le client « {} » n'est pas dans la liste des clients de licgate{}. \
                 Renvoyez la question avec le nom du client tel qu'il s'écrit dans vos demandes : \
                 [ÉTAT] Licence Office 365 - <Client>.",
                query.client,
                suggestion
                    .map(|s| format!(" ; le nom le plus proche est « {s} »"))
                    .unwrap_or_default()
            );
        }
        Some(known) => {
            let _ = writeln!(
                body,
                "Voici ce que licgate a enregistré pour {}{}, au {} :",
                known.client,
                known
                    .user
                    .map(|u| format!(", pour l'utilisateur {u}"))
                    .unwrap_or_default(),
                french_date_time(known.at)
            );
            for section in sections(known) {
                let _ = writeln!(body, "\n{}", section.title);
                if section.lines.is_empty() {
                    body.push_str("- (aucune)\n");
                }
                for line in &section.lines {
                    let _ = writeln!(body, "- {line}");
                }
            }
            body.push_str(
                "\nCette réponse ne commande rien et ne va pas aux achats : pour commander, \
                 envoyez une demande [AJOUT], [SUPPRESSION] ou [MISE À NIVEAU].\n",
            );
        }
    }
    body.push_str(
        "\n-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
         Message automatique, en réponse à votre question.\n",
    );
    Reply {
        subject: format!("Re: [ÉTAT] Licence Office 365 - {client}"),
        body: text::typography(&body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::fixture::accepted;
    use crate::records::{Accepted, ledger};
    use crate::rules::Calendar;

    fn known_reply(user: Option<&str>, asker: &str) -> String {
        let mut removal = accepted("LG-2", "2026-11-20T09:00:00Z", "Garage", "E1", -1);
        if let Some(verdict) = removal.verdict.as_mut() {
            verdict.request.users = vec!["Jean DUPONT".into()];
            verdict.request.ticket = Some("GLPI #7".into());
        }
        let decisions = [
            accepted("LG-1", "2026-11-03T09:00:00Z", "Garage", "E1", 3),
            removal,
        ];
        let calendar = Calendar::default();
        let mut movements = ledger::movements(decisions.iter().filter_map(Accepted::of), &calendar);
        if let Some(user) = user {
            movements.retain(|m| concerns(m, user));
        }
        let at = "2026-11-23T10:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned(calendar.time_zone.clone());
        let lines = ledger::ledger(&movements, at.date(), Some("Garage"));
        let last: Vec<Last> = movements
            .iter()
            .rev()
            .map(|m| Last {
                movement: m.clone(),
                sender: Some("tech@example.test".into()),
            })
            .collect();
        let held = [Held {
            request_id: "LG-3".into(),
            requester: "tech@example.test".into(),
            received_at: "2026-11-23T08:00:00Z".parse().unwrap(),
            confirm_before: "2026-11-24T16:30:00Z".parse().unwrap(),
            request: crate::judge::Request {
                action: Some(Action::MiseANiveau),
                client: Some("Garage".into()),
                from_licence: Some("E1".into()),
                licence: Some("E3".into()),
                quantity: Some(1),
                users: vec!["Paul Martin".into()],
                ..Default::default()
            },
        }];
        let held: Vec<Held> = held
            .into_iter()
            .filter(|h| user.is_none_or(|u| names(&h.request.users, u)))
            .collect();
        let known = Known {
            client: "Garage",
            user,
            asker,
            at: &at,
            lines: &lines,
            last: &last,
            held: &held,
        };
        let query = StateQuery {
            client: "garage".into(),
            user: user.map(str::to_owned),
        };
        reply(&query, Some(&known), None).body
    }

    // Issue 18: an [ÉTAT] answer gave another technician's held request
    // with its reference and requester, which then let the asker confirm it
    // under a forged From:.
    #[test]
    fn another_technicians_requests_are_told_without_reference_nor_address() {
        let body = known_reply(None, "other@example.test");
        assert!(!body.contains("tech@example.test"), "{body}");
        assert!(!body.contains("LG-3"), "{body}");
        assert!(
            body.contains("- +1 mise à niveau de «\u{a0}E1\u{a0}» vers «\u{a0}E3\u{a0}», Paul Martin\u{a0}; demandée par un autre technicien, qui doit la confirmer avant le mardi 24 novembre 2026 à 17\u{a0}h\u{a0}30"),
            "{body}"
        );
        assert!(!body.contains("demandée par vous"), "{body}");
    }

    #[test]
    fn the_answer_gives_the_month_the_pending_removals_and_the_last_requests() {
        let body = known_reply(None, "tech@example.test");
        assert!(
            body.contains("E1\u{a0}: +2 ce mois-ci\u{a0}; 1 suppression en attente"),
            "{body}"
        );
        assert!(
            body.contains("Licences, changements de novembre 2026"),
            "{body}"
        );
        assert!(
            body.contains("- -1 E1, Jean DUPONT\u{a0}: prend effet le mardi 1er décembre 2026 (LG-2, reçue le vendredi 20 novembre 2026 à 10\u{a0}h)"),
            "{body}"
        );
        assert!(
            body.contains("- vendredi 20 novembre 2026 à 10\u{a0}h\u{a0}: -1 E1, Jean DUPONT\u{a0}; référence LG-2, demandée par vous, ticket GLPI #7"),
            "{body}"
        );
        assert!(body.contains("ne va pas aux achats"), "{body}");
        assert!(
            body.contains("- +1 mise à niveau de «\u{a0}E1\u{a0}» vers «\u{a0}E3\u{a0}», Paul Martin\u{a0}; référence LG-3, demandée par vous, à confirmer avant le mardi 24 novembre 2026 à 17\u{a0}h\u{a0}30"),
            "{body}"
        );
    }

    #[test]
    fn a_user_line_keeps_only_that_users_requests() {
        let body = known_reply(Some("dupont jean"), "tech@example.test");
        assert!(body.contains("pour l'utilisateur dupont jean"), "{body}");
        assert!(body.contains("LG-2"), "{body}");
        assert!(!body.contains("LG-1"), "{body}");
        assert!(!body.contains("LG-3"), "{body}");
    }

    #[test]
    fn an_unknown_client_is_said_with_what_to_do() {
        let query = StateQuery {
            client: "Garaje".into(),
            user: None,
        };
        let answer = reply(&query, None, Some("Garage du Centre"));
        assert!(
            answer.body.contains("Le client «\u{a0}Garaje\u{a0}» n'est pas dans la liste des clients de licgate\u{a0}; le nom le plus proche est «\u{a0}Garage du Centre\u{a0}». Renvoyez"),
            "{}",
            answer.body
        );
        assert_eq!(answer.subject, "Re: [ÉTAT] Licence Office 365 - Garaje");
    }
}
