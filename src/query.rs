//! What operators ask of the store (the audit trail, the ledger, the next
//! digest), answered from the store directly, or by the running daemon over
//! a Unix socket beside the store, since sled lets one process open it.
//!
//! Wire format on the socket: the client writes one [`Query`] as a JSON line;
//! the daemon answers one JSON line (`{"code":N}` or `{"error":"..."}`), then
//! the output bytes until it closes the connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, Zoned};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compose::digest::{self, Cancels, Digest, Kind, Mailing};
use crate::compose::state;
use crate::config::Config;
use crate::judge::{Reply, StateQuery};
use crate::records::OutboxItem;
use crate::records::audit::{self, Filter};
use crate::records::ledger;
use crate::rules::Rules;
use crate::store::Store;

/// A question about the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum Query {
    /// The decided requests kept by `filter`.
    AuditList {
        filter: Filter,
        format: ListFormat,
        separator: char,
    },
    /// Every record of a request (or the original mail), as text for a
    /// person unless `json`.
    AuditShow {
        id: String,
        raw: bool,
        #[serde(default)]
        json: bool,
    },
    /// The hash chain walked; code 1 when damaged. With `records`, also
    /// the hash the chain had when it was that long (what a digest names).
    AuditVerify { records: Option<u64> },
    /// Every request, for the accounting side.
    AuditExport {
        format: ExportFormat,
        separator: char,
    },
    /// The ledger as of a day (default: today in the calendar's zone).
    Ledger {
        client: Option<String>,
        at: Option<Date>,
        json: bool,
    },
    /// The digest of the requests accepted since a day (default: those the
    /// next scheduled digest holds), as [`DigestParts`] in JSON.
    Digest { since: Option<Date> },
    /// Queues now, in one step, the digest of the requests the next
    /// scheduled digest would hold (`licgate digest --send`), in parts under
    /// `mailing.max_size`, recorded in the audit trail and taken out of the
    /// next scheduled digest; answers [`Queued`] in JSON. One step: a
    /// scheduled digest running meanwhile cannot list the same requests.
    SendDigest { mailing: Mailing },
}

/// The mails of an on-demand digest, queued: their outbox ids and contents
/// (the command sends them itself when no daemon runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// How many requests they list.
    pub requests: usize,
    pub mails: Vec<(u64, OutboxItem)>,
}

/// Output of `audit list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

impl std::str::FromStr for ListFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<ListFormat, String> {
        match s {
            "text" => Ok(ListFormat::Text),
            "json" => Ok(ListFormat::Json),
            "csv" => Ok(ListFormat::Csv),
            _ => Err(format!("{s:?}: choose text, json or csv")),
        }
    }
}

/// Output of `audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<ExportFormat, String> {
        match s {
            "json" => Ok(ExportFormat::Json),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(format!("{s:?}: choose json or csv")),
        }
    }
}

/// A digest ready to print or send; no items: nothing accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestParts {
    pub items: usize,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a query gives: an exit code and the bytes to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u8,
    pub output: Vec<u8>,
}

impl Answer {
    fn ok(output: impl Into<Vec<u8>>) -> Answer {
        Answer {
            code: 0,
            output: output.into(),
        }
    }
}

