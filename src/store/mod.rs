//! Durable state in sled: each decision (with the raw mail), which mailbox
//! message it was made for, the hash-chained audit trail, the outbox, the
//! index of accepted requests and those not yet in a digest, the mails being
//! judged, the requests held for confirmation, reply counts per sender and
//! hour; the records'
//! layout version, migrated on open ([`Store::open`]).
//!
//! A decision, its mailbox key and its queued reply are written in one
//! transaction and flushed before the daemon touches the mailbox, so a crash
//! leaves each mail either undecided or fully decided.

use std::collections::{HashMap, HashSet};

use anyhow::{Context as _, bail};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

pub mod folders;
pub mod keys;
pub mod status;

use crate::judge::{Held, Movement};
use crate::records::audit::{self, Event, Head, Record};
use crate::records::{Accepted, Decision, OutboxItem, Owed, SCHEMA, ledger};
use crate::rules::Calendar;

/// A new decision, ready to be stored.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The decision.
    pub decision: Decision,
    /// The mail as fetched.
    pub raw: Vec<u8>,
    /// The reply to queue, if any.
    pub reply: Option<OutboxItem>,
    /// The notice to purchasing to queue (an accepted removal), if any.
    pub notice: Option<OutboxItem>,
}

/// A [`Decided`] serialised, ready for the transaction.
struct Row {
    decision: Vec<u8>,
    reply: Option<Vec<u8>>,
    outbox_id: Option<u64>,
    notice: Option<(u64, Vec<u8>)>,
    /// Key in the undigested tree, for an accepted request.
    undigested_id: Option<u64>,
    /// The [`Accepted`] summary (JSON), for an accepted request.
    accepted: Option<Vec<u8>>,
    rate: Option<String>,
}

/// The store is open in another process (sled allows one): the daemon.
#[derive(Debug)]
pub struct Locked(pub std::path::PathBuf);

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the store is open in another process",
            self.0.display()
        )
    }
}

impl std::error::Error for Locked {}

/// A private copy of a store, opened to be read: opening sled writes (its
/// snapshot, its configuration, a migration), and a read command must
/// never change a byte of the store nor an owner in it (issue 18: `audit
/// verify` run as root left a snapshot owned by root). The copy is taken
/// under the store's lock, so that no daemon starts meanwhile, in a folder
/// of the caller's alone, and removed when dropped.
pub struct ReadCopy {
    /// The copy, opened; taken out before the folder is removed.
    store: Option<Store>,
    /// The folder holding the copy.
    dir: std::path::PathBuf,
}

impl ReadCopy {
    /// Copies the store at `path` and opens the copy; [`Locked`] when a
    /// process has the store open (the daemon).
    pub fn open(path: &std::path::Path) -> anyhow::Result<ReadCopy> {
        use std::os::unix::fs::DirBuilderExt;
        use std::os::unix::io::AsRawFd;
        let db = std::fs::File::open(path.join("db"))
            .with_context(|| format!("{}: cannot read the store", path.display()))?;
        // NOTE: sled holds this lock while the store is open; a shared one
        // here writes nothing, and keeps a daemon from starting mid-copy.
        // SAFETY: flock(2) on a descriptor this function owns.
        if unsafe { libc::flock(db.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } != 0 {
            return Err(anyhow::Error::new(Locked(path.to_owned())));
        }
        let dir = std::env::temp_dir().join(format!(
            "licgate-read-{}-{}",
            std::process::id(),
            Timestamp::now().as_nanosecond()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        // Removed on any error below, as once read.
        let mut copy = ReadCopy { store: None, dir };
        copy_tree(path, &copy.dir)
            .with_context(|| format!("{}: cannot copy the store to read it", path.display()))?;
        drop(db);
        copy.store = Some(Store::open(&copy.dir)?);
        Ok(copy)
    }
}

impl std::ops::Deref for ReadCopy {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store.as_ref().expect("open until dropped")
    }
}

impl Drop for ReadCopy {
    fn drop(&mut self) {
        drop(self.store.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies the regular files and folders under `from` into `to` (the
/// daemon's socket left out).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// `UIDVALIDITY:UID` -> request id.
    mails: sled::Tree,
    /// request id -> [`Decision`] (JSON, read by [`Decision::from_json`]).
    decisions: sled::Tree,
    /// request id -> raw mail.
    raw: sled::Tree,
    /// big-endian sequence number -> [`OutboxItem`] (JSON).
    outbox: sled::Tree,
    /// `sender|YYYY-MM-DDTHH` -> replies sent that hour (u32 big-endian).
    rate: sled::Tree,
    /// named values: `last_poll`, `schema` (the layout version of the
    /// records, [`SCHEMA`] once open), `audit_head`, marks and counts.
    meta: sled::Tree,
    /// big-endian sequence number -> [`audit::Record`] (JSON); meta `audit_head` holds its [`audit::Head`].
    audit: sled::Tree,
    /// request id -> [`Accepted`] summary of each accepted request (JSON):
    /// the history the daemon judges duplicates against, and the ledger.
    accepted: sled::Tree,
    /// big-endian sequence number -> request id of each accepted request not
    /// yet in a scheduled digest.
    undigested: sled::Tree,
    /// `UIDVALIDITY:UID` of each mail whose judgement began and whose
    /// decision is not stored yet: one still there at start was in hand
    /// when the process died.
    judging: sled::Tree,
    /// request id -> [`Held`] (JSON) of each request waiting for its
    /// requester's confirmation; removed when confirmed, cancelled or expired.
    held: sled::Tree,
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

/// Why a transaction of the store was given up.
#[derive(Debug)]
enum Abort {
    /// A stored value could not be read or written.
    Json(serde_json::Error),
    /// A decision would have replaced another mail's (same request id, other
    /// mailbox message): refused, so that no decision is ever lost.
    TakenId { request_id: String, by: String },
    /// A confirmation or cancellation of a request no longer held.
    NotHeld { request_id: String },
    /// A digest would list a request another digest took meanwhile.
    Digested { request_id: String },
}

impl From<serde_json::Error> for Abort {
    fn from(err: serde_json::Error) -> Abort {
        Abort::Json(err)
    }
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abort::Json(err) => write!(f, "bad stored value: {err}"),
            Abort::TakenId { request_id, by } => write!(
                f,
                "request id {request_id} is taken by the mail {by}: its decision is kept"
            ),
            Abort::NotHeld { request_id } => {
                write!(f, "request {request_id} is no longer held for confirmation")
            }
            Abort::Digested { request_id } => {
                write!(f, "{}", DigestedMeanwhile(request_id.clone()))
            }
        }
    }
}

/// A digest was not queued: another took one of its requests meanwhile
/// (list again, then queue).
#[derive(Debug)]
pub struct DigestedMeanwhile(pub String);

impl std::fmt::Display for DigestedMeanwhile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request {} was taken by another digest meanwhile: nothing queued",
            self.0
        )
    }
}

impl std::error::Error for DigestedMeanwhile {}

fn transaction_failed(err: TransactionError<Abort>) -> anyhow::Error {
    match err {
        TransactionError::Abort(Abort::Digested { request_id }) => {
            anyhow::Error::new(DigestedMeanwhile(request_id))
        }
        TransactionError::Abort(abort) => anyhow::anyhow!("store transaction failed: {abort}"),
        TransactionError::Storage(err) => anyhow::anyhow!("store transaction failed: {err}"),
    }
}

fn json_abort(err: serde_json::Error) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Json(err))
}

