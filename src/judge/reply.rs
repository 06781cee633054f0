//! The answer to a technician, pure: built from the verdict, never sent here.
//!
//! A refusal lists one line per problem (what is wrong, how to fix it), then
//! gives the template back, filled with what was understood, ready to correct
//! and resend. An acceptance sums up what will be ordered, with the request id.
//! A request held for confirmation sums it up too, says why it is high-risk
//! and how to confirm it; the answers to `CONFIRMER`/`ANNULER` are short.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use super::history::CANCELLATION_DAYS;
use super::request::{Action, Field};
use super::verdict::{Outcome, Problem, ProblemCode, Reply, Verdict, WarningCode};
use crate::rules::{Calendar, french_date, french_date_time};
use crate::text;

/// The values given back in the template of a refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    /// The action, when the subject named one.
    pub action: Option<Action>,
    /// The client, resolved when possible.
    pub client: Option<String>,
    /// The other fields, as understood.
    fields: Vec<(Field, String)>,
    /// The subject said « URGENT »: the acceptance says every request is
    /// handled on receipt.
    pub urgent: bool,
}

impl Template {
    /// Sets the value given back for `field`.
    pub fn set(&mut self, field: Field, value: &str) {
        self.fields.retain(|(f, _)| *f != field);
        self.fields.push((field, value.to_owned()));
    }

    /// True when nothing was understood to give back.
    fn is_empty(&self) -> bool {
        self.client.is_none() && self.fields.iter().all(|(_, value)| value.is_empty())
    }

    fn get(&self, field: Field) -> &str {
        if field == Field::Client {
            return self.client.as_deref().unwrap_or_default();
        }
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v)
    }

    fn subject(&self) -> String {
        let tag = self
            .action
            .map_or("AJOUT, SUPPRESSION ou MISE À NIVEAU", Action::tag);
        format!(
            "[{tag}] Licence Office 365 - {}",
            self.client.as_deref().unwrap_or("<Client>")
        )
    }
}

/// The signature of an acceptance.
const SIGNATURE: &str = "-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
                         Message automatique, envoyé à la réception de votre demande ; \
                         une réponse à ce message n'est pas lue.\n";

/// The signature of a refusal: how to answer it.
const REFUSAL_SIGNATURE: &str = "-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
     Message automatique. Une réponse à ce message est lue comme la demande corrigée : \
     corrigez le modèle ci-dessus et envoyez.\n";

/// The signature of a refusal for the date: how to send the request again.
const WINDOW_SIGNATURE: &str = "-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
     Message automatique. Une réponse à ce message est lue comme la demande : à la date \
     indiquée, répondez sans rien modifier.\n";

/// The signature of a request held for confirmation: how to answer it.
const CONFIRMATION_SIGNATURE: &str = "-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
     Message automatique. Une réponse à ce message n'est lue que si elle commence par \
     CONFIRMER ou ANNULER suivi de la référence et du code.\n";

/// Builds the reply to an accepted, held or rejected mail.
pub fn build(verdict: &Verdict, template: &Template, calendar: &Calendar) -> Reply {
    let subject = request_subject(verdict, template);
    let id = &verdict.request_id;
    match verdict.outcome {
        Outcome::Accepted => Reply {
            subject: format!("[ACCEPTÉE] {subject} ({id})"),
            body: text::typography(&acceptance(verdict, calendar, template.urgent)),
        },
        Outcome::Held => Reply {
            subject: format!("[À CONFIRMER] {subject} ({id})"),
            body: text::typography(&to_confirm(verdict, calendar)),
        },
        Outcome::Rejected | Outcome::Ignored | Outcome::Quarantined => Reply {
            subject: format!("[REFUSÉE] {subject} ({id})"),
            body: text::typography(&refusal(verdict, &subject, template)),
        },
    }
}

