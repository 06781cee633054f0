//! The probe: a mail that might cost more than its size (large, holding a
//! nested message, or in hand when the process died) is first judged by a
//! separate `licgate check` process, bounded in time and memory.

use std::time::Duration;

use super::*;

/// Mails larger than this are judged first by a probe process: a real
/// request is a few kilobytes, and a larger mail could cost more than its
/// size in ways no scan of its bytes foresees (mail-parser's own costs).
pub(super) const PROBE_ABOVE: usize = 256 * 1024;

/// Longest a probe may take: a mail within the limits takes well under a
/// second (`cargo bench --bench hostile`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Address space a probe may use: what judging a mail within the limits
/// needs (under 200 MB, `cargo bench --bench hostile`) and the program's
/// own mappings, with room to spare.
const PROBE_MEMORY: u64 = 256 * 1024 * 1024 + judge::JUDGEMENT_STACK as u64;

/// Judges `raw` in a separate `licgate check` process with the daemon's
/// rules and limits, bounded in time and memory; gives how that process
/// failed, if it did: it crashed, ran out of memory, or hung. Such a mail
/// would cost the daemon as much; it is quarantined unread.
pub(super) async fn probe(config: &Config, raw: &[u8]) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    // NOTE: the daemon runs as `licgate run`: its own executable is licgate.
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => return Some(format!("no probe could be started ({err})")),
    };
    let limits = &config.limits;
    let mut child = tokio::process::Command::new(program);
    child
        .arg("check")
        .arg("--rules")
        .arg(&config.rules)
        .arg("--max-size")
        .arg(limits.max_message_size.to_string())
        .arg("--max-mime-parts")
        .arg(limits.max_mime_parts.to_string())
        .arg("--max-quantity")
        .arg(limits.max_quantity.to_string())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    // SAFETY: setrlimit(2) is async-signal-safe; nothing else runs here.
    let child = unsafe {
        child.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: PROBE_MEMORY,
                rlim_max: PROBE_MEMORY,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
    .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => return Some(format!("no probe could be started ({err})")),
    };
    let mut stdin = child.stdin.take()?;
    let judged = tokio::time::timeout(PROBE_TIMEOUT, async {
        // A probe that dies while reading its input closes the pipe: its
        // exit status says why.
        let _ = stdin.write_all(raw).await;
        drop(stdin);
        child.wait().await
    })
    .await;
    match judged {
        Ok(Ok(status)) if status.code().is_some() => None,
        Ok(Ok(status)) => Some(format!(
            "the judgement crashed a probe process, or took more than {} MiB ({status})",
            (PROBE_MEMORY as usize - judge::JUDGEMENT_STACK) >> 20
        )),
        Ok(Err(err)) => Some(format!("the probe process could not be watched ({err})")),
        Err(_) => Some(format!(
            "the judgement took more than {PROBE_TIMEOUT:?} in a probe process"
        )),
    }
}