/// Inside a transaction: replaces the decision of the held request
/// `request_id` by `close(stored)` (accepted, cancelled or expired), takes
/// it out of the held requests, indexes it when accepted, and records it in
/// the audit trail. Aborts when the request is not held any more.
fn close_held(
    request_id: &str,
    close: impl FnOnce(&Decision) -> Decision,
    (decisions, raws, held, accepted): (
        &TransactionalTree,
        &TransactionalTree,
        &TransactionalTree,
        &TransactionalTree,
    ),
    trail: &mut Trail<'_>,
) -> TxResult<()> {
    let id = request_id.as_bytes();
    let not_held = || {
        ConflictableTransactionError::Abort(Abort::NotHeld {
            request_id: request_id.to_owned(),
        })
    };
    if held.remove(id)?.is_none() {
        return Err(not_held());
    }
    let stored = decisions.get(id)?.ok_or_else(not_held)?;
    let stored = Decision::from_json(&stored).map_err(|_| not_held())?;
    let closed = close(&stored);
    decisions.insert(id, closed.to_json())?;
    if let Some(summary) = Accepted::of(&closed) {
        accepted.insert(id, serde_json::to_vec(&summary).map_err(json_abort)?)?;
    }
    let raw = raws.get(id)?.unwrap_or_default();
    let event = Event::Decision {
        decision: Box::new(closed.clone()),
        raw_sha256: audit::hex(&Sha256::digest(&raw)),
    };
    trail.append(closed.decided_at, event)?;
    Ok(())
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &std::path::Path) -> anyhow::Result<Store> {
        // NOTE: sled caches up to 1 GB by default; decisions are read rarely.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(2 * 1024 * 1024)
            .open()
            .map_err(|err| match err {
                // NOTE: sled says so only in the text of an I/O error.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    anyhow::Error::new(Locked(path.to_owned()))
                }
                err => anyhow::anyhow!("{}: cannot open the store: {err}", path.display()),
            })?;
        let store = Store {
            mails: db.open_tree("mails")?,
            decisions: db.open_tree("decisions")?,
            raw: db.open_tree("raw")?,
            outbox: db.open_tree("outbox")?,
            rate: db.open_tree("rate")?,
            meta: db.open_tree("meta")?,
            audit: db.open_tree("audit")?,
            accepted: db.open_tree("accepted")?,
            undigested: db.open_tree("undigested")?,
            judging: db.open_tree("judging")?,
            held: db.open_tree("held")?,
            db,
        };
        store
            .migrate()
            .with_context(|| format!("{}: cannot migrate the store", path.display()))?;
        Ok(store)
    }

    /// The layout version of the stored records: 1 when the store predates
    /// the version mark and holds decisions; [`SCHEMA`] when new.
    pub fn schema(&self) -> anyhow::Result<u32> {
        match self.meta.get(SCHEMA_KEY)? {
            Some(bytes) => Ok(decode_u32(&bytes)),
            None if self.decisions.is_empty() && self.audit.is_empty() => Ok(SCHEMA),
            None => Ok(1),
        }
    }

    /// Brings the records to [`SCHEMA`] in one flushed transaction: each
    /// decision rewritten in the current layout, the `accepted` tree rebuilt
    /// from the decisions (version 1 kept audit entries there). The audit
    /// trail is append-only and is never rewritten: its hashes cover the
    /// bytes as stored, and [`Record::from_json`] reads every version.
    fn migrate(&self) -> anyhow::Result<()> {
        let schema = self.schema()?;
        if schema > SCHEMA {
            bail!(
                "its records have schema {schema}, written by a newer licgate (this one knows up to {SCHEMA}): install a licgate that knows schema {schema}, or restore the backup taken before the upgrade"
            );
        }
        if schema == SCHEMA {
            if self.meta.get(SCHEMA_KEY)?.is_none() {
                self.meta.insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
            }
            return Ok(());
        }
        let mut decisions = Vec::new();
        let mut accepted = Vec::new();
        for entry in self.decisions.iter() {
            let (key, bytes) = entry?;
            let decision = Decision::from_json(&bytes)
                .with_context(|| format!("decision {}", String::from_utf8_lossy(&key)))?;
            if let Some(summary) = Accepted::of(&decision) {
                accepted.push((key.clone(), serde_json::to_vec(&summary)?));
            }
            decisions.push((key, decision.to_json()));
        }
        let stale: Vec<sled::IVec> = self.accepted.iter().keys().collect::<Result<_, _>>()?;
        let result: Result<(), TransactionError<()>> =
            (&self.decisions, &self.accepted, &self.meta).transaction(
                |(stored, accepted_tree, meta)| {
                    for (key, json) in &decisions {
                        stored.insert(key, json.as_slice())?;
                    }
                    // Rebuilt from the decisions: what was accepted is what
                    // the decisions say, whatever the old index held.
                    for key in &stale {
                        accepted_tree.remove(key)?;
                    }
                    for (key, json) in &accepted {
                        accepted_tree.insert(key, json.as_slice())?;
                    }
                    meta.insert(SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
                    Ok(())
                },
            );
        result.map_err(|e| anyhow::anyhow!("store transaction failed: {e:?}"))?;
        self.db.flush()?;
        tracing::warn!(
            from = schema,
            to = SCHEMA,
            decisions = decisions.len(),
            "base de données migrée vers les enregistrements de cette version : les versions plus anciennes de licgate ne peuvent plus la lire"
        );
        Ok(())
    }

    /// The request id decided for a mailbox message, if any.
    pub fn decided_mail(&self, mailbox_key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .mails
            .get(mailbox_key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The decision made for a request id, if any.
    pub fn decision(&self, request_id: &str) -> anyhow::Result<Option<Decision>> {
        match self.decisions.get(request_id)? {
            Some(bytes) => Ok(Some(Decision::from_json(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Durably marks mails as being judged, before their judgement begins.
    pub async fn mark_judging(&self, mailbox_keys: &[String]) -> anyhow::Result<()> {
        for key in mailbox_keys {
            self.judging.insert(key.as_bytes(), &[])?;
        }
        self.db.flush_async().await?;
        Ok(())
    }

    /// True when the mail's judgement began and its decision was never
    /// stored: the process died with it in hand.
    pub fn was_being_judged(&self, mailbox_key: &str) -> anyhow::Result<bool> {
        Ok(self.judging.contains_key(mailbox_key)?)
    }

    /// Replies already counted for `sender` in the hour of `at`.
    pub fn replies_in_hour(&self, sender: &str, at: Timestamp) -> anyhow::Result<u32> {
        Ok(self
            .rate
            .get(rate_key(sender, at))?
            .map_or(0, |v| decode_u32(&v)))
    }

    /// Stores a batch in one transaction, then flushes to disk: each new
    /// decision with its raw mail, mailbox key and reply (if any), and each
    /// mailbox key found to hold a duplicate of a decided request.
    pub async fn record(
        &self,
        decided: &[Decided],
        duplicates: &[(String, String)],
    ) -> anyhow::Result<()> {
        let mut rows = Vec::with_capacity(decided.len());
        for entry in decided {
            let decision = &entry.decision;
            rows.push(Row {
                decision: decision.to_json(),
                reply: entry.reply.as_ref().map(serde_json::to_vec).transpose()?,
                outbox_id: if entry.reply.is_some() {
                    Some(self.db.generate_id()?)
                } else {
                    None
                },
                notice: match &entry.notice {
                    Some(item) => Some((self.db.generate_id()?, serde_json::to_vec(item)?)),
                    None => None,
                },
                undigested_id: match decision.ordered() {
                    Some(_) => Some(self.db.generate_id()?),
                    None => None,
                },
                rate: entry
                    .reply
                    .as_ref()
                    .and(decision.sender.as_deref())
                    .map(|sender| rate_key(sender, decision.decided_at)),
                accepted: Accepted::of(decision)
                    .map(|summary| serde_json::to_vec(&summary))
                    .transpose()?,
            });
        }
        let result: Result<(), TransactionError<Abort>> = (
            &self.mails,
            &self.decisions,
            &self.raw,
            &self.outbox,
            &self.rate,
            &self.audit,
            &self.meta,
            &self.accepted,
            &self.undigested,
            &self.judging,
            &self.held,
        )
            .transaction(
                |(
                    mails,
                    decisions,
                    raws,
                    outbox,
                    rates,
                    audit,
                    meta,
                    accepted,
                    undigested,
                    judging,
                    held,
                )|
                 -> TxResult<()> {
                    let mut trail = Trail::open(audit, meta)?;
                    for (entry, row) in decided.iter().zip(&rows) {
                        let id = entry.decision.request_id.as_bytes();
                        if let Some(stored) = decisions.get(id)?
                            && let Ok(stored) = Decision::from_json(&stored)
                            && stored.mailbox_key != entry.decision.mailbox_key
                        {
                            return Err(ConflictableTransactionError::Abort(Abort::TakenId {
                                request_id: entry.decision.request_id.clone(),
                                by: stored.mailbox_key,
                            }));
                        }
                        mails.insert(entry.decision.mailbox_key.as_bytes(), id)?;
                        judging.remove(entry.decision.mailbox_key.as_bytes())?;
                        decisions.insert(id, row.decision.as_slice())?;
                        raws.insert(id, entry.raw.as_slice())?;
                        if let (Some(key), Some(json)) = (row.outbox_id, &row.reply) {
                            outbox.insert(&key.to_be_bytes(), json.as_slice())?;
                        }
                        if let Some((key, json)) = &row.notice {
                            outbox.insert(&key.to_be_bytes(), json.as_slice())?;
                        }
                        if let (Some(key), Some(ordered)) =
                            (row.undigested_id, entry.decision.ordered())
                        {
                            undigested.insert(&key.to_be_bytes(), ordered.as_bytes())?;
                        }
                        if let Some(summary) = entry.decision.held() {
                            held.insert(id, serde_json::to_vec(&summary).map_err(json_abort)?)?;
                        }
                        if let Some(key) = &row.rate {
                            let count = rates.get(key.as_bytes())?.map_or(0, |v| decode_u32(&v));
                            rates.insert(key.as_bytes(), &(count + 1).to_be_bytes())?;
                        }
                    }
                    for (mailbox_key, request_id) in duplicates {
                        mails.insert(mailbox_key.as_bytes(), request_id.as_bytes())?;
                        judging.remove(mailbox_key.as_bytes())?;
                    }
                    for (entry, row) in decided.iter().zip(&rows) {
                        if let Some(notice) = &entry.notice {
                            trail.append(
                                entry.decision.decided_at,
                                queued_event(notice, &[&entry.decision.request_id]),
                            )?;
                        }
                        let raw_sha256 = audit::hex(&Sha256::digest(&entry.raw));
                        let event = Event::Decision {
                            decision: Box::new(entry.decision.clone()),
                            raw_sha256,
                        };
                        trail.append(entry.decision.decided_at, event)?;
                        if let Some(summary) = &row.accepted {
                            accepted
                                .insert(entry.decision.request_id.as_bytes(), summary.as_slice())?;
                        }
                        if let Some(held_id) = entry.decision.closes() {
                            close_held(
                                held_id,
                                |stored| stored.closed_by(&entry.decision),
                                (decisions, raws, held, accepted),
                                &mut trail,
                            )?;
                        }
                    }
                    let newly_accepted = rows.iter().filter(|r| r.undigested_id.is_some()).count();
                    add_to_undigested_count(meta, newly_accepted as i64)?;
                    trail.close()
                },
            );
        result.map_err(transaction_failed)?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// The requests held for confirmation.
    pub fn held(&self) -> anyhow::Result<Vec<Held>> {
        self.held
            .iter()
            .map(|entry| Ok(serde_json::from_slice(&entry?.1)?))
            .collect()
    }

    /// Closes a held request whose deadline passed, with `notice` to its
    /// requester, in one flushed transaction; false when it was no longer
    /// held (confirmed, cancelled or expired before): then nothing is done,
    /// so the notice goes out once, whatever restarts.
    pub async fn expire(
        &self,
        request_id: &str,
        now: Timestamp,
        calendar: &Calendar,
        notice: &OutboxItem,
    ) -> anyhow::Result<bool> {
        let outbox_id = self.db.generate_id()?;
        let json = serde_json::to_vec(notice)?;
        let result: Result<bool, TransactionError<Abort>> = (
            &self.decisions,
            &self.raw,
            &self.held,
            &self.accepted,
            &self.outbox,
            &self.audit,
            &self.meta,
        )
            .transaction(
                |(decisions, raws, held, accepted, outbox, audit, meta)| -> TxResult<bool> {
                    if held.get(request_id.as_bytes())?.is_none() {
                        return Ok(false);
                    }
                    let mut trail = Trail::open(audit, meta)?;
                    outbox.insert(&outbox_id.to_be_bytes(), json.as_slice())?;
                    trail.append(notice.queued_at, queued_event(notice, &[request_id]))?;
                    close_held(
                        request_id,
                        |stored| stored.expired(now, calendar),
                        (decisions, raws, held, accepted),
                        &mut trail,
                    )?;
                    trail.close()?;
                    Ok(true)
                },
            );
        let expired = result.map_err(transaction_failed)?;
        self.db.flush_async().await?;
        Ok(expired)
    }

    /// The `count` oldest queued replies, oldest first.
    pub fn outbox_oldest(&self, count: usize) -> anyhow::Result<Vec<(u64, OutboxItem)>> {
        self.outbox_due(count, |_| true)
    }

    /// The `count` oldest queued replies that `due` lets through, oldest first.
    pub fn outbox_due(
        &self,
        count: usize,
        due: impl Fn(u64) -> bool,
    ) -> anyhow::Result<Vec<(u64, OutboxItem)>> {
        self.outbox
            .iter()
            .filter(|entry| {
                entry.as_ref().map_or(true, |(key, _)| {
                    <[u8; 8]>::try_from(key.as_ref()).map_or(true, |k| due(u64::from_be_bytes(k)))
                })
            })
            .take(count)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((
                    u64::from_be_bytes(key.as_ref().try_into()?),
                    serde_json::from_slice(&value)?,
                ))
            })
            .collect()
    }

    /// Removes a reply the SMTP server accepted at `at`, and records that in
    /// the audit trail; for a mail of licgate's own, what it carried is no
    /// longer owed.
    ///
    /// NOTE: not flushed here: the outbox flushes once for the replies sent
    /// together ([`Store::flush`]), so a crash after that fsync never sends
    /// one again.
    pub fn reply_sent(&self, id: u64, item: &OutboxItem, at: Timestamp) -> anyhow::Result<()> {
        let event = Event::ReplySent {
            request_id: item.request_id.clone(),
            to: item.to.clone(),
        };
        let result: Result<(), TransactionError<Abort>> = (&self.outbox, &self.audit, &self.meta)
            .transaction(|(outbox, audit, meta)| -> TxResult<()> {
                let mut trail = Trail::open(audit, meta)?;
                outbox.remove(&id.to_be_bytes())?;
                trail.append(at, event.clone())?;
                trail.close()?;
                if let Some(own) = &item.own {
                    let carried: HashSet<&str> =
                        own.request_ids.iter().map(String::as_str).collect();
                    let mut owed = owed_in(meta)?;
                    // A refused notice is owed until itself is sent; a
                    // refused digest until every request it listed is.
                    owed.retain_mut(|entry| {
                        if entry.id == item.request_id {
                            return false;
                        }
                        if entry.request_ids.is_empty() {
                            return true;
                        }
                        entry.request_ids.retain(|r| !carried.contains(r.as_str()));
                        !entry.request_ids.is_empty()
                    });
                    set_owed(meta, &owed)?;
                }
                Ok(())
            });
        result.map_err(transaction_failed)?;
        Ok(())
    }

    /// Removes a reply the SMTP server refused for good at `at` (a 5xx
    /// answer: sending it again would fail the same), and records why in
    /// the audit trail.
    pub fn reply_refused(
        &self,
        id: u64,
        item: &OutboxItem,
        at: Timestamp,
        reason: String,
    ) -> anyhow::Result<()> {
        let event = Event::ReplyRefused {
            request_id: item.request_id.clone(),
            to: item.to.clone(),
            reason,
        };
        let result: Result<(), TransactionError<Abort>> = (&self.outbox, &self.audit, &self.meta)
            .transaction(|(outbox, audit, meta)| -> TxResult<()> {
                let mut trail = Trail::open(audit, meta)?;
                outbox.remove(&id.to_be_bytes())?;
                trail.append(at, event.clone())?;
                trail.close()
            });
        result.map_err(transaction_failed)?;
        Ok(())
    }

    /// Notes that the SMTP server refused for good at `at` a mail of
    /// licgate's own (a digest, a notice, the reminder), which stays owed:
    /// a digest leaves the outbox and its requests go back to the next
    /// digest (which is cut under `[digest] max-size`); any other mail stays
    /// queued, to be tried again. Recorded once in the audit trail, and as
    /// [`Owed`] until a mail the server takes carries it; flushed. Gives
    /// true when the mail stays queued.
    pub async fn own_refused(
        &self,
        id: u64,
        item: &OutboxItem,
        at: Timestamp,
        reason: String,
    ) -> anyhow::Result<bool> {
        let request_ids = item
            .own
            .as_ref()
            .map(|own| own.request_ids.clone())
            .unwrap_or_default();
        let keys = request_ids
            .iter()
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<u64>, _>>()?;
        let event = Event::ReplyRefused {
            request_id: item.request_id.clone(),
            to: item.to.clone(),
            reason: reason.clone(),
        };
        let result: Result<(), TransactionError<Abort>> =
            (&self.outbox, &self.audit, &self.meta, &self.undigested).transaction(
                |(outbox, audit, meta, undigested)| -> TxResult<()> {
                    let mut owed = owed_in(meta)?;
                    match owed.iter_mut().find(|o| o.id == item.request_id) {
                        Some(entry) => entry.reason = reason.clone(),
                        None => {
                            let mut trail = Trail::open(audit, meta)?;
                            trail.append(at, event.clone())?;
                            trail.close()?;
                            owed.push(Owed {
                                id: item.request_id.clone(),
                                to: item.to.clone(),
                                reason: reason.clone(),
                                since: at,
                                request_ids: request_ids.clone(),
                            });
                        }
                    }
                    set_owed(meta, &owed)?;
                    if !request_ids.is_empty() {
                        outbox.remove(&id.to_be_bytes())?;
                        for (key, request_id) in keys.iter().zip(&request_ids) {
                            undigested.insert(&key.to_be_bytes(), request_id.as_bytes())?;
                        }
                        add_to_undigested_count(meta, request_ids.len() as i64)?;
                    }
                    Ok(())
                },
            );
        result.map_err(transaction_failed)?;
        self.db.flush_async().await?;
        Ok(request_ids.is_empty())
    }

    /// licgate's own mails the SMTP server refused for good, still owed.
    pub fn owed(&self) -> anyhow::Result<Vec<Owed>> {
        Ok(match self.meta.get(OWED)? {
            Some(bytes) => serde_json::from_slice(&bytes)?,
            None => Vec::new(),
        })
    }

    /// The accepted requests not yet in a scheduled digest, in the order
    /// they were decided: (key, request id).
    pub fn undigested(&self) -> anyhow::Result<Vec<(u64, String)>> {
        self.undigested
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                Ok((
                    u64::from_be_bytes(key.as_ref().try_into()?),
                    String::from_utf8_lossy(&value).into_owned(),
                ))
            })
            .collect()
    }

    /// Number of accepted requests not yet in a scheduled digest (kept as
    /// a count: sled counts a tree by walking it).
    pub fn undigested_len(&self) -> anyhow::Result<u64> {
        Ok(self
            .meta
            .get(UNDIGESTED_COUNT)?
            .map_or(0, |v| decode_u64(&v)))
    }

    /// A named mark of the scheduled mails (`digest`, `reminder`): the last
    /// slot or month done.
    pub fn mark(&self, name: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .meta
            .get(format!("mark|{name}"))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Notes a scheduled mail as done in one flushed transaction: sets the
    /// mark `name`, takes the undigested requests `consumed` out, and queues
    /// `mails` (none for an empty period; a digest's parts), each with its
    /// audit record. Refused, queuing nothing, when a request of `consumed`
    /// was taken by another digest meanwhile (`licgate digest --send`).
    pub async fn scheduled(
        &self,
        name: &str,
        mark: &str,
        consumed: &[(u64, String)],
        mails: &[OutboxItem],
    ) -> anyhow::Result<()> {
        self.queue(Some((name, mark)), consumed, mails)?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// Queues a digest sent on demand (`licgate digest --send`): its parts
    /// in the outbox and the audit trail, like a scheduled one, and the
    /// undigested requests `consumed` (what it lists) taken out of the next
    /// scheduled digest; flushed. Refused when one of them was taken by
    /// another digest meanwhile. Gives the outbox ids.
    pub fn queue_own(
        &self,
        consumed: &[(u64, String)],
        mails: &[OutboxItem],
    ) -> anyhow::Result<Vec<u64>> {
        let ids = self.queue(None, consumed, mails)?;
        self.db.flush()?;
        Ok(ids)
    }

    /// The transaction of [`Store::scheduled`] and [`Store::queue_own`].
    fn queue(
        &self,
        mark: Option<(&str, &str)>,
        consumed: &[(u64, String)],
        mails: &[OutboxItem],
    ) -> anyhow::Result<Vec<u64>> {
        let outbox_ids = mails
            .iter()
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<u64>, _>>()?;
        let json = mails
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()?;
        let result: Result<(), TransactionError<Abort>> =
            (&self.meta, &self.undigested, &self.outbox, &self.audit).transaction(
                |(meta, undigested, outbox, audit)| -> TxResult<()> {
                    if let Some((name, mark)) = mark {
                        meta.insert(format!("mark|{name}").as_bytes(), mark.as_bytes())?;
                    }
                    // NOTE: purchasing orders from what is sent: a request
                    // another digest took meanwhile must not be listed twice.
                    for (key, request_id) in consumed {
                        if undigested.remove(&key.to_be_bytes())?.is_none() {
                            return Err(ConflictableTransactionError::Abort(Abort::Digested {
                                request_id: request_id.clone(),
                            }));
                        }
                    }
                    add_to_undigested_count(meta, -(consumed.len() as i64))?;
                    let mut trail = Trail::open(audit, meta)?;
                    for ((item, json), outbox_id) in mails.iter().zip(&json).zip(&outbox_ids) {
                        outbox.insert(&outbox_id.to_be_bytes(), json.as_slice())?;
                        let listed: Vec<&str> = item
                            .own
                            .iter()
                            .flat_map(|own| own.request_ids.iter().map(String::as_str))
                            .collect();
                        trail.append(item.queued_at, queued_event(item, &listed))?;
                    }
                    trail.close()
                },
            );
        result.map_err(transaction_failed)?;
        Ok(outbox_ids)
    }

    /// Every audit record, in order.
    pub fn audit_records(&self) -> impl Iterator<Item = anyhow::Result<Record>> + '_ {
        self.audit
            .iter()
            .map(|entry| Ok(Record::from_json(&entry?.1)?))
    }

    /// The decisions of the accepted requests, by request id.
    pub fn accepted(&self) -> impl Iterator<Item = anyhow::Result<Accepted>> + '_ {
        self.accepted
            .iter()
            .map(|entry| Ok(serde_json::from_slice(&entry?.1)?))
    }

    /// The movements of the requests accepted (received) since `since`.
    pub fn accepted_movements(
        &self,
        calendar: &Calendar,
        since: Timestamp,
    ) -> anyhow::Result<Vec<Movement>> {
        // NOTE: requests become movements one at a time; holding them all
        // first would leave the daemon at that peak size for good.
        let mut failure = None;
        let accepted = self
            .accepted()
            .map_while(|accepted| accepted.map_err(|err| failure = Some(err)).ok())
            .filter(|accepted| accepted.received_at >= since);
        let movements = ledger::movements(accepted, calendar);
        match failure {
            Some(err) => Err(err),
            None => Ok(movements),
        }
    }

    /// The raw mail kept for a request id.
    pub fn raw_mail(&self, request_id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.raw.get(request_id)?.map(|v| v.to_vec()))
    }

    /// The audit trail's head: its length and the hash of its last record.
    pub fn audit_head(&self) -> anyhow::Result<Head> {
        Ok(match self.meta.get(AUDIT_HEAD)? {
            Some(bytes) => serde_json::from_slice(&bytes)?,
            None => Head::default(),
        })
    }

    /// The hash of the chain when it held `len` records: that of record
    /// `len` (numbered from 1); `None` past the end.
    pub fn audit_hash_at(&self, len: u64) -> anyhow::Result<Option<String>> {
        let Some(seq) = len.checked_sub(1) else {
            return Ok(None);
        };
        match self.audit.get(seq.to_be_bytes())? {
            Some(bytes) => Ok(Some(Record::from_json(&bytes)?.hash)),
            None => Ok(None),
        }
    }

    /// Walks the audit trail, then checks the decisions read by the digest,
    /// the ledger and the history against it; returns the trail's length,
    /// or (an [`audit::Tampering`]) the first thing found altered.
    pub fn verify_audit(&self) -> anyhow::Result<u64> {
        let head = self.audit_head()?;
        let records = self.audit.iter().map(|entry| {
            let (key, value) = entry?;
            let key = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("bad audit key"))?,
            );
            Ok((key, value))
        });
        let count = audit::verify(records, &head, |request_id| {
            Ok(self
                .raw
                .get(request_id)?
                .map(|raw| audit::hex(&Sha256::digest(&raw))))
        })?;
        self.verify_decisions(count)?;
        Ok(count)
    }

    /// Checks that what the digest, the ledger and the history read (the
    /// `decisions` and `accepted` trees) is what the verified trail says:
    /// each decision stored equals the last one the trail holds for its id.
    fn verify_decisions(&self, trail_len: u64) -> anyhow::Result<()> {
        let differs = |reason: String| -> anyhow::Result<()> {
            Err(audit::Tampering {
                seq: trail_len,
                reason,
            }
            .into())
        };
        // NOTE: a hash per request, not the decisions: bounded memory.
        let mut latest: HashMap<String, [u8; 32]> = HashMap::new();
        for record in self.audit_records() {
            if let Event::Decision { decision, .. } = record?.event {
                let hash = Sha256::digest(decision.to_json()).into();
                latest.insert(decision.request_id.clone(), hash);
            }
        }
        let (mut stored, mut accepted, mut held) = (0, 0, 0);
        for entry in self.decisions.iter() {
            let (_, bytes) = entry?;
            let decision = Decision::from_json(&bytes)?;
            if Accepted::of(&decision).is_some() {
                accepted += 1;
            }
            if let Some(summary) = decision.held() {
                let indexed = self.held.get(decision.request_id.as_bytes())?;
                if indexed.as_deref() != Some(serde_json::to_vec(&summary)?.as_slice()) {
                    return differs(format!(
                        "the held request {} is missing from the held index, or differs",
                        decision.request_id
                    ));
                }
                held += 1;
            }
            let hash: [u8; 32] = Sha256::digest(decision.to_json()).into();
            if latest.get(&decision.request_id) != Some(&hash) {
                return differs(format!(
                    "the stored decision of {} differs from the audit trail: it was altered",
                    decision.request_id
                ));
            }
            stored += 1;
        }
        if stored != latest.len() {
            return differs(format!(
                "the trail holds {} decisions and the store {stored}: decisions were removed",
                latest.len()
            ));
        }
        for entry in self.accepted.iter() {
            let (key, bytes) = entry?;
            let id = String::from_utf8_lossy(&key).into_owned();
            let summary: Accepted = serde_json::from_slice(&bytes)?;
            let decision = self.decision(&id)?;
            if decision.as_ref().and_then(Accepted::of) != Some(summary) {
                return differs(format!(
                    "the accepted request {id} differs from its decision: it was altered"
                ));
            }
        }
        if held != self.held.len() {
            return differs("the held index names requests that are not held".into());
        }
        if accepted != self.accepted.len() {
            return differs("accepted requests were removed from the index".into());
        }
        Ok(())
    }

    /// Number of queued replies.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Notes the time of the last successful look at the mailbox.
    pub fn set_last_poll(&self, at: Timestamp) -> anyhow::Result<()> {
        self.meta.insert("last_poll", at.to_string().as_bytes())?;
        Ok(())
    }

    /// The time of the last successful look at the mailbox.
    pub fn last_poll(&self) -> anyhow::Result<Option<Timestamp>> {
        Ok(self
            .meta
            .get("last_poll")?
            .and_then(|v| String::from_utf8_lossy(&v).parse().ok()))
    }

    /// Every decision, in request-id order.
    pub fn decisions(&self) -> impl Iterator<Item = anyhow::Result<Decision>> + '_ {
        self.decisions
            .iter()
            .map(|entry| Ok(Decision::from_json(&entry?.1)?))
    }

    /// Flushes everything written so far.
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}

