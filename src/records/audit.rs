//! The audit trail: one append-only record per event (each decision, each
//! reply the SMTP server accepted or refused, each mail of licgate's own
//! queued), hash-chained: each record holds the hash
//! of the one before, so [`verify`] detects any record altered, removed or
//! reordered.
//!
//! A record's hash covers its bytes as stored, not a re-serialisation of its
//! typed value: records written by an older layout verify unchanged, and are
//! never rewritten (the trail is append-only).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::Decision;
use crate::judge::{Outcome, ProblemCode, Request, WarningCode};

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the trail, from 0, without gaps.
    pub seq: u64,
    /// When it was written.
    pub at: Timestamp,
    /// Hash of the record before (empty for the first).
    pub prev: String,
    /// What happened.
    pub event: Event,
    /// SHA-256 of `seq`, `at`, `prev` and `event` (hex).
    pub hash: String,
}

/// What a record tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A mail was decided; its raw bytes are kept beside, under their hash.
    Decision {
        decision: Box<Decision>,
        raw_sha256: String,
    },
    /// The SMTP server accepted the reply to a request (or a mail of
    /// licgate's own: `request_id` is then the `id` it was queued with).
    ReplySent { request_id: String, to: Vec<String> },
    /// The SMTP server refused that mail for good (5xx); it left the outbox.
    ReplyRefused {
        request_id: String,
        to: Vec<String>,
        reason: String,
    },
    /// A mail of licgate's own was queued: a digest or a removal notice for
    /// purchasing (listing `request_ids`), or the technicians' reminder.
    Queued {
        id: String,
        to: Vec<String>,
        request_ids: Vec<String>,
    },
}

impl Event {
    /// True when the event is about request `id`: its decision, its reply,
    /// a digest or notice that listed it; or the mail of licgate's own `id`.
    pub fn concerns(&self, id: &str) -> bool {
        match self {
            Event::Decision { decision, .. } => decision.request_id == id,
            // `LG-….notice`: the removal notice sent about request `LG-…`.
            Event::ReplySent { request_id, .. } | Event::ReplyRefused { request_id, .. } => {
                request_id == id
                    || request_id
                        .strip_prefix(id)
                        .is_some_and(|rest| rest.starts_with('.'))
            }
            Event::Queued {
                id: queued,
                request_ids,
                ..
            } => queued == id || request_ids.iter().any(|r| r == id),
        }
    }
}

impl Record {
    /// A record chained after the one whose hash is `prev`.
    pub fn seal(seq: u64, at: Timestamp, prev: String, event: Event) -> Record {
        let mut record = Record {
            seq,
            at,
            prev,
            event,
            hash: String::new(),
        };
        let at = serde_json::to_string(&record.at).expect("a time serialises");
        let event = serde_json::to_string(&record.event).expect("audit events serialise");
        record.hash = chain_hash(seq, &at, &record.prev, &event);
        record
    }

    /// Reads a stored record of any layout version.
    pub fn from_json(bytes: &[u8]) -> Result<Record, super::RecordError> {
        let mut record: Record =
            serde_json::from_slice(bytes).map_err(super::RecordError::Invalid)?;
        if let Event::Decision { decision, .. } = &mut record.event {
            **decision = (**decision).clone().upgraded()?;
        }
        Ok(record)
    }
}

/// A record as stored, its content kept as the exact bytes that were hashed.
#[derive(Deserialize)]
struct StoredRecord<'a> {
    seq: u64,
    #[serde(borrow)]
    at: &'a RawValue,
    prev: String,
    #[serde(borrow)]
    event: &'a RawValue,
    hash: String,
}

/// What the verification reads of an event: the request id of a decision.
#[derive(Deserialize)]
struct StoredEvent {
    kind: String,
    #[serde(default)]
    decision: Option<StoredDecisionId>,
    #[serde(default)]
    raw_sha256: Option<String>,
}

#[derive(Deserialize)]
struct StoredDecisionId {
    request_id: String,
}

impl StoredRecord<'_> {
    /// The hash of the record's bytes as stored.
    fn digest(&self) -> String {
        chain_hash(self.seq, self.at.get(), &self.prev, self.event.get())
    }
}

