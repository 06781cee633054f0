//! The scheduled mails under a clock the test sets: each accepted request in
//! exactly one digest across a restart, nothing for an empty period, hostile
//! names escaped, the month-end reminder once; and the queries of the store
//! answered by the daemon's socket, else by the store. A real sled store; no
//! mail server (the mails stop in the outbox).

use std::path::PathBuf;

use jiff::Timestamp;
use licgate::config::Config;
use licgate::daemon::send_scheduled;
use licgate::records::audit::Event;
use licgate::records::{Decision, OutboxItem, SCHEMA};
use licgate::rules::Rules;
use licgate::store::{Decided, Store};
use licgate::{Limits, Outcome, check};

/// A fresh folder holding a config whose store is inside it.
struct Place {
    dir: PathBuf,
    config: Config,
    rules: Rules,
}

impl Place {
    fn new(name: &str, extra: &str) -> Place {
        let dir = std::env::temp_dir().join(format!("licgate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("password"), "unused\n").unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let text = format!(
            r#"
[imap]
host = "127.0.0.1"
port = 143
tls = "none"
username = "licences@example.test"
[imap.auth]
method = "password"
password-file = "password"
[smtp]
host = "127.0.0.1"
port = 25
tls = "none"
from = "licences@example.test"
[senders]
allow = ["tech@example.test"]
[purchasing]
to = ["achats@example.test"]
cc = ["direction@example.test"]
[store]
path = "store"
[rules]
dir = "{root}/rules"
{extra}
"#
        );
        let path = dir.join("licgate.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        let rules = Rules::load(&config.rules).unwrap();
        Place { dir, config, rules }
    }

    /// Opens the store; after a drop, sled's flusher thread may hold the
    /// lock a moment longer (a restarted process would not see this).
    fn open(&self) -> Store {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(&self.config.store) {
                Ok(store) => return store,
                Err(err) if std::time::Instant::now() > deadline => panic!("{err:#}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }

    /// The scheduler's look at the clock, at a time of Paris.
    async fn tick(&self, store: &Store, paris: &str) -> Vec<String> {
        send_scheduled(store, &self.config, &self.rules, at(paris))
            .await
            .unwrap()
    }

    /// Judges a request received at `received` and records its decision,
    /// which must be an acceptance.
    async fn accept(&self, store: &Store, id: &str, quantity: &str, user: &str, received: &str) {
        let action = if quantity.starts_with('-') {
            "SUPPRESSION"
        } else {
            "AJOUT"
        };
        let raw = format!(
            "From: tech@example.test\r\nSubject: [{action}] Licence Office 365 - Boulangerie Martin\r\n\
             Message-ID: <{id}@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Nom du client : Boulangerie Martin\r\nType de licence : Exchange Online (Plan 1)\r\n\
             Quantité : {quantity}\r\nNom Prénom de l'utilisateur : {user}\r\n\
             Bureau à distance associé : NON\r\n"
        );
        let received = at(received);
        let verdict = check(
            raw.as_bytes(),
            &self.rules,
            Some(received),
            &Limits::default(),
        );
        assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
        let decision = Decision {
            schema: SCHEMA,
            request_id: verdict.request_id.clone(),
            mailbox_key: format!("1:{id}"),
            decided_at: received,
            received_at: Some(received),
            sender: verdict.from.clone(),
            outcome: Outcome::Accepted,
            folder: "acceptees".into(),
            note: None,
            verdict: Some(verdict.clone()),
            reply_queued: false,
            closed_by: None,
        };
        let decided = Decided {
            decision,
            raw: raw.into_bytes(),
            reply: None,
            notice: None,
        };
        store.record(&[decided], &[]).await.unwrap();
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn at(paris: &str) -> Timestamp {
    format!("{paris}[Europe/Paris]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp()
}

fn outbox(store: &Store) -> Vec<OutboxItem> {
    store
        .outbox_oldest(100)
        .unwrap()
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

/// The request ids each queued digest listed, from the audit trail.
fn digests(store: &Store) -> Vec<Vec<String>> {
    store
        .audit_records()
        .filter_map(|r| match r.unwrap().event {
            Event::Queued {
                id, request_ids, ..
            } if id.starts_with("digest-") => Some(request_ids),
            _ => None,
        })
        .collect()
}

fn html_of(item: &OutboxItem) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(item.message.as_bytes())
        .unwrap();
    message.body_html(0).unwrap().into_owned()
}

#[tokio::test]
async fn each_accepted_request_is_in_exactly_one_digest_across_a_restart() {
    let place = Place::new("digest-once", "");
    let store = place.open();
    // First look at 8:31 on Monday 23 November 2026: nothing accepted, nothing sent.
    assert!(place.tick(&store, "2026-11-23T08:31").await.is_empty());
    place
        .accept(
            &store,
            "a",
            "-1",
            "Jean <script>alert(1)</script>",
            "2026-11-23T10:00",
        )
        .await;
    place
        .accept(
            &store,
            "b",
            "+1",
            "Ana & Léo <b>Marc</b>",
            "2026-11-23T11:00",
        )
        .await;
    assert_eq!(store.undigested_len().unwrap(), 2);
    assert!(place.tick(&store, "2026-11-23T13:59:59").await.is_empty());
    let queued = place.tick(&store, "2026-11-23T14:00").await;
    assert_eq!(queued, ["digest-20261123-140000"]);
    assert!(place.tick(&store, "2026-11-23T14:00:30").await.is_empty());
    place
        .accept(&store, "c", "+1", "Paul Martin", "2026-11-23T15:00")
        .await;

    // Restart: the store is closed and opened again.
    drop(store);
    let store = place.open();
    assert!(place.tick(&store, "2026-11-23T16:00").await.is_empty());
    assert_eq!(store.undigested_len().unwrap(), 1);
    // Tuesday 8:30 holds only what came after Monday's 14:00 digest.
    assert_eq!(
        place.tick(&store, "2026-11-24T08:30").await,
        ["digest-20261124-083000"]
    );
    // Nothing since: Tuesday 14:00 sends nothing.
    assert!(place.tick(&store, "2026-11-24T14:00").await.is_empty());
    assert!(place.tick(&store, "2026-11-25T08:30").await.is_empty());

    let lists = digests(&store);
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(lists[0].len(), 2);
    assert_eq!(lists[1].len(), 1);
    let mut all: Vec<&String> = lists.iter().flatten().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3, "each request in exactly one digest");
    assert!(store.undigested().unwrap().is_empty());
    assert_eq!(store.undigested_len().unwrap(), 0);
    store.verify_audit().unwrap();

    let items = outbox(&store);
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].to,
        ["achats@example.test", "direction@example.test"]
    );
    let html = html_of(&items[0]);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>Marc</b>"), "{html}");
    assert!(html.contains("&lt;b&gt;Marc&lt;/b&gt;"), "{html}");
    assert!(
        html.contains("Jean &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("Ana &amp; Léo"), "{html}");
    let removal = html.find("URGENT").unwrap();
    let addition = html.find("Ana &amp; Léo").unwrap();
    assert!(removal < addition, "removals first");
}

#[tokio::test]
async fn slots_missed_while_stopped_give_one_digest() {
    let place = Place::new("digest-missed", "");
    let store = place.open();
    place
        .accept(&store, "a", "+1", "Jean Dupont", "2026-11-20T10:00")
        .await;
    // Down from Friday to Monday 9:00: the latest slot (Monday 8:30) takes it.
    assert_eq!(
        place.tick(&store, "2026-11-23T09:00").await,
        ["digest-20261123-083000"]
    );
    assert!(place.tick(&store, "2026-11-23T09:01").await.is_empty());
    assert_eq!(digests(&store), [[place_id(&store)]]);
}

/// The request id of the only accepted request.
fn place_id(store: &Store) -> String {
    store.accepted().next().unwrap().unwrap().request_id
}

#[tokio::test]
async fn the_month_end_reminder_goes_once_to_the_technicians() {
    let place = Place::new(
        "reminder",
        "[reminder]\nto = [\"techniciens@example.test\"]\ntime = \"09:00\"",
    );
    let store = place.open();
    // Friday 27 November 2026 is not the last business day; Monday 30 is.
    assert!(place.tick(&store, "2026-11-27T09:00").await.is_empty());
    assert!(place.tick(&store, "2026-11-30T08:59").await.is_empty());
    assert_eq!(
        place.tick(&store, "2026-11-30T09:00").await,
        ["reminder-2026-11"]
    );
    assert!(place.tick(&store, "2026-11-30T09:30").await.is_empty());
    drop(store);
    let store = place.open();
    assert!(place.tick(&store, "2026-11-30T10:00").await.is_empty());
    // December: Thursday 31 is the last business day.
    assert_eq!(
        place.tick(&store, "2026-12-31T11:00").await,
        ["reminder-2026-12"]
    );
    let items = outbox(&store);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].to, ["techniciens@example.test"]);
    assert!(items[0].message.contains("Auto-Submitted: auto-generated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_go_to_the_daemon_holding_the_store_else_to_the_store() {
    use licgate::query::{self, Query};
    let place = Place::new("queries", "");
    let store = place.open();
    place
        .accept(&store, "a", "+1", "Jean Dupont", "2026-11-23T10:00")
        .await;
    let socket = query::socket_path(&place.config.store);
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let rules = std::sync::Arc::new(std::sync::RwLock::new(
        Rules::load(&place.config.rules).unwrap(),
    ));
    let server = tokio::spawn(query::serve(listener, store.clone(), rules));
    let ledger = Query::Ledger {
        client: None,
        at: Some("2026-11-30".parse().unwrap()),
        json: false,
    };
    let ask = |query: Query| {
        let config = place.config.clone();
        tokio::task::spawn_blocking(move || query::ask(&config, &query).unwrap())
    };
    // The store is held here (as by the daemon): only the socket can answer.
    let by_daemon = ask(ledger.clone()).await.unwrap();
    assert_eq!(by_daemon.code, 0);
    let text = String::from_utf8(by_daemon.output.clone()).unwrap();
    assert!(
        text.starts_with("Boulangerie Martin | Exchange Online (Plan 1)\u{a0}: ce mois-ci +1"),
        "{text}"
    );
    // Issue 20: a client as technicians write it (an alias, any case) was
    // matched by nothing, and a name of no client printed nothing.
    let by_alias = ask(Query::Ledger {
        client: Some("boulangerie martin SARL".into()),
        at: Some("2026-11-30".parse().unwrap()),
        json: false,
    })
    .await
    .unwrap();
    assert_eq!(by_alias.output, by_daemon.output);
    let listed = ask(Query::AuditList {
        filter: licgate::records::audit::Filter {
            client: Some("Boulangerie Martin SARL".into()),
            ..Default::default()
        },
        format: query::ListFormat::Text,
        separator: ',',
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8(listed.output).unwrap().lines().count(), 1);
    let nobody = Query::Ledger {
        client: Some("Boulangeri Martan".into()),
        at: None,
        json: false,
    };
    let config = place.config.clone();
    let error = tokio::task::spawn_blocking(move || query::ask(&config, &nobody).unwrap_err())
        .await
        .unwrap();
    assert!(
        format!("{error:#}").contains(
            "« Boulangeri Martan » ne correspond à aucun client de clients.toml (le plus proche : « Boulangerie Martin »)"
        ),
        "{error:#}"
    );
    let missing = Query::AuditShow {
        id: "LG-NONE".into(),
        raw: false,
        json: false,
    };
    let config = place.config.clone();
    let error = tokio::task::spawn_blocking(move || query::ask(&config, &missing).unwrap_err())
        .await
        .unwrap();
    assert!(
        format!("{error:#}").contains("LG-NONE\u{a0}: aucune demande sous cette référence"),
        "{error:#}"
    );
    // Issue 20: the daemon answered, so it is never said not to have.
    assert!(!format!("{error:#}").contains("pas répondu"), "{error:#}");

    // The daemon gone (its socket file left behind, as after kill -9): the
    // store answers the same.
    server.abort();
    let _ = server.await;
    drop(store);
    assert!(socket.exists());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let by_store = loop {
        let config = place.config.clone();
        let query = ledger.clone();
        match tokio::task::spawn_blocking(move || query::ask(&config, &query))
            .await
            .unwrap()
        {
            Ok(answer) => break answer,
            // sled's flusher may hold the lock a moment after the drop.
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(err) => panic!("{err:#}"),
        }
    };
    assert_eq!(by_store, by_daemon);
}
