//! The records of what licgate decided and sent, typed and versioned, and
//! what is computed from them (pure): the hash-chained [`audit`] trail, the
//! licence [`ledger`].
//!
//! A [`Decision`] is read from its stored JSON in one place,
//! [`Decision::from_json`]: every reader (audit trail, ledger, digest,
//! status, queries) gets the same typed value, whatever version wrote it.

pub mod audit;
pub mod ledger;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::judge::{Held, Outcome, Problem, Request, Verdict, WarningCode};
use crate::rules::Calendar;

/// The layout of stored records this code writes.
///
/// - 1: licgate 0.1. The verdict was untyped JSON and the outcome was named
///   `disposition`; the `accepted` tree held audit entries. Same fields and
///   names otherwise, so a record of version 1 reads as this version.
/// - 2: typed records: `schema` and `outcome` fields, the `accepted` tree
///   holds [`Accepted`] summaries.
/// - 3: the `held` outcome, upgrade requests (`from_licence`) and the
///   confirmation links (`confirms`, `confirm_before`); the `held` tree.
///   A record of version 2 reads as this version.
pub const SCHEMA: u32 = 3;

/// One decision of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The layout version this record was written with (absent: 1).
    #[serde(default = "first_schema")]
    pub schema: u32,
    /// The request id of the verdict (same Message-ID, same id).
    pub request_id: String,
    /// `UIDVALIDITY:UID` of the message in the watched mailbox.
    pub mailbox_key: String,
    /// When the daemon decided.
    pub decided_at: Timestamp,
    /// The server's INTERNALDATE, the reception time judged.
    pub received_at: Option<Timestamp>,
    /// Sender address.
    pub sender: Option<String>,
    /// What happens to the mail.
    #[serde(alias = "disposition")]
    pub outcome: Outcome,
    /// The folder the mail is moved to.
    pub folder: String,
    /// Why it was quarantined, or why no reply was sent.
    pub note: Option<String>,
    /// The verdict of the judgement (`None` for a mail never judged).
    pub verdict: Option<Verdict>,
    /// True when a reply was queued.
    pub reply_queued: bool,
    /// For a held request closed by its requester's answer: that answer's
    /// request id (it confirmed or cancelled this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
}

fn first_schema() -> u32 {
    1
}

/// Why a stored record cannot be read.
#[derive(Debug)]
pub enum RecordError {
    /// Written by a newer licgate: this one must not guess its meaning.
    Newer { schema: u32 },
    /// Not a record of any known version.
    Invalid(serde_json::Error),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Newer { schema } => write!(
                f,
                "record of schema {schema}, written by a newer licgate (this one reads up to {SCHEMA})"
            ),
            RecordError::Invalid(err) => write!(f, "unreadable record: {err}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl Decision {
    /// Reads a stored decision of any known version, as the current one.
    pub fn from_json(bytes: &[u8]) -> Result<Decision, RecordError> {
        serde_json::from_slice::<Decision>(bytes)
            .map_err(RecordError::Invalid)?
            .upgraded()
    }

    /// This decision in the current layout.
    ///
    /// NOTE: version 1 differs only by names that serde reads as aliases and
    /// defaults; a later version that changes meaning converts here.
    pub fn upgraded(mut self) -> Result<Decision, RecordError> {
        if self.schema > SCHEMA {
            return Err(RecordError::Newer {
                schema: self.schema,
            });
        }
        self.schema = SCHEMA;
        Ok(self)
    }

    /// The stored form (always the current version).
    pub fn to_json(&self) -> Vec<u8> {
        debug_assert_eq!(self.schema, SCHEMA, "decisions are upgraded when read");
        serde_json::to_vec(self).expect("a decision serialises")
    }

    /// What could be read of the request (`None` for a mail never judged).
    pub fn request(&self) -> Option<&Request> {
        self.verdict.as_ref().map(|v| &v.request)
    }

    /// When the mail was received, else when it was decided.
    pub fn received_or_decided(&self) -> Timestamp {
        self.received_at.unwrap_or(self.decided_at)
    }

    /// The request this decision sends to purchasing, if it sends one: its
    /// own when accepted, or the held one it confirms.
    pub fn ordered(&self) -> Option<&str> {
        if self.outcome != Outcome::Accepted {
            return None;
        }
        Some(self.closes().unwrap_or(&self.request_id))
    }

    /// The held request this decision confirms or cancels, if it does.
    pub fn closes(&self) -> Option<&str> {
        let verdict = self.verdict.as_ref()?;
        match self.outcome {
            Outcome::Accepted | Outcome::Ignored => verdict.confirms.as_deref(),
            _ => None,
        }
    }

    /// What a confirmation is checked against, for a held decision.
    ///
    /// NOTE: a held request always has a deadline in the daemon (the
    /// server's reception time); one without falls back to a day after
    /// the decision.
    pub fn held(&self) -> Option<Held> {
        let verdict = self.verdict.as_ref()?;
        if self.outcome != Outcome::Held {
            return None;
        }
        let fallback = self.decided_at + jiff::SignedDuration::from_hours(24);
        Some(Held {
            request_id: self.request_id.clone(),
            requester: self.sender.clone()?,
            received_at: self.received_or_decided(),
            confirm_before: verdict.confirm_before.unwrap_or(fallback),
            request: verdict.request.clone(),
        })
    }

    /// This held decision, closed by `answer` (the decision on the mail
    /// that says `CONFIRMER` or `ANNULER`): accepted, or ignored as
    /// cancelled, with a note naming the answer.
    pub fn closed_by(&self, answer: &Decision) -> Decision {
        let mut closed = self.clone();
        closed.decided_at = answer.decided_at;
        closed.outcome = answer.outcome;
        closed.reply_queued = false;
        closed.closed_by = Some(answer.request_id.clone());
        if let Some(verdict) = &mut closed.verdict {
            verdict.outcome = answer.outcome;
            verdict
                .warnings
                .retain(|w| w.code != WarningCode::ConfirmationRequired);
            verdict.reply = None;
            if answer.outcome != Outcome::Accepted {
                verdict.problems = vec![Problem::cancelled(&self.request_id)];
            }
        }
        closed
    }

    /// This held decision, closed at `now` because its deadline passed.
    pub fn expired(&self, now: Timestamp, calendar: &Calendar) -> Decision {
        let mut closed = self.clone();
        closed.decided_at = now;
        closed.outcome = Outcome::Rejected;
        closed.reply_queued = false;
        let deadline = self
            .held()
            .map_or(now, |held| held.confirm_before)
            .to_zoned(calendar.time_zone.clone());
        closed.note = Some(format!(
            "not confirmed before {}: closed",
            deadline.timestamp()
        ));
        if let Some(verdict) = &mut closed.verdict {
            verdict.outcome = Outcome::Rejected;
            verdict.warnings.clear();
            verdict.reply = None;
            verdict.problems = vec![Problem::confirmation_expired(&self.request_id, &deadline)];
        }
        closed
    }
}

/// An accepted request as the duplicate history and the ledger read it:
/// the part of its [`Decision`] kept in the store's `accepted` index, so
/// that reading every accepted request does not read every reply's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The request id of the decision.
    pub request_id: String,
    /// When it was received (else decided).
    pub received_at: Timestamp,
    /// What was accepted.
    pub request: Request,
}

