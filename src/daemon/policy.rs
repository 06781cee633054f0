//! The daemon's decision policy, pure: from a verdict (or a failed
//! judgement) and what the configuration allows, the mail's outcome, its
//! folder, and whether and how it is answered. Unknown, unreadable or
//! unauthenticated senders, and mail written as from the gateway's own
//! address, are quarantined; a sender past the hourly reply limit is not
//! answered. (Copies of a
//! mail already decided are recognised before, against the store: see
//! `intake::identify`.)

use jiff::Timestamp;
use tracing::error;

use crate::compose::Addressing;
use crate::config::Config;
use crate::judge::{self, Outcome, Reply, Verdict};
use crate::mail;
use crate::net::imap::Envelope;
use crate::records::{Decision, OutboxItem, SCHEMA};

/// One fetched mail, as the policy sees it.
pub struct Fetched<'a> {
    /// `UIDVALIDITY:UID` in the watched mailbox.
    pub key: &'a str,
    /// The mail as fetched (whole, or its header when over the size limit).
    pub raw: &'a [u8],
    /// Its header, read for threading the reply.
    pub header: &'a mail::Mail,
    /// Size and INTERNALDATE given by the server.
    pub envelope: &'a Envelope,
    /// The request id it is decided under.
    pub request_id: &'a str,
}

/// A quarantine decision for a mail that was not judged.
pub fn quarantined(
    config: &Config,
    key: &str,
    raw: &[u8],
    envelope: &Envelope,
    now: Timestamp,
) -> Decision {
    Decision {
        schema: SCHEMA,
        request_id: judge::id_of(raw),
        mailbox_key: key.to_owned(),
        decided_at: now,
        received_at: envelope.internal_date,
        sender: None,
        outcome: Outcome::Quarantined,
        folder: config.folders.quarantine.clone(),
        note: None,
        verdict: None,
        reply_queued: false,
        closed_by: None,
    }
}

/// The decision on a fetched mail and the reply to queue, from its
/// judgement (`Err`: the judgement panicked, with its message) and the
/// replies already sent or queued to the sender this hour.
pub fn decide(
    config: &Config,
    mail: &Fetched,
    judged: Result<Verdict, String>,
    replies_this_hour: u32,
    now: Timestamp,
) -> (Decision, Option<OutboxItem>) {
    let mut decision = quarantined(config, mail.key, mail.raw, mail.envelope, now);
    decision.request_id = mail.request_id.to_owned();
    let verdict = match judged {
        Ok(verdict) => verdict,
        Err(message) => {
            error!(request_id = %decision.request_id, %message, "le jugement a échoué : courriel mis en quarantaine");
            decision.note = Some(format!("le jugement a échoué\u{a0}: {message}"));
            return (decision, None);
        }
    };
    decision.sender = verdict.from.as_deref().map(str::to_lowercase);
    // NOTE: the stored verdict never holds the confirmation code.
    decision.verdict = Some(verdict.clone().masked());
    let Some(sender) = decision.sender.clone() else {
        decision.note = Some(
            "aucune adresse d'expéditeur lisible (en-tête From absent, ou contenant des \
             caractères de contrôle)\u{a0}: mis en quarantaine, sans réponse"
                .into(),
        );
        return (decision, None);
    };
    if let Some(why) = set_aside(config, mail.raw, &sender) {
        if sender == config.from {
            decision.verdict = None;
        }
        decision.note = Some(why);
        return (decision, None);
    }
    decision.folder = config.folders.of(verdict.outcome).to_owned();
    decision.outcome = verdict.outcome;
    let Some(answer) = &verdict.reply else {
        return (decision, None);
    };
    if let Some(why) = not_answered(config, replies_this_hour) {
        decision.note = Some(why);
        return (decision, None);
    }
    let item = match outbox_item(config, &verdict, answer, mail.header, &sender, now) {
        Ok(item) => item,
        Err(err) => {
            // The sender's address passed `senders.allow` but no reply can be
            // addressed to it: the mail goes aside, with the reason.
            decision.outcome = Outcome::Quarantined;
            decision.folder = config.folders.quarantine.clone();
            decision.note = Some(format!(
                "aucune réponse ne peut être adressée à cet expéditeur ({err:#})\u{a0}: mis en \
                 quarantaine, sans réponse"
            ));
            return (decision, None);
        }
    };
    decision.reply_queued = true;
    (decision, Some(item))
}