/// The hash a record carries: SHA-256 (hex) of the JSON array
/// `[seq,at,prev,event]`, `at` and `event` given as their JSON text. The one
/// place it is computed, for sealing and for verifying alike.
fn chain_hash(seq: u64, at: &str, prev: &str, event: &str) -> String {
    let prev = serde_json::to_string(prev).expect("a string serialises");
    hex(&Sha256::digest(
        format!("[{seq},{at},{prev},{event}]").as_bytes(),
    ))
}

/// The end of the trail, kept beside it so that a removal at the end shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Number of records.
    pub len: u64,
    /// Hash of the last record (empty when there is none).
    pub hash: String,
}

/// What `verify` found wrong, at the first bad record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampering {
    /// Position of the first bad record.
    pub seq: u64,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Tampering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit record {}: {}", self.seq, self.reason)
    }
}

impl std::error::Error for Tampering {}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a trail given in storage order, as stored bytes: keys and
/// positions, the chain of hashes, each record's own hash, each raw mail's
/// hash (`raw_hash` gives the hash of the raw mail kept for a request id),
/// and the head.
pub fn verify(
    records: impl Iterator<Item = anyhow::Result<(u64, impl AsRef<[u8]>)>>,
    head: &Head,
    raw_hash: impl Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<u64> {
    let mut expected = 0u64;
    let mut prev = String::new();
    for entry in records {
        let (key, bytes) = entry?;
        let fail = |reason: String| {
            Err(Tampering {
                seq: expected,
                reason,
            }
            .into())
        };
        let Ok(record) = serde_json::from_slice::<StoredRecord>(bytes.as_ref()) else {
            return fail("it is not an audit record: it was altered".into());
        };
        if key != expected || record.seq != expected {
            return fail(format!(
                "found record {} (key {key}) instead: a record was removed or reordered",
                record.seq
            ));
        }
        if record.prev != prev {
            return fail(
                "does not follow the record before: a record was removed, reordered or altered"
                    .into(),
            );
        }
        if record.digest() != record.hash {
            return fail("its content does not match its hash: it was altered".into());
        }
        let Ok(event) = serde_json::from_str::<StoredEvent>(record.event.get()) else {
            return fail("its event is unreadable: it was altered".into());
        };
        if event.kind == "decision" {
            let (Some(decision), Some(raw_sha256)) = (event.decision, event.raw_sha256) else {
                return fail("its decision is unreadable: it was altered".into());
            };
            if raw_hash(&decision.request_id)?.as_deref() != Some(raw_sha256.as_str()) {
                return fail(format!(
                    "the raw mail of {} was altered or removed",
                    decision.request_id
                ));
            }
        }
        prev = record.hash;
        expected += 1;
    }
    if head.len != expected || head.hash != prev {
        return Err(Tampering {
            seq: expected,
            reason: format!("the trail should hold {} records and holds {expected}: records were removed at the end", head.len),
        }
        .into());
    }
    Ok(expected)
}

/// One request as the audit trail tells it: its decision, and when its reply
/// was accepted by the SMTP server. A flat view of [`Decision`] for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub request_id: String,
    pub received_at: Option<Timestamp>,
    pub decided_at: Timestamp,
    pub sender: Option<String>,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub verdict: Outcome,
    pub problems: Vec<ProblemCode>,
    pub warnings: Vec<WarningCode>,
    /// What could be read of the request (`None` for a mail never judged).
    pub request: Option<Request>,
    pub folder: String,
    pub note: Option<String>,
    /// When the SMTP server accepted the reply, if one was sent.
    pub reply_sent_at: Option<Timestamp>,
    /// The refused request this one corrects (an answer to its refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// The held request this answer confirms or cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<String>,
    /// For a held request: the answer that confirmed or cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
}

impl Entry {
    /// The entry of a decision, before any reply was sent.
    pub fn from_decision(decision: &Decision) -> Entry {
        let verdict = decision.verdict.as_ref();
        let judged = verdict.filter(|_| decision.outcome != Outcome::Quarantined);
        Entry {
            request_id: decision.request_id.clone(),
            received_at: decision.received_at,
            decided_at: decision.decided_at,
            sender: decision.sender.clone(),
            message_id: verdict.and_then(|v| v.message_id.clone()),
            subject: verdict.and_then(|v| v.subject.clone()),
            verdict: decision.outcome,
            // NOTE: a quarantined mail was set aside for its note's reason
            // (sender, judgement failed); the codes of a judgement that was
            // not acted on would read as the reason.
            problems: judged.map_or_else(Vec::new, |v| v.problems.iter().map(|p| p.code).collect()),
            warnings: judged.map_or_else(Vec::new, |v| v.warnings.iter().map(|w| w.code).collect()),
            request: decision.request().cloned(),
            folder: decision.folder.clone(),
            note: decision.note.clone(),
            reply_sent_at: None,
            corrects: verdict.and_then(|v| v.corrects.clone()),
            confirms: verdict.and_then(|v| v.confirms.clone()),
            closed_by: decision.closed_by.clone(),
        }
    }