/// Key of the audit trail's [`Head`] in the meta tree.
const AUDIT_HEAD: &str = "audit_head";

/// Key of the records' layout version in the meta tree (u32 big-endian).
const SCHEMA_KEY: &str = "schema";

/// The audit trail inside a transaction: appends records after its head.
struct Trail<'t> {
    records: &'t TransactionalTree,
    meta: &'t TransactionalTree,
    head: Head,
}

impl<'t> Trail<'t> {
    fn open(records: &'t TransactionalTree, meta: &'t TransactionalTree) -> TxResult<Trail<'t>> {
        let head = match meta.get(AUDIT_HEAD)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(json_abort)?,
            None => Head::default(),
        };
        Ok(Trail {
            records,
            meta,
            head,
        })
    }

    fn append(&mut self, at: Timestamp, event: Event) -> TxResult<()> {
        let record = Record::seal(self.head.len, at, self.head.hash.clone(), event);
        let json = serde_json::to_vec(&record).map_err(json_abort)?;
        self.records.insert(&record.seq.to_be_bytes(), json)?;
        self.head = Head {
            len: record.seq + 1,
            hash: record.hash,
        };
        Ok(())
    }

    fn close(self) -> TxResult<()> {
        let json = serde_json::to_vec(&self.head).map_err(json_abort)?;
        self.meta.insert(AUDIT_HEAD, json)?;
        Ok(())
    }
}