/// Why a mail from `sender` (lower case) is quarantined unanswered: the
/// gateway's own address, a sender outside `senders.allow`, or not vouched
/// for by the receiving server.
pub fn set_aside(config: &Config, raw: &[u8], sender: &str) -> Option<String> {
    // NOTE: licgate never writes to its own mailbox, and a reply to its own
    // address would tell no one: such a mail is someone else's forgery.
    if sender == config.from {
        return Some(
            "l'en-tête From porte l'adresse de la passerelle elle-même, que seul licgate \
             écrit\u{a0}: mis en quarantaine, ni décidé ni répondu"
                .into(),
        );
    }
    if !config.is_allowed(sender) {
        return Some(
            "expéditeur absent de senders.allow\u{a0}: mis en quarantaine, sans réponse".into(),
        );
    }
    let server = config.authenticated_by.as_ref()?;
    let why = mail::authenticated(raw, server).err()?;
    Some(format!(
        "expéditeur non authentifié par le serveur de réception ({why})\u{a0}: mis en \
         quarantaine, sans réponse"
    ))
}

/// Why a reply to an answerable sender is not sent: the hourly limit
/// reached with `replies_this_hour`.
pub fn not_answered(config: &Config, replies_this_hour: u32) -> Option<String> {
    (replies_this_hour >= config.replies_per_sender_per_hour).then(|| {
        format!(
            "plus de {} réponses à cet expéditeur dans l'heure\u{a0}: sans réponse",
            config.replies_per_sender_per_hour
        )
    })
}

