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

use crate::judge::{Outcome, Request, Verdict};

/// The layout of stored records this code writes.
///
/// - 1: licgate 0.1. The verdict was untyped JSON and the outcome was named
///   `disposition`; the `accepted` tree held audit entries. Same fields and
///   names otherwise, so a record of version 1 reads as this version.
/// - 2: typed records: `schema` and `outcome` fields, the `accepted` tree
///   holds [`Accepted`] summaries.
pub const SCHEMA: u32 = 2;

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
    /// The summary of an accepted decision; `None` for any other.
    pub fn of(decision: &Decision) -> Option<Accepted> {
        if decision.outcome != Outcome::Accepted {
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
                message_id: Some(format!("{id}@example.test")),
                subject: Some(format!("[AJOUT] Licence Office 365 - {client}")),
                problems: vec![],
                warnings: vec![],
                request,
                corrects: None,
                reply: None,
            }),
            reply_queued: true,
        }
    }
}