/// The subject of the request a reply is about: rebuilt from the action and
/// the client when both are known, else as written without prefixes, tags
/// and request id, so that answers never stack `RE: [REFUSÉE] RE: …`.
fn request_subject(verdict: &Verdict, template: &Template) -> String {
    // The client given back (a known name over a misspelt one), unless it
    // is a question between two names.
    let question = template
        .client
        .as_deref()
        .is_some_and(|c| c.starts_with('['));
    let client = template
        .client
        .as_deref()
        .or(verdict.request.client.as_deref());
    if let (Some(action), Some(client), false) = (verdict.request.action, client, question) {
        return format!("[{}] Licence Office 365 - {client}", action.tag());
    }
    let written = verdict
        .subject
        .as_deref()
        .map(super::request::clean_subject);
    match written.filter(|s| !s.is_empty()) {
        Some(subject) => subject.to_owned(),
        None => "(sans objet)".to_owned(),
    }
}

/// The lines that say what is ordered: action, client, licences, users.
fn summary(body: &mut String, verdict: &Verdict) {
    let request = &verdict.request;
    let quantity = request.quantity.unwrap_or_default().unsigned_abs();
    let licences = text::count(quantity, "licence", "licences");
    let what = match (request.action, quantity) {
        (Some(Action::Suppression), 1) => "suppression d'une licence".to_owned(),
        (Some(Action::Suppression), _) => format!("suppression de {licences}"),
        (Some(Action::MiseANiveau), 1) => "mise à niveau d'une licence".to_owned(),
        (Some(Action::MiseANiveau), _) => format!("mise à niveau de {licences}"),
        (_, 1) => "ajout d'une licence".to_owned(),
        (_, _) => format!("ajout de {licences}"),
    };
    let none = "(aucun)";
    let _ = writeln!(body, "Commande : {what}");
    let _ = writeln!(
        body,
        "Client : {}",
        request.client.as_deref().unwrap_or(none)
    );
    if request.action == Some(Action::MiseANiveau) {
        let _ = writeln!(
            body,
            "Licence actuelle : {}",
            request.from_licence.as_deref().unwrap_or(none)
        );
        let _ = writeln!(
            body,
            "Licence cible : {}",
            request.licence.as_deref().unwrap_or(none)
        );
    } else {
        let _ = writeln!(
            body,
            "Licence : {}",
            request.licence.as_deref().unwrap_or(none)
        );
    }
    let users = if request.users.is_empty() {
        none.to_owned()
    } else {
        request.users.join(", ")
    };
    let label = if request.users.len() > 1 {
        "Utilisateurs"
    } else {
        "Utilisateur"
    };
    let _ = writeln!(body, "{label} : {users}");
    let _ = writeln!(
        body,
        "Adresse à créer : {}",
        request.address.as_deref().unwrap_or("(aucune)")
    );
    let desktop = if request.remote_desktop == Some(true) {
        "OUI"
    } else {
        "NON"
    };
    let _ = writeln!(body, "Bureau à distance associé : {desktop}");
    if let Some(ticket) = &request.ticket {
        let _ = writeln!(body, "Ticket : {ticket}");
    }
}