/// Answers a query from the store, at the time `now`.
pub fn answer(
    store: &Store,
    rules: &Rules,
    query: &Query,
    now: Timestamp,
) -> anyhow::Result<Answer> {
    let calendar = &rules.calendar;
    let zone = &calendar.time_zone;
    Ok(match query {
        Query::AuditList {
            filter,
            format,
            separator,
        } => {
            // A client by name or alias, as the judgement reads it; a name no
            // client has still finds the refusals that wrote it so.
            let mut filter = filter.clone();
            let known = filter
                .client
                .as_deref()
                .and_then(|name| rules.clients.lookup(name))
                .map(|client| client.name.clone());
            let unknown = filter.client.is_some() && known.is_none();
            if known.is_some() {
                filter.client = known;
            }
            let entries: Vec<_> = audit::entries(store.audit_records())?
                .into_iter()
                .filter(|e| filter.keeps(e, zone))
                .collect();
            if unknown && entries.is_empty() {
                known_client(rules, filter.client.as_deref().unwrap_or_default())?;
            }
            Answer::ok(match format {
                ListFormat::Text => audit::to_text(&entries, zone),
                ListFormat::Csv => audit::to_csv(&entries, *separator),
                ListFormat::Json => entries
                    .iter()
                    .map(|e| serde_json::to_string(e).map(|l| l + "\n"))
                    .collect::<Result<String, _>>()?,
            })
        }
        Query::AuditExport { format, separator } => {
            let entries = audit::entries(store.audit_records())?;
            Answer::ok(match format {
                ExportFormat::Csv => audit::to_csv(&entries, *separator),
                ExportFormat::Json => serde_json::to_string_pretty(&entries)? + "\n",
            })
        }
        Query::AuditShow { id, raw: true, .. } => {
            let id = request_ref(id);
            Answer::ok(store.raw_mail(&id)?.with_context(|| unknown_request(&id))?)
        }
        Query::AuditShow {
            id,
            raw: false,
            json,
        } => {
            let id = request_ref(id);
            let records: Vec<_> = store
                .audit_records()
                .filter(|r| r.as_ref().map_or(true, |record| record.event.concerns(&id)))
                .collect::<anyhow::Result<_>>()?;
            anyhow::ensure!(!records.is_empty(), unknown_request(&id));
            Answer::ok(if *json {
                serde_json::to_string_pretty(&records)? + "\n"
            } else {
                audit::show_text(&id, &records, zone)
            })
        }
        Query::AuditVerify { records } => match store.verify_audit() {
            Ok(count) => {
                let mut out = format!(
                    "journal d'audit intact : {}, tête {}\n",
                    crate::text::count(count, "enregistrement", "enregistrements"),
                    store.audit_head()?.hash
                );
                if let Some(n) = records {
                    match store.audit_hash_at(*n)? {
                        Some(hash) => out.push_str(&format!(
                            "après l'enregistrement {n} : {hash} (une synthèse envoyée alors nomme le même)\n"
                        )),
                        None => anyhow::bail!(
                            "le journal d'audit n'a pas d'enregistrement {n} : donnez un numéro \
                             que cite une synthèse"
                        ),
                    }
                }
                Answer::ok(crate::text::typography(&out))
            }
            // Only a broken chain is damage; a store that cannot be read
            // is an error of its own (disk, permissions), said as such.
            Err(err) if err.is::<audit::Tampering>() => Answer {
                code: 1,
                output: format!("JOURNAL D'AUDIT ENDOMMAGÉ\u{a0}: {err:#}\n").into_bytes(),
            },
            Err(err) => return Err(err.context("journal d'audit illisible")),
        },
        Query::Ledger { client, at, json } => {
            let client = client
                .as_deref()
                .map(|name| known_client(rules, name))
                .transpose()?;
            let at = at.unwrap_or_else(|| now.to_zoned(zone.clone()).date());
            let decisions = store.accepted().collect::<anyhow::Result<Vec<_>>>()?;
            let movements = ledger::movements(&decisions, calendar);
            let lines = ledger::ledger(&movements, at, client);
            Answer::ok(if *json {
                serde_json::to_string_pretty(&lines)? + "\n"
            } else {
                ledger::to_text(&lines, at, zone)
            })
        }
        Query::SendDigest { mailing } => Answer::ok(serde_json::to_vec(&send_digest(
            store, rules, mailing, now,
        )?)?),
        Query::Digest { since } => {
            let ids: Vec<String> = match since {
                None => store.undigested()?.into_iter().map(|(_, id)| id).collect(),
                Some(day) => {
                    let start = day.to_zoned(zone.clone())?.timestamp();
                    let mut ids = Vec::new();
                    for accepted in store.accepted() {
                        let accepted = accepted?;
                        if accepted.received_at >= start {
                            ids.push(accepted.request_id);
                        }
                    }
                    ids
                }
            };
            let items = digest_items(store, rules, &ids)?;
            let parts = if items.is_empty() {
                DigestParts::default()
            } else {
                let kind = Kind::OnDemand { since: *since };
                let digest = Digest::new(kind, items, now, calendar);
                DigestParts {
                    items: digest.items.len(),
                    subject: digest.subject(),
                    text: digest.to_text(),
                    html: digest.to_html(),
                }
            };
            Answer::ok(serde_json::to_vec(&parts)?)
        }
    })
}

