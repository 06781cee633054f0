//! The daemon, the imperative shell around [`crate::check`](mod@crate::check): watches the
//! mailbox, judges each new mail, stores the decision, moves the mail to its
//! folder, and sends replies from the outbox.
//!
//! The order of the steps is the safety net: fetch -> judge -> store the
//! decision, the raw mail and the reply in one flushed transaction -> move the
//! mail. A crash before the store leaves the mail in the mailbox, untouched; a
//! crash after it leaves a decided mail that the next round only moves. Replies
//! leave the outbox only once the SMTP server accepted them.
//!
//! Shutdown stops the waiting (IDLE, sleeps, backoffs), never a mail in hand.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::audit;
use crate::check::{self, Judge};
use crate::config::Config;
use crate::digest::{self, Digest, Kind, Letter};
use crate::imap::{Envelope, Mailbox};
use crate::ledger::{self, Movement};
use crate::mail;
use crate::query;
use crate::reply::{self, Addressing};
use crate::rules::{CALENDAR_FILE, CLIENTS_FILE, Calendar, LICENCES_FILE, Rules};
use crate::smtp::Sender;
use crate::status::{self, Status};
use crate::store::{Decided, Decision, Disposition, OutboxItem, Store};
use crate::verdict::{Outcome, Verdict};

/// Mails decided together: one store flush and one move per folder for all.
const BATCH: usize = 50;

/// Replies sent at once, each over its own SMTP connection.
const REPLIES_IN_FLIGHT: usize = 8;

/// Longest wait between two looks at the schedule.
const SCHEDULE_CHECK: Duration = Duration::from_secs(60);

/// Longest wait between two attempts to reach a server.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs until `shutdown` completes, then finishes the mail in hand, flushes and returns.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let store = Store::open(&config.store)?;
    let rules = Rules::load(&config.rules)?;
    let shared = Shared {
        config: Arc::new(config),
        store,
        rules: Arc::new(RwLock::new(rules)),
        outbox_ready: Arc::new(Notify::new()),
        history: Arc::new(Mutex::new(Vec::new())),
    };
    let (stop_tx, stop) = watch::channel(false);
    let outbox = tokio::spawn(outbox_loop(shared.clone(), stop.clone()));
    let reload = tokio::spawn(reload_loop(shared.clone(), stop.clone()));
    let mailbox = tokio::spawn(mailbox_loop(shared.clone(), stop.clone()));
    let status = tokio::spawn(status_loop(shared.clone(), stop.clone()));
    let schedule = tokio::spawn(schedule_loop(shared.clone(), stop.clone()));
    let queries = tokio::spawn(query::serve(
        listen_for_queries(&shared.config.store)?,
        shared.store.clone(),
        shared.rules.clone(),
    ));
    let metrics = match shared.config.metrics {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("metrics.listen: cannot listen on {address}"))?;
            info!(%address, "serving Prometheus metrics on /metrics");
            Some(tokio::spawn(status::serve_metrics(
                listener,
                shared.store.clone(),
            )))
        }
        None => None,
    };
    shutdown.await;
    info!("shutting down: finishing the mail in hand");
    let _ = stop_tx.send(true);
    let (mailbox, outbox, reload, status, schedule) =
        tokio::join!(mailbox, outbox, reload, status, schedule);
    mailbox??;
    outbox??;
    reload?;
    status?;
    schedule?;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    queries.abort();
    let _ = std::fs::remove_file(query::socket_path(&shared.config.store));
    shared.store.flush().await?;
    write_status(&shared);
    info!("stopped");
    Ok(())
}

