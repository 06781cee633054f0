//! After a restore: the mails filed in licgate's own folders that the store
//! does not know (decided after the copy the store was restored from). The
//! daemon looks for them at each connection and lists them for `licgate
//! status`; [`recover`] (`licgate recover`, the daemon stopped) judges each
//! again as of its reception time and records the decision, marked as
//! recovered, without answering it again: its sender was answered before
//! the store was restored.
//!
//! Only the mails filed since the last look are fetched: the store notes up
//! to which UID each folder was found known, and a restored store brings
//! back the marks of its copy, so the next look covers every mail filed
//! since that copy (see [`crate::store::folders`]).

use std::collections::HashMap;

use tracing::error;

use super::intake::{self, Identity};
use super::*;
use crate::store::folders::UnknownMail;
use crate::text;

/// The note of a recovered decision, in the audit trail.
const RECOVERED: &str = "rétablie par «\u{a0}licgate recover\u{a0}» après une restauration de \
     la base de données\u{a0}: jugée de nouveau à sa réception, sans nouvelle réponse (son expéditeur avait \
     eu la sienne)";

/// Longest Message-ID shown of a mail found unknown (the sender wrote it).
const SHOWN_ID: usize = 100;

/// A mail filed in one of licgate's folders that the store does not know, as fetched.
pub(super) struct Found {
    /// Where it is, for `licgate status`.
    mail: UnknownMail,
    /// Its size and INTERNALDATE.
    envelope: Envelope,
    /// The mail as the daemon judged it (whole, or its header when over the size limit).
    raw: Vec<u8>,
}

impl Found {
    /// Where it is, for the log: folder, UID, Message-ID.
    pub(super) fn describe(&self) -> String {
        let mail = &self.mail;
        format!(
            "{} #{} {}",
            mail.folder,
            mail.uid,
            mail.message_id.as_deref().unwrap_or("(no Message-ID)")
        )
    }
}

