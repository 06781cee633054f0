//! The mailbox side of the daemon: watches the mailbox (IDLE, else polls),
//! fetches new mails in bounded batches, marks them as being judged, judges
//! them off the runtime, stores every decision of a batch in one flushed
//! transaction, then moves each mail to its folder. Duplicates (the same
//! mail delivered twice) are recognised here, against the store.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::*;

pub(super) async fn mailbox_loop(
    shared: Shared,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut backoff = Duration::from_secs(1);
    while !*stop.borrow() {
        match watch_mailbox(&shared, &stop, &mut backoff).await {
            Ok(()) => break,
            Err(err) if err.is::<crate::net::imap::FolderRefused>() => return Err(err),
            Err(err) => {
                error!(cause = %format!("{err:#}"), retry_in = ?backoff, "connexion à la boîte aux lettres en échec");
                if !pause(backoff, &stop).await {
                    break;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    Ok(())
}

/// One connection: process what is there, wait for news, again, until stopped.
async fn watch_mailbox(
    shared: &Shared,
    stop: &watch::Receiver<bool>,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    let config = &shared.config;
    let mut mailbox = Connection::connect(&config.imap).await?;
    let folders = &config.folders;
    mailbox
        .ensure_folders(&[
            &folders.accepted,
            &folders.held,
            &folders.rejected,
            &folders.ignored,
            &folders.quarantine,
        ])
        .await?;
    let watched = mailbox.folder(&config.mailbox);
    let watched_name = mailbox.full_name(&config.mailbox);
    let on_server: Vec<String> = [
        &folders.accepted,
        &folders.held,
        &folders.rejected,
        &folders.ignored,
        &folders.quarantine,
    ]
    .iter()
    .map(|folder| format!("{folder} -> {}", mailbox.full_name(folder)))
    .collect();
    info!(
        host = %config.imap.host,
        idle = mailbox.idle && config.idle,
        mailbox = %watched_name,
        folders = ?on_server,
        "connecté à la boîte aux lettres"
    );
    let unknown = recover::unknown_in_folders(shared, &mut mailbox).await?;
    if !unknown.is_empty() {
        let mails: Vec<String> = unknown.iter().map(|found| found.describe()).collect();
        error!(
            count = unknown.len(),
            ?mails,
            "des courriels rangés dans les dossiers de licgate sont inconnus de la base de données (restaurée d'une copie plus ancienne ?) : arrêtez le démon et lancez « licgate recover »"
        );
    }
    schedule::load_history(shared)?;
    loop {
        let uid_validity = mailbox.select(&watched).await.with_context(|| {
            format!(
                "cannot open the mailbox {:?} (imap.mailbox, sent as {watched:?})",
                config.mailbox
            )
        })?;
        // NOTE: the poll is dated by its listing, not its end: a mail
        // delivered during the batches below is not in it, and the expiry of
        // held requests (schedule::expire_held) counts on every mail received
        // before `last_poll` having been judged.
        let listed_at = shared.now();
        let envelopes = mailbox.envelopes().await?;
        // Reset only once the mailbox answered: a server that logs in and
        // then fails every time is not asked again each second.
        *backoff = Duration::from_secs(1);
        let mut complete = true;
        for batch in batches(&envelopes, config.limits.max_message_size) {
            if *stop.borrow() {
                complete = false;
                break;
            }
            process(shared, &mut mailbox, uid_validity, batch).await?;
        }
        // Only a listing judged whole tells that the mailbox was read.
        if complete {
            shared.store.set_last_poll(listed_at)?;
        }
        if *stop.borrow() {
            mailbox.logout().await;
            return Ok(());
        }
        // NOTE: a mail delivered during the batches does not wake IDLE (the
        // server told of it in the answer to a command of the batch): look
        // again before waiting, or it would wait a whole poll-interval.
        if let Some(last) = envelopes.last()
            && mailbox.arrived_after(last.uid).await?
        {
            continue;
        }
        if !config.idle {
            mailbox.idle = false;
        }
        release_free_memory();
        mailbox = mailbox
            .wait(config.poll_interval, stopped(stop.clone()))
            .await?;
    }
}

/// Hands the memory freed since the last wait back to the system: glibc
/// keeps the free pages of its heap otherwise, so an idle daemon would hold
/// the peak of its last burst of mails (or of the look at its folders after
/// a restart) for good.
fn release_free_memory() {
    // SAFETY: malloc_trim only gives free pages of the heap back to the kernel.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Decides a batch of messages (or finishes interrupted decisions) and moves
/// them: every decision of the batch is stored and flushed before any move.
async fn process(
    shared: &Shared,
    mailbox: &mut impl Mailbox,
    uid_validity: u32,
    batch: &[Envelope],
) -> anyhow::Result<()> {
    let store = &shared.store;
    let mut moves: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut pending = Vec::new();
    for envelope in batch {
        let key = mailbox_key(uid_validity, envelope.uid);
        if let Some(request_id) = store.decided_mail(&key)? {
            let decision = store
                .decision(&request_id)?
                .context("decided mail without decision")?;
            info!(%request_id, folder = %decision.folder, "rangement d'un courriel décidé avant un redémarrage");
            moves.entry(decision.folder).or_default().push(envelope.uid);
            continue;
        }
        pending.push((*envelope, store.was_being_judged(&key)?));
    }
    for (folder, uids) in &moves {
        mailbox.move_to(uids, folder).await?;
    }
    if !pending.is_empty() {
        decide_and_file(shared, mailbox, uid_validity, &pending).await?;
    }
    Ok(())
}

/// `UIDVALIDITY:UID`, the key of a mailbox message in the store.
fn mailbox_key(uid_validity: u32, uid: u32) -> String {
    format!("{uid_validity}:{uid}")
}

/// Most bytes fetched in one command, and so held at once: a batch is
/// bounded in mails and in bytes, and a large mail comes alone.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Splits the envelopes into batches of at most [`BATCH`] mails and
/// [`BATCH_BYTES`] (or one mail, when it is larger alone).
pub(super) fn batches(envelopes: &[Envelope], max_message_size: usize) -> Vec<&[Envelope]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, envelope) in envelopes.iter().enumerate() {
        let cost = fetched_bytes(envelope, max_message_size);
        if i > start && (i - start == BATCH || bytes + cost > BATCH_BYTES) {
            batches.push(&envelopes[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += cost;
    }
    if start < envelopes.len() {
        batches.push(&envelopes[start..]);
    }
    batches
}

/// Bytes fetched for a mail: whole, or its header when over the size limit.
fn fetched_bytes(envelope: &Envelope, max_message_size: usize) -> u64 {
    if envelope.size as usize > max_message_size {
        mail::MAX_HEADER_BYTES as u64
    } else {
        u64::from(envelope.size)
    }
}

/// One mail to decide, as fetched.
struct Job {
    envelope: Envelope,
    raw: Vec<u8>,
    /// How the mail's judgement crashed a probe process, if it did:
    /// quarantine it unread.
    crashed: Option<String>,
}

/// What deciding a batch gives, ready to be stored then filed.
#[derive(Default)]
struct Decisions {
    decided: Vec<Decided>,
    /// Mailbox keys of copies of mails already decided, with their request id.
    duplicates: Vec<(String, String)>,
    /// UIDs to move, by folder.
    moves: BTreeMap<String, Vec<u32>>,
}

/// Fetches, marks, judges (off the runtime's thread), stores and files
/// mails: (envelope, whether it was being judged when the process died).
///
/// A mail in hand when the process died may be what killed it (a stack
/// overflow or an abort, which no `catch_unwind` stops): it is first judged
/// by a separate `licgate check` process, and quarantined unread when that
/// probe dies too. So a mail never crashes the daemon twice, and a daemon
/// killed for another reason (kill -9, power) loses nothing.
async fn decide_and_file(
    shared: &Shared,
    mailbox: &mut impl Mailbox,
    uid_validity: u32,
    pending: &[(Envelope, bool)],
) -> anyhow::Result<()> {
    let limit = shared.config.limits.max_message_size;
    let (large, small): (Vec<&Envelope>, Vec<&Envelope>) = pending
        .iter()
        .map(|(e, _)| e)
        .partition(|e| e.size as usize > limit);
    let mut fetched: HashMap<u32, Vec<u8>> = HashMap::new();
    for (list, header_only) in [(small, false), (large, true)] {
        let uids: Vec<u32> = list.iter().map(|e| e.uid).collect();
        // NOTE: a header is as large as the sender made it: the timeout
        // allows for the whole mail.
        let bytes = list.iter().map(|e| u64::from(e.size)).sum();
        fetched.extend(mailbox.fetch(&uids, header_only, bytes).await?);
    }
    let mut jobs = Vec::new();
    for (envelope, suspect) in pending {
        let Some(raw) = fetched.remove(&envelope.uid) else {
            warn!(
                uid = envelope.uid,
                "courriel disparu avant d'avoir pu être lu"
            );
            continue;
        };
        let whole = envelope.size as usize <= limit;
        if *suspect && whole {
            warn!(
                uid = envelope.uid,
                "ce courriel était en cours quand le processus est mort : il est d'abord jugé dans un processus d'essai"
            );
        }
        let probed_first = whole
            && (*suspect || raw.len() > probe::PROBE_ABOVE || mail::shape(&raw).nested_messages);
        let crashed = if probed_first {
            probe::probe(&shared.config, &raw).await
        } else {
            None
        };
        // NOTE: the header of a mail over the size limit is all that is
        // judged of it; a server gives it whole, however large.
        let mut raw = raw;
        if !whole {
            raw.truncate(mail::MAX_HEADER_BYTES);
        }
        jobs.push(Job {
            envelope: *envelope,
            raw,
            crashed,
        });
    }
    let keys: Vec<String> = jobs
        .iter()
        .filter(|job| job.crashed.is_none())
        .map(|job| mailbox_key(uid_validity, job.envelope.uid))
        .collect();
    shared.store.mark_judging(&keys).await?;
    let now = shared.now();
    // NOTE: the judgement runs on a blocking thread: a slow mail never
    // stalls the outbox, the status file or the query socket.
    let decisions = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            judge::on_judgement_stack(|| decide_all(&shared, uid_validity, jobs, now))
        })
        .await??
    };
    let Decisions {
        decided,
        duplicates,
        moves,
    } = decisions;
    let closes_held = decided.iter().any(|d| d.decision.closes().is_some());
    if record(&shared.store, decided.as_slice(), &duplicates).await? || closes_held {
        // The history took the batch's acceptances in as they were judged:
        // one stored quarantined instead, or a held request cancelled, must
        // not count as a duplicate.
        schedule::load_history(shared)?;
    }
    if decided
        .iter()
        .any(|d| d.reply.is_some() || d.notice.is_some())
    {
        shared.outbox_ready.notify_one();
    }
    for (folder, uids) in &moves {
        mailbox.move_to(uids, folder).await?;
    }
    for Decided { decision, .. } in &decided {
        // NOTE: what was read of the request, never a secret nor the body;
        // values from the mail are quoted and escaped (`?`), so a newline in
        // one cannot forge a log line. A quarantined mail's reason is its
        // note: the judgement's codes were not why it was set aside.
        let request = decision.request();
        let problems: Vec<&str> = match (&decision.verdict, decision.outcome) {
            (Some(verdict), outcome) if outcome != crate::judge::Outcome::Quarantined => {
                verdict.problems.iter().map(|p| p.code.as_str()).collect()
            }
            _ => Vec::new(),
        };
        info!(
            request_id = %decision.request_id,
            sender = ?decision.sender.as_deref().unwrap_or(""),
            client = ?request.and_then(|r| r.client.as_deref()).unwrap_or(""),
            action = %request.and_then(|r| r.action).map_or("", |a| a.as_str()),
            licence = ?request.and_then(|r| r.licence.as_deref()).unwrap_or(""),
            quantity = request.and_then(|r| r.quantity),
            outcome = %decision.outcome,
            problems = %problems.join(" "),
            folder = %decision.folder,
            reply = decision.reply_queued,
            note = ?decision.note.as_deref().unwrap_or(""),
            "décidé"
        );
    }
    Ok(())
}

/// Stores a batch; when the batch cannot be stored, each mail alone, and a
/// mail that still cannot be is stored quarantined, without its verdict and
/// reply: one mail never fails the others. True when one was so quarantined.
async fn record(
    store: &Store,
    decided: &[Decided],
    duplicates: &[(String, String)],
) -> anyhow::Result<bool> {
    if decided.is_empty() && duplicates.is_empty() {
        return Ok(false);
    }
    let Err(err) = store.record(decided, duplicates).await else {
        return Ok(false);
    };
    if decided.len() <= 1 && duplicates.is_empty() {
        let Some(one) = decided.first() else {
            return Err(err);
        };
        error!(request_id = %one.decision.request_id, cause = %format!("{err:#}"), "décision non enregistrée : courriel enregistré en quarantaine à la place");
        let fallback = Decided {
            decision: Decision {
                outcome: Outcome::Quarantined,
                verdict: None,
                reply_queued: false,
                note: Some(format!("décision impossible à enregistrer\u{a0}: {err:#}")),
                ..one.decision.clone()
            },
            raw: one.raw.clone(),
            reply: None,
            notice: None,
        };
        store.record(std::slice::from_ref(&fallback), &[]).await?;
        return Ok(true);
    }
    warn!(cause = %format!("{err:#}"), "lot non enregistré : ses courriels sont enregistrés un par un");
    store.record(&[], duplicates).await?;
    let mut quarantined = false;
    for one in decided {
        quarantined |= Box::pin(record(store, std::slice::from_ref(one), &[])).await?;
    }
    Ok(quarantined)
}

/// Decides each job of a batch (blocking: judgement and store reads).
fn decide_all(
    shared: &Shared,
    uid_validity: u32,
    jobs: Vec<Job>,
    now: Timestamp,
) -> anyhow::Result<Decisions> {
    let mut out = Decisions::default();
    // Mails decided in this batch (not stored yet), by request id.
    let mut seen: HashMap<String, Copy> = HashMap::new();
    let mut batch_replies: HashMap<String, u32> = HashMap::new();
    // The requests held for confirmation, as the batch leaves them.
    let mut held = shared.store.held()?;
    // NOTE: read at each batch: a rotation takes effect without a restart.
    let keys = crate::store::keys::load_or_create(&shared.config.store)?;
    for Job {
        envelope,
        raw,
        crashed,
    } in jobs
    {
        let key = mailbox_key(uid_validity, envelope.uid);
        let decided = if let Some(how) = crashed {
            error!(%key, %how, "ce courriel fait échouer le jugement, ou coûte trop : mis en quarantaine sans être lu");
            let mut decision = policy::quarantined(&shared.config, &key, &raw, &envelope, now);
            decision.note = Some(format!("{how}\u{a0}: mis en quarantaine sans être lu ici"));
            // NOTE: unread, so under the hash of its bytes: a copy of a mail
            // decided before must not take that mail's id.
            decision.request_id = free_id(&shared.store, &seen, decision.request_id, &key)?;
            seen.insert(
                decision.request_id.clone(),
                Copy {
                    sender: None,
                    body: body_digest(&raw),
                    folder: decision.folder.clone(),
                },
            );
            Decided {
                decision,
                raw,
                reply: None,
                notice: None,
            }
        } else {
            let header = mail::read_headers(&raw).unwrap_or_default();
            let body = body_digest(&raw);
            let request_id = match identify(&shared.store, &seen, &key, &raw, &header, body)? {
                Identity::CopyOf { request_id, folder } => {
                    info!(%request_id, "copie d'un courriel déjà décidé : rangée à côté, sans nouvelle réponse");
                    out.duplicates.push((key, request_id));
                    out.moves.entry(folder).or_default().push(envelope.uid);
                    continue;
                }
                Identity::New(request_id) => request_id,
            };
            let fetched = policy::Fetched {
                key: &key,
                raw: &raw,
                header: &header,
                envelope: &envelope,
                request_id: &request_id,
            };
            let mut judged = judge_mail(shared, &fetched, &held, &keys, now);
            // The replies already counted for the sender, as the policy
            // names it (lower case): stored, and queued earlier in the batch.
            let sender = judged.as_ref().ok().and_then(|v| v.from.as_deref());
            let replies = match sender.map(str::to_lowercase) {
                Some(sender) => shared
                    .store
                    .replies_in_hour(&sender, now)
                    .map(|n| n + batch_replies.get(&sender).copied().unwrap_or(0)),
                None => Ok(0),
            };
            // NOTE: a question is answered (its records read) only for a
            // sender the policy will answer.
            if let (Ok(verdict), Ok(replies)) = (&mut judged, &replies)
                && let Some(sender) = verdict.from.as_deref().map(str::to_lowercase)
                && policy::set_aside(&shared.config, &raw, &sender).is_none()
                && policy::not_answered(&shared.config, *replies).is_none()
            {
                answer_question(shared, verdict);
            }
            let (decision, reply) = match replies {
                Ok(replies) => policy::decide(&shared.config, &fetched, judged, replies, now),
                Err(err) => {
                    let reason = format!("{err:#}");
                    error!(%request_id, %reason, "courriel non décidé : mis en quarantaine");
                    let mut decision =
                        policy::quarantined(&shared.config, &key, &raw, &envelope, now);
                    decision.request_id = request_id;
                    decision.note = Some(format!("impossible à décider\u{a0}: {reason}"));
                    (decision, None)
                }
            };
            if let (Some(sender), true) = (&decision.sender, reply.is_some()) {
                *batch_replies.entry(sender.clone()).or_default() += 1;
            }
            // NOTE: a request held in this batch is confirmed in a later
            // one only: its summary is not even sent yet.
            if let Some(closed) = decision.closes() {
                held.retain(|h| h.request_id != closed);
            }
            let notice = match schedule::remember(shared, &decision) {
                Some(movement) => schedule::removal_notice(shared, &decision, &movement, now)
                    .unwrap_or_else(|err| {
                        error!(request_id = %decision.request_id, cause = %format!("{err:#}"), "avis de suppression non construit : la synthèse le portera");
                        None
                    }),
                None => None,
            };
            seen.insert(
                decision.request_id.clone(),
                Copy {
                    sender: decision.sender.clone(),
                    body,
                    folder: decision.folder.clone(),
                },
            );
            Decided {
                decision,
                raw,
                reply,
                notice,
            }
        };
        out.moves
            .entry(decided.decision.folder.clone())
            .or_default()
            .push(envelope.uid);
        out.decided.push(decided);
    }
    Ok(out)
}

/// Gives a technician's question (`[ÉTAT]`, which the judgement ignores as
/// no request) its answer, from the store, as the reply; called only for a
/// sender the policy answers, so that no one else makes the daemon read its
/// records. The answer is as of the question's reception.
fn answer_question(shared: &Shared, verdict: &mut Verdict) {
    if verdict.problems.first().map(|p| p.code) != Some(judge::ProblemCode::StateQuery) {
        return;
    }
    let Some(client) = verdict.request.client.clone() else {
        return;
    };
    let question = judge::StateQuery {
        client,
        user: verdict.request.users.first().cloned(),
    };
    // NOTE: as of the question's reception, like any judgement.
    let Some(at) = verdict.received_at else {
        return;
    };
    let asker = verdict.from.as_deref().unwrap_or_default().to_lowercase();
    let answer = query::state_reply(&shared.store, &shared.rules(), &question, &asker, at);
    match answer {
        Ok(reply) => verdict.reply = Some(reply),
        Err(err) => {
            error!(request_id = %verdict.request_id, cause = %format!("{err:#}"), "question sans réponse : les enregistrements sont illisibles")
        }
    }
}

/// What tells two mails with one Message-ID apart.
pub(super) struct Copy {
    /// The sender address, lower case.
    sender: Option<String>,
    /// SHA-256 of the body (everything after the header).
    body: [u8; 32],
    /// Where the first one was filed.
    folder: String,
}

/// Whether a mail is a copy of one already decided, and its request id.
pub(super) enum Identity {
    /// Same Message-ID, same sender, same body: decided already.
    CopyOf { request_id: String, folder: String },
    /// To judge, under this request id.
    New(String),
}

/// A copy is the same Message-ID from the same sender with the same body.
/// Another mail that reuses a Message-ID (anyone can write one) is judged
/// under an id of its own, so it can never silence a later request.
pub(super) fn identify(
    store: &Store,
    seen: &HashMap<String, Copy>,
    key: &str,
    raw: &[u8],
    header: &mail::Mail,
    body: [u8; 32],
) -> anyhow::Result<Identity> {
    let natural = judge::request_id(header, raw);
    let sender = header.from.as_deref().map(str::to_lowercase);
    let reissued = judge::id_of(format!("{natural}:{}", audit::hex(&body)).as_bytes());
    for candidate in [natural, reissued] {
        let earlier = match seen.get(&candidate) {
            Some(copy) => Some((copy.sender.clone(), copy.body, copy.folder.clone())),
            None => match store.decision(&candidate)? {
                Some(decision) => {
                    let raw = store.raw_mail(&candidate)?.unwrap_or_default();
                    Some((decision.sender, body_digest(&raw), decision.folder))
                }
                None => None,
            },
        };
        let Some((earlier_sender, earlier_body, folder)) = earlier else {
            return Ok(Identity::New(candidate));
        };
        if earlier_sender == sender && earlier_body == body {
            return Ok(Identity::CopyOf {
                request_id: candidate,
                folder,
            });
        }
    }
    // Both ids taken by other mails: only a deliberate collision gets here.
    Ok(Identity::New(free_id(store, seen, judge::id_of(raw), key)?))
}

/// `id`, or when a mail decided before (or earlier in the batch) holds it
/// already, the first free id derived from it and the mail's `key`: a
/// decision is never stored over another mail's.
fn free_id(
    store: &Store,
    seen: &HashMap<String, Copy>,
    id: String,
    key: &str,
) -> anyhow::Result<String> {
    let mut candidate = id;
    for attempt in 0..8 {
        if !seen.contains_key(&candidate) && store.decision(&candidate)?.is_none() {
            return Ok(candidate);
        }
        candidate = judge::id_of(format!("{candidate}:{key}:{attempt}").as_bytes());
    }
    anyhow::bail!("no free request id for mail {key}")
}

/// SHA-256 of what follows the header block.
pub(super) fn body_digest(raw: &[u8]) -> [u8; 32] {
    let body = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &raw[i + 4..])
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| &raw[i + 2..])
        })
        .unwrap_or_default();
    Sha256::digest(body).into()
}