fn outbox_item(
    config: &Config,
    verdict: &Verdict,
    answer: &Reply,
    threading: &mail::Mail,
    sender: &str,
    now: Timestamp,
) -> anyhow::Result<OutboxItem> {
    let cc: Vec<String> = if verdict.outcome == Outcome::Rejected {
        config
            .purchasing
            .all()
            .filter(|p| threading.recipients.contains(p))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let addressing = Addressing {
        from: &config.from,
        to: sender,
        cc: &cc,
        request_id: &verdict.request_id,
        in_reply_to: verdict.message_id.as_deref(),
        references: &threading.references,
        date: now,
        contact: config.purchasing.contact.as_deref(),
    };
    addressing.to_outbox(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixture;
    use crate::rules::Rules;

    const TECH: &str = "julie.bernard@infogerance.example";
    const NOW: &str = "2026-11-23T10:00:00Z";

    fn mail(from: &str, quantity: &str) -> Vec<u8> {
        crate::daemon::fixture::request(from, "m1@infogerance.example", quantity)
    }

    /// Decides `raw` as the daemon would, with `replies` already sent this hour.
    fn decided(
        config: &Config,
        raw: &[u8],
        judged: Option<Result<Verdict, String>>,
        replies: u32,
    ) -> (Decision, Option<OutboxItem>) {
        let rules = Rules::load(&config.rules).unwrap();
        let now: Timestamp = NOW.parse().unwrap();
        let envelope = Envelope {
            uid: 7,
            size: raw.len() as u32,
            internal_date: Some(now),
        };
        let header = mail::read_headers(raw).unwrap_or_default();
        let judged =
            judged.unwrap_or_else(|| Ok(judge::check(raw, &rules, Some(now), &config.limits)));
        let fetched = Fetched {
            key: "1:7",
            raw,
            header: &header,
            envelope: &envelope,
            request_id: "LG-0000000007",
        };
        decide(config, &fetched, judged, replies, now)
    }

    #[test]
    fn an_accepted_request_is_filed_and_answered() {
        let config = fixture::example();
        let (decision, reply) = decided(&config, &mail(TECH, "+1"), None, 0);
        assert_eq!(decision.outcome, Outcome::Accepted);
        assert_eq!(decision.folder, config.folders.accepted);
        assert_eq!(decision.sender.as_deref(), Some(TECH));
        assert!(decision.reply_queued && decision.note.is_none());
        let reply = reply.unwrap();
        assert_eq!(reply.to, [TECH]);
        assert!(
            reply
                .message
                .contains("In-Reply-To: <m1@infogerance.example>")
        );
    }

    #[test]
    fn a_rejected_request_is_filed_and_answered() {
        let config = fixture::example();
        let (decision, reply) = decided(&config, &mail(TECH, "beaucoup"), None, 0);
        assert_eq!(decision.outcome, Outcome::Rejected);
        assert_eq!(decision.folder, config.folders.rejected);
        assert!(reply.is_some());
    }

    #[test]
    fn a_sender_outside_the_allowed_ones_is_quarantined_unanswered() {
        let config = fixture::example();
        let (decision, reply) = decided(&config, &mail("x@ailleurs.example", "+1"), None, 0);
        assert_eq!(decision.outcome, Outcome::Quarantined);
        assert_eq!(decision.folder, config.folders.quarantine);
        assert!(decision.note.unwrap().contains("senders.allow"));
        assert!(reply.is_none() && !decision.reply_queued);
        // The verdict is kept, for the operator who looks at the quarantine.
        assert!(decision.verdict.is_some());
    }

    #[test]
    fn a_mail_without_a_readable_sender_is_quarantined() {
        let config = fixture::example();
        let raw = String::from_utf8(mail(TECH, "+1")).unwrap();
        let raw = raw.replace(&format!("From: {TECH}\r\n"), "");
        let (decision, reply) = decided(&config, raw.as_bytes(), None, 0);
        assert_eq!(decision.outcome, Outcome::Quarantined);
        assert!(
            decision
                .note
                .unwrap()
                .contains("aucune adresse d'expéditeur")
        );
        assert!(reply.is_none());
    }

    // Issue 18: a forged upgrade and its confirmation, `From:` the
    // gateway's own address, were decided (held, then accepted) and never
    // answered, so nobody learnt of them.
    #[test]
    fn the_gateways_own_address_is_quarantined_never_decided() {
        let mut config = fixture::example();
        config.from = TECH.into();
        let (decision, reply) = decided(&config, &mail(TECH, "+1"), None, 0);
        assert_eq!(decision.outcome, Outcome::Quarantined);
        assert_eq!(decision.folder, config.folders.quarantine);
        assert!(decision.verdict.is_none());
        assert!(
            decision
                .note
                .unwrap()
                .contains("l'adresse de la passerelle elle-même")
        );
        assert!(reply.is_none());
    }

    #[test]
    fn past_the_hourly_limit_a_sender_gets_no_reply_but_a_decision() {
        let config = fixture::example();
        let limit = config.replies_per_sender_per_hour;
        let (_, reply) = decided(&config, &mail(TECH, "+1"), None, limit - 1);
        assert!(reply.is_some());
        let (decision, reply) = decided(&config, &mail(TECH, "+1"), None, limit);
        assert_eq!(decision.outcome, Outcome::Accepted);
        assert!(
            decision
                .note
                .unwrap()
                .contains("réponses à cet expéditeur dans l'heure")
        );
        assert!(reply.is_none());
    }

    #[test]
    fn a_failed_judgement_quarantines_the_mail_with_the_reason() {
        let config = fixture::example();
        let failed = Some(Err("index out of bounds".to_owned()));
        let (decision, reply) = decided(&config, &mail(TECH, "+1"), failed, 0);
        assert_eq!(decision.outcome, Outcome::Quarantined);
        assert_eq!(decision.request_id, "LG-0000000007");
        assert_eq!(
            decision.note.as_deref(),
            Some("le jugement a échoué\u{a0}: index out of bounds")
        );
        assert!(decision.verdict.is_none() && reply.is_none());
    }

    #[test]
    fn an_automatic_mail_is_ignored_unanswered() {
        let config = fixture::example();
        let mut raw = b"Auto-Submitted: auto-replied\r\n".to_vec();
        raw.extend(mail(TECH, "+1"));
        let (decision, reply) = decided(&config, &raw, None, 0);
        assert_eq!(decision.outcome, Outcome::Ignored);
        assert_eq!(decision.folder, config.folders.ignored);
        assert!(reply.is_none());
    }
}
