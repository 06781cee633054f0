//! What the daemon sends on its own: the digest of accepted requests at its
//! scheduled times, the month's reminder, the notice of an accepted removal,
//! the notice closing a held request not confirmed in time; and the history
//! of accepted and held requests the judgement compares against.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::*;
use crate::compose;
use crate::records::Accepted;

/// Reads the accepted and held requests from the store into the history.
///
/// Only those received since the 1st of the month before the latest one: a
/// duplicate is a removal still pending (received the same month) or an
/// addition of the same month, so older ones would only make the daemon grow
/// year after year. (Anchored on the latest request rather than the clock,
/// like the judgement, which goes by reception times.)
pub(super) fn load_history(shared: &Shared) -> anyhow::Result<()> {
    let calendar = shared.rules().calendar.clone();
    let mut latest = None;
    for accepted in shared.store.accepted() {
        latest = latest.max(Some(accepted?.received_at));
    }
    let Some(latest) = latest else {
        shared.history().clear();
        return Ok(());
    };
    let since = ledger::duplicates_window(latest, &calendar)?;
    let mut movements = shared.store.accepted_movements(&calendar, since)?;
    // NOTE: a held request counts as a duplicate like an accepted one.
    let held = shared.store.held()?;
    let mut held = ledger::movements(held.iter().map(Accepted::of_held), &calendar);
    held.iter_mut().for_each(|m| m.held = true);
    movements.extend(held);
    movements.sort_by_key(|m| m.received_at);
    movements.shrink_to_fit();
    *shared.history() = movements;
    Ok(())
}

/// Adds an accepted or held decision to the history (kept in reception
/// order), so that the rest of the batch is judged against it; gives the
/// movement of an accepted removal (for its notice).
pub(super) fn remember(shared: &Shared, decision: &Decision) -> Option<Movement> {
    let accepted =
        Accepted::of(decision).or_else(|| decision.held().as_ref().map(Accepted::of_held))?;
    let is_removal = decision.outcome == Outcome::Accepted
        && accepted.request.action == Some(crate::judge::Action::Suppression);
    let is_held = decision.outcome == Outcome::Held;
    let movements = ledger::movements([accepted], &shared.rules().calendar);
    let mut history = shared.history();
    let mut removal = None;
    for mut movement in movements {
        movement.held = is_held;
        let position = history.partition_point(|m| m.received_at <= movement.received_at);
        movement.cancellable = ledger::cancellable(&history[..position], &movement);
        if is_removal {
            removal = Some(movement.clone());
        }
        history.insert(position, movement);
    }
    removal
}

/// How long after its reception time a mail may still be missing from a
/// listing of the mailbox: the server dates it when it takes it, and shows
/// it once delivered (35 ms on Dovecot; Exchange Online's delivery takes
/// seconds).
const DELIVERY_LAG: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

/// Closes each held request whose deadline passed before `now`, with a
/// notice to its requester; once each, whatever restarts (see
/// [`Store::expire`]). Gives how many were closed.
///
/// Only once the mailbox was read after the deadline: a confirmation
/// received in time but still in the mailbox (the daemon stopped, the
/// server away, a backlog) is judged first, on its reception time. The
/// last poll is dated by its listing (every mail listed is judged before it
/// is stored), and must be [`DELIVERY_LAG`] past the deadline.
pub(super) async fn expire_held(shared: &Shared, now: Timestamp) -> anyhow::Result<usize> {
    let calendar = shared.rules().calendar.clone();
    let last_poll = shared.store.last_poll()?;
    let mut closed = 0;
    for held in shared.store.held()? {
        let read_since = last_poll.is_some_and(|poll| poll > held.confirm_before + DELIVERY_LAG);
        if held.confirm_before > now || !read_since {
            continue;
        }
        let Some(decision) = shared.store.decision(&held.request_id)? else {
            warn!(request_id = %held.request_id, "demande en attente sans décision : laissée en attente");
            continue;
        };
        let Some(verdict) = &decision.verdict else {
            warn!(request_id = %held.request_id, "demande en attente sans verdict : laissée en attente");
            continue;
        };
        let notice = judge::expiry_notice(verdict, held.confirm_before, &calendar);
        let message_id = verdict.message_id.as_deref();
        let addressing = compose::Addressing {
            from: &shared.config.from,
            to: &held.requester,
            cc: &[],
            request_id: &format!("{}.expired", held.request_id),
            in_reply_to: message_id,
            references: &[],
            date: now,
            contact: shared.config.purchasing.contact.as_deref(),
        };
        let item = addressing.to_outbox(&notice)?;
        if shared
            .store
            .expire(&held.request_id, now, &calendar, &item)
            .await?
        {
            info!(request_id = %held.request_id, requester = %held.requester, "demande en attente non confirmée à temps : close, demandeur prévenu");
            closed += 1;
        }
    }
    if closed > 0 {
        load_history(shared)?;
    }
    Ok(closed)
}

