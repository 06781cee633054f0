//! End-to-end: a store restored from an older copy, on the real mail stack
//! (issue 18, item 8): the mails decided since that copy are found in
//! licgate's folders, `licgate status` names them, and `licgate recover`
//! puts them back in the audit trail and the digest without answering again.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

const ACCEPTED: &str = "licgate/acceptees";
const REJECTED: &str = "licgate/refusees";

/// The request id licgate gave the mail its reply answers.
fn request_id_of(reply: &str) -> String {
    reply
        .lines()
        .find_map(|l| l.strip_prefix("X-Licgate-Request: "))
        .unwrap()
        .trim()
        .to_owned()
}

/// The replies in the technician's mailbox that answer `request_id`.
async fn replies_to(stack: &Stack, request_id: &str) -> usize {
    let replies = stack.messages(TECH, "INBOX").await;
    replies
        .iter()
        .filter(|r| request_id_of(r) == request_id)
        .count()
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

// Issue 18, item 8: restored from the runbook's backup, a request accepted
// after the backup (its technician told « transmise aux achats ») was
// unknown to `audit show`, in no digest, `status` exited 0, and the same
// request sent again was accepted as new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_is_reported_and_recover_puts_the_lost_request_back_unanswered() {
    let stack = Stack::start();
    let config = stack.config("[limits]\nmax-message-size = 4096\n");
    let path = config.to_str().unwrap();
    let store = stack.run.join("store");
    let backup = stack.run.join("store-backup");

    let daemon = Daemon::start(&config);
    // Before the backup, every kind of mail the store knows otherwise than
    // by its own Message-ID: none may be taken for a lost one.
    let before = ajout("before");
    let copy = before.clone();
    let reused = before.replace("Jean Dupont before", "Jean Dupont reused");
    let outsider = ajout("outsider").replace(TECH, OUTSIDER);
    let large = ajout("large") + &"A".repeat(8000) + "\r\n";
    stack
        .append_all(GATEWAY, [before, copy, reused, outsider, large], MONDAY_10H)
        .await;
    eventually(
        Duration::from_secs(30),
        "the first mails decided",
        || async {
            stack.count(GATEWAY, "INBOX").await == 0 && stack.count(TECH, "INBOX").await == 3
        },
    )
    .await;
    assert!(daemon.terminate());
    // The runbook's backup: the daemon stopped, the store copied.
    copy_dir(&store, &backup);

    let daemon = Daemon::start(&config);
    let after = ajout("after");
    stack.append(GATEWAY, &after, MONDAY_10H).await;
    eventually(
        Duration::from_secs(30),
        "the second request answered",
        || async { stack.count(TECH, "INBOX").await == 4 },
    )
    .await;
    assert!(daemon.terminate());
    let replies = stack.messages(TECH, "INBOX").await;
    let lost = request_id_of(&replies[3]);
    assert!(replies[3].contains("Jean Dupont after"), "{}", replies[3]);
    assert_eq!(
        stack.count(GATEWAY, ACCEPTED).await,
        4,
        "two, a copy, a reuse"
    );

    // The restore, as the runbook says.
    std::fs::remove_dir_all(&store).unwrap();
    std::fs::rename(&backup, &store).unwrap();
    let (code, shown) = licgate(&["audit", "show", "--config", path, &lost]);
    assert_ne!(code, 0, "the restored store does not know {lost}: {shown}");

    let daemon = Daemon::start(&config);
    let mut report = String::new();
    eventually(
        Duration::from_secs(30),
        "status naming the unknown mail",
        || {
            let (code, out) = licgate(&["status", "--config", path]);
            report = out.replace('\u{a0}', " ");
            let named =
                report.contains("1 courriel classé dans les dossiers de licgate est inconnu");
            async move { code == 1 && named }
        },
    )
    .await;
    assert!(report.contains("<after@example.test>"), "{report}");
    assert!(report.contains("« licgate/acceptees » n°"), "{report}");
    assert!(report.contains("licgate recover --config"), "{report}");
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    assert!(
        log.contains("inconnus de la base de données") && log.contains("after@example.test"),
        "{log}"
    );
    // Not while the daemon holds the store.
    let busy = Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["recover", "--config", path])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&busy.stderr).replace('\u{a0}', " ");
    assert_eq!(busy.status.code(), Some(2), "{said}");
    assert!(said.contains("arrêtez-le"), "{said}");
    assert!(daemon.terminate());

    let (code, out) = licgate(&["recover", "--config", path]);
    let out = out.replace('\u{a0}', " ");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{lost} acceptée")), "{out}");
    assert!(out.contains("1 courriel rétabli"), "{out}");
    assert!(out.contains("Aucune réponse n'a été envoyée"), "{out}");
    let (code, shown) = licgate(&["audit", "show", "--config", path, &lost]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("rétablie par"), "{shown}");
    let (code, digest) = licgate(&["digest", "--config", path]);
    assert_eq!(code, 0);
    assert!(digest.contains("Jean Dupont after"), "{digest}");
    assert!(digest.contains("Jean Dupont before"), "{digest}");
    assert!(digest.contains("Jean Dupont reused"), "{digest}");
    let (code, verified) = licgate(&["audit", "verify", "--config", path]);
    assert_eq!(code, 0, "{verified}");
    // Nothing left to recover.
    let (code, out) = licgate(&["recover", "--config", path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rien à rétablir"), "{out}");

    // The same request sent again (another Message-ID) is a duplicate.
    let daemon = Daemon::start(&config);
    let again = after.replace("<after@example.test>", "<again@example.test>");
    stack.append(GATEWAY, &again, MONDAY_10H).await;
    eventually(
        Duration::from_secs(30),
        "the request sent again refused",
        || async {
            stack.count(GATEWAY, REJECTED).await == 2 && stack.count(TECH, "INBOX").await == 5
        },
    )
    .await;
    let (code, out) = licgate(&["status", "--config", path]);
    assert!(!out.contains("inconnu"), "{out}");
    assert_eq!(code, 0, "{out}");
    assert!(daemon.terminate());
    let replies = stack.messages(TECH, "INBOX").await;
    let refused = request_id_of(&replies[4]);
    let (code, shown) = licgate(&["audit", "show", "--config", path, &refused]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("duplicate_request"), "{shown}");
    assert_eq!(
        replies_to(&stack, &lost).await,
        1,
        "the recovered request was not answered a second time"
    );
}
