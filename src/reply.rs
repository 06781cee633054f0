//! The answer to a technician, pure: built from the verdict, never sent here.
//!
//! A refusal lists one line per problem (what is wrong, how to fix it), then
//! gives the template back, filled with what was understood, ready to correct
//! and resend. An acceptance sums up what will be ordered, with the request id.

use std::fmt::Write as _;

use serde::Serialize;

use crate::request::{Action, Field};
use crate::verdict::{Outcome, Verdict};

/// Subject and plain-text body of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// `[REFUSÉE] <original subject>` or `[ACCEPTÉE] <original subject>`.
    pub subject: String,
    /// French text, lines separated by `\n`.
    pub body: String,
}

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

const SIGNATURE: &str = "-- \nlicgate, contrôle des commandes de licences Microsoft 365\n\
                         Message automatique, envoyé à la réception de votre demande.\n";

/// Builds the reply to an accepted or rejected mail.
pub fn build(verdict: &Verdict, template: &Template) -> Reply {
    let original = verdict
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let original = original.unwrap_or("(sans objet)");
    match verdict.outcome {
        Outcome::Accepted => Reply {
            subject: format!("[ACCEPTÉE] {original}"),
            body: acceptance(verdict),
        },
        Outcome::Rejected | Outcome::Ignored => Reply {
            subject: format!("[REFUSÉE] {original}"),
            body: refusal(verdict, original, template),
        },
    }
}

fn acceptance(verdict: &Verdict) -> String {
    let request = &verdict.request;
    let quantity = request.quantity.unwrap_or_default();
    let what = match request.action {
        Some(Action::Suppression) => {
            format!("suppression de {} licence(s)", quantity.unsigned_abs())
        }
        _ => format!("ajout de {} licence(s)", quantity.unsigned_abs()),
    };
    let none = "(aucun)";
    let mut body =
        String::from("Bonjour,\n\nVotre demande est acceptée et transmise aux achats.\n\n");
    let _ = writeln!(body, "Référence : {}", verdict.request_id);
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
    let _ = writeln!(body, "Utilisateur(s) : {users}");
    let _ = writeln!(
        body,
        "Adresse à créer : {}",
        request.address.as_deref().unwrap_or(none)
    );
    let desktop = if request.remote_desktop == Some(true) {
        "OUI"
    } else {
        "NON"
    };
    let _ = writeln!(body, "Bureau à distance associé : {desktop}");
    if request.action == Some(Action::Suppression) {
        body.push_str(
            "\nLa suppression n'apparaîtra dans la console qu'après le 1er du mois prochain \
             (renouvellement des licences).\n",
        );
    }
    push_warnings(&mut body, verdict);
    body.push('\n');
    body.push_str(SIGNATURE);
    body
}

fn refusal(verdict: &Verdict, original: &str, template: &Template) -> String {
    let count = verdict.problems.len();
    let mut body = format!(
        "Bonjour,\n\nVotre demande « {original} » n'a pas été traitée : {}.\n\n",
        if count == 1 {
            "un point est à corriger".to_owned()
        } else {
            format!("{count} points sont à corriger")
        }
    );
    for problem in &verdict.problems {
        match problem.field {
            Some(field) => {
                let _ = writeln!(body, "- {} : {}", field.label(), problem.message);
            }
            None => {
                let _ = writeln!(body, "- {}", problem.message);
            }
        }
    }
    push_warnings(&mut body, verdict);
    body.push_str(
        "\nCorrigez la demande et renvoyez-la avec le modèle ci-dessous, \
         rempli avec ce qui a été compris :\n\n",
    );
    let _ = writeln!(body, "Objet : {}\n", template.subject());
    for field in Field::TEMPLATE {
        let _ = writeln!(body, "{} : {}", field.label(), template.get(field));
    }
    let _ = writeln!(body, "\nRéférence : {}\n", verdict.request_id);
    body.push_str(SIGNATURE);
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

/// Who a reply goes to, and how it threads with the original.
#[derive(Debug, Clone)]
pub struct Addressing<'a> {
    /// The gateway's own address.
    pub from: &'a str,
    /// The technician who sent the request.
    pub to: &'a str,
    /// Purchasing addresses that received a refused original: they get a copy
    /// marked not to be processed.
    pub cc: &'a [String],
    /// The request id, which also names the reply's Message-ID.
    pub request_id: &'a str,
    /// Message-ID of the original.
    pub in_reply_to: Option<&'a str>,
    /// References of the original.
    pub references: &'a [String],
    /// The decision time, used as the Date.
    pub date: jiff::Timestamp,
}

/// Marks a message as automatic (RFC 3834 `Auto-Submitted: kind`, and
/// Exchange's `X-Auto-Response-Suppress`), so that no one answers it.
pub(crate) fn automatic(
    builder: lettre::message::MessageBuilder,
    kind: &str,
) -> lettre::message::MessageBuilder {
    use lettre::message::header::{HeaderName, HeaderValue};
    builder
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            kind.to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ))
}

/// The whole reply message (RFC 5322), threaded under the original, marked as
/// an automatic answer. The same inputs always give the same bytes.
pub fn to_mime(reply: &Reply, addressing: &Addressing) -> anyhow::Result<String> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Mailbox, Message};

    let domain = addressing
        .from
        .rsplit('@')
        .next()
        .unwrap_or("licgate.invalid");
    let mut body = String::new();
    if !addressing.cc.is_empty() {
        body.push_str("[Copie pour les achats : demande REFUSÉE, ne rien commander.]\n\n");
    }
    body.push_str(&reply.body);
    let builder = Message::builder()
        .from(addressing.from.parse::<Mailbox>()?)
        .to(addressing.to.parse::<Mailbox>()?)
        .subject(reply.subject.clone())
        .date(std::time::SystemTime::from(addressing.date))
        .message_id(Some(format!("<{}.reply@{domain}>", addressing.request_id)));
    let mut builder = automatic(builder, "auto-replied").raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Licgate-Request"),
        addressing.request_id.to_owned(),
    ));
    for cc in addressing.cc {
        builder = builder.cc(cc.parse::<Mailbox>()?);
    }
    if let Some(original) = addressing.in_reply_to {
        let id = format!("<{original}>");
        builder = builder.in_reply_to(id.clone());
        let mut references: Vec<String> = addressing
            .references
            .iter()
            .map(|r| format!("<{r}>"))
            .collect();
        references.push(id);
        builder = builder.references(references.join(" "));
    }
    let message = builder.header(ContentType::TEXT_PLAIN).body(body)?;
    Ok(String::from_utf8(message.formatted())?)
}
