//! The answer to a technician, pure: built from the verdict, never sent here.
//!
//! A refusal lists one line per problem (what is wrong, how to fix it), then
//! gives the template back, filled with what was understood, ready to correct
//! and resend. An acceptance sums up what will be ordered, with the request id.

use std::fmt::Write as _;

use jiff::SignedDuration;

use super::history::CANCELLATION_DAYS;
use super::request::{Action, Field};
use super::verdict::{Outcome, ProblemCode, Reply, Verdict, WarningCode};
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
        let tag = self.action.map_or("AJOUT ou SUPPRESSION", Action::tag);
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

/// Builds the reply to an accepted or rejected mail.
pub fn build(verdict: &Verdict, template: &Template, calendar: &Calendar) -> Reply {
    let subject = request_subject(verdict, template);
    let id = &verdict.request_id;
    match verdict.outcome {
        Outcome::Accepted => Reply {
            subject: format!("[ACCEPTÉE] {subject} ({id})"),
            body: text::typography(&acceptance(verdict, calendar)),
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

fn acceptance(verdict: &Verdict, calendar: &Calendar) -> String {
    let request = &verdict.request;
    let quantity = request.quantity.unwrap_or_default().unsigned_abs();
    let removal = request.action == Some(Action::Suppression);
    let what = match (removal, quantity) {
        (true, 1) => "suppression d'une licence".to_owned(),
        (false, 1) => "ajout d'une licence".to_owned(),
        (true, n) => format!("suppression de {}", text::count(n, "licence", "licences")),
        (false, n) => format!("ajout de {}", text::count(n, "licence", "licences")),
    };
    let none = "(aucun)";
    let mut body =
        String::from("Bonjour,\n\nVotre demande est acceptée et transmise aux achats.\n\n");
    let _ = writeln!(body, "Référence : {}", verdict.request_id);
    if let Some(refused) = &verdict.corrects {
        let _ = writeln!(body, "Corrige : la demande {refused}, refusée");
    }
    let received = verdict
        .received_at
        .map(|at| at.to_zoned(calendar.time_zone.clone()));
    if let Some(received) = &received {
        let _ = writeln!(body, "Reçue le : {}", french_date_time(received));
    }
    let _ = writeln!(body, "Commande : {what}");
    let _ = writeln!(
        body,
        "Client : {}",
        request.client.as_deref().unwrap_or(none)
    );
    let _ = writeln!(
        body,
        "Licence : {}",
        request.licence.as_deref().unwrap_or(none)
    );
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
    match (&received, removal) {
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
            let _ = write!(
                body,
                "\nCet ajout peut encore être annulé avec remboursement au prorata jusqu'au {} : \
                 envoyez une demande de suppression avant.\n",
                french_date_time(&until)
            );
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
    // NOTE: of the remarks, only the annual commitment matters while the
    // request is refused (outside office hours, a name normalised… do not).
    let annual: Vec<_> = verdict
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::AnnualLicence)
        .collect();
    if !annual.is_empty() {
        body.push_str("\nÀ noter :\n");
        for warning in annual {
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
    for field in Field::TEMPLATE {
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

fn push_warnings(body: &mut String, verdict: &Verdict) {
    if verdict.warnings.is_empty() {
        return;
    }
    body.push_str("\nÀ noter :\n");
    for warning in &verdict.warnings {
        let _ = writeln!(body, "- {}", warning.message);
    }
}
