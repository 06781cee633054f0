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
    stack.append(GATEWAY, &ajout("ok"), MONDAY_10H).await;
    let cc_purchasing = format!("Cc: {PURCHASING}\r\n");
    stack
        .append(
            GATEWAY,
            &request("bad", AJOUT, "Business Premium", &cc_purchasing),
            MONDAY_10H,
        )
        .await;
    let auto = request(
        "oof",
        AJOUT,
        "Microsoft 365 Business Standard",
        "Auto-Submitted: auto-replied\r\n",
    );
    stack.append(GATEWAY, &auto, MONDAY_10H).await;
    let outsider = ajout("outsider").replace(TECH, OUTSIDER);
    stack.append(GATEWAY, &outsider, MONDAY_10H).await;
    // The same Message-ID again: decided once, never answered twice.
    stack.append(GATEWAY, &ajout("ok"), MONDAY_10H).await;

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
    let body = body_of(copy);
    assert!(
        body.starts_with("[Copie pour les achats\u{a0}: demande REFUSÉE, ne rien commander.]"),
        "{body}"
    );
    assert!(
        body.contains("«\u{a0}Microsoft 365 Business Premium\u{a0}»"),
        "{body}"
    );

    // The audit trail: intact, one entry per decided mail, each reply recorded.
    let config = stack.run.join("licgate.toml");
    let (code, verified) = licgate(&["audit", "verify", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{verified}");
    assert!(
        verified.starts_with("journal d'audit intact\u{a0}: 6 enregistrements, tête "),
        "4 decisions, 2 replies sent: {verified}"
    );
    let (_, listed) = licgate(&[
        "audit",
        "list",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    let entries: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdicts: Vec<&str> = entries
        .iter()
        .map(|e| e["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["accepted", "rejected", "ignored", "quarantined"]);
    assert!(entries[0]["reply_sent_at"].is_string() && entries[2]["reply_sent_at"].is_null());
    let id = entries[1]["request_id"].as_str().unwrap();
    let (_, raw) = licgate(&[
        "audit",
        "show",
        id,
        "--raw",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(raw.contains("Message-ID: <bad@example.test>"), "{raw}");
    let (_, csv) = licgate(&[
        "audit",
        "export",
        "--format",
        "csv",
        "--separator",
        ";",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        csv.starts_with("\u{feff}request_id;received_at;decided_at;verdict;"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5);
    let (code, ledger) = licgate(&[
        "ledger",
        "--at",
        "2026-11-23",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        ledger.starts_with("Boulangerie Martin | Microsoft 365 Business Standard\u{a0}: ce mois-ci +1, suppressions en attente 0\n"),
        "{ledger}"
    );
}

/// The text part of a mail.
fn body_of(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
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
                &request(&format!("bulk-{i}"), AJOUT, licence, ""),
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

// Issue 18, item 7: 200 mails with 5 kill -9 gave one doubled reply in one
// run of two: `reply_sent` was written out within 500 ms, not flushed. The
// outbox flushes once per group of replies sent: 20 kills, no reply sent
// twice. `cargo test --test daemon kill_9 -- --nocapture` prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_leaves_every_mail_decided_once() {
    let stack = Stack::start();
    let config = stack.config("[limits]\nreplies-per-sender-per-hour = 1000\n");
    let subject = "[SUPPRESSION] Licence Office 365 - Boulangerie Martin";
    for i in 0..200 {
        let mail = request(
            &format!("crash-{i}"),
            subject,
            "Microsoft 365 Business Standard",
            "",
        )
        .replace("+1", "-1");
        stack.append(GATEWAY, &mail, MONDAY_10H).await;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    println!("kill -9 seed: {seed}");
    let mut rng = seed | 1;
    let mut kills = 0;
    while kills < 20
        && (stack.count(GATEWAY, "INBOX").await > 0 || stack.count(TECH, "INBOX").await < 200)
    {
        let daemon = Daemon::start(&config);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(150 + rng % 450)).await;
        daemon.kill();
        kills += 1;
    }
    let daemon = Daemon::start(&config);
    eventually(
        Duration::from_secs(120),
        "every mail decided and answered",
        || async {
            stack.count(GATEWAY, "INBOX").await == 0 && stack.count(TECH, "INBOX").await >= 200
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(daemon.terminate());
    println!("killed {kills} times");

    assert_eq!(
        stack.count(GATEWAY, ACCEPTED).await,
        200,
        "each mail filed exactly once"
    );
    let store = licgate::store::Store::open(&stack.run.join("store")).unwrap();
    let decisions: Vec<_> = store.decisions().collect::<Result<_, _>>().unwrap();
    assert_eq!(decisions.len(), 200, "one decision per mail");
    store.verify_audit().unwrap();
    let entries = licgate::records::audit::entries(store.audit_records()).unwrap();
    let mut ids: Vec<&str> = entries.iter().map(|e| e.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (entries.len(), ids.len()),
        (200, 200),
        "no duplicate audit record"
    );
    assert_eq!(store.outbox_len(), 0, "no reply left behind");
    let mut answered: Vec<String> = stack
        .messages(TECH, "INBOX")
        .await
        .iter()
        .filter_map(|raw| {
            raw.lines()
                .find_map(|l| l.strip_prefix("In-Reply-To: "))
                .map(str::to_owned)
        })
        .collect();
    let replies = answered.len();
    answered.sort();
    answered.dedup();
    assert_eq!(answered.len(), 200, "every mail answered");
    println!(
        "replies: {replies} for 200 mails ({} sent twice because of a kill)",
        replies - 200
    );
    // Each reply recorded as sent once, and none sent again.
    let sent = store
        .audit_records()
        .filter(|r| {
            matches!(
                &r.as_ref().unwrap().event,
                licgate::records::audit::Event::ReplySent { to, .. } if to[..] == [TECH]
            )
        })
        .count();
    assert_eq!(sent, 200, "one reply_sent record per reply");
    // A reply is logged as sent once recorded for good: none is sent
    // again by a later run. (A kill between the server's taking a mail and
    // its answer, RFC 1047's window, still sends it twice: counted above.)
    let log = std::fs::read_to_string(stack.run.join("licgate.log")).unwrap();
    let mut logged: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("réponse envoyée") && l.contains(&format!("to=[\"{TECH}\"]")))
        .filter_map(|l| l.split("request_id=").nth(1)?.split(' ').next())
        .collect();
    logged.sort();
    let recorded = logged.len();
    logged.dedup();
    assert_eq!(
        logged.len(),
        recorded,
        "a reply recorded as sent was sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_for_smtp_to_come_back_and_none_is_lost() {
    let stack = Stack::start();
    stack.stop_smtp();
    let metrics = format!("127.0.0.1:{}", stack.imap_port + 5);
    let config = stack.config(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    let daemon = Daemon::start(&config);
    for i in 0..5 {
        stack
            .append(GATEWAY, &ajout(&format!("queued-{i}")), MONDAY_10H)
            .await;
    }
    eventually(
        Duration::from_secs(30),
        "mails decided while SMTP is down",
        || async { stack.count(GATEWAY, ACCEPTED).await == 5 },
    )
    .await;
    // The growing outbox shows in `licgate status` and in the metrics.
    eventually(
        Duration::from_secs(15),
        "status and metrics showing the outbox",
        || async {
            let status = licgate_status(&config);
            status.contains("à envoyer         5 messages,")
                && http_get(&metrics, "/metrics")
                    .await
                    .contains("licgate_outbox_depth 5")
        },
    )
    .await;
    let status = licgate_status(&config);
    assert!(
        status.contains("aujourd'hui       5 acceptées, "),
        "{status}"
    );
    assert!(
        http_get(&metrics, "/metrics")
            .await
            .contains("licgate_decisions_today{verdict=\"accepted\"} 5")
    );
    stack.start_smtp();
    eventually(
        Duration::from_secs(60),
        "queued replies delivered",
        || async { stack.count(TECH, "INBOX").await == 5 },
    )
    .await;
    assert!(daemon.terminate());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reconnects_when_the_imap_server_restarts() {
    let stack = Stack::start();
    let daemon = Daemon::start(&stack.config(""));
    stack.append(GATEWAY, &ajout("before"), MONDAY_10H).await;
    // NOTE: the first reply must be in the mailbox before Dovecot stops:
    // an LMTP delivery cut by the stop is deferred by Postfix, whose retry
    // the test would then be waiting for (seen once in CI), not licgate.
    eventually(
        Duration::from_secs(30),
        "first mail decided and answered",
        || async {
            stack.count(GATEWAY, ACCEPTED).await == 1 && stack.count(TECH, "INBOX").await == 1
        },
    )
    .await;
    stack.stop_imap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack.start_imap();
    stack.append(GATEWAY, &ajout("after"), MONDAY_10H).await;
    eventually(
        Duration::from_secs(60),
        "second mail decided after the restart",
        || async { stack.count(GATEWAY, ACCEPTED).await == 2 },
    )
    .await;
    eventually(Duration::from_secs(30), "both replies", || async {
        stack.count(TECH, "INBOX").await == 2
    })
    .await;
    assert!(daemon.terminate());
}

fn licgate_status(config: &std::path::Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["status", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn http_get(address: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut socket) = tokio::net::TcpStream::connect(address).await else {
        return String::new();
    };
    socket
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_reloaded_on_change_and_a_broken_file_keeps_the_previous_rules() {
    let stack = Stack::start();
    let rules = stack.run.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for name in [
        "licences.toml",
        "clients.toml",
        "calendar.toml",
        "upgrades.toml",
    ] {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules")
            .join(name);
        std::fs::copy(shipped, rules.join(name)).unwrap();
    }
    let metrics = format!("127.0.0.1:{}", stack.imap_port + 5);
    let config = stack.config(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    let text = std::fs::read_to_string(&config).unwrap();
    let shipped_rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    std::fs::write(
        &config,
        text.replace(
            &shipped_rules.display().to_string(),
            &rules.display().to_string(),
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config);
    let subject = "[AJOUT] Licence Office 365 - Fromagerie Leroy";
    let mail = |id: &str| {
        request(id, subject, "Microsoft 365 Business Standard", "")
            .replace("Boulangerie Martin", "Fromagerie Leroy")
    };

    // An unknown client is refused.
    stack.append(GATEWAY, &mail("unknown"), MONDAY_10H).await;
    eventually(Duration::from_secs(30), "refusal", || async {
        stack.count(GATEWAY, REJECTED).await == 1
    })
    .await;

    // A broken calendar file is refused: the previous rules stay in force.
    std::fs::write(rules.join("calendar.toml"), "cutoff = \"17h30\"\n").unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stack
        .append(
            GATEWAY,
            &request(
                "still",
                "[AJOUT] Licence Office 365 - Boulangerie Martin",
                "Microsoft 365 Business Standard",
                "",
            ),
            MONDAY_10H,
        )
        .await;
    eventually(
        Duration::from_secs(30),
        "judged with the previous rules",
        || async { stack.count(GATEWAY, ACCEPTED).await == 1 },
    )
    .await;
    // Issue 18, item 9: the next start fails on that file (`config check`
    // runs before it), yet status said only « le démon garde les
    // précédentes » and exited 0 for the daemon, the metrics nothing.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(daemon.pid() as libc::pid_t, libc::SIGHUP) };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["status", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{status}");
    assert!(
        status.contains("PROBLÈME\u{a0}: le prochain démarrage échouera\u{a0}: ")
            && status.contains("calendar.toml:1")
            && status.contains("le démon en marche les a refusées le ")
            && status.contains("(Europe/Paris) et garde les précédentes"),
        "{status}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args([
            "config",
            "check",
            "--quiet",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the next start's check refuses it"
    );
    let exposition = http_get(&metrics, "/metrics").await;
    assert!(
        exposition.contains("\nlicgate_rules_refused 1\n"),
        "{exposition}"
    );
    let refusals: u64 = exposition
        .lines()
        .find_map(|l| l.strip_prefix("licgate_rules_refusals_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(refusals >= 2, "the change and the SIGHUP: {exposition}");

    // Adding the client (and mending the calendar) is picked up without a restart.
    let shipped_calendar =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/calendar.toml");
    std::fs::copy(shipped_calendar, rules.join("calendar.toml")).unwrap();
    let mut clients = std::fs::read_to_string(rules.join("clients.toml")).unwrap();
    clients.push_str("\n[[client]]\nname = \"Fromagerie Leroy\"\n");
    std::fs::write(rules.join("clients.toml"), clients).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stack.append(GATEWAY, &mail("known"), MONDAY_10H).await;
    eventually(
        Duration::from_secs(30),
        "accepted with the new rules",
        || async { stack.count(GATEWAY, ACCEPTED).await == 2 },
    )
    .await;
    let exposition = http_get(&metrics, "/metrics").await;
    assert!(
        exposition.contains("\nlicgate_rules_refused 0\n"),
        "{exposition}"
    );
    assert!(daemon.terminate());
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    assert!(
        log.contains("règles non rechargées") && log.contains("calendar.toml:1"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_mails_are_refused_from_their_header_and_replies_are_rate_limited() {
    let stack = Stack::start();
    let daemon = Daemon::start(
        &stack.config("[limits]\nmax-message-size = 4096\nreplies-per-sender-per-hour = 3\n"),
    );
    let attachment = "A".repeat(8000);
    let large = ajout("large") + &attachment + "\r\n";
    stack.append(GATEWAY, &large, MONDAY_10H).await;
    eventually(Duration::from_secs(30), "large mail refused", || async {
        stack.count(GATEWAY, REJECTED).await == 1 && stack.count(TECH, "INBOX").await == 1
    })
    .await;
    let refusal = &stack.messages(TECH, "INBOX").await[0];
    let body = body_of(refusal);
    assert!(body.contains("au-delà de la limite"), "{body}");

    for i in 0..4 {
        stack
            .append(GATEWAY, &ajout(&format!("many-{i}")), MONDAY_10H)
            .await;
    }
    eventually(Duration::from_secs(30), "all decided", || async {
        stack.count(GATEWAY, ACCEPTED).await == 4
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(daemon.terminate());
    assert_eq!(
        stack.count(TECH, "INBOX").await,
        3,
        "at most 3 replies to one sender in an hour"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_addition_sent_twice_is_refused_as_a_duplicate() {
    let stack = Stack::start();
    let daemon = Daemon::start(&stack.config(""));
    stack.append(GATEWAY, &ajout("first"), MONDAY_10H).await;
    eventually(Duration::from_secs(30), "first accepted", || async {
        stack.count(GATEWAY, ACCEPTED).await == 1
    })
    .await;
    assert!(daemon.terminate());
    // After a restart, the history comes from the audit trail; the same
    // request under another Message-ID is refused, naming the first one.
    let daemon = Daemon::start(&stack.config(""));
    let again = ajout("first").replace("<first@example.test>", "<again@example.test>");
    stack.append(GATEWAY, &again, MONDAY_10H).await;
    eventually(
        Duration::from_secs(30),
        "second refused and both answered",
        || async {
            stack.count(GATEWAY, REJECTED).await == 1 && stack.count(TECH, "INBOX").await == 2
        },
    )
    .await;
    assert!(daemon.terminate());
    let refusal = stack
        .messages(TECH, "INBOX")
        .await
        .into_iter()
        .find(|m| subject_of(m).starts_with("[REFUSÉE]"))
        .unwrap();
    let body = body_of(&refusal);
    assert!(
        body.contains("Cette demande fait doublon avec la demande LG-"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchasing_gets_the_removal_at_once_and_the_digest_at_its_time() {
    let stack = Stack::start();
    // A digest slot a few seconds from now, in Paris time, every day.
    let slot = (jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        + jiff::SignedDuration::from_secs(15))
    .strftime("%H:%M:%S")
    .to_string();
    let config = stack.config(&format!(
        "[digest]\ntimes = [\"{slot}\"]\ndays = \"every-day\"\n"
    ));
    // Two additions of one licence (summed), and a removal of another,
    // with a ticket.
    let removal = request(
        "removal",
        "[GLPI #0001234] [SUPPRESSION] Licence Office 365 - Boulangerie Martin",
        "Exchange Online (Plan 1)",
        "",
    )
    .replace("Quantité : +1", "Quantité : -1")
    .replace("Jean Dupont removal", "Jean <Dupont> & fils");
    stack.append(GATEWAY, &ajout("addition"), MONDAY_10H).await;
    stack.append(GATEWAY, &ajout("addition2"), MONDAY_10H).await;
    stack.append(GATEWAY, &removal, MONDAY_10H).await;
    let daemon = Daemon::start(&config);
    let subjects = || async {
        let messages = stack.messages(PURCHASING, "INBOX").await;
        messages.iter().map(|m| subject_of(m)).collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(30), "removal notice", || async {
        subjects()
            .await
            .iter()
            .any(|s| s.starts_with("[licgate] URGENT – suppression\u{a0}: Boulangerie Martin -1"))
    })
    .await;
    // A technician asks before ordering again: the answer names the
    // pending removal, and nothing reaches purchasing.
    let question = format!(
        "From: Julie Bernard <{TECH}>\r\nTo: {GATEWAY}\r\n\
         Subject: [ÉTAT] Licence Office 365 - Boulangerie Martin\r\n\
         Message-ID: <question@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nLa suppression est-elle prise ?\r\n"
    );
    stack.append(GATEWAY, &question, MONDAY_10H).await;
    let answer = || async {
        stack
            .messages(TECH, "INBOX")
            .await
            .into_iter()
            .find(|m| subject_of(m) == "Re: [ÉTAT] Licence Office 365 - Boulangerie Martin")
    };
    eventually(
        Duration::from_secs(30),
        "the answer to the question",
        || async { answer().await.is_some() },
    )
    .await;
    let answer = body_of(&answer().await.unwrap());
    let pending = answer
        .split("Suppressions en attente")
        .nth(1)
        .expect("a section of pending removals");
    assert!(
        pending.contains("- -1 Exchange Online (Plan 1), Jean <Dupont> & fils\u{a0}: prend effet le mardi 1er décembre 2026 (LG-"),
        "{answer}"
    );
    assert!(answer.contains("ticket GLPI #0001234"), "{answer}");
    assert_eq!(stack.count(GATEWAY, IGNORED).await, 1);

    eventually(Duration::from_secs(40), "digest", || async {
        subjects()
            .await
            .iter()
            .any(|s| s.starts_with("[licgate] URGENT – 1 suppression, 2 ajouts ("))
    })
    .await;
    // Past the slot: still one digest, and one notice.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // On demand, while the daemon runs (it answers on its socket): the
    // scheduled digest took them all; --since shows them again.
    let config = config.to_str().unwrap();
    let (code, out) = licgate(&["digest", "--config", config]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out) = licgate(&["digest", "--config", config, "--since", "2026-11-01"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Objet\u{a0}: [licgate] URGENT – 1 suppression, 2 ajouts (à la demande, "),
        "{out}"
    );
    assert!(
        out.contains("depuis le dimanche 1er novembre 2026"),
        "{out}"
    );
    // Issue 18, item 6: --since with --send sent again requests already
    // ordered, with only « certaines ont pu figurer… »: refused, in French,
    // saying what to do instead; nothing is sent.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args([
            "digest",
            "--config",
            config,
            "--since",
            "2026-11-16",
            "--send",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--since 2026-11-16 et --send ne vont pas ensemble\u{a0}: une synthèse envoyée ne liste que les demandes pas encore transmises aux achats"),
        "{err}"
    );
    assert!(
        err.contains("envoyez «\u{a0}licgate digest --send\u{a0}» seul"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.count(PURCHASING, "INBOX").await, 2);
    let (code, ledger) = licgate(&["ledger", "--config", config, "--at", "2026-11-23"]);
    assert_eq!(code, 0);
    assert!(
        ledger
            .contains("Exchange Online (Plan 1)\u{a0}: ce mois-ci -1, suppressions en attente -1"),
        "{ledger}"
    );
    assert!(ledger.contains(", ticket GLPI #0001234"), "{ledger}");
    let (code, list) = licgate(&["audit", "list", "--config", config, "--month", "2026-11"]);
    assert_eq!((code, list.lines().count()), (0, 4), "{list}");
    assert!(
        list.lines()
            .any(|l| l.contains(" ignored ") && l.ends_with("[state_query]")),
        "{list}"
    );
    let (_, csv) = licgate(&["audit", "export", "--config", config, "--format", "csv"]);
    assert!(
        csv.lines().next().unwrap().ends_with(",message_id,ticket"),
        "{csv}"
    );
    assert!(csv.contains(",GLPI #0001234\r\n"), "{csv}");
    assert!(daemon.terminate());
    assert_eq!(subjects().await.len(), 2, "{:?}", subjects().await);
    let digest = stack
        .messages(PURCHASING, "INBOX")
        .await
        .into_iter()
        .find(|m| subject_of(m).starts_with("[licgate] URGENT – 1 suppression, 2 ajouts"))
        .unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(digest.as_bytes())
        .unwrap();
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    let html = parsed.body_html(0).unwrap();
    // The two additions summed on one line, with the SKU and the tenant,
    // and the total per licence for the distributor.
    let orders = text.split("=== Détail").next().unwrap();
    assert!(
        orders.contains("-- Ajouts --\nBoulangerie Martin (tenant boulangeriemartin.onmicrosoft.com)\n  +2  Microsoft 365 Business Standard  [réf. technique O365_BUSINESS_PREMIUM]"),
        "{text}"
    );
    assert!(
        orders.contains(
            "Total par licence, pour le distributeur\u{a0}:\n  +2  Microsoft 365 Business Standard"
        ),
        "{text}"
    );
    assert!(
        orders
            .find("-- Suppressions\u{a0}: à faire dès réception --")
            .unwrap()
            < orders.find("-- Ajouts --").unwrap(),
        "{text}"
    );
    assert!(text.contains("Jean <Dupont> & fils"), "{text}");
    assert!(text.contains("Ticket\u{a0}: GLPI #0001234"), "{text}");
    assert!(
        text.contains("Prend effet le\u{a0}: mardi 1er décembre 2026"),
        "{text}"
    );
    assert!(text.contains("Clôture des commandes du mois"), "{text}");
    assert!(!text.contains("licgate audit"), "{text}");
    assert!(html.contains("Jean &lt;Dupont&gt; &amp; fils"), "{html}");
    assert!(html.contains("<table width=\"720\""), "{html}");
    assert!(digest.contains("Auto-Submitted: auto-generated"));
    // Stopped: the same commands read the store.
    let status = licgate_status(std::path::Path::new(config));
    assert!(
        status.contains("synthèse          0 demande acceptée pour la prochaine, dernier créneau ")
            && !status.contains("dernier créneau jamais"),
        "{status}"
    );
    // Issue 8, item 16: the digest names the chain's head when it was
    // written, and `audit verify --records N` finds the same.
    let named = text
        .split("Empreinte du journal d'audit à l'envoi\u{a0}: ")
        .nth(1)
        .expect("the digest names the audit trail's head");
    let (hash, rest) = named.split_once(" (enregistrement n° ").unwrap();
    let records = rest.split(')').next().unwrap();
    let (_, audit) = licgate(&["audit", "verify", "--config", config, "--records", records]);
    assert!(audit.starts_with("journal d'audit intact"), "{audit}");
    assert!(
        audit.contains(&format!("après l'enregistrement {records}\u{a0}: {hash} ")),
        "{audit}"
    );
    // On demand, daemon stopped, with every request in a digest already:
    // nothing to send, nothing sent.
    let (code, _) = licgate(&["digest", "--config", config, "--send"]);
    assert_eq!(code, 0);
    let removal_id = pending
        .split("(LG-")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let (code, trail) = licgate(&[
        "audit",
        "show",
        "--format",
        "json",
        "--config",
        config,
        &format!("lg-{removal_id}"),
    ]);
    assert_eq!(code, 0, "{trail}");
    assert!(!trail.contains("digest-on-demand-"), "{trail}");
    assert!(trail.contains("\"id\": \"digest-2"), "{trail}");
    assert_eq!(stack.count(PURCHASING, "INBOX").await, 2);
}

// Issue 10: a technician answers a refusal by correcting the template in
// the quoted refusal; the answer is accepted, and its decision names the
// refused request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_answered_with_the_template_corrected_in_the_quote_is_accepted() {
    let stack = Stack::start();
    let config = stack.config("");
    let daemon = Daemon::start(&config);
    let refused = request("typo", AJOUT, "Business Standard", "");
    stack.append(GATEWAY, &refused, MONDAY_10H).await;
    eventually(Duration::from_secs(30), "the refusal", || async {
        stack.count(TECH, "INBOX").await == 1
    })
    .await;
    let refusal = stack.messages(TECH, "INBOX").await.remove(0);
    let refusal = mail_parser::MessageParser::default()
        .parse(refusal.as_bytes())
        .unwrap();
    let subject = refusal.subject().unwrap().to_owned();
    let quoted: String = refusal
        .body_text(0)
        .unwrap()
        .lines()
        .map(|line| match line.starts_with("Type de licence") {
            true => "> Type de licence : Microsoft 365 Business Standard\r\n".to_owned(),
            false => format!("> {line}\r\n"),
        })
        .collect();
    let answer = format!(
        "From: Julie Bernard <{TECH}>\r\nTo: {GATEWAY}\r\nSubject: RE: {subject}\r\n\
         Message-ID: <answer@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Corrigé.\r\n\r\nLe 16/11/2026 à 10:00, {GATEWAY} a écrit :\r\n{quoted}"
    );
    stack.append(GATEWAY, &answer, MONDAY_10H).await;
    eventually(Duration::from_secs(30), "the answer accepted", || async {
        stack.count(GATEWAY, ACCEPTED).await == 1 && stack.count(TECH, "INBOX").await == 2
    })
    .await;
    assert!(daemon.terminate());
    let (code, list) = licgate(&["audit", "list", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{list}");
    let refused_id = list
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let accepted = list.lines().nth(1).unwrap();
    assert!(accepted.contains("accepted"), "{list}");
    assert!(
        accepted.ends_with(&format!("corrige {refused_id}")),
        "{list}"
    );
}

// Issue 11: an upgrade and an annual addition wait for their requester's
// `CONFIRMER LG-…`; confirmed, they are accepted and reach purchasing's
// digest, the upgrade marked IRRÉVERSIBLE with both licences. (Received on a
// past Monday, confirmed on the Tuesday: their deadline counts from the
// decision, so it is never past while the test runs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_and_an_annual_addition_are_ordered_once_confirmed() {
    const TUESDAY: &str = "17-Nov-2026 09:00:00 +0100";
    let stack = Stack::start();
    let config = stack.config("");
    let daemon = Daemon::start(&config);
    let upgrade = request(
        "upgrade",
        "[MISE À NIVEAU] Licence Office 365 - Boulangerie Martin",
        "",
        "",
    )
    .replace(
        "Type de licence : \r\n",
        "Licence actuelle : Exchange Online (Plan 1)\r\nLicence cible : Exchange Online (Plan 2)\r\n",
    );
    let annual = request("annual", AJOUT, "Microsoft 365 Business Premium", "");
    stack.append(GATEWAY, &upgrade, MONDAY_10H).await;
    stack.append(GATEWAY, &annual, MONDAY_10H).await;
    eventually(Duration::from_secs(30), "two requests held", || async {
        stack.count(GATEWAY, "licgate/a-confirmer").await == 2
            && stack.count(TECH, "INBOX").await == 2
    })
    .await;
    let (code, digest) = licgate(&["digest", "--config", config.to_str().unwrap()]);
    assert_eq!(
        (code, digest.as_str()),
        (0, ""),
        "purchasing sees nothing held"
    );
    let held = stack.messages(TECH, "INBOX").await;
    let answer = |n: usize, from: &str, first_line: &str| {
        let subject = subject_of(&held[n]);
        let quoted: String = body_of(&held[n])
            .lines()
            .map(|l| format!("> {l}\r\n"))
            .collect();
        format!(
            "From: {from}\r\nTo: {GATEWAY}\r\nSubject: RE: {subject}\r\n\
             Message-ID: <confirm-{n}-{}@example.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             {first_line}\r\n\r\nJulie\r\n\r\nLe 16/11/2026 à 10:00, {GATEWAY} a écrit :\r\n{quoted}",
            first_line.len() + from.len()
        )
    };
    // Issue 18: an outsider who computed the reference (from the request's
    // Message-ID) confirmed it, `From:` the technician or the gateway itself.
    let id = |n: usize| {
        let subject = subject_of(&held[n]);
        subject
            .rsplit('(')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .to_owned()
    };
    let forged = format!("CONFIRMER {}", id(0));
    stack
        .append(GATEWAY, &answer(0, TECH, &forged), TUESDAY)
        .await;
    stack
        .append(GATEWAY, &answer(0, GATEWAY, &forged), TUESDAY)
        .await;
    eventually(Duration::from_secs(30), "the forgeries refused", || async {
        stack.count(TECH, "INBOX").await == 3 && stack.count(GATEWAY, QUARANTINE).await == 1
    })
    .await;
    let refusal = stack.messages(TECH, "INBOX").await.remove(2);
    assert!(subject_of(&refusal).starts_with("[REFUSÉE] "), "{refusal}");
    assert!(
        body_of(&refusal).contains("code de confirmation"),
        "{refusal}"
    );
    assert_eq!(stack.count(GATEWAY, "licgate/a-confirmer").await, 2);
    // Issue 18: another allowed sender's [ÉTAT] gave each held request's
    // reference and requester, all a forger needed.
    let question = format!(
        "From: {PURCHASING}\r\nTo: {GATEWAY}\r\n\
         Subject: [ÉTAT] Licence Office 365 - Boulangerie Martin\r\n\
         Message-ID: <question-held@example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nOù en est-on ?\r\n"
    );
    stack.append(GATEWAY, &question, TUESDAY).await;
    eventually(Duration::from_secs(30), "the answer to [ÉTAT]", || async {
        stack.count(PURCHASING, "INBOX").await == 1
    })
    .await;
    let state = body_of(&stack.messages(PURCHASING, "INBOX").await.remove(0));
    assert!(state.contains("En attente de confirmation"), "{state}");
    assert!(
        state.contains("demandée par un autre technicien"),
        "{state}"
    );
    assert!(!state.contains(TECH), "{state}");
    assert!(
        !state.contains(&id(0)) && !state.contains(&id(1)),
        "{state}"
    );
    for (n, mail) in held.iter().enumerate() {
        let body = body_of(mail);
        let command = body
            .lines()
            .find(|l| l.starts_with("CONFIRMER LG-"))
            .expect("the held reply gives the line to answer with");
        assert_eq!(
            command.split(' ').count(),
            3,
            "reference and code: {command}"
        );
        stack
            .append(GATEWAY, &answer(n, TECH, command), TUESDAY)
            .await;
    }
    eventually(Duration::from_secs(30), "both confirmed", || async {
        let messages = stack.messages(TECH, "INBOX").await;
        messages
            .iter()
            .filter(|m| subject_of(m).starts_with("[ACCEPTÉE] "))
            .count()
            == 2
    })
    .await;
    assert!(daemon.terminate());
    let config = config.to_str().unwrap();
    let (code, digest) = licgate(&["digest", "--config", config]);
    assert_eq!(code, 0);
    let digest = digest.replace('\u{a0}', " ");
    assert!(
        digest.contains(
            "[IRRÉVERSIBLE] mise à niveau de « Exchange Online (Plan 1) » vers « Exchange Online (Plan 2) »"
        ),
        "{digest}"
    );
    assert!(digest.contains("[ANNUEL]"), "{digest}");
    assert!(
        digest.contains("Microsoft 365 Business Premium"),
        "{digest}"
    );
    let (code, ledger) = licgate(&["ledger", "--config", config, "--at", "2026-11-17"]);
    assert_eq!(code, 0);
    assert!(
        ledger.contains("Exchange Online (Plan 1)") && ledger.contains("Exchange Online (Plan 2)"),
        "{ledger}"
    );
    let (code, list) = licgate(&["audit", "list", "--config", config]);
    assert_eq!(code, 0, "{list}");
    // Each request held, then confirmed: the trail links both ways.
    let count = |what: &str| list.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count(" held "), 2, "{list}");
    assert_eq!(count(" confirme LG-"), 2, "{list}");
    assert_eq!(count(" confirmée par LG-"), 2, "{list}");
    let (code, audit) = licgate(&["audit", "verify", "--config", config]);
    assert_eq!(code, 0, "{audit}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["digest", "--config", config, "--send"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    eventually(Duration::from_secs(10), "the digest", || async {
        stack.count(PURCHASING, "INBOX").await == 2
    })
    .await;
    let sent = stack.messages(PURCHASING, "INBOX").await.remove(1);
    let text = body_of(&sent);
    assert!(text.contains("IRRÉVERSIBLE"), "{text}");
    // Sent on demand, they are out of the next scheduled digest.
    let (code, next) = licgate(&["digest", "--config", config]);
    assert_eq!((code, next.as_str()), (0, ""));
}

/// The request ids a digest mail lists (its text part).
fn listed_in(raw: &str) -> Vec<String> {
    body_of(raw)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Référence\u{a0}: "))
        .map(str::to_owned)
        .collect()
}

// Issue 18, item 3: 380 requests with long user names made a 10.9 MB
// digest; Postfix answered 552, the outbox dropped it, the requests left
// the pending set and `status` exited 0. Now the digest stays owed (its
// requests back in the next digest, status exits 1 naming it), and a
// digest cut under [digest] max-size goes through, in numbered parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_refused_as_too_big_stays_owed_then_goes_out_in_parts() {
    let stack = Stack::start();
    stack.size_limit(60_000);
    let limits = "[limits]\nreplies-per-sender-per-hour = 1000\n";
    let config = stack.config(&format!("{limits}[digest]\nmax-size = 10000000\n"));
    let config_arg = config.to_str().unwrap();
    let daemon = Daemon::start(&config);
    let long_name = "Jean \"Dupont\" ".repeat(40);
    let ids: Vec<String> = (0..30).map(|i| format!("big-{i}")).collect();
    for id in &ids {
        let mail = ajout(id).replace("Jean Dupont", &long_name);
        stack.append(GATEWAY, &mail, MONDAY_10H).await;
    }
    eventually(Duration::from_secs(60), "30 requests accepted", || async {
        stack.count(GATEWAY, ACCEPTED).await == 30
    })
    .await;
    let (code, _) = licgate(&["digest", "--config", config_arg, "--send"]);
    assert_eq!(code, 0);
    let mut status = String::new();
    eventually(
        Duration::from_secs(30),
        "status naming the refused digest",
        || {
            status = licgate_status(&config);
            let refused = status.contains("est refusée par le serveur SMTP depuis le ");
            async move { refused }
        },
    )
    .await;
    assert!(
        status.contains("PROBLÈME\u{a0}: la synthèse «\u{a0}digest-on-demand-"),
        "{status}"
    );
    assert!(status.contains("552"), "{status}");
    assert!(
        status.contains("30 demandes restent en attente, la prochaine synthèse les reprend"),
        "{status}"
    );
    assert!(status.contains("(Europe/Paris)"), "{status}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["status", "--config", config_arg])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stack.count(PURCHASING, "INBOX").await, 0);
    // The requests are pending again: the next digest lists them.
    let (code, pending) = licgate(&["digest", "--config", config_arg]);
    assert_eq!(code, 0);
    assert_eq!(
        pending.matches("Référence\u{a0}: LG-").count(),
        30,
        "{pending}"
    );
    assert!(daemon.terminate());

    // Cut under the cap, each part is taken and together they list all.
    let config = stack.config(&format!("{limits}[digest]\nmax-size = 40000\n"));
    let daemon = Daemon::start(&config);
    let socket = stack.run.join("store/licgate.sock");
    eventually(Duration::from_secs(10), "the daemon answering", || async {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    })
    .await;
    // The running daemon sends it with its own secrets: the command needs
    // none (issue 18, low item: it read the IMAP and SMTP passwords).
    std::fs::remove_file(stack.run.join("gateway-password")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["digest", "--config", config_arg, "--send"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("synthèse de 30 demandes en ")
            && said.contains(
                " parties mise en file pour achats@example.test\u{a0}: le démon l'envoie"
            ),
        "{said}"
    );
    eventually(Duration::from_secs(30), "every part delivered", || async {
        let parts = stack.messages(PURCHASING, "INBOX").await;
        parts.iter().map(|p| listed_in(p).len()).sum::<usize>() >= 30
    })
    .await;
    let parts = stack.messages(PURCHASING, "INBOX").await;
    let of = parts.len();
    assert!(of > 1, "{of} part");
    let mut listed: Vec<String> = parts.iter().flat_map(|p| listed_in(p)).collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), 30, "every request once");
    for part in &parts {
        assert!(part.len() < 60_000);
        assert!(
            subject_of(part).contains(&format!(" sur {of})")),
            "{}",
            subject_of(part)
        );
    }
    eventually(Duration::from_secs(10), "nothing owed any more", || {
        let status = licgate_status(&config);
        async move { !status.contains("refusée par le serveur SMTP") }
    })
    .await;
    assert!(daemon.terminate());
}