/// Queues the digest of the requests not yet in one, at `now` (see
/// [`Query::SendDigest`]); nothing when there are none.
fn send_digest(
    store: &Store,
    rules: &Rules,
    mailing: &Mailing,
    now: Timestamp,
) -> anyhow::Result<Queued> {
    // NOTE: the listing and the queuing are one step for the command, but a
    // scheduled digest of the daemon may take a request in between: the
    // store then refuses the whole, and the listing is taken again.
    let mut attempts = 0;
    loop {
        let pending = store.undigested()?;
        let ids: Vec<String> = pending.iter().map(|(_, id)| id.clone()).collect();
        let items = digest_items(store, rules, &ids)?;
        if items.is_empty() {
            return Ok(Queued::default());
        }
        let mut digest = Digest::new(Kind::SentOnDemand, items, now, &rules.calendar);
        digest.chain_head = Some(store.audit_head()?);
        let id = format!("digest-on-demand-{}", now.as_millisecond());
        let mails = mailing.digest_mails(digest, &id, now)?;
        match store.queue_own(&pending, &mails) {
            Ok(outbox_ids) => {
                return Ok(Queued {
                    requests: pending.len(),
                    mails: outbox_ids.into_iter().zip(mails).collect(),
                });
            }
            Err(err) if err.is::<crate::store::DigestedMeanwhile>() && attempts < 3 => {
                attempts += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The digest items of accepted requests, removals flagged cancellable from
/// every accepted request of the store.
pub fn digest_items(
    store: &Store,
    rules: &Rules,
    request_ids: &[String],
) -> anyhow::Result<Vec<digest::Item>> {
    let calendar = &rules.calendar;
    let mut items = Vec::new();
    for id in request_ids {
        let decision = store
            .decision(id)?
            .with_context(|| format!("accepted request {id} without its decision"))?;
        items.extend(digest::Item::from_decision(&decision, rules));
    }
    // Only an addition of the last days before a removal can be cancelled.
    let Some(oldest) = items.iter().map(|i| i.received_at).min() else {
        return Ok(items);
    };
    let since = oldest - SignedDuration::from_hours(24 * ledger::CANCELLATION_DAYS);
    let movements = store.accepted_movements(calendar, since)?;
    // NOTE: indexed once: built for each item, the index made a digest of
    // 10,000 requests quadratic (issue 18, item 3).
    let movements = Movements::new(&movements);
    for item in &mut items {
        item.cancels = movements.cancels(&item.request_id);
    }
    Ok(items)
}

/// Movements by request id, to find the addition a removal cancels.
pub struct Movements<'m>(HashMap<&'m str, &'m ledger::Movement>);

impl<'m> Movements<'m> {
    pub fn new(movements: &'m [ledger::Movement]) -> Movements<'m> {
        Movements(
            movements
                .iter()
                .map(|m| (m.request_id.as_str(), m))
                .collect(),
        )
    }

    /// The addition the removal `request_id` cancels.
    pub fn cancels(&self, request_id: &str) -> Option<Cancels> {
        let cancellable = self.0.get(request_id)?.cancellable.as_ref()?;
        let addition = self.0.get(cancellable.addition.as_str())?;
        Some(Cancels {
            addition: addition.request_id.clone(),
            quantity: addition.quantity,
            received_at: addition.received_at,
            until: cancellable.until,
        })
    }
}

/// The answer to a technician's `[ÉTAT]` question, from the accepted
/// requests of the store: the client's ledger as of `now`, and its last
/// requests (only those of the user the question names, if it names one).
pub fn state_reply(
    store: &Store,
    rules: &Rules,
    question: &StateQuery,
    asker: &str,
    now: Timestamp,
) -> anyhow::Result<Reply> {
    let Some(client) = rules.clients.lookup(&question.client) else {
        let suggestion = rules.clients.suggest(&question.client);
        return Ok(state::reply(question, None, suggestion));
    };
    let calendar = &rules.calendar;
    let at = now.to_zoned(calendar.time_zone.clone());
    // NOTE: the requests of this month and the one before, received before
    // the question: a removal is pending a month at most, and reading every
    // request ever made would cost more with each month.
    let since = ledger::duplicates_window(now, calendar)?;
    let mut movements = store.accepted_movements(calendar, since)?;
    movements.retain(|m| {
        m.received_at <= now
            && m.client == client.name
            && question
                .user
                .as_deref()
                .is_none_or(|user| state::concerns(m, user))
    });
    let lines = ledger::ledger(&movements, at.date(), Some(&client.name));
    let mut last = Vec::new();
    for movement in movements.iter().rev().take(state::LAST_REQUESTS) {
        let sender = store.decision(&movement.request_id)?.and_then(|d| d.sender);
        last.push(state::Last {
            movement: movement.clone(),
            sender,
        });
    }
    let mut held = store.held()?;
    held.retain(|h| {
        h.request.client.as_deref() == Some(client.name.as_str())
            && question
                .user
                .as_deref()
                .is_none_or(|user| state::names(&h.request.users, user))
    });
    let known = state::Known {
        client: &client.name,
        user: question.user.as_deref(),
        asker,
        at: &at,
        lines: &lines,
        last: &last,
        held: &held,
    };
    Ok(state::reply(question, Some(&known), None))
}

/// A reference as stored: `lg-…` as people type it is written in upper
/// case, a suffix after it as is (`LG-….notice`); the id of a mail of
/// licgate's own (`digest-on-demand-…`) as is.
fn request_ref(id: &str) -> String {
    let id = id.trim();
    match id.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("lg-") => {
            let (reference, suffix) = id.split_at(id.find('.').unwrap_or(id.len()));
            reference.to_ascii_uppercase() + suffix
        }
        _ => id.to_owned(),
    }
}

/// Why `audit show` finds nothing under `id`, and what to do.
fn unknown_request(id: &str) -> String {
    crate::text::typography(&format!(
        "{id} : aucune demande sous cette référence dans le journal d'audit ; vérifiez la \
         référence (LG- et 10 chiffres ou lettres A à F), ou cherchez-la avec « licgate audit \
         list »"
    ))
}

/// The canonical name of the client `name` names, as the judgement reads
/// it (a name or an alias, whatever the case, accents and punctuation); an
/// error that gives the closest name when it names none.
pub fn known_client<'r>(rules: &'r Rules, name: &str) -> anyhow::Result<&'r str> {
    match rules.clients.lookup(name) {
        Some(client) => Ok(&client.name),
        None => anyhow::bail!(
            "« {name} » ne correspond à aucun client de clients.toml{} ; écrivez le nom ou un \
             alias d'un client (licgate rules check les liste)",
            rules
                .clients
                .suggest(name)
                .map(|s| format!(" (le plus proche : « {s} »)"))
                .unwrap_or_default()
        ),
    }
}

/// The daemon's socket for a store.
pub fn socket_path(store: &Path) -> PathBuf {
    store.join("licgate.sock")
}

/// True when the daemon of `config` runs and answers on its socket.
pub fn daemon_answers(config: &Config) -> bool {
    std::os::unix::net::UnixStream::connect(socket_path(&config.store)).is_ok()
}

/// Answers `query` for the daemon of `config`: through its socket when it
/// runs, else from the store opened here.
pub fn ask(config: &Config, query: &Query) -> anyhow::Result<Answer> {
    let socket = socket_path(&config.store);
    if let Ok(stream) = std::os::unix::net::UnixStream::connect(&socket) {
        // NOTE: the daemon's own refusal (an unknown request, say) is its
        // answer, said as such; only a broken exchange is « no answer ».
        return ask_daemon(stream, query)
            .with_context(|| {
                format!(
                    "{} : le démon en marche n'a pas répondu ; voyez « journalctl -u licgate »",
                    socket.display()
                )
            })?
            .map_err(|message| anyhow::anyhow!(message));
    }
    // NOTE: sled creates a missing store; a question must never do so (a
    // mistyped path would then « verify » as an empty, intact trail).
    if !config.store.join("db").is_file() {
        anyhow::bail!(
            "{} : aucune base de données à cet endroit ([store] path de la configuration) : le \
             démon n'a pas encore tourné avec ce chemin, ou le chemin est faux",
            config.store.display()
        );
    }
    let rules = Rules::load(&config.rules)?;
    let store = crate::store::ReadCopy::open(&config.store).map_err(|err| {
        if err.is::<crate::store::Locked>() {
            err.context("no daemon answers on its socket, yet the store is open in another process")
        } else {
            err
        }
    })?;
    answer(&store, &rules, query, Zoned::now().timestamp())
}

/// The head line of an answer on the socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Head {
    Code(u8),
    Error(String),
}

/// The daemon's answer to `query`, or its refusal (`Ok(Err(..))`); `Err`
/// when the exchange itself failed.
fn ask_daemon(
    mut stream: std::os::unix::net::UnixStream,
    query: &Query,
) -> anyhow::Result<Result<Answer, String>> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    let mut line = serde_json::to_vec(query)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head)?;
    let mut output = Vec::new();
    reader.read_to_end(&mut output)?;
    match serde_json::from_str(&head).context("unexpected answer")? {
        Head::Code(code) => Ok(Ok(Answer { code, output })),
        Head::Error(message) => Ok(Err(message)),
    }
}