    /// What links this entry to another: `corrige LG-…`, `confirme LG-…`,
    /// `annule LG-…`, `confirmée par LG-…` or `annulée par LG-…`.
    fn links(&self) -> Vec<String> {
        let mut links = Vec::new();
        if let Some(refused) = &self.corrects {
            links.push(format!("corrige {refused}"));
        }
        if let Some(held) = &self.confirms {
            let how = if self.verdict == Outcome::Accepted {
                "confirme"
            } else {
                "annule"
            };
            links.push(format!("{how} {held}"));
        }
        if let Some(answer) = &self.closed_by {
            let how = if self.verdict == Outcome::Accepted {
                "confirmée"
            } else {
                "annulée"
            };
            links.push(format!("{how} par {answer}"));
        }
        links
    }

    /// The client of the request, as read.
    pub fn client(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.client.as_deref())
    }

    fn problem_codes(&self) -> String {
        let codes: Vec<&str> = self.problems.iter().map(|c| c.as_str()).collect();
        codes.join(" ")
    }
}

/// The requests of a trail, in the order they were decided.
pub fn entries(
    records: impl Iterator<Item = anyhow::Result<Record>>,
) -> anyhow::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    for record in records {
        let record = record?;
        match record.event {
            Event::Decision { decision, .. } => entries.push(Entry::from_decision(&decision)),
            Event::ReplySent { request_id, .. } => {
                if let Some(entry) = entries
                    .iter_mut()
                    .rev()
                    .find(|e| e.request_id == request_id)
                {
                    entry.reply_sent_at.get_or_insert(record.at);
                }
            }
            Event::Queued { .. } | Event::ReplyRefused { .. } => {}
        }
    }
    Ok(entries)
}

/// Which entries `licgate audit list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Client name, compared loosely.
    pub client: Option<String>,
    /// `YYYY-MM` of the reception (else decision) time, in the calendar's zone.
    pub month: Option<String>,
    /// Only this outcome.
    pub verdict: Option<Outcome>,
}

impl Filter {
    /// True when `entry` passes; months are read in `zone`.
    pub fn keeps(&self, entry: &Entry, zone: &jiff::tz::TimeZone) -> bool {
        let client_ok = self.client.as_ref().is_none_or(|wanted| {
            entry
                .client()
                .is_some_and(|c| crate::text::words(c) == crate::text::words(wanted))
        });
        let month_ok = self.month.as_ref().is_none_or(|month| {
            entry
                .received_at
                .unwrap_or(entry.decided_at)
                .to_zoned(zone.clone())
                .strftime("%Y-%m")
                .to_string()
                == *month
        });
        let verdict_ok = self.verdict.as_ref().is_none_or(|v| entry.verdict == *v);
        client_ok && month_ok && verdict_ok
    }
}

/// The columns of the CSV export.
const CSV_COLUMNS: [&str; 16] = [
    "request_id",
    "received_at",
    "decided_at",
    "verdict",
    "sender",
    "subject",
    "action",
    "client",
    "licence",
    "quantity",
    "users",
    "problems",
    "warnings",
    "reply_sent_at",
    "message_id",
    "ticket",
];

/// A cell a spreadsheet cannot run: a value that opens with `=`, `+`, `-`,
/// `@`, tab or CR (a formula, OWASP's CSV injection) is prefixed with `'`,
/// except a plain signed number (`-1`, `+2`), which no spreadsheet runs.
/// Control characters other than line feed are dropped.
fn neutralised(value: &str) -> String {
    let value = crate::text::clean(value);
    let number = value
        .strip_prefix(['+', '-'])
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !number {
        format!("'{value}")
    } else {
        value
    }
}

