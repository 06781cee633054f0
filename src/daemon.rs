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
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest as _, Sha256};
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
use crate::smtp::{Failure, Sender};
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
        outbox_paused: Arc::new(Mutex::new(None)),
    };
    let (stop_tx, stop) = watch::channel(false);
    // The loops end when told to stop; the servers only when aborted. Any
    // of them ending early (an error, a panic) stops the daemon with an
    // error, so systemd restarts it whole rather than leaving it half alive.
    let mut loops = tokio::task::JoinSet::new();
    loops.spawn(named("mailbox", mailbox_loop(shared.clone(), stop.clone())));
    loops.spawn(named("outbox", outbox_loop(shared.clone(), stop.clone())));
    loops.spawn(named(
        "reload",
        unfailing(reload_loop(shared.clone(), stop.clone())),
    ));
    loops.spawn(named(
        "status",
        unfailing(status_loop(shared.clone(), stop.clone())),
    ));
    loops.spawn(named(
        "schedule",
        unfailing(schedule_loop(shared.clone(), stop.clone())),
    ));
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(named(
        "queries",
        unfailing(query::serve(
            listen_for_queries(&shared.config.store)?,
            shared.store.clone(),
            shared.rules.clone(),
        )),
    ));
    if let Some(address) = shared.config.metrics {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("metrics.listen: cannot listen on {address}"))?;
        info!(%address, "serving Prometheus metrics on /metrics");
        servers.spawn(named(
            "metrics",
            unfailing(status::serve_metrics(listener, shared.store.clone())),
        ));
    }
    let early = tokio::select! {
        _ = shutdown => {
            info!("shutting down: finishing the mail in hand");
            None
        }
        Some(ended) = loops.join_next() => Some(ended),
        Some(ended) = servers.join_next() => Some(ended),
    };
    let _ = stop_tx.send(true);
    let mut failure = early.and_then(|ended| task_failure(ended, true));
    while let Some(ended) = loops.join_next().await {
        if failure.is_none() {
            failure = task_failure(ended, false);
        }
    }
    servers.abort_all();
    while servers.join_next().await.is_some() {}
    let _ = std::fs::remove_file(query::socket_path(&shared.config.store));
    shared.store.flush().await?;
    write_status(&shared);
    match failure {
        Some(err) => Err(err),
        None => {
            info!("stopped");
            Ok(())
        }
    }
}

/// A task's result with its name.
type Ended = (&'static str, anyhow::Result<()>);

async fn named(name: &'static str, task: impl Future<Output = anyhow::Result<()>>) -> Ended {
    (name, task.await)
}

async fn unfailing(task: impl Future<Output = ()>) -> anyhow::Result<()> {
    task.await;
    Ok(())
}

/// What a task's end means for the daemon: `None` when it stopped as told.
fn task_failure(
    ended: Result<Ended, tokio::task::JoinError>,
    early: bool,
) -> Option<anyhow::Error> {
    match ended {
        Ok((_, Ok(()))) if !early => None,
        Ok((name, Ok(()))) => Some(anyhow::anyhow!("the {name} task ended on its own")),
        Ok((name, Err(err))) => Some(err.context(format!("the {name} task failed"))),
        Err(err) if err.is_panic() => Some(anyhow::anyhow!(
            "a task panicked: {}",
            panic_message(err.into_panic().as_ref())
        )),
        Err(err) => Some(anyhow::anyhow!("a task was cancelled: {err}")),
    }
}

/// The text a panic was raised with.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
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
    /// Why sending is paused (the SMTP server refuses the gateway), if it is.
    outbox_paused: Arc<Mutex<Option<String>>>,
}

