//! The daemon, the imperative shell around [`crate::judge`]: watches the
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

mod intake;
mod metrics;
mod outbox;
mod policy;
mod probe;
mod recover;
mod schedule;

pub use recover::{RecoveredMail, recover};
pub use schedule::send_scheduled;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::compose::digest::{self, Digest, Kind, Letter};
use crate::config::Config;
use crate::judge::{self, Judge};
use crate::judge::{Outcome, Verdict};
use crate::mail;
use crate::net::Mailbox;
use crate::net::imap::{Connection, Envelope};
use crate::net::smtp::Sender;
use crate::net::{Failure, Outbound, OutgoingMail};
use crate::query;
use crate::records::audit;
use crate::records::ledger::{self, Movement};
use crate::records::{Decision, OutboxItem};
use crate::rules::{
    CALENDAR_FILE, CLIENTS_FILE, LICENCES_FILE, Rules, TICKETS_FILE, UPGRADES_FILE,
};
use crate::store::status::{RulesRefused, Status};
use crate::store::{Decided, Store};

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
    crate::store::keys::load_or_create(&config.store)?;
    let rules = Rules::load(&config.rules)?;
    info!(
        version = %env!("CARGO_PKG_VERSION"),
        config = %config.source.as_deref().unwrap_or(Path::new("-")).display(),
        imap = %format!("{}:{}", config.imap.host, config.imap.port),
        mailbox = %config.mailbox,
        rules = %config.rules.display(),
        licences = rules.catalog.len(),
        clients = rules.clients.len(),
        "démarrage"
    );
    let shared = Shared::new(config, store, rules);
    let (stop_tx, stop) = watch::channel(false);
    // The loops end when told to stop; the servers only when aborted. Any
    // of them ending early (an error, a panic) stops the daemon with an
    // error, so systemd restarts it whole rather than leaving it half alive.
    let mut loops = tokio::task::JoinSet::new();
    let sender = Sender::new(&shared.config.smtp)?;
    loops.spawn(named(
        "mailbox",
        intake::mailbox_loop(shared.clone(), stop.clone()),
    ));
    loops.spawn(named(
        "outbox",
        outbox::outbox_loop(shared.clone(), sender, stop.clone()),
    ));
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
        unfailing(schedule::schedule_loop(shared.clone(), stop.clone())),
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
        info!(%address, "métriques Prometheus servies sur /metrics");
        servers.spawn(named(
            "metrics",
            unfailing(metrics::serve_metrics(listener, shared.clone())),
        ));
    }
    let early = tokio::select! {
        _ = shutdown => {
            info!("arrêt : fin du traitement du courriel en cours");
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
    // `licgate status` tells a stop at once, not a minute later.
    write_status(&shared, Some(Timestamp::now()));
    match failure {
        Some(err) => Err(err),
        None => {
            info!("arrêté");
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
    /// The clock the decisions are dated by: the system's, set in the unit
    /// tests of the intake.
    clock: fn() -> Timestamp,
    /// When this daemon started, for `licgate status`.
    started_at: Timestamp,
    /// The rules files refused on their last change, and how many changes
    /// were refused since the start, for `licgate status` and the metrics.
    rules_refused: Arc<Mutex<(Option<RulesRefused>, u64)>>,
}

impl Shared {
    fn new(config: Config, store: Store, rules: Rules) -> Shared {
        Shared {
            config: Arc::new(config),
            store,
            rules: Arc::new(RwLock::new(rules)),
            outbox_ready: Arc::new(Notify::new()),
            history: Arc::new(Mutex::new(Vec::new())),
            outbox_paused: Arc::new(Mutex::new(None)),
            clock: Timestamp::now,
            started_at: Timestamp::now(),
            rules_refused: Arc::new(Mutex::new((None, 0))),
        }
    }

    /// The rules refused (see `rules_refused`); a poisoned lock is recovered.
    fn rules_refused(&self) -> MutexGuard<'_, (Option<RulesRefused>, u64)> {
        self.rules_refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The time by [`Shared::clock`].
    fn now(&self) -> Timestamp {
        (self.clock)()
    }

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

/// Keeps the status file up to date for `licgate status`.
async fn status_loop(shared: Shared, stop: watch::Receiver<bool>) {
    loop {
        write_status(&shared, None);
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

fn write_status(shared: &Shared, stopped_at: Option<Timestamp>) {
    let path = Status::file(&shared.config.store);
    let paused = shared.outbox_paused().clone();
    let (rules_refused, rules_refusals) = shared.rules_refused().clone();
    let zone = shared.rules().calendar.time_zone.clone();
    let collected =
        Status::collect(&shared.store, Timestamp::now(), &zone).and_then(|mut status| {
            status.outbox_paused = paused;
            status.rules_refused = rules_refused;
            status.rules_refusals = rules_refusals;
            status.stopped_at = stopped_at;
            status.started_at = Some(shared.started_at);
            status.write(&path)
        });
    if let Err(err) = collected {
        warn!(file = %path.display(), cause = %format!("{err:#}"), "fichier d'état non écrit");
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
                let (licences, clients) = (rules.catalog.len(), rules.clients.len());
                *shared
                    .rules
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = rules;
                shared.rules_refused().0 = None;
                info!(dir = %dir.display(), licences, clients, "règles rechargées");
            }
            Err(err) => {
                error!(cause = %err, "règles non rechargées : les précédentes restent en vigueur ; le prochain démarrage échouera");
                let mut refused = shared.rules_refused();
                let since = refused.0.as_ref().map_or_else(Timestamp::now, |r| r.since);
                refused.0 = Some(RulesRefused {
                    since,
                    reason: err.to_string(),
                });
                refused.1 += 1;
            }
        }
        write_status(&shared, None);
    }
}

fn modification_times(dir: &Path) -> Vec<Option<SystemTime>> {
    [
        LICENCES_FILE,
        CLIENTS_FILE,
        CALENDAR_FILE,
        UPGRADES_FILE,
        TICKETS_FILE,
    ]
    .iter()
    .map(|name| {
        std::fs::metadata(PathBuf::from(dir).join(name))
            .and_then(|m| m.modified())
            .ok()
    })
    .collect()
}

/// Mails for the unit tests of the daemon.
#[cfg(test)]
mod fixture {
    /// The header Exchange Online writes on a mail from a sender it
    /// authenticated, as the shipped example's `require-authentication` asks.
    pub const AUTHENTICATED: &str = "Authentication-Results: spf=pass smtp.mailfrom=infogerance.example; \
        dkim=pass header.d=infogerance.example; dmarc=pass action=none \
        header.from=infogerance.example;compauth=pass reason=100\r\n";

    /// A request to add `quantity` Business Standard licences for
    /// Boulangerie Martin, as a technician writes it.
    pub fn request(from: &str, message_id: &str, quantity: &str) -> Vec<u8> {
        format!(
            "{AUTHENTICATED}From: {from}\r\nMessage-ID: <{message_id}>\r\n\
             Subject: [AJOUT] Licence Office 365 - Boulangerie Martin\r\n\r\n\
             Nom du client : Boulangerie Martin\r\n\
             Type de licence : Microsoft 365 Business Standard\r\n\
             Quantité : {quantity}\r\n\
             Nom Prénom de l'utilisateur : Jean Dupont\r\n\
             Bureau à distance associé : NON\r\n"
        )
        .into_bytes()
    }
}