fn acceptance(verdict: &Verdict, calendar: &Calendar, urgent: bool) -> String {
    let mut body =
        String::from("Bonjour,\n\nVotre demande est acceptée et transmise aux achats.\n");
    if urgent {
        body.push_str(
            "La mention d'urgence de l'objet n'est pas nécessaire : chaque demande est \
             contrôlée et transmise aux achats dès sa réception.\n",
        );
    }
    body.push('\n');
    // A confirmation is accepted under the reference of the request it confirms.
    let reference = verdict.confirms.as_deref().unwrap_or(&verdict.request_id);
    let _ = writeln!(body, "Référence : {reference}");
    if let Some(refused) = &verdict.corrects {
        let _ = writeln!(body, "Corrige : la demande {refused}, refusée");
    }
    let received = verdict
        .received_at
        .map(|at| at.to_zoned(calendar.time_zone.clone()));
    if let Some(received) = &received {
        let label = if verdict.confirms.is_some() {
            "Confirmée le"
        } else {
            "Reçue le"
        };
        let _ = writeln!(body, "{label} : {}", french_date_time(received));
    }
    summary(&mut body, verdict);
    let action = verdict.request.action;
    let removal = action == Some(Action::Suppression);
    match (&received, removal) {
        _ if action == Some(Action::MiseANiveau) => body.push_str(
            "\nLa mise à niveau est irréversible : elle apparaît dans la console dès qu'elle \
             est passée.\n",
        ),
        (Some(received), true) => {
            let effective = received
                .date()
                .last_of_month()
                .tomorrow()
                .expect("dates in range");
            let _ = write!(
                body,
                "\nLa suppression prendra effet le {}, jour du renouvellement mensuel des \
                 licences : elle n'apparaîtra dans la console qu'à cette date.\n",
                french_date(effective)
            );
        }
        (Some(received), false) => {
            // NOTE: the refund window closes earlier when removals do: at the
            // month's cut-off (after it, a removal is refused until the 2nd).
            let refund =
                received.saturating_add(SignedDuration::from_hours(24 * CANCELLATION_DAYS));
            // (The cut-off is on the month's last business day: only a
            // window that reaches the month's last week can cross it.)
            let late = refund.date()
                >= received
                    .date()
                    .last_of_month()
                    .saturating_sub(jiff::Span::new().days(7))
                || refund.date().month() != received.date().month();
            let cutoff = late.then(|| calendar.cutoff_of_month(received.date()));
            let until = match cutoff {
                Some(cutoff) if cutoff > *received && cutoff < refund => cutoff,
                _ => refund,
            };
            if calendar.is_business_day(until.date()) {
                let _ = write!(
                    body,
                    "\nCet ajout peut encore être annulé avec remboursement au prorata jusqu'au \
                     {} : envoyez une demande de suppression avant.\n",
                    french_date_time(&until)
                );
            } else {
                // NOTE: a removal sent on a closed day is handled at the next
                // opening, after the deadline.
                let last = calendar.last_business_moment_before(until.date());
                let _ = write!(
                    body,
                    "\nCet ajout peut encore être annulé avec remboursement au prorata jusqu'au \
                     {}, un jour fermé : envoyez une demande de suppression au plus tard le {}.\n",
                    french_date_time(&until),
                    french_date_time(&last)
                );
            }
        }
        (None, true) => body.push_str(
            "\nLa suppression n'apparaîtra dans la console qu'après le 1er du mois prochain \
             (renouvellement des licences).\n",
        ),
        (None, false) => {}
    }
    push_warnings(&mut body, verdict);
    body.push('\n');
    body.push_str(SIGNATURE);
    body
}

/// What a refusal asks of the technician.
#[derive(PartialEq)]
enum Refusal {
    /// Only the date is wrong: send it again as is, later.
    Window,
    /// Already ordered: nothing to do.
    Duplicate,
    /// Something to correct.
    Correct,
}

fn refusal(verdict: &Verdict, original: &str, template: &Template) -> String {
    let is_window = |code: ProblemCode| {
        matches!(
            code,
            ProblemCode::WindowFirstOfMonth | ProblemCode::WindowAfterCutoff
        )
    };
    let codes = || verdict.problems.iter().map(|p| p.code);
    let kind = if codes().all(is_window) {
        Refusal::Window
    } else if codes().all(|c| c == ProblemCode::DuplicateRequest) {
        Refusal::Duplicate
    } else {
        Refusal::Correct
    };
    let to_correct = codes().filter(|c| !is_window(*c)).count();
    let mut body = match kind {
        Refusal::Window => format!(
            "Bonjour,\n\nVotre demande « {original} » est correcte, mais elle ne peut pas \
             être traitée à cette date.\n\n"
        ),
        Refusal::Duplicate => format!(
            "Bonjour,\n\nVotre demande « {original} » n'a pas été traitée : elle est déjà \
             commandée.\n\n"
        ),
        Refusal::Correct => format!(
            "Bonjour,\n\nVotre demande « {original} » n'a pas été traitée : {}.\n\n",
            if to_correct == 1 {
                "un point est à corriger".to_owned()
            } else {
                format!("{to_correct} points sont à corriger")
            }
        ),
    };
    // One line per problem, opening with what is wrong: each message names
    // the field itself, so no label is repeated in front of it.
    for problem in &verdict.problems {
        let _ = writeln!(body, "- {}", problem.message);
    }
    // NOTE: of the remarks, only the annual commitment and the lines not
    // read matter while the request is refused (outside office hours, a
    // name normalised… do not).
    let remarks: Vec<_> = verdict
        .warnings
        .iter()
        .filter(|w| {
            matches!(
                w.code,
                WarningCode::AnnualLicence | WarningCode::LineIgnored
            )
        })
        .collect();
    if !remarks.is_empty() {
        body.push_str("\nÀ noter :\n");
        for warning in remarks {
            let _ = writeln!(body, "- {}", warning.message);
        }
    }
    if kind == Refusal::Duplicate {
        let _ = writeln!(
            body,
            "\nSi c'est bien la même demande, rien à faire.\n\nRéférence : {}\n",
            verdict.request_id
        );
        body.push_str(SIGNATURE);
        return body;
    }
    body.push_str(match kind {
        Refusal::Window => {
            "\nLa voici telle qu'elle a été comprise ; à la date indiquée, répondez à ce \
             message sans rien modifier :\n\n"
        }
        _ if template.is_empty() => {
            "\nCorrigez la demande et renvoyez-la avec le modèle ci-dessous, rempli :\n\n"
        }
        _ => {
            "\nCorrigez la demande et renvoyez-la avec le modèle ci-dessous, \
             rempli avec ce qui a été compris :\n\n"
        }
    });
    let _ = writeln!(body, "Objet : {}\n", template.subject());
    for &field in Field::template(template.action) {
        let _ = writeln!(body, "{} : {}", field.label(), template.get(field));
    }
    let _ = writeln!(body, "\nRéférence : {}\n", verdict.request_id);
    body.push_str(if kind == Refusal::Window {
        WINDOW_SIGNATURE
    } else {
        REFUSAL_SIGNATURE
    });
    body
}

