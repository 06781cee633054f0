//! The daemon's decision policy, pure: from a verdict (or a failed
//! judgement) and what the configuration allows, the mail's outcome, its
//! folder, and whether and how it is answered. Unknown, unreadable or
//! unauthenticated senders are quarantined; the gateway's own address is
//! never answered, nor a sender past the hourly reply limit. (Copies of a
//! mail already decided are recognised before, against the store: see
//! `intake::identify`.)

use jiff::Timestamp;
use tracing::error;

use crate::compose::{self, Addressing};
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
            error!(request_id = %decision.request_id, %message, "the judgement failed: mail quarantined");
            decision.note = Some(format!("judgement failed: {message}"));
            return (decision, None);
        }
    };
    decision.request_id = verdict.request_id.clone();
    decision.sender = verdict.from.as_deref().map(str::to_lowercase);
    decision.verdict = Some(verdict.clone());
    let Some(sender) = decision.sender.clone() else {
        decision.note = Some(
            "no sender address could be read (From: missing, or holding control characters): \
             quarantined, not answered"
                .into(),
        );
        return (decision, None);
    };
    if !config.is_allowed(&sender) {
        decision.note = Some("sender not in senders.allow: quarantined, not answered".into());
        return (decision, None);
    }
    if let Some(server) = &config.authenticated_by
        && let Err(why) = mail::authenticated(mail.raw, server)
    {
        decision.note = Some(format!(
            "sender not authenticated by the receiving server ({why}): quarantined, not answered"
        ));
        return (decision, None);
    }
    decision.folder = config.folders.of(verdict.outcome).to_owned();
    decision.outcome = verdict.outcome;
    let Some(answer) = &verdict.reply else {
        return (decision, None);
    };
    if sender == config.from {
        decision.note = Some("sent by the gateway's own address: not answered".into());
        return (decision, None);
    }
    if replies_this_hour >= config.replies_per_sender_per_hour {
        decision.note = Some(format!(
            "more than {} replies to this sender this hour: not answered",
            config.replies_per_sender_per_hour
        ));
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
                "no reply can be addressed to this sender ({err:#}): quarantined, not answered"
            ));
            return (decision, None);
        }
    };
    decision.reply_queued = true;
    (decision, Some(item))
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
    };
    let message = compose::to_mime(answer, &addressing)?;
    let mut to = vec![sender.to_owned()];
    to.extend(cc);
    Ok(OutboxItem {
        request_id: verdict.request_id.clone(),
        from: config.from.clone(),
        to,
        message,
        queued_at: now,
    })
}
