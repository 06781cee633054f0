//! End-to-end: the `licgate run` daemon against a real Dovecot and Postfix on
//! loopback (tests/mailstack/mailstack): folders, replies, quarantine,
//! duplicates, volume, auto-reply storms.

mod support;

use std::time::Duration;

use support::*;

const ACCEPTED: &str = "licgate/acceptees";
const REJECTED: &str = "licgate/refusees";
const IGNORED: &str = "licgate/ignorees";
const QUARANTINE: &str = "licgate/quarantaine";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_end_in_their_folders_and_technicians_get_the_right_replies() {
    let stack = Stack::start();
    let subject = "[AJOUT] Licence Office 365 - Boulangerie Martin";
    stack
        .append(
            GATEWAY,
            &request("ok", subject, "Microsoft 365 Business Standard", ""),
            MONDAY_10H,
        )
        .await;
    let cc_purchasing = format!("Cc: {PURCHASING}\r\n");
    stack
        .append(
            GATEWAY,
            &request("bad", subject, "Business Premium", &cc_purchasing),
            MONDAY_10H,
        )
        .await;
    let auto = request(
        "oof",
        subject,
        "Microsoft 365 Business Standard",
        "Auto-Submitted: auto-replied\r\n",
    );
    stack.append(GATEWAY, &auto, MONDAY_10H).await;
    let outsider =
        request("outsider", subject, "Microsoft 365 Business Standard", "").replace(TECH, OUTSIDER);
    stack.append(GATEWAY, &outsider, MONDAY_10H).await;
    // The same Message-ID again: decided once, never answered twice.
    stack
        .append(
            GATEWAY,
            &request("ok", subject, "Microsoft 365 Business Standard", ""),
            MONDAY_10H,
        )
        .await;

    let daemon = Daemon::start(&stack.config(""));
    eventually(
        Duration::from_secs(30),
        "INBOX emptied and 2 replies",
        || async {
            stack.count(GATEWAY, "INBOX").await == 0 && stack.count(TECH, "INBOX").await >= 2
        },
    )
    .await;
    eventually(Duration::from_secs(10), "purchasing copy", || async {
        stack.count(PURCHASING, "INBOX").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // nothing more may arrive
    assert!(daemon.terminate(), "the daemon exits 0 on SIGTERM");

    assert_eq!(
        stack.count(GATEWAY, ACCEPTED).await,
        2,
        "the accepted mail and its duplicate"
    );
    assert_eq!(stack.count(GATEWAY, REJECTED).await, 1);
    assert_eq!(stack.count(GATEWAY, IGNORED).await, 1);
    assert_eq!(stack.count(GATEWAY, QUARANTINE).await, 1);
    assert_eq!(
        stack.count(OUTSIDER, "INBOX").await,
        0,
        "no backscatter to senders outside allow"
    );

    let replies = stack.messages(TECH, "INBOX").await;
    assert_eq!(
        replies.len(),
        2,
        "one reply per request, none for the duplicate nor the auto-reply"
    );
    let subject_of = |raw: &String| subject_of(raw);
    let accepted = replies
        .iter()
        .find(|r| subject_of(r).starts_with("[ACCEPTÉE] "))
        .expect("an acceptance");
    let refused = replies
        .iter()
        .find(|r| subject_of(r).starts_with("[REFUSÉE] "))
        .expect("a refusal");
    for reply in [accepted, refused] {
        assert!(reply.contains("Auto-Submitted: auto-replied"), "{reply}");
        assert!(reply.contains("X-Auto-Response-Suppress: All"), "{reply}");
        assert!(reply.contains(&format!("From: {GATEWAY}")), "{reply}");
    }
    assert!(
        accepted.contains("In-Reply-To: <ok@example.test>"),
        "{accepted}"
    );
    assert!(
        refused.contains("In-Reply-To: <bad@example.test>"),
        "{refused}"
    );
    let copy = &stack.messages(PURCHASING, "INBOX").await[0];
    assert!(copy.contains("In-Reply-To: <bad@example.test>"), "{copy}");
    let body = mail_parser::MessageParser::default()
        .parse(copy.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(
        body.starts_with("[Copie pour les achats : demande REFUSÉE, ne rien commander.]"),
        "{body}"
    );
    assert!(
        body.contains("« Microsoft 365 Business Premium »"),
        "{body}"
    );
}

fn subject_of(raw: &str) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    message.subject().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_mails_sent_at_once_are_each_decided_once() {
    let stack = Stack::start();
    let daemon = Daemon::start(&stack.config("[limits]\nreplies-per-sender-per-hour = 1000\n"));
    let subject = "[AJOUT] Licence Office 365 - Boulangerie Martin";
    for i in 0..200 {
        let licence = if i % 2 == 0 {
            "Microsoft 365 Business Standard"
        } else {
            "Business Premium"
        };
        stack
            .send(
                TECH,
                &[GATEWAY],
                &request(&format!("bulk-{i}"), subject, licence, ""),
            )
            .await;
    }
    eventually(
        Duration::from_secs(120),
        "200 mails decided and answered",
        || async {
            stack.count(GATEWAY, "INBOX").await == 0
                && stack.count(GATEWAY, ACCEPTED).await + stack.count(GATEWAY, REJECTED).await
                    == 200
                && stack.count(TECH, "INBOX").await >= 200
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(daemon.terminate());
    assert_eq!(
        stack.count(TECH, "INBOX").await,
        200,
        "exactly one reply per mail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_reply_storm_gets_no_reply() {
    let stack = Stack::start();
    let daemon = Daemon::start(&stack.config(""));
    for i in 0..100 {
        let (headers, subject) = if i % 2 == 0 {
            (
                "Auto-Submitted: auto-replied\r\n",
                "Réponse automatique : absent",
            )
        } else {
            (
                "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
                "Undeliverable",
            )
        };
        let mail = format!(
            "From: {TECH}\r\nTo: {GATEWAY}\r\nSubject: {subject}\r\nMessage-ID: <storm-{i}@example.test>\r\n{headers}\r\nJe suis absent.\r\n"
        );
        stack.send(TECH, &[GATEWAY], &mail).await;
    }
    eventually(Duration::from_secs(60), "100 mails ignored", || async {
        stack.count(GATEWAY, IGNORED).await == 100
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(daemon.terminate());
    assert_eq!(
        stack.count(TECH, "INBOX").await,
        0,
        "no reply to automatic mails"
    );
}