impl Shared {
    /// The rules in force. A task that panicked while holding the lock left
    /// whole rules behind (they are only ever replaced whole): use them.
    fn rules(&self) -> RwLockReadGuard<'_, Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why sending is paused, if it is; a poisoned lock is recovered the same way.
    fn outbox_paused(&self) -> MutexGuard<'_, Option<String>> {
        self.outbox_paused
            .lock()
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
            Err(err) if err.is::<crate::imap::FolderRefused>() => return Err(err),
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
        let envelopes = mailbox.envelopes().await?;
        for batch in batches(&envelopes, config.limits.max_message_size) {
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
    let mut moves: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut pending = Vec::new();
    for envelope in batch {
        let key = mailbox_key(uid_validity, envelope.uid);
        if let Some(request_id) = store.decided_mail(&key)? {
            let decision = store
                .decision(&request_id)?
                .context("decided mail without decision")?;
            info!(%request_id, folder = %decision.folder, "moving a mail decided before a restart");
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
fn batches(envelopes: &[Envelope], max_message_size: usize) -> Vec<&[Envelope]> {
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

/// Mails larger than this are judged first by a probe process: a real
/// request is a few kilobytes, and a larger mail could cost more than its
/// size in ways no scan of its bytes foresees (mail-parser's own costs).
const PROBE_ABOVE: usize = 256 * 1024;

/// Longest a probe may take: a mail within the limits takes well under a
/// second (`cargo bench --bench hostile`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Address space a probe may use: what judging a mail within the limits
/// needs (under 200 MB, `cargo bench --bench hostile`) and the program's
/// own mappings, with room to spare.
const PROBE_MEMORY: u64 = 256 * 1024 * 1024 + check::JUDGEMENT_STACK as u64;

/// Judges `raw` in a separate `licgate check` process with the daemon's
/// rules and limits, bounded in time and memory; gives how that process
/// failed, if it did: it crashed, ran out of memory, or hung. Such a mail
/// would cost the daemon as much; it is quarantined unread.
async fn probe(config: &Config, raw: &[u8]) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    // NOTE: the daemon runs as `licgate run`: its own executable is licgate.
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => return Some(format!("no probe could be started ({err})")),
    };
    let limits = &config.limits;
    let mut child = tokio::process::Command::new(program);
    child
        .arg("check")
        .arg("--rules")
        .arg(&config.rules)
        .arg("--max-size")
        .arg(limits.max_message_size.to_string())
        .arg("--max-mime-parts")
        .arg(limits.max_mime_parts.to_string())
        .arg("--max-quantity")
        .arg(limits.max_quantity.to_string())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    // SAFETY: setrlimit(2) is async-signal-safe; nothing else runs here.
    let child = unsafe {
        child.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: PROBE_MEMORY,
                rlim_max: PROBE_MEMORY,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => return Some(format!("no probe could be started ({err})")),
    };
    let mut stdin = child.stdin.take()?;
    let judged = tokio::time::timeout(PROBE_TIMEOUT, async {
        // A probe that dies while reading its input closes the pipe: its
        // exit status says why.
        let _ = stdin.write_all(raw).await;
        drop(stdin);
        child.wait().await
    })
    .await;
    match judged {
        Ok(Ok(status)) if status.code().is_some() => None,
        Ok(Ok(status)) => Some(format!(
            "the judgement crashed a probe process, or took more than {} MiB ({status})",
            (PROBE_MEMORY as usize - check::JUDGEMENT_STACK) >> 20
        )),
        Ok(Err(err)) => Some(format!("the probe process could not be watched ({err})")),
        Err(_) => Some(format!(
            "the judgement took more than {PROBE_TIMEOUT:?} in a probe process"
        )),
    }
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
    mailbox: &mut Mailbox,
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
                "message vanished before it could be fetched"
            );
            continue;
        };
        let whole = envelope.size as usize <= limit;
        if *suspect && whole {
            warn!(
                uid = envelope.uid,
                "this mail was in hand when the process died: judging it first in a probe process"
            );
        }
        let probed_first =
            whole && (*suspect || raw.len() > PROBE_ABOVE || mail::shape(&raw).nested_messages);
        let crashed = if probed_first {
            probe(&shared.config, &raw).await
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
    let now = Timestamp::now();
    // NOTE: the judgement runs on a blocking thread: a slow mail never
    // stalls the outbox, the status file or the query socket.
    let decisions = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            check::on_judgement_stack(|| decide_all(&shared, uid_validity, jobs, now))
        })
        .await??
    };
    let Decisions {
        decided,
        duplicates,
        moves,
    } = decisions;
    record(&shared.store, decided.as_slice(), &duplicates).await?;
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

