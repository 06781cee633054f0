//! Figures of the daemon against the real mail stack (tests/mailstack, root
//! needed): time from a mail's delivery to its reply in the technician's
//! mailbox (IDLE on), time to work through a backlog of 5,000 mails, the
//! daemon's resident memory while idle with 10,000 decisions stored, and an
//! on-demand digest of those 10,000 accepted requests; then what Postfix
//! itself delivers on this machine (`smtp-source`, as many sessions as the
//! outbox sends at once), to compare the replies' throughput with.
//!
//! Run: `cargo bench --bench daemon`. Each figure is printed with its goal.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Appends `count` requests to the gateway's INBOX in one IMAP session.
async fn backlog(stack: &Stack, prefix: &str, count: usize) {
    let mails = (0..count).map(|i| ajout(&format!("{prefix}-{i}")));
    stack.append_all(GATEWAY, mails, MONDAY_10H).await;
}

/// Waits until `folder` holds at least `count` mails.
async fn wait_for(
    stack: &Stack,
    user: &str,
    folder: &str,
    count: u32,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    while stack.count(user, folder).await < count {
        assert!(
            started.elapsed() < limit,
            "{user} {folder}: fewer than {count} mails after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Waits until `folder` is empty.
async fn wait_empty(stack: &Stack, user: &str, folder: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while stack.count(user, folder).await > 0 {
        assert!(
            started.elapsed() < limit,
            "{user} {folder}: not empty after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let stack = Stack::start();
    let config = stack.config("[limits]\nreplies-per-sender-per-hour = 100000\n");

    // 1. Delivery to reply, one mail at a time, IDLE on.
    let daemon = Daemon::start(&config);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut latencies = Vec::new();
    let mut tech = stack.imap(TECH).await;
    for i in 0..50u32 {
        let started = Instant::now();
        let mail = ajout(&format!("latency-{i}"));
        stack.send(TECH, &[GATEWAY], &mail).await;
        loop {
            let status = tech.status("INBOX", "(MESSAGES)").await.unwrap();
            if status.exists > i {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no reply to mail {i}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(started.elapsed());
    }
    tech.logout().await.unwrap();
    latencies.sort();
    println!("licgate daemon against Dovecot + Postfix on loopback");
    println!(
        "delivery -> reply received (50 mails, IDLE): median {:.0} ms, p99 {:.0} ms, max {:.0} ms (goal: p99 < 500 ms)",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    assert!(daemon.terminate());

    // 2. A backlog of 5,000 mails waiting when the daemon starts.
    let size: u32 = std::env::var("LICGATE_BENCH_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    backlog(&stack, "backlog", size as usize).await;
    let started = Instant::now();
    let daemon = Daemon::start(&config);
    wait_empty(&stack, GATEWAY, "INBOX", Duration::from_secs(600)).await;
    let decided = started.elapsed();
    wait_for(&stack, TECH, "INBOX", 50 + size, Duration::from_secs(600)).await;
    let answered = started.elapsed();
    println!(
        "backlog of {size} mails: all decided and filed in {:.1} s ({:.0} mails/s), all replies delivered in {:.1} s (goals for 5,000: < 5 s, < 20 s)",
        decided.as_secs_f64(),
        f64::from(size) / decided.as_secs_f64(),
        answered.as_secs_f64()
    );

    // 3. Resident memory while idle, with 10,000 decisions stored.
    let more = 10000 - 50 - size;
    backlog(&stack, "more", more as usize).await;
    wait_empty(&stack, GATEWAY, "INBOX", Duration::from_secs(600)).await;
    wait_for(&stack, TECH, "INBOX", 10000, Duration::from_secs(600)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "resident memory, idle, 10,000 decisions stored, after deciding them: {:.1} MiB (goal: < 30 MiB)",
        resident_kib(daemon.pid()) as f64 / 1024.0
    );
    assert!(daemon.terminate());
    let daemon = Daemon::start(&config);
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "resident memory, idle, 10,000 decisions stored, after a restart: {:.1} MiB (goal: < 20 MiB)",
        resident_kib(daemon.pid()) as f64 / 1024.0
    );

    // 4. `licgate digest` of the 10,000 accepted requests, answered by the
    // running daemon over its socket.
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(["digest", "--html", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success());
    let elapsed = started.elapsed();
    let right_after = resident_kib(daemon.pid());
    tokio::time::sleep(Duration::from_secs(6)).await;
    println!(
        "licgate digest of 10,000 accepted requests (via the daemon): {:.2} s (goal: < 0.5 s), {:.1} MiB of HTML; daemon resident memory right after: {:.1} MiB, idle 6 s later: {:.1} MiB",
        elapsed.as_secs_f64(),
        output.stdout.len() as f64 / 1048576.0,
        right_after as f64 / 1024.0,
        resident_kib(daemon.pid()) as f64 / 1024.0
    );
    assert!(daemon.terminate());

    // 5. Postfix alone: as many mails as the backlog's replies, of their
    // size, sent by `smtp-source` over as many sessions as the outbox uses,
    // until all are in the technician's mailbox.
    let reply_size = stack.messages(TECH, "INBOX").await[0].len();
    let already = stack.count(TECH, "INBOX").await;
    let started = Instant::now();
    let sent = std::process::Command::new("smtp-source")
        .args([
            "-s",
            "8",
            "-m",
            &size.to_string(),
            "-l",
            &reply_size.to_string(),
        ])
        .args(["-f", GATEWAY, "-t", TECH, "-c"])
        .arg(format!("127.0.0.1:{}", stack.smtp_port))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("smtp-source (package postfix) runs");
    assert!(sent.success());
    wait_for(
        &stack,
        TECH,
        "INBOX",
        already + size,
        Duration::from_secs(600),
    )
    .await;
    println!(
        "Postfix alone (smtp-source, 8 sessions, {size} mails of {reply_size} bytes): all delivered in {:.1} s, the floor of the replies' figure above",
        started.elapsed().as_secs_f64()
    );
}