/// Looks at the mails filed in licgate's folders since the last look
/// (every mail the first time, or when a folder's UIDVALIDITY changed);
/// gives those the store does not know, notes how far each folder is known,
/// and stores the list found for `licgate status`.
pub(super) async fn unknown_in_folders(
    shared: &Shared,
    mailbox: &mut Connection,
) -> anyhow::Result<Vec<Found>> {
    let store = &shared.store;
    let limit = shared.config.limits.max_message_size;
    let mut found = Vec::new();
    for outcome in Outcome::ALL {
        let folder = shared.config.folders.of(outcome).to_owned();
        let uid_validity = mailbox.examine(&mailbox.folder(&folder)).await?;
        let first = match store.folder_mark(&folder)? {
            Some((validity, uid)) if validity == uid_validity => uid.saturating_add(1),
            _ => 1,
        };
        let envelopes = mailbox.envelopes_from(first).await?;
        let mut first_unknown = None;
        for batch in intake::batches(&envelopes, limit) {
            let fetched = fetch_as_judged(mailbox, batch, limit).await?;
            // NOTE: read as the daemon reads mails, on the judgement's stack:
            // any of them may be hostile.
            let unknown = judge::on_judgement_stack(|| {
                fetched
                    .into_iter()
                    .filter_map(|(envelope, raw)| match known(store, &raw) {
                        Ok(true) => None,
                        Ok(false) => {
                            let header = mail::read_headers(&raw).unwrap_or_default();
                            Some(Ok((envelope, raw, header.message_id)))
                        }
                        Err(err) => Some(Err(err)),
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })?;
            for (envelope, raw, message_id) in unknown {
                first_unknown.get_or_insert(envelope.uid);
                let message_id =
                    message_id.map(|id| format!("<{}>", text::clean_line(&id, SHOWN_ID)));
                found.push(Found {
                    mail: UnknownMail {
                        folder: folder.clone(),
                        uid_validity,
                        uid: envelope.uid,
                        received_at: envelope.internal_date,
                        message_id,
                    },
                    envelope,
                    raw,
                });
            }
        }
        // NOTE: a mail found unknown is looked at again each time, until
        // `licgate recover` makes it known.
        let known_up_to = match first_unknown {
            Some(uid) => uid - 1,
            None => envelopes.last().map_or(0, |e| e.uid),
        };
        if known_up_to >= first {
            store.set_folder_mark(&folder, uid_validity, known_up_to)?;
        }
    }
    let list: Vec<UnknownMail> = found.iter().map(|f| f.mail.clone()).collect();
    store.set_unknown_mails(&list).await?;
    Ok(found)
}

/// The mails of `batch` as the daemon judged them: whole, or their header
/// cut to [`mail::MAX_HEADER_BYTES`] when over the size limit.
async fn fetch_as_judged(
    mailbox: &mut Connection,
    batch: &[Envelope],
    limit: usize,
) -> anyhow::Result<Vec<(Envelope, Vec<u8>)>> {
    let (large, small): (Vec<&Envelope>, Vec<&Envelope>) =
        batch.iter().partition(|e| e.size as usize > limit);
    let mut fetched: HashMap<u32, Vec<u8>> = HashMap::new();
    for (list, header_only) in [(small, false), (large, true)] {
        let uids: Vec<u32> = list.iter().map(|e| e.uid).collect();
        let bytes = list.iter().map(|e| u64::from(e.size)).sum();
        fetched.extend(mailbox.fetch(&uids, header_only, bytes).await?);
    }
    Ok(batch
        .iter()
        .filter_map(|envelope| {
            let mut raw = fetched.remove(&envelope.uid)?;
            if envelope.size as usize > limit {
                raw.truncate(mail::MAX_HEADER_BYTES);
            }
            Some((*envelope, raw))
        })
        .collect())
}

/// Whether the store knows a mail: a copy of one decided (see
/// `intake::identify`), or kept as it is under one of the ids a mail is
/// decided under (its Message-ID's, or its bytes' for a mail quarantined
/// unread or without sender).
fn known(store: &Store, raw: &[u8]) -> anyhow::Result<bool> {
    let header = mail::read_headers(raw).unwrap_or_default();
    let body = intake::body_digest(raw);
    let identity = intake::identify(store, &HashMap::new(), "", raw, &header, body)?;
    if matches!(identity, Identity::CopyOf { .. }) {
        return Ok(true);
    }
    let natural = judge::request_id(&header, raw);
    let reissued = judge::id_of(format!("{natural}:{}", audit::hex(&body)).as_bytes());
    for id in [natural, reissued, judge::id_of(raw)] {
        if store.raw_mail(&id)?.is_some_and(|stored| stored == raw) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A mail `licgate recover` judged again.
#[derive(Debug, Clone)]
pub struct RecoveredMail {
    /// Where it was found.
    pub found: UnknownMail,
    /// Its decision, recorded; `None` for a copy of a mail recovered or
    /// decided before (filed beside it).
    pub decision: Option<Decision>,
    /// The request id it was recorded under (the first mail's, for a copy).
    pub request_id: String,
}

/// Judges again, as of its reception time, each mail filed in licgate's
/// folders that the store does not know, oldest first; records each decision
/// in the audit trail, marked as recovered ([`RECOVERED`]), an accepted
/// request back among those the next digest holds. Nothing is sent: each
/// sender was answered before the store was restored. Needs the store to
/// itself (the daemon stopped) and the IMAP server.
pub async fn recover(config: Config) -> anyhow::Result<Vec<RecoveredMail>> {
    let store = Store::open(&config.store)?;
    let rules = Rules::load(&config.rules)?;
    let shared = Shared::new(config, store, rules);
    let mut mailbox = Connection::connect(&shared.config.imap).await?;
    let mut found = unknown_in_folders(&shared, &mut mailbox).await?;
    mailbox.logout().await;
    found.sort_by_key(|f| (f.envelope.internal_date, f.mail.uid));
    schedule::load_history(&shared)?;
    let mut recovered = Vec::new();
    for one in found {
        recovered.push(judge_again(&shared, one).await?);
    }
    shared.store.set_unknown_mails(&[]).await?;
    Ok(recovered)
}

/// Judges one mail found unknown again and records its decision, with no reply.
async fn judge_again(shared: &Shared, found: Found) -> anyhow::Result<RecoveredMail> {
    let Found {
        mail: place,
        envelope,
        raw,
    } = found;
    let (config, store) = (&shared.config, &shared.store);
    // NOTE: a key of its own: the mail is no longer in the watched mailbox,
    // and a folder's UIDs may equal those of the mailbox.
    let key = format!(
        "recovered:{}:{}:{}",
        place.folder, place.uid_validity, place.uid
    );
    let (header, identity) = judge::on_judgement_stack(|| {
        let header = mail::read_headers(&raw).unwrap_or_default();
        let body = intake::body_digest(&raw);
        let identity = intake::identify(store, &HashMap::new(), &key, &raw, &header, body);
        (header, identity)
    });
    let request_id = match identity? {
        Identity::CopyOf { request_id, .. } => {
            store.record(&[], &[(key, request_id.clone())]).await?;
            return Ok(RecoveredMail {
                found: place,
                decision: None,
                request_id,
            });
        }
        Identity::New(request_id) => request_id,
    };
    let now = shared.now();
    let fetched = policy::Fetched {
        key: &key,
        raw: &raw,
        header: &header,
        envelope: &envelope,
        request_id: &request_id,
    };
    let mut decision = if place.folder == config.folders.quarantine {
        // NOTE: not judged again: it may be a mail that crashed the judgement.
        let mut decision = policy::quarantined(config, &key, &raw, &envelope, now);
        decision.request_id = request_id.clone();
        decision
    } else {
        let held = store.held()?;
        // NOTE: the keys restored with the store: a confirmation recovered
        // carries the code given under them.
        let keys = crate::store::keys::load_or_create(&config.store)?;
        let received = envelope.internal_date.unwrap_or(now);
        let judged = judge::on_judgement_stack(|| {
            intake::judge_mail(shared, &fetched, &held, &keys, received)
        });
        policy::decide(config, &fetched, judged, 0, now).0
    };
    decision.reply_queued = false;
    decision.note = Some(match decision.note.take() {
        Some(note) => format!("{RECOVERED}\u{a0}; {note}"),
        None => RECOVERED.to_owned(),
    });
    if decision.folder != place.folder {
        error!(%request_id, found_in = %place.folder, decided = %decision.folder, "un courriel rétabli est jugé autrement que ne le dit le dossier où il était rangé");
    }
    schedule::remember(shared, &decision);
    let closes_held = decision.closes().is_some();
    let decided = Decided {
        decision: decision.clone(),
        raw,
        reply: None,
        notice: None,
    };
    store.record(std::slice::from_ref(&decided), &[]).await?;
    if closes_held {
        // A held request confirmed or cancelled leaves the history.
        schedule::load_history(shared)?;
    }
    Ok(RecoveredMail {
        found: place,
        decision: Some(decision),
        request_id,
    })
}