/// A held request: what will be ordered, why it waits, how to confirm.
fn to_confirm(verdict: &Verdict, calendar: &Calendar) -> String {
    let id = &verdict.request_id;
    let mut body = String::from(
        "Bonjour,\n\nVotre demande est correcte, mais elle n'est pas encore transmise aux \
         achats : elle attend votre confirmation.\n\n",
    );
    let _ = writeln!(body, "Référence : {id}");
    let received = verdict
        .received_at
        .map(|at| at.to_zoned(calendar.time_zone.clone()));
    if let Some(received) = &received {
        let _ = writeln!(body, "Reçue le : {}", french_date_time(received));
    }
    summary(&mut body, verdict);
    body.push_str("\nPourquoi une confirmation :\n");
    if verdict.request.action == Some(Action::MiseANiveau) {
        body.push_str(
            "- une mise à niveau est irréversible dans la console Microsoft : une erreur ne \
             pourra pas être annulée.\n",
        );
    }
    let annual = verdict
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::AnnualLicence);
    if let (true, Some(licence), Some(client)) =
        (annual, &verdict.request.licence, &verdict.request.client)
    {
        let renewal = received
            .as_ref()
            .and_then(|r| r.date().checked_add(jiff::Span::new().years(1)).ok());
        let until = match renewal {
            Some(date) => format!(", jusqu'au {}", french_date(date)),
            None => String::new(),
        };
        let _ = writeln!(
            body,
            "- « {licence} » est facturée à l'année pour {client} : cette commande engage pour \
             12 mois{until}, et une erreur serait facturée pendant toute cette durée."
        );
    }
    let deadline = match verdict.confirm_before {
        Some(at) => format!(
            " avant le {}",
            french_date_time(&at.to_zoned(calendar.time_zone.clone()))
        ),
        None => String::new(),
    };
    // NOTE: offline (`licgate check`) there is no server key, so no code.
    let code = match &verdict.confirm_code {
        Some(code) => format!(" {code}"),
        None => " [code donné par le démon]".into(),
    };
    let _ = write!(
        body,
        "\nVérifiez chaque ligne ci-dessus. Pour confirmer, répondez à ce message{deadline} \
         en écrivant en première ligne :\n\nCONFIRMER {id}{code}\n\nPour annuler, écrivez à \
         la place :\n\nANNULER {id}{code}\n\nLe code qui suit la référence est propre à \
         ce message : ne le transmettez à personne. Sans confirmation à temps, la demande est \
         close et rien n'est commandé.\n"
    );
    let others: Vec<_> = verdict
        .warnings
        .iter()
        .filter(|w| {
            !matches!(
                w.code,
                WarningCode::AnnualLicence | WarningCode::ConfirmationRequired
            )
        })
        .collect();
    if !others.is_empty() {
        body.push_str("\nÀ noter :\n");
        for warning in others {
            let _ = writeln!(body, "- {}", warning.message);
        }
    }
    body.push('\n');
    body.push_str(CONFIRMATION_SIGNATURE);
    body
}