/// CSV for a spreadsheet: UTF-8 with BOM, one line per entry, fields quoted
/// when needed; `separator` is `,` or `;` (French spreadsheets).
pub fn to_csv(entries: &[Entry], separator: char) -> String {
    let field = |value: &str| {
        let value = &neutralised(value);
        if value.contains([separator, '"', '\n', '\r']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value.to_owned()
        }
    };
    let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    let sep = separator.to_string();
    let mut out = String::from("\u{feff}");
    out.push_str(&CSV_COLUMNS.join(&sep));
    out.push_str("\r\n");
    for e in entries {
        let request = e.request.as_ref();
        let row = [
            e.request_id.clone(),
            time(e.received_at),
            e.decided_at.to_string(),
            e.verdict.to_string(),
            e.sender.clone().unwrap_or_default(),
            e.subject.clone().unwrap_or_default(),
            request
                .and_then(|r| r.action)
                .map_or("", |a| a.as_str())
                .to_owned(),
            e.client().unwrap_or_default().to_owned(),
            request.and_then(|r| r.licence.clone()).unwrap_or_default(),
            request
                .and_then(|r| r.quantity)
                .map(|q| q.to_string())
                .unwrap_or_default(),
            request.map(|r| r.users.join(", ")).unwrap_or_default(),
            e.problem_codes(),
            e.warnings
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            time(e.reply_sent_at),
            e.message_id.clone().unwrap_or_default(),
            request.and_then(|r| r.ticket.clone()).unwrap_or_default(),
        ];
        out.push_str(&row.iter().map(|v| field(v)).collect::<Vec<_>>().join(&sep));
        out.push_str("\r\n");
    }
    out
}

/// One line per entry, for a person, times in `zone` (the calendar's); a
/// quarantined mail with the reason it was set aside.
pub fn to_text(entries: &[Entry], zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::new();
    for e in entries {
        let reason = if e.verdict == Outcome::Quarantined {
            e.note.clone().unwrap_or_default()
        } else {
            let mut tail = e.links();
            if !e.problems.is_empty() {
                tail.insert(0, format!("[{}]", e.problem_codes()));
            }
            tail.join(" ")
        };
        out.push_str(&format!(
            "{}  {}  {:<11}  {:<25}  {}  {}\n",
            e.request_id,
            e.received_at
                .unwrap_or(e.decided_at)
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S %:z"),
            e.verdict.as_str(),
            e.client().unwrap_or("-"),
            e.sender.as_deref().unwrap_or("-"),
            reason,
        ));
    }
    out
}

