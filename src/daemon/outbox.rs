//! The outbox: sends queued mails through an [`Outbound`] (the SMTP server,
//! or a fake in tests), a few at once, oldest first, each with its own
//! retries; pauses all sending while the server refuses the gateway itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::*;

/// Sends the queued replies, a few at once, oldest first.
///
/// A reply the server refused for good leaves the outbox (recorded), but a
/// mail of licgate's own stays owed ([`Store::own_refused`]); one that
/// failed for now waits its own backoff, so fresh replies go out
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
        let sender = &sender;
        let mut sending: futures::stream::FuturesUnordered<_> = queued
            .iter()
            .map(|(id, item)| async move {
                let mail = OutgoingMail {
                    from: &item.from,
                    to: &item.to,
                    message: item.message.as_bytes(),
                };
                ((id, item), sender.send(mail).await)
            })
            .collect();
        let mut login_refused = None;
        // NOTE: each reply is recorded as soon as the server took it, with
        // those it took meanwhile, then flushed once (one fsync per group):
        // a kill -9 after that can no longer send one of them again (issue
        // 18, item 7). Recorded only once the slowest of the batch was
        // taken, a whole batch was sent again. What remains is SMTP's own
        // window (RFC 1047): the server queues a mail once it has its last
        // line, before the gateway reads its answer; killed in between,
        // the gateway sends it again.
        while let Some(first) = sending.next().await {
            let mut done = vec![first];
            while let Some(Some(more)) = sending.next().now_or_never() {
                done.push(more);
            }
            let mut taken = Vec::new();
            for ((id, item), result) in done {
                let Err(err) = result else {
                    retries.remove(id);
                    shared.store.reply_sent(*id, item, Timestamp::now())?;
                    taken.push(item);
                    continue;
                };
                let reason = err.reason;
                match err.failure {
                    // NOTE: licgate's own mails are never dropped (issue 18,
                    // item 3): a digest's requests go back to the next digest
                    // (cut under [digest] max-size), a notice waits its turn
                    // again, and `licgate status` names the mail until a mail
                    // the server takes carries what it carried.
                    Failure::Refused if item.own.is_some() => {
                        error!(id = %item.request_id, to = ?item.to, %reason, "courriel de licgate refusé par le serveur SMTP : toujours dû");
                        let kept = shared
                            .store
                            .own_refused(*id, item, Timestamp::now(), reason)
                            .await?;
                        if kept {
                            retries.insert(*id, (9, Instant::now() + MAX_BACKOFF));
                        } else {
                            retries.remove(id);
                        }
                    }
                    Failure::Refused => {
                        retries.remove(id);
                        error!(request_id = %item.request_id, to = ?item.to, %reason, "réponse refusée par le serveur SMTP : non envoyée, enregistrée");
                        shared
                            .store
                            .reply_refused(*id, item, Timestamp::now(), reason)?;
                    }
                    Failure::Gateway => login_refused = Some(reason),
                    Failure::Temporary => {
                        let attempts = retries.get(id).map_or(0, |(n, _)| *n) + 1;
                        let wait = retry_delay(attempts);
                        retries.insert(*id, (attempts, Instant::now() + wait));
                        warn!(request_id = %item.request_id, cause = %reason, retry_in = ?wait, "réponse pas encore envoyée");
                    }
                }
            }
            if !taken.is_empty() {
                shared.store.flush().await?;
            }
            // Logged once recorded for good: a reply logged as sent is
            // never sent again, whatever kills the process.
            for item in taken {
                info!(request_id = %item.request_id, to = ?item.to, "réponse envoyée");
            }
        }
        if let Some(reason) = login_refused {
            error!(%reason, retry_in = ?login_backoff, "le serveur SMTP refuse la passerelle elle-même : envoi suspendu");
            *shared.outbox_paused() = Some(reason);
            write_status(&shared, None);
            if !pause(login_backoff, &stop).await {
                break;
            }
            login_backoff = (login_backoff * 2).min(MAX_BACKOFF);
        } else if shared.outbox_paused().take().is_some() {
            info!("le serveur SMTP accepte de nouveau la passerelle : envoi repris");
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

    use crate::net::{Failure, SendError};
    use crate::records::audit::Event;
    use crate::records::fixture;
    use crate::store::Decided;
    use std::sync::Mutex;

    /// An SMTP server in memory: answers each recipient as told (accepts
    /// anyone else), and remembers what it took.
    #[derive(Default)]
    struct FakeOutbound {
        /// recipient -> the failures it answers, one per try, then success.
        answers: Mutex<HashMap<String, Vec<Failure>>>,
        /// Recipients of the mails taken, in order.
        taken: Mutex<Vec<String>>,
    }

    impl Outbound for FakeOutbound {
        async fn send(&self, mail: OutgoingMail<'_>) -> Result<(), SendError> {
            let to = mail.to[0].clone();
            let failure = self
                .answers
                .lock()
                .unwrap()
                .get_mut(&to)
                .and_then(|answers| (!answers.is_empty()).then(|| answers.remove(0)));
            match failure {
                Some(failure) => Err(SendError {
                    failure,
                    reason: format!("{failure:?} for {to}"),
                }),
                None => {
                    self.taken.lock().unwrap().push(to);
                    Ok(())
                }
            }
        }
    }

    /// A daemon's shared state over a fresh store holding one queued reply
    /// per recipient.
    async fn shared_with_replies(recipients: &[&str]) -> Shared {
        let config = crate::config::fixture::example();
        let store = Store::open(&config.store).unwrap();
        for (n, to) in recipients.iter().enumerate() {
            let id = format!("LG-{n:010}");
            let decision = fixture::accepted(&id, "2026-11-23T09:00:00Z", "Garage", "E1", 1);
            let reply = OutboxItem {
                request_id: id,
                from: config.from.clone(),
                to: vec![to.to_string()],
                message: "Subject: x\r\n\r\nx\r\n".into(),
                queued_at: decision.decided_at,
                own: None,
            };
            let decided = Decided {
                decision,
                raw: vec![],
                reply: Some(reply),
                notice: None,
            };
            store.record(&[decided], &[]).await.unwrap();
        }
        let rules = Rules::load(&config.rules).unwrap();
        Shared::new(config, store, rules)
    }

    /// Runs the outbox until `done` holds (checked every 10 ms, 10 s at most).
    async fn run_until(shared: &Shared, outbound: FakeOutbound, done: impl Fn(&Shared) -> bool) {
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(outbox_loop(shared.clone(), outbound, stop));
        let start = Instant::now();
        while !done(shared) {
            assert!(start.elapsed() < Duration::from_secs(10), "outbox stuck");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
    }

    fn events(shared: &Shared) -> Vec<Event> {
        shared
            .store
            .audit_records()
            .map(|r| r.unwrap().event)
            .filter(|e| !matches!(e, Event::Decision { .. }))
            .collect()
    }

    #[tokio::test]
    async fn sent_and_refused_replies_leave_the_outbox_recorded_and_a_delayed_one_waits() {
        let shared =
            shared_with_replies(&["a@x.example", "refused@x.example", "later@x.example"]).await;
        let outbound = FakeOutbound::default();
        outbound.answers.lock().unwrap().extend([
            ("refused@x.example".to_owned(), vec![Failure::Refused]),
            ("later@x.example".to_owned(), vec![Failure::Temporary]),
        ]);
        run_until(&shared, outbound, |shared| shared.store.outbox_len() == 1).await;
        let events = events(&shared);
        assert!(
            matches!(&events[..], [Event::ReplySent { to, .. }, Event::ReplyRefused { reason, .. }]
            if to[0] == "a@x.example" && reason.contains("Refused")),
            "{events:?}"
        );
        let left = shared.store.outbox_oldest(5).unwrap();
        assert_eq!(left[0].1.to, ["later@x.example"], "kept for a later try");
        assert!(shared.outbox_paused().is_none());
    }

    #[tokio::test]
    async fn a_server_that_refuses_the_gateway_pauses_sending_until_it_accepts_again() {
        let shared = shared_with_replies(&["a@x.example", "b@x.example"]).await;
        let outbound = FakeOutbound::default();
        outbound.answers.lock().unwrap().extend([
            ("a@x.example".to_owned(), vec![Failure::Gateway]),
            ("b@x.example".to_owned(), vec![Failure::Gateway]),
        ]);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(outbox_loop(shared.clone(), outbound, stop));
        let start = Instant::now();
        while shared.outbox_paused().is_none() {
            assert!(start.elapsed() < Duration::from_secs(5), "never paused");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            shared
                .outbox_paused()
                .as_deref()
                .unwrap()
                .contains("Gateway")
        );
        // After one pause, each reply was tried once and failed: the next
        // tries succeed, and sending resumes.
        while shared.store.outbox_len() > 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "never resumed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        while shared.outbox_paused().is_some() {
            assert!(start.elapsed() < Duration::from_secs(10), "still paused");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        assert_eq!(events(&shared).len(), 2);
    }
}