/// The socket the CLI asks its queries on (audit, ledger, digest), readable
/// by the daemon's user only. A socket left by a crash is replaced: holding
/// the store's lock proves no other daemon uses it.
fn listen_for_queries(store: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = query::socket_path(store);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("{}: cannot listen", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// What the daemon's tasks share.
#[derive(Clone)]
struct Shared {
    config: Arc<Config>,
    store: Store,
    /// The rules in force; replaced whole when the files change.
    rules: Arc<RwLock<Rules>>,
    /// Wakes the outbox when a reply is queued.
    outbox_ready: Arc<Notify>,
    /// The accepted requests, for `duplicate_request`: read from the store
    /// at each connection, then kept up to date as mails are decided.
    history: Arc<Mutex<Vec<Movement>>>,
}

impl Shared {
    /// The rules in force. A task that panicked while holding the lock left
    /// whole rules behind (they are only ever replaced whole): use them.
    fn rules(&self) -> RwLockReadGuard<'_, Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The accepted requests (see `history`); a poisoned lock is recovered
    /// the same way.
    fn history(&self) -> MutexGuard<'_, Vec<Movement>> {
        self.history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Completes when the stop flag is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Sleeps `duration`; returns false when the stop flag interrupted it.
async fn pause(duration: Duration, stop: &watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => true,
        _ = stopped(stop.clone()) => false,
    }
}

async fn mailbox_loop(shared: Shared, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut backoff = Duration::from_secs(1);
    while !*stop.borrow() {
        match watch_mailbox(&shared, &stop, &mut backoff).await {
            Ok(()) => break,
            Err(err) => {
                error!(cause = %format!("{err:#}"), retry_in = ?backoff, "mailbox connection failed");
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
    let mut mailbox = Mailbox::connect(&config.imap).await?;
    let folders = &config.folders;
    mailbox
        .ensure_folders(&[
            &folders.accepted,
            &folders.rejected,
            &folders.ignored,
            &folders.quarantine,
        ])
        .await?;
    info!(host = %config.imap.host, idle = mailbox.idle && config.idle, "connected to the mailbox");
    load_history(shared)?;
    *backoff = Duration::from_secs(1);
    loop {
        let uid_validity = mailbox.select(&config.mailbox).await?;
        for batch in mailbox.envelopes().await?.chunks(BATCH) {
            if *stop.borrow() {
                break;
            }
            process(shared, &mut mailbox, uid_validity, batch).await?;
        }
        shared.store.set_last_poll(Timestamp::now())?;
        if *stop.borrow() {
            mailbox.logout().await;
            return Ok(());
        }
        if !config.idle {
            mailbox.idle = false;
        }
        mailbox = mailbox
            .wait(config.poll_interval, stopped(stop.clone()))
            .await?;
    }
}

/// Decides a batch of messages (or finishes interrupted decisions) and moves
/// them: every decision of the batch is stored and flushed before any move.
async fn process(
    shared: &Shared,
    mailbox: &mut Mailbox,
    uid_validity: u32,
    batch: &[Envelope],
) -> anyhow::Result<()> {
    let store = &shared.store;
    let key = |uid: u32| format!("{uid_validity}:{uid}");
    let mut moves: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut pending = Vec::new();
    for envelope in batch {
        match store.decided_mail(&key(envelope.uid))? {
            Some(request_id) => {
                let decision = store
                    .decision(&request_id)?
                    .context("decided mail without decision")?;
                info!(%request_id, folder = %decision.folder, "moving a mail decided before a restart");
                moves.entry(decision.folder).or_default().push(envelope.uid);
            }
            None => pending.push(*envelope),
        }
    }
    let limit = shared.config.limits.max_message_size;
    let (large, small): (Vec<Envelope>, Vec<Envelope>) =
        pending.iter().partition(|e| e.size as usize > limit);
    let uids = |list: &[Envelope]| list.iter().map(|e| e.uid).collect::<Vec<_>>();
    let mut fetched: HashMap<u32, Vec<u8>> = mailbox
        .fetch(&uids(&small), false)
        .await?
        .into_iter()
        .collect();
    fetched.extend(mailbox.fetch(&uids(&large), true).await?);

    let now = Timestamp::now();
    let mut decided: Vec<Decided> = Vec::new();
    let mut duplicates = Vec::new();
    // Request ids decided in this batch, with their folder, and replies queued per sender.
    let mut batch_folders: HashMap<String, String> = HashMap::new();
    let mut batch_replies: HashMap<String, u32> = HashMap::new();
    for envelope in pending {
        let Some(raw) = fetched.remove(&envelope.uid) else {
            warn!(
                uid = envelope.uid,
                "message vanished before it could be fetched"
            );
            continue;
        };
        let mailbox_key = key(envelope.uid);
        let (decision, reply) = decide(shared, &mailbox_key, &raw, envelope, now, &batch_replies)?;
        let earlier = match batch_folders.get(&decision.request_id) {
            Some(folder) => Some(folder.clone()),
            None => store.decision(&decision.request_id)?.map(|d| d.folder),
        };
        if let Some(folder) = earlier {
            // Same Message-ID already decided: never decide nor answer twice.
            info!(request_id = %decision.request_id, "duplicate of a mail already decided");
            duplicates.push((mailbox_key, decision.request_id));
            moves.entry(folder).or_default().push(envelope.uid);
            continue;
        }
        if let (Some(sender), true) = (&decision.sender, reply.is_some()) {
            *batch_replies.entry(sender.clone()).or_default() += 1;
        }
        batch_folders.insert(decision.request_id.clone(), decision.folder.clone());
        let notice = match remember(shared, &decision) {
            Some(movement) => removal_notice(shared, &decision, &movement, now)?,
            None => None,
        };
        moves
            .entry(decision.folder.clone())
            .or_default()
            .push(envelope.uid);
        decided.push(Decided {
            decision,
            raw,
            reply,
            notice,
        });
    }
    if !decided.is_empty() || !duplicates.is_empty() {
        store.record(&decided, &duplicates).await?;
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
        info!(
            request_id = %decision.request_id,
            disposition = ?decision.disposition,
            folder = %decision.folder,
            reply = decision.reply_queued,
            note = decision.note.as_deref().unwrap_or(""),
            "decided"
        );
    }
    Ok(())
}

/// Judges a fetched mail and prepares its decision and reply: pure but for
/// the rate-limit count read from the store (plus `batch_replies`, the
/// replies queued per sender in the batch not yet stored).
fn decide(
    shared: &Shared,
    key: &str,
    raw: &[u8],
    envelope: Envelope,
    now: Timestamp,
    batch_replies: &HashMap<String, u32>,
) -> anyhow::Result<(Decision, Option<OutboxItem>)> {
    let config = &shared.config;
    let judged = {
        let rules = shared.rules();
        let history = shared.history();
        let judge = Judge {
            rules: &rules,
            limits: &config.limits,
            history: &history,
        };
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            if envelope.size as usize > config.limits.max_message_size {
                judge.check_header(raw, envelope.size as usize, envelope.internal_date)
            } else {
                judge.check(raw, envelope.internal_date)
            }
        }))
    };
    let mut decision = Decision {
        request_id: check::id_of(raw),
        mailbox_key: key.to_owned(),
        decided_at: now,
        received_at: envelope.internal_date,
        sender: None,
        disposition: Disposition::Quarantined,
        folder: config.folders.quarantine.clone(),
        note: None,
        verdict: None,
        reply_queued: false,
    };
    let verdict = match judged {
        Ok(verdict) => verdict,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            error!(request_id = %decision.request_id, %message, "the judgement failed: mail quarantined");
            decision.note = Some(format!("judgement failed: {message}"));
            return Ok((decision, None));
        }
    };
    decision.request_id = verdict.request_id.clone();
    decision.sender = verdict.from.as_deref().map(str::to_lowercase);
    decision.verdict = Some(serde_json::to_value(&verdict)?);
    let Some(sender) = decision.sender.clone().filter(|s| config.is_allowed(s)) else {
        decision.note = Some("sender not in senders.allow: quarantined, not answered".into());
        return Ok((decision, None));
    };
    (decision.disposition, decision.folder) = match verdict.outcome {
        Outcome::Accepted => (Disposition::Accepted, config.folders.accepted.clone()),
        Outcome::Rejected => (Disposition::Rejected, config.folders.rejected.clone()),
        Outcome::Ignored => (Disposition::Ignored, config.folders.ignored.clone()),
    };
    let Some(answer) = &verdict.reply else {
        return Ok((decision, None));
    };
    if sender == config.from {
        decision.note = Some("sent by the gateway's own address: not answered".into());
        return Ok((decision, None));
    }
    let already = shared.store.replies_in_hour(&sender, now)?
        + batch_replies.get(&sender).copied().unwrap_or(0);
    if already >= config.replies_per_sender_per_hour {
        decision.note = Some(format!(
            "more than {} replies to this sender this hour: not answered",
            config.replies_per_sender_per_hour
        ));
        return Ok((decision, None));
    }
    let item = outbox_item(config, &verdict, answer, raw, &sender, now)?;
    decision.reply_queued = true;
    Ok((decision, Some(item)))
}

fn outbox_item(
    config: &Config,
    verdict: &Verdict,
    answer: &reply::Reply,
    raw: &[u8],
    sender: &str,
    now: Timestamp,
) -> anyhow::Result<OutboxItem> {
    let threading = mail::read_headers(raw).unwrap_or_default();
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
    let message = reply::to_mime(answer, &addressing)?;
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

async fn outbox_loop(shared: Shared, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let sender = Sender::new(&shared.config.smtp)?;
    let mut backoff = Duration::from_secs(1);
    while !*stop.borrow() {
        let queued = shared.store.outbox_oldest(REPLIES_IN_FLIGHT)?;
        if queued.is_empty() {
            tokio::select! {
                _ = shared.outbox_ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stopped(stop.clone()) => {}
            }
            continue;
        }
        // NOTE: the SMTP server syncs each message to disk before accepting
        // it; sending a few at once over several connections hides that wait.
        let results =
            futures::future::join_all(queued.iter().map(|(_, item)| sender.send(item))).await;
        let mut failed = false;
        for ((id, item), result) in queued.iter().zip(results) {
            match result {
                Ok(()) => {
                    shared.store.reply_sent(*id, item, Timestamp::now())?;
                    info!(request_id = %item.request_id, to = ?item.to, "reply sent");
                }
                Err(err) if Sender::is_refusal(&err) => {
                    let reason = format!("{err:#}");
                    error!(request_id = %item.request_id, to = ?item.to, %reason, "reply refused by the SMTP server: not sent, recorded");
                    shared
                        .store
                        .reply_refused(*id, item, Timestamp::now(), reason)?;
                }
                Err(err) => {
                    failed = true;
                    warn!(request_id = %item.request_id, cause = %format!("{err:#}"), retry_in = ?backoff, "reply not sent yet");
                }
            }
        }
        if failed {
            if !pause(backoff, &stop).await {
                break;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        } else {
            backoff = Duration::from_secs(1);
        }
    }
    Ok(())
}

/// Reads the accepted requests from the store into the history.
///
/// Only those received since the 1st of the month before the latest one: a
/// duplicate is a removal still pending (received the same month) or an
/// addition of the same month, so older ones would only make the daemon grow
/// year after year. (Anchored on the latest request rather than the clock,
/// like the judgement, which goes by reception times.)
fn load_history(shared: &Shared) -> anyhow::Result<()> {
    let calendar = shared.rules().calendar.clone();
    let mut latest = None;
    for entry in shared.store.accepted_entries() {
        let entry = entry?;
        latest = latest.max(Some(entry.received_at.unwrap_or(entry.decided_at)));
    }
    let Some(latest) = latest else {
        shared.history().clear();
        return Ok(());
    };
    let since = ledger::duplicates_window(latest, &calendar)?;
    let mut movements = accepted_movements(&shared.store, &calendar, since)?;
    movements.shrink_to_fit();
    *shared.history() = movements;
    Ok(())
}

/// The movements of the requests accepted (received) since `since`.
fn accepted_movements(
    store: &Store,
    calendar: &Calendar,
    since: Timestamp,
) -> anyhow::Result<Vec<Movement>> {
    // NOTE: entries become movements one at a time; holding them all first
    // would leave the daemon at that peak size for good.
    let mut failure = None;
    let entries = store
        .accepted_entries()
        .map_while(|entry| entry.map_err(|err| failure = Some(err)).ok())
        .filter(|entry| entry.received_at.unwrap_or(entry.decided_at) >= since);
    let movements = ledger::movements(entries, calendar);
    match failure {
        Some(err) => Err(err),
        None => Ok(movements),
    }
}

/// Adds an accepted decision to the history (kept in reception order), so
/// that the rest of the batch is judged against it; gives its movement.
fn remember(shared: &Shared, decision: &Decision) -> Option<Movement> {
    if decision.disposition != Disposition::Accepted {
        return None;
    }
    let mut movement = ledger::movements(
        &[audit::Entry::from_decision(decision)],
        &shared.rules().calendar,
    )
    .pop()?;
    let mut history = shared.history();
    let position = history.partition_point(|m| m.received_at <= movement.received_at);
    movement.cancellable = ledger::cancellable(&history[..position], &movement);
    history.insert(position, movement.clone());
    Some(movement)
}

/// The notice to purchasing of an accepted removal, when the config asks for it.
fn removal_notice(
    shared: &Shared,
    decision: &Decision,
    movement: &Movement,
    now: Timestamp,
) -> anyhow::Result<Option<OutboxItem>> {
    let purchasing = &shared.config.purchasing;
    if movement.quantity >= 0 || !purchasing.removal_notice || purchasing.to.is_empty() {
        return Ok(None);
    }
    let Some(item) = digest::Item::from_decision(decision, movement.cancellable.clone()) else {
        return Ok(None);
    };
    let notice = Digest::new(
        Kind::RemovalNotice,
        vec![item],
        now,
        &shared.rules().calendar,
    );
    let letter = Letter {
        from: &shared.config.from,
        to: &purchasing.to,
        cc: &purchasing.cc,
        id: &format!("{}.notice", decision.request_id),
        date: now,
        subject: notice.subject(),
        text: notice.to_text(),
        html: Some(notice.to_html()),
    };
    Ok(Some(letter.to_outbox()?))
}

/// The digest items of accepted requests, removals flagged cancellable from
/// every accepted request of the store.
pub fn digest_items(
    store: &Store,
    calendar: &Calendar,
    request_ids: &[String],
) -> anyhow::Result<Vec<digest::Item>> {
    let mut items = Vec::new();
    for id in request_ids {
        let decision = store
            .decision(id)?
            .with_context(|| format!("accepted request {id} without its decision"))?;
        items.extend(digest::Item::from_decision(&decision, None));
    }
    // Only an addition of the last days before a removal can be cancelled.
    let Some(oldest) = items.iter().map(|i| i.received_at).min() else {
        return Ok(items);
    };
    let since = oldest - SignedDuration::from_hours(24 * ledger::CANCELLATION_DAYS);
    let movements = accepted_movements(store, calendar, since)?;
    let cancellable: HashMap<&str, &ledger::Cancellable> = movements
        .iter()
        .filter_map(|m| Some((m.request_id.as_str(), m.cancellable.as_ref()?)))
        .collect();
    for item in &mut items {
        item.cancellable = cancellable
            .get(item.request_id.as_str())
            .map(|c| (*c).clone());
    }
    Ok(items)
}

/// Queues the scheduled mails due at `now` that are not done yet: the digest
/// of the last slot (with every accepted request not in a digest yet;
/// nothing for an empty period) and the month's reminder. Gives the ids queued.
pub async fn send_scheduled(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let mut queued_ids = Vec::new();
    let slot = config.digest.latest(calendar, now);
    let done = store
        .mark("digest")?
        .and_then(|m| m.parse::<Timestamp>().ok());
    if let Some(slot) = slot.filter(|s| done.is_none_or(|d| d < *s))
        && !config.purchasing.to.is_empty()
    {
        let pending = store.undigested()?;
        let ids: Vec<String> = pending.iter().map(|(_, id)| id.clone()).collect();
        let items = digest_items(store, calendar, &ids)?;
        let item = if items.is_empty() {
            None
        } else {
            let digest = Digest::new(Kind::Digest, items, slot, calendar);
            let local = slot.to_zoned(calendar.time_zone.clone());
            let letter = Letter {
                from: &config.from,
                to: &config.purchasing.to,
                cc: &config.purchasing.cc,
                id: &format!("digest-{}", local.strftime("%Y%m%d-%H%M%S")),
                date: now,
                subject: digest.subject(),
                text: digest.to_text(),
                html: Some(digest.to_html()),
            };
            Some(letter.to_outbox()?)
        };
        store
            .scheduled("digest", &slot.to_string(), &pending, item.as_ref())
            .await?;
        match &item {
            Some(item) => {
                info!(id = %item.request_id, requests = pending.len(), "digest queued");
                queued_ids.push(item.request_id.clone());
            }
            None => info!(%slot, "nothing accepted since the last digest: none sent"),
        }
    }
    if let Some(reminder) = &config.reminder
        && let Some(day) = digest::reminder_due(calendar, reminder.time, now)
    {
        let month = day.strftime("%Y-%m").to_string();
        if store.mark("reminder")?.as_deref() != Some(month.as_str()) {
            let (subject, text) = digest::reminder(calendar, day);
            let letter = Letter {
                from: &config.from,
                to: &reminder.to,
                cc: &[],
                id: &format!("reminder-{month}"),
                date: now,
                subject,
                text,
                html: None,
            };
            let item = letter.to_outbox()?;
            store
                .scheduled("reminder", &month, &[], Some(&item))
                .await?;
            info!(id = %item.request_id, "month-end reminder queued");
            queued_ids.push(item.request_id);
        }
    }
    Ok(queued_ids)
}

/// Queues the digest and the reminder when they fall due.
async fn schedule_loop(shared: Shared, stop: watch::Receiver<bool>) {
    loop {
        let now = Timestamp::now();
        let calendar = shared.rules().calendar.clone();
        match send_scheduled(&shared.store, &shared.config, &calendar, now).await {
            Ok(ids) if !ids.is_empty() => shared.outbox_ready.notify_one(),
            Ok(_) => {}
            Err(err) => error!(cause = %format!("{err:#}"), "scheduled mail not queued"),
        }
        // Wake at the next slot, and at least each minute for the reminder
        // and clock changes.
        let wait = shared
            .config
            .digest
            .next(&calendar, now)
            .and_then(|next| Duration::try_from(next.duration_since(now)).ok())
            .map_or(SCHEDULE_CHECK, |wait| wait.min(SCHEDULE_CHECK))
            + Duration::from_millis(10);
        if !pause(wait, &stop).await {
            return;
        }
    }
}

/// Keeps the status file up to date for `licgate status`.
async fn status_loop(shared: Shared, stop: watch::Receiver<bool>) {
    loop {
        write_status(&shared);
        give_back_freed_memory();
        if !pause(Duration::from_secs(5), &stop).await {
            return;
        }
    }
}

/// glibc keeps what a burst of mails (or a large query) freed, so the daemon
/// would stay at its peak size for good: hand it back to the system.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heaps; it has no precondition.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn write_status(shared: &Shared) {
    let path = Status::file(&shared.config.store);
    if let Err(err) = Status::collect(&shared.store, Timestamp::now()).and_then(|s| s.write(&path))
    {
        warn!(file = %path.display(), cause = %format!("{err:#}"), "status file not written");
    }
}

/// Reloads the rules when a file changes or on SIGHUP; a broken file keeps
/// the rules in force and logs the error.
async fn reload_loop(shared: Shared, stop: watch::Receiver<bool>) {
    let dir = shared.config.rules.clone();
    let mut seen = modification_times(&dir);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let signalled = tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => false,
            _ = async { match hangup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => true,
            _ = stopped(stop.clone()) => return,
        };
        let now = modification_times(&dir);
        if !signalled && now == seen {
            continue;
        }
        seen = now;
        match Rules::load(&dir) {
            Ok(rules) => {
                *shared
                    .rules
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = rules;
                info!(dir = %dir.display(), "rules reloaded");
            }
            Err(err) => {
                error!(cause = %err, "rules not reloaded: the previous rules stay in force")
            }
        }
    }
}

fn modification_times(dir: &Path) -> Vec<Option<SystemTime>> {
    [LICENCES_FILE, CLIENTS_FILE, CALENDAR_FILE]
        .iter()
        .map(|name| {
            std::fs::metadata(PathBuf::from(dir).join(name))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect()
}