/// Key of the number of entries of the undigested tree in the meta tree.
const UNDIGESTED_COUNT: &str = "undigested_count";

fn add_to_undigested_count(meta: &TransactionalTree, delta: i64) -> TxResult<()> {
    if delta != 0 {
        let count = meta.get(UNDIGESTED_COUNT)?.map_or(0, |v| decode_u64(&v));
        let count = count.saturating_add_signed(delta);
        meta.insert(UNDIGESTED_COUNT, &count.to_be_bytes())?;
    }
    Ok(())
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

/// The audit event of a mail of licgate's own, queued.
fn queued_event(item: &OutboxItem, request_ids: &[&str]) -> Event {
    Event::Queued {
        id: item.request_id.clone(),
        to: item.to.clone(),
        request_ids: request_ids.iter().map(|id| id.to_string()).collect(),
    }
}

/// Key of the [`Owed`] mails (JSON) in the meta tree.
const OWED: &str = "owed";

fn owed_in(meta: &TransactionalTree) -> TxResult<Vec<Owed>> {
    match meta.get(OWED)? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(json_abort),
        None => Ok(Vec::new()),
    }
}

fn set_owed(meta: &TransactionalTree, owed: &[Owed]) -> TxResult<()> {
    if owed.is_empty() {
        meta.remove(OWED)?;
    } else {
        meta.insert(OWED, serde_json::to_vec(owed).map_err(json_abort)?)?;
    }
    Ok(())
}

