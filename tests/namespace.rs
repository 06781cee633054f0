//! End-to-end: the daemon against a Dovecot whose personal namespace has the
//! prefix `INBOX.` (the layout of Cyrus, Courier and many hosts): folders
//! under the prefix and in modified UTF-7, and a refused CREATE that stops
//! the daemon with a clear error instead of retrying for ever.

mod support;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use support::*;

/// Configured folders, with accents; the quarantine written with the prefix.
const FOLDERS: &str = r#"
[imap.folders]
accepted = "licgate/acceptées"
rejected = "licgate/refusées"
ignored = "licgate/ignorées"
quarantine = "INBOX/licgate/quarantaine"
"#;

/// Every folder of `user`'s mailbox, as the server names them.
async fn folders(stack: &Stack, user: &str) -> Vec<String> {
    let mut session = stack.imap(user).await;
    let names: Vec<String> = session
        .list(Some(""), Some("*"))
        .await
        .unwrap()
        .map_ok(|n| n.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    session.logout().await.unwrap();
    names
}

// Issue 9 §3: on a server whose personal namespace has the prefix `INBOX.`,
// the daemon could not start ("cannot create folder licgate.acceptees:
// Permission denied", retried for ever); names with accents went out raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_go_under_the_personal_namespace_in_modified_utf7() {
    let stack = Stack::start_prefixed();
    stack.append(GATEWAY, &ajout("ok"), MONDAY_10H).await;
    let refused = request("bad", AJOUT, "Business Premium", "");
    stack.append(GATEWAY, &refused, MONDAY_10H).await;

    let config = stack.config(FOLDERS);
    let daemon = Daemon::start(&config);
    eventually(
        Duration::from_secs(30),
        "INBOX emptied and 2 replies",
        || async {
            stack.count(GATEWAY, "INBOX").await == 0 && stack.count(TECH, "INBOX").await >= 2
        },
    )
    .await;
    assert!(daemon.terminate(), "the daemon exits 0 on SIGTERM");

    let accepted = stack.messages(GATEWAY, "INBOX.licgate.accept&AOk-es").await;
    assert_eq!(accepted.len(), 1);
    assert!(accepted[0].contains("Message-ID: <ok@example.test>"));
    let rejected = stack.messages(GATEWAY, "INBOX.licgate.refus&AOk-es").await;
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].contains("Message-ID: <bad@example.test>"));

    let mut names = folders(&stack, GATEWAY).await;
    names.sort();
    assert_eq!(
        names,
        [
            "INBOX",
            "INBOX.licgate",
            "INBOX.licgate.a-confirmer",
            "INBOX.licgate.accept&AOk-es",
            "INBOX.licgate.ignor&AOk-es",
            "INBOX.licgate.quarantaine",
            "INBOX.licgate.refus&AOk-es",
            "Public",
        ],
        "nothing outside the namespace, no prefix doubled, no raw UTF-8"
    );

    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    assert!(log.contains("connecté à la boîte aux lettres"), "{log}");
    assert!(
        !log.contains("ERROR") && !log.contains("WARN"),
        "the daemon logs no error: {log}"
    );
}

// Issue 9 §3: a folder the server refuses to create made the daemon retry
// for ever, saying neither the name sent, nor the namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_stops_the_daemon_with_a_clear_error() {
    let stack = Stack::start_prefixed();
    // Written with the public namespace's prefix, so used as it is: users
    // may list `Public.` but not create folders in it.
    let config = stack.config(&FOLDERS.replace("INBOX/licgate/quarantaine", "Public/licgate"));
    let mut daemon = Daemon::start(&config);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.exited() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the daemon still runs after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(2), "an error exit, for systemd");

    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    for expected in [
        "the IMAP server refuses to create folder \"Public/licgate\"",
        "(sent as \"Public.licgate\")",
        "NO [NOPERM] Permission denied",
        "personal \"INBOX.\" (delimiter \".\")",
        "shared \"Public.\" (delimiter \".\")",
    ] {
        assert!(log.contains(expected), "{expected:?} missing from: {log}");
    }
    assert!(
        !log.contains("connexion à la boîte aux lettres en échec"),
        "no retry: {log}"
    );
}

// Found by review: the watched mailbox (`[imap] mailbox`) was sent as
// written, outside the prefix: « nonexistent namespace », retried each second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watched_mailbox_goes_under_the_personal_namespace_too() {
    let stack = Stack::start_prefixed();
    let mut session = stack.imap(GATEWAY).await;
    session.create("INBOX.Commandes re&AOc-ues").await.unwrap();
    session
        .append(
            "INBOX.Commandes re&AOc-ues",
            None,
            Some(&format!("\"{MONDAY_10H}\"")),
            ajout("watched").as_bytes(),
        )
        .await
        .unwrap();
    session.logout().await.unwrap();

    let config = stack.config(FOLDERS);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen("[imap]\n", "[imap]\nmailbox = \"Commandes reçues\"\n", 1);
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    eventually(Duration::from_secs(30), "the mail filed", || async {
        stack.count(GATEWAY, "INBOX.licgate.accept&AOk-es").await == 1
    })
    .await;
    assert!(daemon.terminate(), "the daemon exits 0 on SIGTERM");
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    assert!(log.contains("INBOX.Commandes reçues"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}
