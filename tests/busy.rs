//! End-to-end: a mail delivered while the daemon is busy with a long batch
//! is handled at once, not a `poll-interval` later (issue 18, item 5).

mod support;

use std::time::{Duration, Instant};

use support::*;

const QUARANTINE: &str = "licgate/quarantaine";

/// Mails from outside, quarantined (no reply), each naming a nested
/// message so that the daemon first judges it in a probe process: a batch
/// that lasts seconds, long enough for a mail to arrive while it is judged.
const BULK: usize = 200;

// Issue 18, item 5: a mail delivered during a batch did not wake IDLE (the
// server announced it in the answer to a command of the batch), so it waited
// a whole poll-interval (66 s and more), and a confirmation sent in time
// could be refused as late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_delivered_during_a_long_batch_is_answered_at_once() {
    let stack = Stack::start();
    let config = stack.config("[limits]\nreplies-per-sender-per-hour = 1000\n");
    // A poll-interval far beyond the test's limits: only a new look before
    // waiting can find the mail.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("poll-interval = 30", "poll-interval = 600"),
    )
    .unwrap();
    let bulk = (0..BULK).map(|i| {
        let id = format!("bulk-{i}");
        request(
            &id,
            AJOUT,
            "Business Standard",
            "X-Joint: message/rfc822\r\n",
        )
        .replace(TECH, OUTSIDER)
    });
    stack.append_all(GATEWAY, bulk, MONDAY_10H).await;
    let daemon = Daemon::start(&config);
    // The batch has begun once the first mails are filed.
    eventually(Duration::from_secs(60), "the batch begun", || async {
        stack.count(GATEWAY, QUARANTINE).await > 0
    })
    .await;
    stack.append(GATEWAY, &ajout("during"), MONDAY_10H).await;
    let delivered = Instant::now();
    let left = stack.count(GATEWAY, "INBOX").await;
    assert!(
        left > 1,
        "the batch ended before the mail came ({left} left): make BULK larger"
    );
    eventually(
        Duration::from_secs(60),
        "the batch done and the mail answered",
        || async {
            stack.count(GATEWAY, QUARANTINE).await == BULK as u32
                && stack.count(TECH, "INBOX").await == 1
        },
    )
    .await;
    let waited = delivered.elapsed();
    assert!(daemon.terminate());
    let reply = stack.messages(TECH, "INBOX").await.remove(0);
    let subject = mail_parser::MessageParser::default()
        .parse(reply.as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_default();
    assert!(subject.starts_with("[ACCEPTÉE] "), "{reply}");
    assert!(
        waited < Duration::from_secs(30),
        "answered {waited:?} after its delivery, with a poll-interval of 600 s"
    );
    eprintln!("answered {waited:?} after its delivery, during a batch of {BULK} mails");
}