/// The answer to `CONFIRMER LG-…` or `ANNULER LG-…` naming `held`: the
/// acceptance of the confirmed request, the acknowledgement of a
/// cancellation, or why the answer was not taken.
pub fn answer_to_confirmation(verdict: &Verdict, held: &str, calendar: &Calendar) -> Reply {
    let subject = request_subject(verdict, &Template::default());
    match verdict.outcome {
        Outcome::Accepted => Reply {
            subject: format!("[ACCEPTÉE] {subject} ({held})"),
            body: text::typography(&acceptance(verdict, calendar, false)),
        },
        Outcome::Ignored => {
            let mut body = format!(
                "Bonjour,\n\nVotre demande {held} est annulée, comme vous l'avez demandé : \
                 rien n'est commandé.\n\n"
            );
            body.push_str(SIGNATURE);
            Reply {
                subject: format!("[ANNULÉE] {subject} ({held})"),
                body: text::typography(&body),
            }
        }
        _ => {
            let mut body =
                format!("Bonjour,\n\nVotre réponse « {subject} » n'a pas été prise en compte :\n");
            for problem in &verdict.problems {
                let _ = writeln!(body, "- {}", problem.message);
            }
            let _ = writeln!(
                body,
                "\nRéférence de cette réponse : {}\n",
                verdict.request_id
            );
            body.push_str(CONFIRMATION_SIGNATURE);
            Reply {
                subject: format!("[REFUSÉE] {subject} ({})", verdict.request_id),
                body: text::typography(&body),
            }
        }
    }
}

/// The refusal of an answer to `[À CONFIRMER]` without the command: under
/// the held request's own subject and reference (from the inbox list it
/// must not read as a refused request), with its deadline when known. The
/// code is never repeated: only the `[À CONFIRMER]` mail carries it.
pub fn confirmation_missing(
    verdict: &Verdict,
    held: &str,
    deadline: Option<Timestamp>,
    calendar: &Calendar,
) -> Reply {
    let subject = request_subject(verdict, &Template::default());
    let mut body =
        format!("Bonjour,\n\nVotre réponse « {subject} » n'a pas été prise en compte :\n");
    for problem in &verdict.problems {
        let _ = writeln!(body, "- {}", problem.message);
    }
    let until = match deadline {
        Some(at) => format!(
            "jusqu'au {}",
            french_date_time(&at.to_zoned(calendar.time_zone.clone()))
        ),
        None => "jusqu'à l'échéance donnée dans le message [À CONFIRMER]".to_owned(),
    };
    let _ = writeln!(
        body,
        "\nLa demande {held} peut être confirmée {until} ; sans confirmation à temps, elle est \
         close et rien n'est commandé.\n\nRéférence : {held}\n"
    );
    body.push_str(CONFIRMATION_SIGNATURE);
    Reply {
        subject: format!("[À CONFIRMER] {subject} ({held})"),
        body: text::typography(&body),
    }
}

/// The notice to the requester of `held` (its verdict), not confirmed in time.
pub fn expiry_notice(held: &Verdict, deadline: Timestamp, calendar: &Calendar) -> Reply {
    let subject = request_subject(held, &Template::default());
    let id = &held.request_id;
    let deadline = deadline.to_zoned(calendar.time_zone.clone());
    let problem = Problem::confirmation_expired(id, &deadline);
    let mut body = format!("Bonjour,\n\n{}\n\n", problem.message);
    summary(&mut body, held);
    body.push('\n');
    body.push_str(SIGNATURE);
    Reply {
        subject: format!("[EXPIRÉE] {subject} ({id})"),
        body: text::typography(&body),
    }
}

fn push_warnings(body: &mut String, verdict: &Verdict) {
    if verdict.warnings.is_empty() {
        return;
    }
    body.push_str("\nÀ noter :\n");
    for warning in &verdict.warnings {
        let _ = writeln!(body, "- {}", warning.message);
    }
}
