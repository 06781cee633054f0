//! The outbox: sends queued mails through an [`Outbound`] (the SMTP server,
//! or a fake in tests), a few at once, oldest first, each with its own
//! retries; pauses all sending while the server refuses the gateway itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::*;

/// Sends the queued replies, a few at once, oldest first.
///
/// A reply the server refused for good leaves the outbox (recorded); one
/// that failed for now waits its own backoff, so fresh replies go out
/// around it; a server that refuses the gateway itself (its login, or its
/// right to send as its address) pauses all sending, since every reply
/// would fail alike: one reply at a time then tries again, so a wrong
/// password costs one failed login per try, and `licgate status` says why.
pub(super) async fn outbox_loop(
    shared: Shared,
    sender: impl Outbound,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // Replies that failed for now: attempts so far, and when to try again.
    let mut retries: HashMap<u64, (u32, Instant)> = HashMap::new();
    let mut login_backoff = Duration::from_secs(1);
    // While paused, the reply tried last: the next try takes the one after
    // it, so no single reply can keep sending paused.
    let mut last_tried: Option<u64> = None;
    while !*stop.borrow() {
        let now = Instant::now();
        let due = |id: u64| retries.get(&id).is_none_or(|(_, at)| *at <= now);
        let queued = match (shared.outbox_paused().is_some(), last_tried) {
            (false, _) => shared.store.outbox_due(REPLIES_IN_FLIGHT, due)?,
            (true, Some(last)) => {
                let next = shared.store.outbox_due(1, |id| id > last && due(id))?;
                if next.is_empty() {
                    shared.store.outbox_due(1, due)?
                } else {
                    next
                }
            }
            (true, None) => shared.store.outbox_due(1, due)?,
        };
        last_tried = queued.last().map(|(id, _)| *id);
        if queued.is_empty() {
            let next_retry = retries.values().map(|(_, at)| *at).min();
            let wait = next_retry
                .map_or(Duration::from_secs(5), |at| {
                    at.saturating_duration_since(now)
                })
                .min(Duration::from_secs(5));
            tokio::select! {
                _ = shared.outbox_ready.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(stop.clone()) => {}
            }
            continue;
        }
        // NOTE: the SMTP server syncs each message to disk before accepting
        // it; sending a few at once over several connections hides that wait.
        let results = futures::future::join_all(queued.iter().map(|(_, item)| {
            sender.send(OutgoingMail {
                from: &item.from,
                to: &item.to,
                message: item.message.as_bytes(),
            })
        }))
        .await;
        let mut login_refused = None;
        for ((id, item), result) in queued.iter().zip(results) {
            let Err(err) = result else {
                retries.remove(id);
                shared.store.reply_sent(*id, item, Timestamp::now())?;
                info!(request_id = %item.request_id, to = ?item.to, "reply sent");
                continue;
            };
            let reason = err.reason;
            match err.failure {
                Failure::Refused => {
                    retries.remove(id);
                    error!(request_id = %item.request_id, to = ?item.to, %reason, "reply refused by the SMTP server: not sent, recorded");
                    shared
                        .store
                        .reply_refused(*id, item, Timestamp::now(), reason)?;
                }
                Failure::Gateway => login_refused = Some(reason),
                Failure::Temporary => {
                    let attempts = retries.get(id).map_or(0, |(n, _)| *n) + 1;
                    let wait = retry_delay(attempts);
                    retries.insert(*id, (attempts, Instant::now() + wait));
                    warn!(request_id = %item.request_id, cause = %reason, retry_in = ?wait, "reply not sent yet");
                }
            }
        }
        if let Some(reason) = login_refused {
            error!(%reason, retry_in = ?login_backoff, "the SMTP server refuses the gateway itself: sending paused");
            *shared.outbox_paused() = Some(reason);
            write_status(&shared);
            if !pause(login_backoff, &stop).await {
                break;
            }
            login_backoff = (login_backoff * 2).min(MAX_BACKOFF);
        } else if shared.outbox_paused().take().is_some() {
            info!("the SMTP server accepts the gateway again: sending resumed");
            login_backoff = Duration::from_secs(1);
        }
    }
    Ok(())
}

/// How long a reply that failed `attempts` times for now waits: 2 s, 4 s,
/// 8 s… up to [`MAX_BACKOFF`].
fn retry_delay(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(9)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_that_fails_for_now_waits_longer_each_time_up_to_five_minutes() {
        let delays: Vec<u64> = [1, 2, 3, 8, 9, 40]
            .map(|n| retry_delay(n).as_secs())
            .to_vec();
        assert_eq!(delays, [2, 4, 8, 256, 300, 300]);
    }
}