/// Serves queries on `listener` until the task is dropped, one connection at
/// a time, from the daemon's store and rules.
pub async fn serve(
    listener: tokio::net::UnixListener,
    store: Store,
    rules: std::sync::Arc<std::sync::RwLock<Rules>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let rules = rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        // NOTE: each client on its own task: a slow or silent one never
        // holds up the others.
        tokio::spawn(answer_client(stream, store.clone(), rules));
    }
}

/// Longest query line read: a query is a few hundred bytes of JSON.
const MAX_QUERY_BYTES: u64 = 64 * 1024;

/// Time a client has to send its query, and to take the answer.
const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads one bounded query line, answers it, within [`CLIENT_TIMEOUT`] each way.
async fn answer_client(stream: tokio::net::UnixStream, store: Store, rules: Rules) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        CLIENT_TIMEOUT,
        tokio::io::BufReader::new(reader.take(MAX_QUERY_BYTES)).read_line(&mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return;
    }
    let result = tokio::task::spawn_blocking(move || {
        if !line.ends_with('\n') {
            anyhow::bail!("query longer than {MAX_QUERY_BYTES} bytes");
        }
        let query: Query = serde_json::from_str(&line).context("unreadable query")?;
        answer(&store, &rules, &query, Timestamp::now())
    })
    .await
    .unwrap_or_else(|panic| Err(anyhow::anyhow!("the query failed: {panic}")));
    let (head, output) = match result {
        Ok(answer) => (Head::Code(answer.code), answer.output),
        Err(err) => (Head::Error(format!("{err:#}")), Vec::new()),
    };
    let mut bytes = serde_json::to_vec(&head).unwrap_or_default();
    bytes.push(b'\n');
    bytes.extend(output);
    match tokio::time::timeout(CLIENT_TIMEOUT, writer.write_all(&bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(cause = %err, "réponse à une requête non écrite"),
        Err(_) => tracing::warn!(
            "réponse à une requête non reprise dans les {CLIENT_TIMEOUT:?} : abandonnée"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store holding `count` accepted requests (removals every tenth,
    /// cancelling an addition), not yet digested.
    async fn store_of(count: usize) -> (Store, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("licgate-query-{count}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let decided: Vec<_> = (0..count)
            .map(|n| {
                let quantity = if n % 10 == 9 { -1 } else { 1 };
                let at = format!(
                    "2026-11-{:02}T09:{:02}:{:02}Z",
                    2 + n / 3600 % 20,
                    n / 60 % 60,
                    n % 60
                );
                let decision = crate::records::fixture::accepted(
                    &format!("LG-{n:010}"),
                    &at,
                    &format!("Client {}", n % 50),
                    "Exchange Online (Plan 1)",
                    quantity,
                );
                crate::store::Decided {
                    decision,
                    raw: vec![],
                    reply: None,
                    notice: None,
                }
            })
            .collect();
        store.record(&decided, &[]).await.unwrap();
        (store, dir)
    }

    // Issue 18, item 3: the digest of 10,000 requests took 3.6 s (0.47 s a
    // version before): the index of movements was built again for each
    // request. `cargo test --release --lib digest_of_10000 -- --ignored
    // --nocapture` prints the figure.
    #[tokio::test]
    #[ignore = "a measure: run it in release"]
    async fn digest_of_10000_requests() {
        let (store, dir) = store_of(10_000).await;
        let rules = Rules::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rules"
        )))
        .unwrap();
        let now = "2026-11-23T09:00:00Z".parse().unwrap();
        let query = Query::Digest { since: None };
        let started = std::time::Instant::now();
        let answer = answer(&store, &rules, &query, now).unwrap();
        let parts: DigestParts = serde_json::from_slice(&answer.output).unwrap();
        println!(
            "digest of {} requests: {:.2} s, {:.1} MiB of HTML",
            parts.items,
            started.elapsed().as_secs_f64(),
            parts.html.len() as f64 / 1048576.0
        );
        assert_eq!(parts.items, 10_000);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