/// Judges a fetched mail with the rules and history in force; `Err` holds
/// the message of a panic of the judgement (the mail is then quarantined).
pub(super) fn judge_mail(
    shared: &Shared,
    mail: &policy::Fetched,
    held: &[judge::Held],
    keys: &judge::CommandKeys,
    now: Timestamp,
) -> Result<Verdict, String> {
    let config = &shared.config;
    let rules = shared.rules();
    let history = shared.history();
    // A quoted `(LG-…)` corrects a refusal only when licgate sent that refusal.
    let sent_refusal = |id: &str| {
        shared
            .store
            .decision(id)
            .ok()
            .flatten()
            .is_some_and(|decision| {
                decision.outcome == judge::Outcome::Rejected && decision.reply_queued
            })
    };
    let judge = Judge {
        rules: &rules,
        limits: &config.limits,
        history: &history,
        held,
        now: Some(now),
        keys: Some(keys),
        refusals: Some(&sent_refusal),
    };
    let envelope = mail.envelope;
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        if envelope.size as usize > config.limits.max_message_size {
            let size = envelope.size as usize;
            judge.check_header_as(mail.raw, size, envelope.internal_date, mail.request_id)
        } else {
            judge.check_as(mail.raw, envelope.internal_date, mail.request_id)
        }
    }))
    .map_err(|panic| panic_message(panic.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::fixture::{AUTHENTICATED, request};
    use crate::judge::Outcome;
    use crate::records::Decision;

    /// A mailbox in memory that checks the crash-safety rule: no mail moves
    /// before its decision is stored.
    struct FakeMailbox {
        /// uid -> the message, in the watched mailbox.
        inbox: BTreeMap<u32, Vec<u8>>,
        /// folder -> uids moved there.
        folders: BTreeMap<String, Vec<u32>>,
        /// The daemon's store, looked at when a move comes.
        store: Store,
        /// Moves fail (the connection dropped), as after a server restart.
        moves_fail: bool,
    }

    impl Mailbox for FakeMailbox {
        async fn fetch(
            &mut self,
            uids: &[u32],
            header_only: bool,
            _bytes: u64,
        ) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
            let part = |mail: &Vec<u8>| {
                let header = mail.windows(4).position(|w| w == b"\r\n\r\n");
                match (header_only, header) {
                    (true, Some(end)) => mail[..end + 4].to_vec(),
                    _ => mail.clone(),
                }
            };
            Ok(uids
                .iter()
                .filter_map(|uid| Some((*uid, part(self.inbox.get(uid)?))))
                .collect())
        }

        async fn move_to(&mut self, uids: &[u32], folder: &str) -> anyhow::Result<()> {
            anyhow::ensure!(!self.moves_fail, "connection lost");
            for uid in uids {
                let key = mailbox_key(UID_VALIDITY, *uid);
                assert!(
                    self.store.decided_mail(&key).unwrap().is_some(),
                    "mail {key} moved before its decision was stored"
                );
                self.inbox.remove(uid).expect("moved once");
                self.folders
                    .entry(folder.to_owned())
                    .or_default()
                    .push(*uid);
            }
            Ok(())
        }
    }

    const UID_VALIDITY: u32 = 1700000000;

    /// The daemon's shared state over a fresh store, and a mailbox holding `mails`.
    fn setup(mails: Vec<Vec<u8>>) -> (Shared, FakeMailbox, Vec<Envelope>) {
        let config = crate::config::fixture::example();
        let store = Store::open(&config.store).unwrap();
        let rules = Rules::load(&config.rules).unwrap();
        let received = "2026-11-23T10:00:00Z".parse().unwrap();
        let envelopes = (1..=mails.len() as u32)
            .zip(&mails)
            .map(|(uid, mail)| Envelope {
                uid,
                size: mail.len() as u32,
                internal_date: Some(received),
            })
            .collect();
        let mailbox = FakeMailbox {
            inbox: (1..).zip(mails).collect(),
            folders: BTreeMap::new(),
            store: store.clone(),
            moves_fail: false,
        };
        let mut shared = Shared::new(config, store, rules);
        shared.clock = half_past_ten;
        (shared, mailbox, envelopes)
    }

    /// The clock of the intake's tests: Monday 23 November 2026, 10:30 UTC,
    /// after every mail they deliver on Monday.
    fn half_past_ten() -> Timestamp {
        "2026-11-23T10:30:00Z".parse().unwrap()
    }

    const TECH: &str = "julie.bernard@infogerance.example";

    #[tokio::test]
    async fn each_mail_is_decided_stored_then_filed_and_answered_once() {
        let (shared, mut mailbox, envelopes) = setup(vec![
            request(TECH, "a@x", "+1"),
            request(TECH, "b@x", "beaucoup"),
            request("intrus@ailleurs.example", "c@x", "+1"),
        ]);
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes)
            .await
            .unwrap();
        let folders = &shared.config.folders;
        let filed = |outcome| mailbox.folders.get(folders.of(outcome)).cloned();
        assert_eq!(filed(Outcome::Accepted), Some(vec![1]));
        assert_eq!(filed(Outcome::Rejected), Some(vec![2]));
        assert_eq!(filed(Outcome::Quarantined), Some(vec![3]));
        assert!(mailbox.inbox.is_empty());
        assert_eq!(shared.store.outbox_len(), 2, "the outsider gets no reply");
        assert_eq!(shared.store.decisions().count(), 3);
    }

    // Nothing lost, nothing doubled: a move that fails after the decision
    // was stored is done on the next round, without deciding again.
    #[tokio::test]
    async fn a_mail_whose_move_failed_is_moved_later_and_not_answered_twice() {
        let (shared, mut mailbox, envelopes) = setup(vec![
            request(TECH, "a@x", "+1"),
            request(TECH, "b@x", "beaucoup"),
        ]);
        mailbox.moves_fail = true;
        let failed = process(&shared, &mut mailbox, UID_VALIDITY, &envelopes).await;
        assert!(failed.is_err());
        assert_eq!(mailbox.inbox.len(), 2, "nothing moved");
        assert_eq!(shared.store.decisions().count(), 2, "but all decided");
        mailbox.moves_fail = false;
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes)
            .await
            .unwrap();
        assert!(mailbox.inbox.is_empty());
        assert_eq!(shared.store.decisions().count(), 2);
        assert_eq!(shared.store.outbox_len(), 2, "one reply each");
        assert_eq!(shared.store.verify_audit().unwrap(), 2);
    }

    // Found by review: a mail over the size limit reusing the Message-ID of
    // an accepted request was stored under that request's id, over its
    // decision and raw mail: the order vanished from the digest and the
    // audit trail failed for good.
    #[tokio::test]
    async fn no_mail_takes_the_request_id_of_another() {
        let (shared, mut mailbox, mut envelopes) = setup(vec![
            request(TECH, "a@x", "+1"),
            request("intrus@ailleurs.example", "a@x", "+1"),
        ]);
        envelopes[1].size = 20_000_000;
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes[..1])
            .await
            .unwrap();
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes[1..])
            .await
            .unwrap();
        let decisions: Vec<_> = shared.store.decisions().map(Result::unwrap).collect();
        assert_eq!(decisions.len(), 2);
        let first = shared.store.decided_mail(&mailbox_key(UID_VALIDITY, 1));
        let first = shared
            .store
            .decision(&first.unwrap().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(first.outcome, Outcome::Accepted);
        assert_eq!(shared.store.verify_audit().unwrap(), 2);
        assert_eq!(shared.store.accepted().count(), 1);
    }

    #[tokio::test]
    async fn a_mail_delivered_twice_is_filed_beside_the_first_unanswered() {
        let mail = request(TECH, "a@x", "+1");
        let (shared, mut mailbox, envelopes) = setup(vec![mail.clone(), mail]);
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes)
            .await
            .unwrap();
        let accepted = &shared.config.folders.accepted;
        assert_eq!(mailbox.folders[accepted], [1, 2]);
        assert_eq!(shared.store.decisions().count(), 1);
        assert_eq!(shared.store.outbox_len(), 1);
        let other = request(TECH, "a@x", "+2");
        let (shared, mut mailbox, envelopes) = setup(vec![request(TECH, "a@x", "+1"), other]);
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes)
            .await
            .unwrap();
        assert_eq!(
            shared.store.decisions().count(),
            2,
            "another mail reusing a Message-ID is decided on its own"
        );
    }

    /// An upgrade of Jean Dupont's mailbox for Boulangerie Martin.
    fn upgrade(from: &str, message_id: &str) -> Vec<u8> {
        format!(
            "{AUTHENTICATED}From: {from}\r\nMessage-ID: <{message_id}>\r\n\
             Subject: [MISE À NIVEAU] Licence Office 365 - Boulangerie Martin\r\n\r\n\
             Nom du client : Boulangerie Martin\r\n\
             Licence actuelle : Exchange Online (Plan 1)\r\n\
             Licence cible : Exchange Online (Plan 2)\r\n\
             Quantité : 1\r\n\
             Nom Prénom de l'utilisateur : Jean Dupont\r\n\
             Bureau à distance associé : NON\r\n"
        )
        .into_bytes()
    }

    /// `CONFIRMER LG-…` (or another first line) from `from`.
    fn answer(from: &str, message_id: &str, first_line: &str) -> Vec<u8> {
        format!(
            "{AUTHENTICATED}From: {from}\r\nMessage-ID: <{message_id}>\r\n\
             Subject: RE: [À CONFIRMER] [MISE À NIVEAU] Licence Office 365 - Boulangerie Martin\r\n\r\n\
             {first_line}\r\n\r\nCordialement\r\n"
        )
        .into_bytes()
    }

    /// Delivers `mail`, received at `at`, and lets the daemon decide it;
    /// gives its decision.
    async fn deliver(
        shared: &Shared,
        mailbox: &mut FakeMailbox,
        mail: Vec<u8>,
        at: &str,
    ) -> Decision {
        let filed = mailbox.folders.values().flatten();
        let uid = mailbox
            .inbox
            .keys()
            .chain(filed)
            .max()
            .copied()
            .unwrap_or(0)
            + 1;
        let envelope = Envelope {
            uid,
            size: mail.len() as u32,
            internal_date: Some(at.parse().unwrap()),
        };
        mailbox.inbox.insert(uid, mail);
        process(shared, mailbox, UID_VALIDITY, &[envelope])
            .await
            .unwrap();
        let id = shared
            .store
            .decided_mail(&mailbox_key(UID_VALIDITY, uid))
            .unwrap()
            .unwrap();
        shared.store.decision(&id).unwrap().unwrap()
    }

    /// The subjects of the queued mails, oldest first.
    fn queued_subjects(store: &Store) -> Vec<String> {
        store
            .outbox_oldest(100)
            .unwrap()
            .iter()
            .map(|(_, item)| {
                let mail = mail::read(item.message.as_bytes()).unwrap();
                mail.subject.unwrap_or_default()
            })
            .collect()
    }

    fn codes(decision: &Decision) -> Vec<&'static str> {
        let verdict = decision.verdict.as_ref().unwrap();
        verdict.problems.iter().map(|p| p.code.as_str()).collect()
    }

    const MONDAY: &str = "2026-11-23T09:00:00Z";
    const TUESDAY: &str = "2026-11-24T09:00:00Z";
    /// After Tuesday 17:30 (Paris), the deadline of a request held on Monday.
    const TUESDAY_LATE: &str = "2026-11-24T17:00:00Z";

    /// `word` (`CONFIRMER`, `ANNULER`), the reference `id` and its code, as
    /// the `[À CONFIRMER]` mail gives them.
    fn command(shared: &Shared, word: &str, id: &str) -> String {
        let keys = crate::store::keys::load_or_create(&shared.config.store).unwrap();
        format!("{word} {id} {}", keys.code(id))
    }

    /// A held upgrade from TECH, decided on Monday.
    async fn held_upgrade() -> (Shared, FakeMailbox, String) {
        let (shared, mut mailbox, _) = setup(vec![]);
        let held = deliver(&shared, &mut mailbox, upgrade(TECH, "up@x"), MONDAY).await;
        assert_eq!(held.outcome, Outcome::Held);
        assert_eq!(mailbox.folders[&shared.config.folders.held].len(), 1);
        let subjects = queued_subjects(&shared.store);
        assert_eq!(subjects.len(), 1);
        assert!(
            subjects[0].starts_with("[À CONFIRMER] [MISE À NIVEAU]"),
            "{subjects:?}"
        );
        assert_eq!(shared.store.held().unwrap().len(), 1);
        assert_eq!(
            shared.store.accepted().count(),
            0,
            "purchasing sees nothing yet"
        );
        assert_eq!(shared.store.undigested_len().unwrap(), 0);
        (shared, mailbox, held.request_id)
    }

    #[tokio::test]
    async fn a_held_upgrade_confirmed_in_time_is_accepted_once() {
        let (shared, mut mailbox, id) = held_upgrade().await;
        let confirm = answer(TECH, "c1@x", &command(&shared, "CONFIRMER", &id));
        let confirmation = deliver(&shared, &mut mailbox, confirm, TUESDAY).await;
        assert_eq!(confirmation.outcome, Outcome::Accepted);
        let verdict = confirmation.verdict.as_ref().unwrap();
        assert_eq!(verdict.confirms.as_deref(), Some(id.as_str()));
        let request = shared.store.decision(&id).unwrap().unwrap();
        assert_eq!(request.outcome, Outcome::Accepted);
        assert_eq!(request.closed_by, Some(confirmation.request_id.clone()));
        let accepted: Vec<_> = shared.store.accepted().map(Result::unwrap).collect();
        assert_eq!(accepted.len(), 1, "the request, not the confirmation");
        assert_eq!(accepted[0].request_id, id);
        let undigested: Vec<String> = shared
            .store
            .undigested()
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        assert_eq!(undigested, std::slice::from_ref(&id));
        assert_eq!(shared.store.undigested_len().unwrap(), 1);
        assert!(shared.store.held().unwrap().is_empty());
        let subjects = queued_subjects(&shared.store);
        assert_eq!(
            subjects[1],
            format!("[ACCEPTÉE] [MISE À NIVEAU] Licence Office 365 - Boulangerie Martin ({id})")
        );
        // The ledger moves the quantity at once.
        let calendar = shared.rules().calendar.clone();
        let movements = shared
            .store
            .accepted_movements(&calendar, Timestamp::UNIX_EPOCH)
            .unwrap();
        let moved: Vec<(&str, i64)> = movements
            .iter()
            .map(|m| (m.licence.as_str(), m.quantity))
            .collect();
        assert_eq!(
            moved,
            [
                ("Exchange Online (Plan 1)", -1),
                ("Exchange Online (Plan 2)", 1)
            ]
        );
        assert!(movements.iter().all(|m| m.effective_on == m.received_on));
        // Twice: the request is no longer held.
        let again = answer(TECH, "c2@x", &command(&shared, "CONFIRMER", &id));
        let again = deliver(&shared, &mut mailbox, again, TUESDAY).await;
        assert_eq!(again.outcome, Outcome::Rejected);
        assert_eq!(codes(&again), ["confirmation_unknown"]);
        assert_eq!(shared.store.accepted().count(), 1);
        assert_eq!(shared.store.undigested_len().unwrap(), 1);
        // Every step is in the chained audit trail.
        assert_eq!(shared.store.verify_audit().unwrap(), 4);
    }

    #[tokio::test]
    async fn a_confirmation_late_from_another_sender_or_unknown_is_refused() {
        let (shared, mut mailbox, id) = held_upgrade().await;
        let other = answer(
            "paul.martin@infogerance.example",
            "o@x",
            &command(&shared, "CONFIRMER", &id),
        );
        let other = deliver(&shared, &mut mailbox, other, TUESDAY).await;
        assert_eq!(codes(&other), ["confirmation_sender"]);
        let unknown = answer(TECH, "u@x", "CONFIRMER LG-0000000000");
        let unknown = deliver(&shared, &mut mailbox, unknown, TUESDAY).await;
        assert_eq!(codes(&unknown), ["confirmation_unknown"]);
        let late = command(&shared, "confirmer", &id).to_lowercase();
        let late = answer(TECH, "l@x", &late);
        let late = deliver(&shared, &mut mailbox, late, TUESDAY_LATE).await;
        assert_eq!(codes(&late), ["confirmation_expired"]);
        assert_eq!(
            shared.store.held().unwrap().len(),
            1,
            "still held until it expires"
        );
        assert_eq!(shared.store.accepted().count(), 0);
        let subjects = queued_subjects(&shared.store);
        assert_eq!(subjects.len(), 4);
        assert!(
            subjects[1..].iter().all(|s| s.starts_with("[REFUSÉE] ")),
            "{subjects:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_request_is_closed_with_an_acknowledgement() {
        let (shared, mut mailbox, id) = held_upgrade().await;
        let cancel = answer(TECH, "a@x", &command(&shared, "ANNULER", &id));
        let cancel = deliver(&shared, &mut mailbox, cancel, TUESDAY).await;
        assert_eq!(cancel.outcome, Outcome::Ignored);
        assert_eq!(codes(&cancel), ["cancelled"]);
        let request = shared.store.decision(&id).unwrap().unwrap();
        assert_eq!(request.outcome, Outcome::Ignored);
        assert_eq!(codes(&request), ["cancelled"]);
        assert!(shared.store.held().unwrap().is_empty());
        assert_eq!(shared.store.accepted().count(), 0);
        assert_eq!(shared.store.undigested_len().unwrap(), 0);
        let subjects = queued_subjects(&shared.store);
        assert!(subjects[1].starts_with("[ANNULÉE] "), "{subjects:?}");
        // A new request for the same licence is no duplicate of the cancelled one.
        let again = deliver(&shared, &mut mailbox, upgrade(TECH, "up2@x"), TUESDAY).await;
        assert_eq!(again.outcome, Outcome::Held);
        // But a held one counts as a duplicate, like an accepted one.
        let twice = deliver(&shared, &mut mailbox, upgrade(TECH, "up3@x"), TUESDAY).await;
        assert_eq!(codes(&twice), ["duplicate_request"]);
    }

    // Found by review: a confirmation written with the request (its id
    // computed from a Message-ID) confirmed it in the same batch, before its
    // summary was even sent.
    #[tokio::test]
    async fn a_confirmation_received_before_the_hold_was_asked_is_refused() {
        let held = upgrade(TECH, "early@x");
        let id = judge::id_of(b"early@x");
        let confirm = answer(TECH, "c@x", &format!("CONFIRMER {id}"));
        let (shared, mut mailbox, envelopes) = setup(vec![held, confirm]);
        process(&shared, &mut mailbox, UID_VALIDITY, &envelopes)
            .await
            .unwrap();
        assert_eq!(shared.store.held().unwrap().len(), 1, "still held");
        assert_eq!(shared.store.accepted().count(), 0);
        let second = shared.store.decided_mail(&mailbox_key(UID_VALIDITY, 2));
        let second = shared.store.decision(&second.unwrap().unwrap()).unwrap();
        assert_eq!(codes(&second.unwrap()), ["confirmation_unknown"]);
    }

    // Found by review: the removal notice offered to cancel an addition
    // still held, which purchasing never ordered.
    #[tokio::test]
    async fn a_held_addition_is_never_offered_for_cancellation() {
        let (shared, mut mailbox, _) = setup(vec![]);
        let annual = String::from_utf8(request(TECH, "annual@x", "+1"))
            .unwrap()
            .replace("Business Standard", "Business Premium");
        let held = deliver(&shared, &mut mailbox, annual.into_bytes(), MONDAY).await;
        assert_eq!(held.outcome, Outcome::Held);
        let removal = String::from_utf8(request(TECH, "removal@x", "-1"))
            .unwrap()
            .replace("[AJOUT]", "[SUPPRESSION]")
            .replace("Business Standard", "Business Premium");
        let removal = deliver(&shared, &mut mailbox, removal.into_bytes(), MONDAY).await;
        assert_eq!(removal.outcome, Outcome::Accepted, "{:?}", codes(&removal));
        let notices: Vec<String> = shared
            .store
            .outbox_oldest(100)
            .unwrap()
            .into_iter()
            .map(|(_, item)| item.message)
            .filter(|message| message.contains("suppression"))
            .collect();
        assert!(!notices.is_empty(), "a removal notice is queued");
        assert!(
            notices
                .iter()
                .all(|n| !n.contains("ANNULABLE") && !n.contains(&held.request_id)),
            "{notices:?}"
        );
    }

    #[tokio::test]
    async fn an_expired_request_is_closed_once_across_a_restart() {
        let (shared, _mailbox, id) = held_upgrade().await;
        let before: Timestamp = "2026-11-24T16:29:00Z".parse().unwrap();
        assert_eq!(schedule::expire_held(&shared, before).await.unwrap(), 0);
        let after: Timestamp = "2026-11-24T16:31:00Z".parse().unwrap();
        // Not before the mailbox was read after the deadline: a confirmation
        // received in time may be waiting there.
        assert_eq!(schedule::expire_held(&shared, after).await.unwrap(), 0);
        shared.store.set_last_poll(after).unwrap();
        assert_eq!(schedule::expire_held(&shared, after).await.unwrap(), 1);
        assert_eq!(schedule::expire_held(&shared, after).await.unwrap(), 0);
        let request = shared.store.decision(&id).unwrap().unwrap();
        assert_eq!(request.outcome, Outcome::Rejected);
        assert_eq!(codes(&request), ["confirmation_expired"]);
        let subjects = queued_subjects(&shared.store);
        assert_eq!(subjects.len(), 2);
        assert!(
            subjects[1].starts_with("[EXPIRÉE] [MISE À NIVEAU]"),
            "{subjects:?}"
        );
        // Restart: the store reopened, nothing is sent again.
        let (config, rules) = (shared.config.as_ref().clone(), shared.rules().clone());
        drop((shared, _mailbox));
        let store = Store::open(&config.store).unwrap();
        let shared = Shared::new(config, store, rules);
        assert_eq!(schedule::expire_held(&shared, after).await.unwrap(), 0);
        assert_eq!(queued_subjects(&shared.store).len(), 2);
        // Held, notice queued, closed.
        assert_eq!(shared.store.verify_audit().unwrap(), 3);
    }

    // Issue 18, item 5: a confirmation received just before the deadline
    // may not be listed yet by a poll taken just after it; the request was
    // closed as expired, and the confirmation then refused.
    #[tokio::test]
    async fn a_poll_just_after_the_deadline_leaves_the_request_held() {
        let (shared, _mailbox, _) = held_upgrade().await;
        let deadline: Timestamp = "2026-11-24T16:30:00Z".parse().unwrap();
        let later: Timestamp = "2026-11-24T18:00:00Z".parse().unwrap();
        shared
            .store
            .set_last_poll(deadline + jiff::SignedDuration::from_secs(5))
            .unwrap();
        assert_eq!(schedule::expire_held(&shared, later).await.unwrap(), 0);
        shared
            .store
            .set_last_poll(deadline + jiff::SignedDuration::from_secs(31))
            .unwrap();
        assert_eq!(schedule::expire_held(&shared, later).await.unwrap(), 1);
    }

    fn envelope(uid: u32, size: u32) -> Envelope {
        Envelope {
            uid,
            size,
            internal_date: None,
        }
    }

    // Issue 8, item 5: 50 mails of 9.9 MB were fetched in one command under
    // one timeout, which never completed on a slow link (and held 1.1 GB).
    #[test]
    fn batches_are_bounded_in_mails_and_bytes() {
        let limit = 10 * 1024 * 1024;
        let large: Vec<Envelope> = (1..=50).map(|uid| envelope(uid, 9_900_000)).collect();
        assert_eq!(batches(&large, limit).len(), 50, "one large mail per fetch");
        let small: Vec<Envelope> = (1..=120).map(|uid| envelope(uid, 10_000)).collect();
        let sizes: Vec<usize> = batches_of(&small, limit);
        assert_eq!(sizes, [50, 50, 20]);
        // Over the size limit, only the header is fetched: they go together.
        let huge: Vec<Envelope> = (1..=60).map(|uid| envelope(uid, 50_000_000)).collect();
        assert_eq!(batches_of(&huge, limit), [50, 10]);
        let mixed = [
            envelope(1, 10_000),
            envelope(2, 9_000_000),
            envelope(3, 9_000_000),
            envelope(4, 10),
        ];
        assert_eq!(batches_of(&mixed, limit), [2, 2]);
        assert!(batches(&[], limit).is_empty());
    }

    fn batches_of(envelopes: &[Envelope], limit: usize) -> Vec<usize> {
        batches(envelopes, limit).iter().map(|b| b.len()).collect()
    }
}