impl Accepted {
    /// A held request as the duplicate history reads it: like an accepted one.
    pub fn of_held(held: &Held) -> Accepted {
        Accepted {
            request_id: held.request_id.clone(),
            received_at: held.received_at,
            request: held.request.clone(),
        }
    }

    /// The summary of an accepted decision; `None` for any other, and for
    /// a confirmation (the request it confirms is the one accepted).
    pub fn of(decision: &Decision) -> Option<Accepted> {
        if decision.outcome != Outcome::Accepted || decision.closes().is_some() {
            return None;
        }
        Some(Accepted {
            request_id: decision.request_id.clone(),
            received_at: decision.received_or_decided(),
            request: decision.request()?.clone(),
        })
    }
}

/// A mail waiting in the outbox: a reply, or a mail of licgate's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The request it answers, or the id of licgate's own mail.
    pub request_id: String,
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The whole message, ready to send.
    pub message: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Set for a mail of licgate's own (a digest, a notice, the reminder):
    /// never dropped when the server refuses it for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<Own>,
}

/// A mail of licgate's own that the SMTP server refused for good: owed
/// until a later mail carries what it carried (`licgate status` names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owed {
    /// The mail's id (`digest-…`, `LG-….notice`, `reminder-…`).
    pub id: String,
    /// Its recipients.
    pub to: Vec<String>,
    /// The server's last answer.
    pub reason: String,
    /// When the server first refused it.
    pub since: Timestamp,
    /// The requests of a digest not yet carried by a mail the server took.
    #[serde(default)]
    pub request_ids: Vec<String>,
}

/// What licgate owes with one of its own mails.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Own {
    /// The requests a digest lists (none for a notice or the reminder):
    /// refused for good, they go back to the next digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<String>,
}

/// Decisions for the unit tests of the records and what reads them.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::judge::{Action, Request};

    /// An accepted request of `quantity` `licence` for `client`, received
    /// (and decided) at `at`, for one user « A ».
    pub fn accepted(id: &str, at: &str, client: &str, licence: &str, quantity: i64) -> Decision {
        let at: Timestamp = at.parse().unwrap();
        let request = Request {
            action: Some(if quantity < 0 {
                Action::Suppression
            } else {
                Action::Ajout
            }),
            client: Some(client.into()),
            licence: Some(licence.into()),
            quantity: Some(quantity),
            users: vec!["A".into()],
            address: None,
            remote_desktop: Some(false),
            from_licence: None,
            ticket: None,
        };
        Decision {
            schema: SCHEMA,
            request_id: id.into(),
            mailbox_key: format!("1:{id}"),
            decided_at: at,
            received_at: Some(at),
            sender: Some("tech@example.test".into()),
            outcome: Outcome::Accepted,
            folder: "licgate/acceptees".into(),
            note: None,
            verdict: Some(Verdict {
                outcome: Outcome::Accepted,
                request_id: id.into(),
                received_at: Some(at),
                from: Some("tech@example.test".into()),
                from_name: None,
                message_id: Some(format!("{id}@example.test")),
                subject: Some(format!("[AJOUT] Licence Office 365 - {client}")),
                problems: vec![],
                warnings: vec![],
                request,
                corrects: None,
                confirms: None,
                confirm_before: None,
                reply: None,
                confirm_code: None,
            }),
            reply_queued: true,
            closed_by: None,
        }
    }
}