/// Stores a batch; when the batch cannot be stored, each mail alone, and a
/// mail that still cannot be is stored quarantined, without its verdict and
/// reply: one mail never fails the others.
async fn record(
    store: &Store,
    decided: &[Decided],
    duplicates: &[(String, String)],
) -> anyhow::Result<()> {
    if decided.is_empty() && duplicates.is_empty() {
        return Ok(());
    }
    let Err(err) = store.record(decided, duplicates).await else {
        return Ok(());
    };
    if decided.len() <= 1 && duplicates.is_empty() {
        let Some(one) = decided.first() else {
            return Err(err);
        };
        error!(request_id = %one.decision.request_id, cause = %format!("{err:#}"), "decision not stored: stored quarantined instead");
        let fallback = Decided {
            decision: Decision {
                disposition: Disposition::Quarantined,
                verdict: None,
                reply_queued: false,
                note: Some(format!("decision could not be stored: {err:#}")),
                ..one.decision.clone()
            },
            raw: one.raw.clone(),
            reply: None,
            notice: None,
        };
        return store.record(std::slice::from_ref(&fallback), &[]).await;
    }
    warn!(cause = %format!("{err:#}"), "batch not stored: storing its mails one by one");
    store.record(&[], duplicates).await?;
    for one in decided {
        Box::pin(record(store, std::slice::from_ref(one), &[])).await?;
    }
    Ok(())
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
    for Job {
        envelope,
        raw,
        crashed,
    } in jobs
    {
        let key = mailbox_key(uid_validity, envelope.uid);
        let decided = if let Some(how) = crashed {
            error!(%key, %how, "this mail crashes the judgement, or costs too much: quarantined unread");
            let mut decision = quarantined(&shared.config, &key, &raw, &envelope, now);
            decision.note = Some(format!("{how}: quarantined without being read here"));
            Decided {
                decision,
                raw,
                reply: None,
                notice: None,
            }
        } else {
            let header = mail::read_headers(&raw).unwrap_or_default();
            let body = body_digest(&raw);
            let request_id = match identify(&shared.store, &seen, &raw, &header, body)? {
                Identity::CopyOf { request_id, folder } => {
                    info!(%request_id, "copy of a mail already decided: filed beside it, not answered again");
                    out.duplicates.push((key, request_id));
                    out.moves.entry(folder).or_default().push(envelope.uid);
                    continue;
                }
                Identity::New(request_id) => request_id,
            };
            let (decision, reply) = match decide(
                shared,
                &key,
                &raw,
                &header,
                &request_id,
                envelope,
                now,
                &batch_replies,
            ) {
                Ok(decided) => decided,
                Err(err) => {
                    let reason = format!("{err:#}");
                    error!(%request_id, %reason, "mail not decided: quarantined");
                    let mut decision = quarantined(&shared.config, &key, &raw, &envelope, now);
                    decision.request_id = request_id;
                    decision.note = Some(format!("could not be decided: {reason}"));
                    (decision, None)
                }
            };
            if let (Some(sender), true) = (&decision.sender, reply.is_some()) {
                *batch_replies.entry(sender.clone()).or_default() += 1;
            }
            let notice = match remember(shared, &decision) {
                Some(movement) => removal_notice(shared, &decision, &movement, now)
                    .unwrap_or_else(|err| {
                        error!(request_id = %decision.request_id, cause = %format!("{err:#}"), "removal notice not built: the digest will carry it");
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

/// What tells two mails with one Message-ID apart.
struct Copy {
    /// The sender address, lower case.
    sender: Option<String>,
    /// SHA-256 of the body (everything after the header).
    body: [u8; 32],
    /// Where the first one was filed.
    folder: String,
}

/// Whether a mail is a copy of one already decided, and its request id.
enum Identity {
    /// Same Message-ID, same sender, same body: decided already.
    CopyOf { request_id: String, folder: String },
    /// To judge, under this request id.
    New(String),
}

/// A copy is the same Message-ID from the same sender with the same body.
/// Another mail that reuses a Message-ID (anyone can write one) is judged
/// under an id of its own, so it can never silence a later request.
fn identify(
    store: &Store,
    seen: &HashMap<String, Copy>,
    raw: &[u8],
    header: &mail::Mail,
    body: [u8; 32],
) -> anyhow::Result<Identity> {
    let natural = check::request_id(header, raw);
    let sender = header.from.as_deref().map(str::to_lowercase);
    let reissued = check::id_of(format!("{natural}:{}", audit::hex(&body)).as_bytes());
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
    Ok(Identity::New(check::id_of(raw)))
}

/// SHA-256 of what follows the header block.
fn body_digest(raw: &[u8]) -> [u8; 32] {
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

/// A quarantine decision for a mail that was not judged.
fn quarantined(
    config: &Config,
    key: &str,
    raw: &[u8],
    envelope: &Envelope,
    now: Timestamp,
) -> Decision {
    Decision {
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
    }
}

/// Judges a fetched mail and prepares its decision and reply: pure but for
/// the rate-limit count read from the store (plus `batch_replies`, the
/// replies queued per sender in the batch not yet stored).
#[allow(clippy::too_many_arguments)]
fn decide(
    shared: &Shared,
    key: &str,
    raw: &[u8],
    header: &mail::Mail,
    request_id: &str,
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
                judge.check_as(raw, envelope.internal_date, request_id)
            }
        }))
    };
    let mut decision = quarantined(config, key, raw, &envelope, now);
    decision.request_id = request_id.to_owned();
    let verdict = match judged {
        Ok(verdict) => verdict,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            error!(request_id = %decision.request_id, %message, "the judgement failed: mail quarantined");
            decision.note = Some(format!("judgement failed: {message}"));
            return Ok((decision, None));
        }
    };
    decision.request_id = verdict.request_id.clone();
    decision.sender = verdict.from.as_deref().map(str::to_lowercase);
    decision.verdict = Some(serde_json::to_value(&verdict)?);
    let Some(sender) = decision.sender.clone() else {
        decision.note = Some(
            "no sender address could be read (From: missing, or holding control characters): \
             quarantined, not answered"
                .into(),
        );
        return Ok((decision, None));
    };
    if !config.is_allowed(&sender) {
        decision.note = Some("sender not in senders.allow: quarantined, not answered".into());
        return Ok((decision, None));
    }
    if let Some(server) = &config.authenticated_by
        && let Err(why) = mail::authenticated(raw, server)
    {
        decision.note = Some(format!(
            "sender not authenticated by the receiving server ({why}): quarantined, not answered"
        ));
        return Ok((decision, None));
    }
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
    let item = match outbox_item(config, &verdict, answer, header, &sender, now) {
        Ok(item) => item,
        Err(err) => {
            // The sender's address passed `senders.allow` but no reply can be
            // addressed to it: the mail goes aside, with the reason.
            decision.disposition = Disposition::Quarantined;
            decision.folder = config.folders.quarantine.clone();
            decision.note = Some(format!(
                "no reply can be addressed to this sender ({err:#}): quarantined, not answered"
            ));
            return Ok((decision, None));
        }
    };
    decision.reply_queued = true;
    Ok((decision, Some(item)))
}

fn outbox_item(
    config: &Config,
    verdict: &Verdict,
    answer: &reply::Reply,
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

/// Sends the queued replies, a few at once, oldest first.
///
/// A reply the server refused for good leaves the outbox (recorded); one
/// that failed for now waits its own backoff, so fresh replies go out
/// around it; a server that refuses the gateway itself (its login, or its
/// right to send as its address) pauses all sending, since every reply
/// would fail alike: one reply at a time then tries again, so a wrong
/// password costs one failed login per try, and `licgate status` says why.
async fn outbox_loop(shared: Shared, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let sender = Sender::new(&shared.config.smtp)?;
    // Replies that failed for now: attempts so far, and when to try again.
    let mut retries: HashMap<u64, (u32, Instant)> = HashMap::new();
    let mut login_backoff = Duration::from_secs(1);
    // While paused, the reply tried last: the next try takes the one after
    // it, so no single reply can keep sending paused.
    let mut last_tried: Option<u64> = None;
    while !*stop.borrow() {
        let now = Instant::now();
        let due = |id: u64| retries.get(&id).is_none_or(|(_, at)| *at <= now);
        let queued = match (shared.outbox_paused().is_some(), last_tried) {
            (false, _) => shared.store.outbox_due(REPLIES_IN_FLIGHT, due)?,
            (true, Some(last)) => {
                let next = shared.store.outbox_due(1, |id| id > last && due(id))?;
                if next.is_empty() {
                    shared.store.outbox_due(1, due)?
                } else {
                    next
                }
            }
            (true, None) => shared.store.outbox_due(1, due)?,
        };
        last_tried = queued.last().map(|(id, _)| *id);
        if queued.is_empty() {
            let next_retry = retries.values().map(|(_, at)| *at).min();
            let wait = next_retry
                .map_or(Duration::from_secs(5), |at| {
                    at.saturating_duration_since(now)
                })
                .min(Duration::from_secs(5));
            tokio::select! {
                _ = shared.outbox_ready.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(stop.clone()) => {}
            }
            continue;
        }
        // NOTE: the SMTP server syncs each message to disk before accepting
        // it; sending a few at once over several connections hides that wait.
        let results =
            futures::future::join_all(queued.iter().map(|(_, item)| sender.send(item))).await;
        let mut login_refused = None;
        for ((id, item), result) in queued.iter().zip(results) {
            let Err(err) = result else {
                retries.remove(id);
                shared.store.reply_sent(*id, item, Timestamp::now())?;
                info!(request_id = %item.request_id, to = ?item.to, "reply sent");
                continue;
            };
            let reason = format!("{err:#}");
            match Sender::failure(&err) {
                Failure::Refused => {
                    retries.remove(id);
                    error!(request_id = %item.request_id, to = ?item.to, %reason, "reply refused by the SMTP server: not sent, recorded");
                    shared
                        .store
                        .reply_refused(*id, item, Timestamp::now(), reason)?;
                }
                Failure::Gateway => login_refused = Some(reason),
                Failure::Temporary => {
                    let attempts = retries.get(id).map_or(0, |(n, _)| *n) + 1;
                    let wait = retry_delay(attempts);
                    retries.insert(*id, (attempts, Instant::now() + wait));
                    warn!(request_id = %item.request_id, cause = %reason, retry_in = ?wait, "reply not sent yet");
                }
            }
        }
        if let Some(reason) = login_refused {
            error!(%reason, retry_in = ?login_backoff, "the SMTP server refuses the gateway itself: sending paused");
            *shared.outbox_paused() = Some(reason);
            write_status(&shared);
            if !pause(login_backoff, &stop).await {
                break;
            }
            login_backoff = (login_backoff * 2).min(MAX_BACKOFF);
        } else if shared.outbox_paused().take().is_some() {
            info!("the SMTP server accepts the gateway again: sending resumed");
            login_backoff = Duration::from_secs(1);
        }
    }
    Ok(())
}

/// How long a reply that failed `attempts` times for now waits: 2 s, 4 s,
/// 8 s… up to [`MAX_BACKOFF`].
fn retry_delay(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(9)).min(MAX_BACKOFF)
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
            let mut digest = Digest::new(Kind::Digest, items, slot, calendar);
            digest.chain_head = Some(store.audit_head()?);
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
    let paused = shared.outbox_paused().clone();
    let collected = Status::collect(&shared.store, Timestamp::now()).and_then(|mut status| {
        status.outbox_paused = paused;
        status.write(&path)
    });
    if let Err(err) = collected {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_reply_that_fails_for_now_waits_longer_each_time_up_to_five_minutes() {
        let delays: Vec<u64> = [1, 2, 3, 8, 9, 40]
            .map(|n| retry_delay(n).as_secs())
            .to_vec();
        assert_eq!(delays, [2, 4, 8, 256, 300, 300]);
    }
}