fn rate_key(sender: &str, at: Timestamp) -> String {
    let hour = at.to_string();
    format!("{}|{}", sender.to_lowercase(), &hour[..hour.len().min(13)])
}

fn decode_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_be_bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Outcome;
    use crate::records::fixture;

    fn decision(id: &str, key: &str) -> Decision {
        Decision {
            schema: SCHEMA,
            request_id: id.into(),
            mailbox_key: key.into(),
            decided_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            received_at: None,
            sender: Some("tech@example.test".into()),
            outcome: Outcome::Rejected,
            folder: "licgate/refusees".into(),
            note: None,
            verdict: None,
            reply_queued: true,
            closed_by: None,
        }
    }

    /// A fresh store holding the accepted requests `ids`, not yet digested.
    async fn with_accepted(name: &str, ids: &[&str]) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("licgate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        for id in ids {
            let decision =
                crate::records::fixture::accepted(id, "2026-11-23T09:00:00Z", "Garage", "E1", 1);
            let decided = Decided {
                decision,
                raw: vec![],
                reply: None,
                notice: None,
            };
            store.record(&[decided], &[]).await.unwrap();
        }
        (store, dir)
    }

    /// A digest mail of licgate's own listing `ids`.
    fn digest_mail(id: &str, ids: &[&str]) -> OutboxItem {
        OutboxItem {
            request_id: id.into(),
            from: "licences@example.test".into(),
            to: vec!["achats@example.test".into()],
            message: "Subject: x\r\n\r\nx\r\n".into(),
            queued_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            own: Some(crate::records::Own {
                request_ids: ids.iter().map(|id| id.to_string()).collect(),
            }),
        }
    }

    fn pending(store: &Store) -> Vec<String> {
        store
            .undigested()
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect()
    }

    // Issue 18, item 3: a digest the server refused (552, too big) was
    // dropped with its requests; the next digest said « aucune demande ».
    #[tokio::test]
    async fn a_digest_refused_for_good_is_owed_its_requests_back_until_another_carries_them() {
        let (store, dir) = with_accepted("owed", &["LG-1", "LG-2", "LG-3"]).await;
        let consumed = store.undigested().unwrap();
        let mail = digest_mail("digest-1", &["LG-1", "LG-2", "LG-3"]);
        let ids = store
            .queue_own(&consumed, std::slice::from_ref(&mail))
            .unwrap();
        assert!(pending(&store).is_empty());
        let at = "2026-11-23T10:01:00Z".parse().unwrap();
        let kept = store
            .own_refused(ids[0], &mail, at, "552 5.3.4 message file too big".into())
            .await
            .unwrap();
        assert!(!kept, "a digest leaves the outbox");
        assert_eq!(store.outbox_len(), 0);
        assert_eq!(pending(&store), ["LG-1", "LG-2", "LG-3"]);
        assert_eq!(store.undigested_len().unwrap(), 3);
        let owed = store.owed().unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!((owed[0].id.as_str(), owed[0].since), ("digest-1", at));
        assert!(owed[0].reason.contains("552"));
        // The next digest comes in two parts: owed until both are taken.
        let consumed = store.undigested().unwrap();
        let parts = [
            digest_mail("digest-2-p1", &["LG-1", "LG-2"]),
            digest_mail("digest-2-p2", &["LG-3"]),
        ];
        let ids = store.queue_own(&consumed, &parts).unwrap();
        store.reply_sent(ids[0], &parts[0], at).unwrap();
        assert_eq!(store.owed().unwrap()[0].request_ids, ["LG-3"]);
        store.reply_sent(ids[1], &parts[1], at).unwrap();
        assert!(store.owed().unwrap().is_empty());
        // A notice refused for good stays queued, owed until sent.
        let notice = digest_mail("LG-9.notice", &[]);
        let ids = store.queue_own(&[], std::slice::from_ref(&notice)).unwrap();
        let kept = store
            .own_refused(ids[0], &notice, at, "550 5.2.2 mailbox full".into())
            .await
            .unwrap();
        assert!(kept);
        assert_eq!(store.outbox_len(), 1);
        assert_eq!(store.owed().unwrap()[0].id, "LG-9.notice");
        store.reply_sent(ids[0], &notice, at).unwrap();
        assert!(store.owed().unwrap().is_empty());
        store.verify_audit().unwrap();
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Issue 18, item 6: a scheduled digest between the command's listing and
    // its queuing listed the same requests twice.
    #[tokio::test]
    async fn a_digest_is_not_queued_with_a_request_another_took_meanwhile() {
        let (store, dir) = with_accepted("meanwhile", &["LG-1", "LG-2"]).await;
        let listed = store.undigested().unwrap();
        let mail = digest_mail("digest-1", &["LG-1", "LG-2"]);
        store
            .scheduled("digest", "slot", &listed, std::slice::from_ref(&mail))
            .await
            .unwrap();
        let err = store
            .queue_own(
                &listed,
                &[digest_mail("digest-on-demand", &["LG-1", "LG-2"])],
            )
            .unwrap_err();
        assert!(err.is::<DigestedMeanwhile>(), "{err:#}");
        assert_eq!(store.outbox_len(), 1, "nothing queued twice");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_decision_and_its_reply_are_stored_together_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("licgate-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            let reply = OutboxItem {
                request_id: "LG-1".into(),
                from: "licences@example.test".into(),
                to: vec!["tech@example.test".into()],
                message: "Subject: x\r\n\r\nbody\r\n".into(),
                queued_at: "2026-11-23T10:00:00Z".parse().unwrap(),
                own: None,
            };
            let decided = [
                Decided {
                    decision: decision("LG-1", "7:1"),
                    raw: b"raw".to_vec(),
                    reply: Some(reply),
                    notice: None,
                },
                Decided {
                    decision: decision("LG-2", "7:2"),
                    raw: b"raw".to_vec(),
                    reply: None,
                    notice: None,
                },
            ];
            store
                .record(&decided, &[("7:3".into(), "LG-1".into())])
                .await
                .unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.decided_mail("7:1").unwrap().as_deref(), Some("LG-1"));
        assert_eq!(store.decided_mail("7:3").unwrap().as_deref(), Some("LG-1"));
        assert_eq!(store.decision("LG-2").unwrap().unwrap().mailbox_key, "7:2");
        assert_eq!(store.outbox_len(), 1);
        let (id, item) = store.outbox_oldest(5).unwrap().remove(0);
        assert_eq!(item.request_id, "LG-1");
        let at = "2026-11-23T10:59:00Z".parse().unwrap();
        assert_eq!(store.replies_in_hour("TECH@example.test", at).unwrap(), 1);
        store.reply_sent(id, &item, at).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            3,
            "two decisions and one reply"
        );
        assert_eq!(store.outbox_len(), 0);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A store with five decisions in its audit trail.
    async fn trail(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("licgate-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        for i in 0..5 {
            let entry = Decided {
                decision: decision(&format!("LG-{i}"), &format!("7:{i}")),
                raw: format!("raw {i}").into_bytes(),
                reply: None,
                notice: None,
            };
            store.record(&[entry], &[]).await.unwrap();
        }
        assert_eq!(store.verify_audit().unwrap(), 5);
        (store, dir)
    }

    fn tampering(store: &Store) -> audit::Tampering {
        store
            .verify_audit()
            .unwrap_err()
            .downcast::<audit::Tampering>()
            .unwrap()
    }

    fn key(seq: u64) -> [u8; 8] {
        seq.to_be_bytes()
    }

    #[tokio::test]
    async fn verify_catches_an_altered_record() {
        let (store, dir) = trail("altered").await;
        let mut record: Record =
            serde_json::from_slice(&store.audit.get(key(2)).unwrap().unwrap()).unwrap();
        let Event::Decision { decision, .. } = &mut record.event else {
            panic!()
        };
        decision.outcome = Outcome::Accepted;
        store
            .audit
            .insert(key(2), serde_json::to_vec(&record).unwrap())
            .unwrap();
        let found = tampering(&store);
        assert_eq!(found.seq, 2);
        assert!(found.reason.contains("altered"), "{found}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    // Found by review: the trail was intact while the stored decisions,
    // which the digest and the ledger read, said something else.
    #[tokio::test]
    async fn verify_catches_a_stored_decision_that_differs_from_the_trail() {
        let (store, dir) = trail("decision").await;
        let mut altered = decision("LG-3", "7:3");
        altered.outcome = Outcome::Accepted;
        store.decisions.insert("LG-3", altered.to_json()).unwrap();
        let found = tampering(&store);
        assert!(found.reason.contains("LG-3 differs"), "{found}");
        store
            .decisions
            .insert("LG-3", decision("LG-3", "7:3").to_json())
            .unwrap();
        assert_eq!(store.verify_audit().unwrap(), 5);
        let summary = Accepted::of(&fixture::accepted(
            "LG-9",
            "2026-11-23T09:00:00Z",
            "G",
            "E1",
            1,
        ));
        store
            .accepted
            .insert("LG-3", serde_json::to_vec(&summary.unwrap()).unwrap())
            .unwrap();
        assert!(tampering(&store).reason.contains("accepted request LG-3"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn verify_catches_a_deleted_record() {
        let (store, dir) = trail("deleted").await;
        store.audit.remove(key(1)).unwrap();
        assert_eq!(tampering(&store).seq, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn verify_catches_the_last_record_deleted() {
        let (store, dir) = trail("last").await;
        store.audit.remove(key(4)).unwrap();
        let found = tampering(&store);
        assert_eq!(found.seq, 4);
        assert!(found.reason.contains("removed at the end"), "{found}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn verify_catches_swapped_records() {
        let (store, dir) = trail("swapped").await;
        let (one, three) = (
            store.audit.get(key(1)).unwrap().unwrap(),
            store.audit.get(key(3)).unwrap().unwrap(),
        );
        store.audit.insert(key(1), three).unwrap();
        store.audit.insert(key(3), one).unwrap();
        assert_eq!(tampering(&store).seq, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn verify_catches_an_altered_raw_mail() {
        let (store, dir) = trail("raw").await;
        store.raw.insert("LG-3", b"forged".as_slice()).unwrap();
        let found = tampering(&store);
        assert_eq!(found.seq, 3);
        assert!(found.reason.contains("raw mail of LG-3"), "{found}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