/// What `licgate audit show` prints for a person: one paragraph per record
/// of the request, oldest first, times in `zone` (named once).
pub fn show_text(id: &str, records: &[Record], zone: &jiff::tz::TimeZone) -> String {
    use crate::text::{count, typography};
    let at = |t: Timestamp| crate::rules::french_date_time(&t.to_zoned(zone.clone()));
    let mut out = format!(
        "{id} : {} (heures de {})\n",
        count(records.len() as u64, "enregistrement", "enregistrements"),
        zone.iana_name().unwrap_or("l'heure locale")
    );
    for record in records {
        out.push_str(&format!("\n#{} le {}\n", record.seq, at(record.at)));
        match &record.event {
            Event::Decision { decision, .. } => {
                let d = decision.as_ref();
                let verdict = match d.outcome {
                    Outcome::Accepted => "acceptée",
                    Outcome::Rejected => "refusée",
                    Outcome::Ignored => "ignorée",
                    Outcome::Quarantined => "mise en quarantaine",
                    Outcome::Held => "en attente de confirmation",
                };
                out.push_str(&format!("  décision        {verdict} ({})\n", d.request_id));
                if let Some(received) = d.received_at {
                    out.push_str(&format!("  reçue le        {}\n", at(received)));
                }
                out.push_str(&format!(
                    "  de              {}\n",
                    d.sender.as_deref().unwrap_or("-")
                ));
                if let Some(verdict) = &d.verdict {
                    if let Some(subject) = &verdict.subject {
                        out.push_str(&format!("  objet           {subject}\n"));
                    }
                    let r = &verdict.request;
                    let what: Vec<String> = [
                        r.action.map(|a| a.tag().to_owned()),
                        r.client.clone(),
                        r.quantity.map(|q| format!("{q:+}")),
                        match (&r.from_licence, &r.licence) {
                            (Some(from), Some(to)) => Some(format!("{from} -> {to}")),
                            (_, licence) => licence.clone(),
                        },
                        (!r.users.is_empty()).then(|| r.users.join(", ")),
                        r.ticket.as_ref().map(|t| format!("ticket {t}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    if !what.is_empty() {
                        out.push_str(&format!("  demande         {}\n", what.join(" | ")));
                    }
                    for problem in &verdict.problems {
                        out.push_str(&format!(
                            "  problème        {} : {}\n",
                            problem.code.as_str(),
                            problem.message
                        ));
                    }
                    if let Some(refused) = &verdict.corrects {
                        out.push_str(&format!("  corrige         {refused}\n"));
                    }
                    if let Some(held) = &verdict.confirms {
                        out.push_str(&format!("  répond à        {held}\n"));
                    }
                    if let Some(reply) = &verdict.reply {
                        out.push_str(&format!("  réponse         {}\n", reply.subject));
                    }
                }
                if let Some(by) = &d.closed_by {
                    let how = if d.outcome == Outcome::Accepted {
                        "confirmée par  "
                    } else {
                        "annulée par    "
                    };
                    out.push_str(&format!("  {how} {by}\n"));
                }
                if let Some(note) = &d.note {
                    out.push_str(&format!("  note            {note}\n"));
                }
                out.push_str(&format!("  dossier         {}\n", d.folder));
            }
            Event::ReplySent { request_id, to } => {
                let what = if request_id == id {
                    "réponse"
                } else {
                    request_id.as_str()
                };
                out.push_str(&format!(
                    "  envoyé          {what}, acceptée par le serveur SMTP pour {}\n",
                    to.join(", ")
                ));
            }
            Event::ReplyRefused {
                request_id,
                to,
                reason,
            } => {
                let what = if request_id == id {
                    "réponse"
                } else {
                    request_id.as_str()
                };
                out.push_str(&format!(
                    "  refusé          {what}, refusée pour de bon par le serveur SMTP pour {} : {reason}\n",
                    to.join(", ")
                ));
            }
            Event::Queued {
                id: queued,
                to,
                request_ids,
            } => {
                out.push_str(&format!(
                    "  mis en file     {queued} pour {}, avec {}\n",
                    to.join(", "),
                    count(request_ids.len() as u64, "demande", "demandes")
                ));
            }
        }
    }
    typography(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 20: `audit show` printed raw JSON only, and the removal notice
    // sent about a request was found under another id (`LG-….notice`).
    #[test]
    fn a_request_is_shown_for_a_person_with_the_mails_sent_about_it() {
        let decision = crate::records::fixture::accepted(
            "LG-0A1B2C3D4E",
            "2026-11-23T09:00:00Z",
            "Garage",
            "E1",
            -1,
        );
        let at: Timestamp = "2026-11-23T09:00:05Z".parse().unwrap();
        let events = [
            Event::Decision {
                decision: Box::new(decision),
                raw_sha256: String::new(),
            },
            Event::ReplySent {
                request_id: "LG-0A1B2C3D4E".into(),
                to: vec!["tech@example.test".into()],
            },
            Event::ReplyRefused {
                request_id: "LG-0A1B2C3D4E.notice".into(),
                to: vec!["achats@example.test".into()],
                reason: "552 5.3.4 trop gros".into(),
            },
        ];
        assert!(events.iter().all(|e| e.concerns("LG-0A1B2C3D4E")));
        assert!(
            !events[2].concerns("LG-0A1B2C3D4"),
            "a prefix of another id"
        );
        let records: Vec<Record> = events
            .into_iter()
            .enumerate()
            .map(|(seq, event)| Record::seal(seq as u64, at, String::new(), event))
            .collect();
        let zone = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let text = show_text("LG-0A1B2C3D4E", &records, &zone);
        for line in [
            "LG-0A1B2C3D4E\u{a0}: 3 enregistrements (heures de Europe/Paris)\n",
            "#0 le lundi 23 novembre 2026 à 10\u{a0}h\n",
            "  décision        acceptée (LG-0A1B2C3D4E)\n",
            "  demande         SUPPRESSION | Garage | -1 | E1 | A\n",
            "  envoyé          réponse, acceptée par le serveur SMTP pour tech@example.test\n",
            "  refusé          LG-0A1B2C3D4E.notice, refusée pour de bon par le serveur SMTP pour achats@example.test\u{a0}: 552 5.3.4 trop gros\n",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
    }

    fn entry(client: &str, subject: &str) -> Entry {
        Entry {
            request_id: "LG-1".into(),
            received_at: Some("2026-11-23T09:00:00Z".parse().unwrap()),
            decided_at: "2026-11-23T09:00:01Z".parse().unwrap(),
            sender: Some("tech@example.fr".into()),
            message_id: Some("m@example.fr".into()),
            subject: Some(subject.into()),
            verdict: Outcome::Accepted,
            problems: vec![],
            warnings: vec![WarningCode::AnnualLicence],
            request: Some(Request {
                action: Some(crate::judge::Action::Ajout),
                client: Some(client.into()),
                quantity: Some(2),
                users: vec!["A".into(), "B".into()],
                ..Request::default()
            }),
            folder: "f".into(),
            note: None,
            reply_sent_at: None,
            corrects: None,
            confirms: None,
            closed_by: None,
        }
    }

    // Issue 13: a mail quarantined for its sender was listed with the codes
    // of a judgement that was not why it was set aside, and in UTC.
    #[test]
    fn a_quarantined_mail_is_listed_with_its_reason_in_the_calendars_zone() {
        let mut decision =
            crate::records::fixture::accepted("LG-9", "2026-11-23T09:00:00Z", "Garage", "E1", 1);
        decision.outcome = Outcome::Quarantined;
        decision.note = Some("sender not allowed: x@elsewhere.example".into());
        let verdict = decision.verdict.as_mut().unwrap();
        verdict.outcome = Outcome::Rejected;
        verdict.problems.push(crate::judge::Problem {
            code: ProblemCode::LicenceUnknown,
            field: None,
            message: "m".into(),
        });
        let entry = Entry::from_decision(&decision);
        assert!(entry.problems.is_empty() && entry.warnings.is_empty());
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let line = to_text(&[entry], &paris);
        assert!(
            line.starts_with("LG-9  2026-11-23 10:00:00 +01:00  quarantined  Garage"),
            "{line}"
        );
        assert!(
            line.ends_with("  sender not allowed: x@elsewhere.example\n"),
            "{line}"
        );
    }

    // Issue 8, item 8: a subject or user name opening with = ran as a
    // formula in the spreadsheet purchasing opens.
    #[test]
    fn csv_cells_never_hold_a_formula() {
        assert_eq!(neutralised("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralised("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralised("+cmd"), "'+cmd");
        assert_eq!(neutralised("-1+1"), "'-1+1");
        assert_eq!(neutralised("\tx"), "'\tx");
        assert_eq!(neutralised("-2"), "-2");
        assert_eq!(neutralised("+1"), "+1");
        assert_eq!(neutralised("Jean \u{1b}[2JDupont"), "Jean [2JDupont");
        assert_eq!(neutralised("Boulangerie Martin"), "Boulangerie Martin");
    }

    #[test]
    fn csv_has_a_bom_and_quotes_what_needs_it() {
        let csv = to_csv(
            &[entry("Cabinet Durand; Associés", "Objet \"urgent\"")],
            ';',
        );
        assert!(csv.starts_with("\u{feff}request_id;received_at;"));
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains(";\"Cabinet Durand; Associés\";"), "{line}");
        assert!(line.contains(";\"Objet \"\"urgent\"\"\";"), "{line}");
        assert!(line.contains(";2;A, B;;annual_licence;"), "{line}");
    }

    #[test]
    fn filters_by_client_month_and_verdict() {
        let e = entry("Boulangerie Martin", "s");
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let filter = |client: Option<&str>, month: Option<&str>, verdict: Option<&str>| Filter {
            client: client.map(str::to_owned),
            month: month.map(str::to_owned),
            verdict: verdict.map(|v| v.parse().unwrap()),
        };
        assert!(
            filter(
                Some("boulangerie martin"),
                Some("2026-11"),
                Some("accepted")
            )
            .keeps(&e, &paris)
        );
        assert!(!filter(Some("Garage"), None, None).keeps(&e, &paris));
        assert!(!filter(None, Some("2026-12"), None).keeps(&e, &paris));
        assert!(!filter(None, None, Some("rejected")).keeps(&e, &paris));
        // 30 November 23:30 UTC is 1 December in Paris.
        let late = Entry {
            received_at: Some("2026-11-30T23:30:00Z".parse().unwrap()),
            ..e
        };
        assert!(filter(None, Some("2026-12"), None).keeps(&late, &paris));
        assert!(!filter(None, Some("2026-11"), None).keeps(&late, &paris));
    }
}