/// The notice to purchasing of an accepted removal, when the config asks for it.
pub(super) fn removal_notice(
    shared: &Shared,
    decision: &Decision,
    movement: &Movement,
    now: Timestamp,
) -> anyhow::Result<Option<OutboxItem>> {
    let purchasing = &shared.config.purchasing;
    if movement.quantity >= 0 || !purchasing.removal_notice || purchasing.to.is_empty() {
        return Ok(None);
    }
    let rules = shared.rules();
    let Some(mut item) = digest::Item::from_decision(decision, &rules) else {
        return Ok(None);
    };
    item.cancels = query::Movements::new(&shared.history()).cancels(&movement.request_id);
    let notice = Digest::new(Kind::RemovalNotice, vec![item], now, &rules.calendar);
    drop(rules);
    let letter = Letter {
        from: &shared.config.from,
        to: &purchasing.to,
        cc: &purchasing.cc,
        id: &format!("{}.notice", decision.request_id),
        date: now,
        subject: notice.subject(),
        text: notice.to_text(),
        html: Some(notice.to_html()),
    };
    Ok(Some(letter.to_outbox(Vec::new())?))
}

/// Queues the scheduled mails due at `now` that are not done yet: the digest
/// of the last slot (with every accepted request not in a digest yet;
/// nothing for an empty period) and the month's reminder. Gives the ids queued.
pub async fn send_scheduled(
    store: &Store,
    config: &Config,
    rules: &Rules,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let calendar = &rules.calendar;
    let mut queued_ids = Vec::new();
    let slot = config.digest.latest(calendar, now);
    let done = store
        .mark("digest")?
        .and_then(|m| m.parse::<Timestamp>().ok());
    if let Some(slot) = slot.filter(|s| done.is_none_or(|d| d < *s))
        && !config.purchasing.to.is_empty()
    {
        let pending = store.undigested()?;
        let ids: Vec<String> = pending.iter().map(|(_, id)| id.clone()).collect();
        let items = query::digest_items(store, rules, &ids)?;
        let mails = if items.is_empty() {
            Vec::new()
        } else {
            let mut digest = Digest::new(Kind::Digest, items, slot, calendar);
            digest.chain_head = Some(store.audit_head()?);
            let local = slot.to_zoned(calendar.time_zone.clone());
            let id = format!("digest-{}", local.strftime("%Y%m%d-%H%M%S"));
            config.mailing().digest_mails(digest, &id, now)?
        };
        store
            .scheduled("digest", &slot.to_string(), &pending, &mails)
            .await?;
        if mails.is_empty() {
            info!(%slot, "rien d'accepté depuis la dernière synthèse : aucune envoyée");
        }
        for item in &mails {
            info!(id = %item.request_id, parts = mails.len(), requests = pending.len(), "synthèse mise en file d'envoi");
            queued_ids.push(item.request_id.clone());
        }
    }
    if let Some(reminder) = &config.reminder
        && let Some(day) = digest::reminder_due(calendar, reminder.time, now)
    {
        let month = day.strftime("%Y-%m").to_string();
        if store.mark("reminder")?.as_deref() != Some(month.as_str()) {
            let (subject, text) = digest::reminder(calendar, day);
            let letter = Letter {
                from: &config.from,
                to: &reminder.to,
                cc: &[],
                id: &format!("reminder-{month}"),
                date: now,
                subject,
                text,
                html: None,
            };
            let item = letter.to_outbox(Vec::new())?;
            store
                .scheduled("reminder", &month, &[], std::slice::from_ref(&item))
                .await?;
            info!(id = %item.request_id, "rappel de fin de mois mis en file d'envoi");
            queued_ids.push(item.request_id);
        }
    }
    Ok(queued_ids)
}

/// Queues the digest and the reminder when they fall due.
pub(super) async fn schedule_loop(shared: Shared, stop: watch::Receiver<bool>) {
    loop {
        let now = Timestamp::now();
        let rules = shared.rules().clone();
        let calendar = &rules.calendar;
        match send_scheduled(&shared.store, &shared.config, &rules, now).await {
            Ok(ids) if !ids.is_empty() => shared.outbox_ready.notify_one(),
            Ok(_) => {}
            Err(err) => {
                error!(cause = %format!("{err:#}"), "courriel planifié non mis en file d'envoi")
            }
        }
        match expire_held(&shared, now).await {
            Ok(0) => {}
            Ok(_) => shared.outbox_ready.notify_one(),
            Err(err) => error!(cause = %format!("{err:#}"), "demandes en attente non expirées"),
        }
        // Wake at the next slot, and at least each minute for the reminder
        // and clock changes.
        let wait = shared
            .config
            .digest
            .next(calendar, now)
            .and_then(|next| Duration::try_from(next.duration_since(now)).ok())
            .map_or(SCHEDULE_CHECK, |wait| wait.min(SCHEDULE_CHECK))
            + Duration::from_millis(10);
        if !pause(wait, &stop).await {
            return;
        }
    }
}
