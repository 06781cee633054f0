//! Health of the daemon: last successful poll, outbox depth and age, and
//! today's decisions. The daemon writes it to a file beside its store (sled
//! allows one process only) for `licgate status`, and serves it to Prometheus
//! when `[metrics] listen` is set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Store;
use crate::judge::Outcome;

/// A snapshot of the daemon's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When this snapshot was taken.
    pub updated_at: Timestamp,
    /// Last time the mailbox was looked at successfully.
    pub last_poll: Option<Timestamp>,
    /// Replies waiting to be sent.
    pub outbox_depth: usize,
    /// When the oldest waiting reply was queued.
    pub oldest_queued: Option<Timestamp>,
    /// Decisions of the current UTC day, in the order of [`Outcome::ALL`].
    pub today: Vec<u32>,
    /// Accepted requests waiting for the next digest.
    #[serde(default)]
    pub awaiting_digest: u64,
    /// The last digest slot done (sent, or nothing to send).
    #[serde(default)]
    pub last_digest: Option<Timestamp>,
    /// Why sending is paused: the SMTP server refuses the gateway itself.
    #[serde(default)]
    pub outbox_paused: Option<String>,
}

impl Status {
    /// Reads the figures from the store.
    pub fn collect(store: &Store, now: Timestamp) -> anyhow::Result<Status> {
        let today = Outcome::ALL
            .iter()
            .map(|outcome| store.decided_on(now, *outcome))
            .collect::<anyhow::Result<_>>()?;
        Ok(Status {
            updated_at: now,
            last_poll: store.last_poll()?,
            outbox_depth: store.outbox_len(),
            oldest_queued: store
                .outbox_oldest(1)?
                .first()
                .map(|(_, item)| item.queued_at),
            today,
            awaiting_digest: store.undigested_len()?,
            last_digest: store.mark("digest")?.and_then(|m| m.parse().ok()),
            outbox_paused: None,
        })
    }

    /// The file the daemon keeps up to date, inside the store folder.
    pub fn file(store: &Path) -> PathBuf {
        store.join("licgate-status.json")
    }

    /// Writes the snapshot atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }

    /// Reads a snapshot written by the daemon.
    pub fn read(path: &Path) -> anyhow::Result<Status> {
        let text = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read ({e}); is the daemon running?",
                path.display()
            )
        })?;
        Ok(serde_json::from_slice(&text)?)
    }

    /// What looks wrong at `now`, for a daemon that polls every `poll_interval`.
    pub fn problems(&self, now: Timestamp, poll_interval: Duration) -> Vec<String> {
        let age = |t: Timestamp| Duration::try_from(now.duration_since(t)).unwrap_or_default();
        let mut problems = Vec::new();
        if age(self.updated_at) > Duration::from_secs(60) {
            problems.push(format!(
                "status not updated since {}: the daemon is not running",
                self.updated_at
            ));
        }
        match self.last_poll {
            Some(poll) if age(poll) > poll_interval * 3 + Duration::from_secs(60) => {
                problems.push(format!("mailbox not polled since {poll}"))
            }
            None => problems.push("the mailbox was never polled".into()),
            _ => {}
        }
        if let Some(reason) = &self.outbox_paused {
            problems.push(format!(
                "sending paused: the SMTP server refuses the gateway ({reason}); check [smtp] \
                 username, the password or token, and the right to send as [smtp] from"
            ));
        }
        if let Some(queued) = self
            .oldest_queued
            .filter(|q| age(*q) > Duration::from_secs(900))
        {
            problems.push(format!(
                "a reply has been waiting since {queued}: is the SMTP server reachable?"
            ));
        }
        problems
    }

    /// The text `licgate status` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let or_never =
            |t: Option<Timestamp>| t.map_or_else(|| "never".to_owned(), |t| t.to_string());
        let _ = writeln!(out, "updated at      {}", self.updated_at);
        let _ = writeln!(out, "last poll       {}", or_never(self.last_poll));
        let _ = writeln!(
            out,
            "outbox          {} queued, oldest {}",
            self.outbox_depth,
            or_never(self.oldest_queued)
        );
        let counts: Vec<String> = Outcome::ALL
            .iter()
            .zip(&self.today)
            .map(|(outcome, n)| format!("{outcome} {n}"))
            .collect();
        let _ = writeln!(out, "today (UTC)     {}", counts.join(", "));
        let _ = writeln!(
            out,
            "digest          {} accepted request(s) waiting, last slot {}",
            self.awaiting_digest,
            or_never(self.last_digest)
        );
        out
    }

    /// The Prometheus text exposition of the snapshot.
    pub fn prometheus(&self) -> String {
        let seconds = |t: Option<Timestamp>| t.map_or(0, |t| t.as_second());
        let today: Vec<(String, i64)> = Outcome::ALL
            .iter()
            .zip(&self.today)
            .map(|(outcome, count)| (format!("{{verdict=\"{outcome}\"}}"), i64::from(*count)))
            .collect();
        let gauges = [
            (
                "licgate_last_poll_timestamp_seconds",
                "Last successful look at the mailbox.",
                vec![(String::new(), seconds(self.last_poll))],
            ),
            (
                "licgate_outbox_depth",
                "Replies waiting to be sent.",
                vec![(String::new(), self.outbox_depth as i64)],
            ),
            (
                "licgate_outbox_oldest_timestamp_seconds",
                "When the oldest waiting reply was queued (0: none).",
                vec![(String::new(), seconds(self.oldest_queued))],
            ),
            (
                "licgate_decisions_today",
                "Decisions of the current UTC day.",
                today,
            ),
            (
                "licgate_awaiting_digest",
                "Accepted requests waiting for the next digest.",
                vec![(String::new(), self.awaiting_digest as i64)],
            ),
        ];
        let mut out = String::new();
        for (name, help, samples) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_exposition() {
        let status = Status {
            updated_at: "2026-11-23T09:00:05Z".parse().unwrap(),
            last_poll: Some("2026-11-23T09:00:00Z".parse().unwrap()),
            outbox_depth: 2,
            oldest_queued: None,
            today: vec![5, 1, 0, 3, 2],
            awaiting_digest: 4,
            last_digest: None,
            outbox_paused: None,
        };
        assert_eq!(
            status.prometheus(),
            "# HELP licgate_last_poll_timestamp_seconds Last successful look at the mailbox.\n\
             # TYPE licgate_last_poll_timestamp_seconds gauge\n\
             licgate_last_poll_timestamp_seconds 1795424400\n\
             # HELP licgate_outbox_depth Replies waiting to be sent.\n\
             # TYPE licgate_outbox_depth gauge\n\
             licgate_outbox_depth 2\n\
             # HELP licgate_outbox_oldest_timestamp_seconds When the oldest waiting reply was queued (0: none).\n\
             # TYPE licgate_outbox_oldest_timestamp_seconds gauge\n\
             licgate_outbox_oldest_timestamp_seconds 0\n\
             # HELP licgate_decisions_today Decisions of the current UTC day.\n\
             # TYPE licgate_decisions_today gauge\n\
             licgate_decisions_today{verdict=\"accepted\"} 5\n\
             licgate_decisions_today{verdict=\"rejected\"} 1\n\
             licgate_decisions_today{verdict=\"ignored\"} 0\n\
             licgate_decisions_today{verdict=\"quarantined\"} 3\n\
             licgate_decisions_today{verdict=\"held\"} 2\n\
             # HELP licgate_awaiting_digest Accepted requests waiting for the next digest.\n\
             # TYPE licgate_awaiting_digest gauge\n\
             licgate_awaiting_digest 4\n"
        );
    }
}
