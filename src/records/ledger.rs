//! The licence ledger, pure: from the accepted requests of the audit trail,
//! per client and official licence, what changed this month, what is
//! pending, and what took effect when.
//!
//! An addition takes effect on the day it is received; a removal only on the
//! 1st of the next month (the partner console shows it after the renewal). A
//! removal that follows an accepted addition of the same client and licence
//! within 7 days can still be cancelled with a prorated refund: it is flagged
//! with its deadline. A confirmed upgrade moves its quantity from the
//! current licence to the target at once (the console shows it at once).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::Accepted;
use crate::judge::Action;
pub use crate::judge::{CANCELLATION_DAYS, Cancellable, Movement, user_keys};
use crate::rules::Calendar;

/// The movements of the accepted requests, oldest first, removals flagged
/// when cancellable. Requests are taken one at a time, in any order; only
/// the movements are kept.
pub fn movements<A: std::borrow::Borrow<Accepted>>(
    accepted: impl IntoIterator<Item = A>,
    calendar: &Calendar,
) -> Vec<Movement> {
    let mut movements: Vec<Movement> = Vec::new();
    for accepted in accepted {
        let accepted = accepted.borrow();
        let request = &accepted.request;
        let (Some(client), Some(licence), Some(quantity)) =
            (&request.client, &request.licence, request.quantity)
        else {
            continue;
        };
        let users = request.users.clone();
        let received_at = accepted.received_at;
        let received_on = received_at.to_zoned(calendar.time_zone.clone()).date();
        let movement = |licence: &str, quantity: i64, upgrade: bool| Movement {
            request_id: accepted.request_id.clone(),
            client: client.to_owned(),
            licence: licence.to_owned(),
            quantity,
            users: users.clone(),
            user_keys: user_keys(&users),
            received_at,
            received_on,
            // An upgrade shows in the console at once; a removal on the 1st.
            effective_on: if quantity < 0 && !upgrade {
                first_of_next_month(received_on)
            } else {
                received_on
            },
            cancellable: None,
            upgrade,
            held: false,
            ticket: request.ticket.clone(),
        };
        match (&request.action, &request.from_licence) {
            // An upgrade moves the quantity from one licence to the other.
            (Some(Action::MiseANiveau), Some(from)) => {
                movements.push(movement(from, -quantity.abs(), true));
                movements.push(movement(licence, quantity.abs(), true));
            }
            _ => movements.push(movement(licence, quantity, false)),
        }
    }
    movements.sort_by_key(|m| m.received_at);
    for i in 0..movements.len() {
        movements[i].cancellable = cancellable(&movements[..i], &movements[i]);
    }
    movements
}

/// For a removal: the latest addition of the same client and licence among
/// `earlier` (oldest first) whose refund window is still open when the
/// removal is received.
pub fn cancellable(earlier: &[Movement], removal: &Movement) -> Option<Cancellable> {
    if removal.quantity >= 0 || removal.upgrade {
        return None;
    }
    let window = SignedDuration::from_hours(24 * CANCELLATION_DAYS);
    earlier
        .iter()
        .rev()
        .take_while(|m| removal.received_at < m.received_at + window)
        .find(|m| {
            m.client == removal.client
                && m.licence == removal.licence
                && m.quantity > 0
                && !m.upgrade
                && !m.held
        })
        .map(|addition| Cancellable {
            addition: addition.request_id.clone(),
            until: addition.received_at + window,
        })
}

/// From when accepted requests can still make a request received at
/// `received` a duplicate: the 1st of the month before (a pending removal or
/// an addition is of the same month; one more month covers a late batch).
pub fn duplicates_window(received: Timestamp, calendar: &Calendar) -> anyhow::Result<Timestamp> {
    let month = received
        .to_zoned(calendar.time_zone.clone())
        .date()
        .first_of_month();
    let previous = month.yesterday()?.first_of_month();
    Ok(previous.to_zoned(calendar.time_zone.clone())?.timestamp())
}

fn first_of_next_month(date: Date) -> Date {
    date.last_of_month().tomorrow().expect("dates in range")
}

/// The ledger of one client and licence, as of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub client: String,
    pub licence: String,
    /// Sum of the quantities received in the month of the day.
    pub net_this_month: i64,
    /// Removals received but not yet in effect.
    pub pending: i64,
    /// Every movement, oldest first.
    pub movements: Vec<Movement>,
}

/// The ledger as of the day `at`, per client and licence, for one client or all.
pub fn ledger(movements: &[Movement], at: Date, client: Option<&str>) -> Vec<Line> {
    let wanted = client.map(crate::text::words);
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
    for movement in movements {
        if movement.received_on > at
            || wanted
                .as_ref()
                .is_some_and(|w| *w != crate::text::words(&movement.client))
        {
            continue;
        }
        let key = (movement.client.clone(), movement.licence.clone());
        let line = lines.entry(key).or_insert_with(|| Line {
            client: movement.client.clone(),
            licence: movement.licence.clone(),
            net_this_month: 0,
            pending: 0,
            movements: Vec::new(),
        });
        if (movement.received_on.year(), movement.received_on.month()) == (at.year(), at.month()) {
            line.net_this_month += movement.quantity;
        }
        if movement.effective_on > at {
            line.pending += movement.quantity;
        }
        line.movements.push(movement.clone());
    }
    lines.into_values().collect()
}

/// The ledger for a person, in French; times in `zone`, which is named.
pub fn to_text(lines: &[Line], at: Date, zone: &jiff::tz::TimeZone) -> String {
    let day = |d: Date| d.strftime("%d/%m/%Y").to_string();
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(
            out,
            "{} | {} : ce mois-ci {:+}, suppressions en attente {}",
            line.client, line.licence, line.net_this_month, line.pending
        );
        for m in &line.movements {
            let state = if m.effective_on <= at {
                format!("en vigueur depuis le {}", day(m.effective_on))
            } else {
                format!("en attente jusqu'au {}", day(m.effective_on))
            };
            let cancellable = m
                .cancellable
                .as_ref()
                .map(|c| {
                    let until = c.until.to_zoned(zone.clone());
                    format!(
                        ", annule {} jusqu'au {} à {} ({})",
                        c.addition,
                        day(until.date()),
                        until.strftime("%H:%M"),
                        zone.iana_name().unwrap_or("heure locale")
                    )
                })
                .unwrap_or_default();
            let ticket = m
                .ticket
                .as_ref()
                .map(|t| format!(", ticket {t}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}  {:+}  {}  {state}{cancellable}{ticket}",
                day(m.received_on),
                m.quantity,
                m.request_id
            );
        }
    }
    crate::text::typography(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::records::fixture::accepted;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn removals_take_effect_on_the_first_of_next_month() {
        let entries = [
            accepted("LG-1", "2026-11-03T09:00:00Z", "Garage", "E1", 3),
            accepted("LG-2", "2026-11-25T09:00:00Z", "Garage", "E1", -1),
            // 31 October 23:30 UTC is 1 November in Paris: received in November.
            accepted("LG-3", "2026-10-31T23:30:00Z", "Garage", "E1", 1),
        ];
        let moves = movements(
            entries.iter().filter_map(Accepted::of),
            &Calendar::default(),
        );
        assert_eq!(moves[0].received_on, date("2026-11-01"));
        assert_eq!(moves[2].effective_on, date("2026-12-01"));
        let november = ledger(&moves, date("2026-11-30"), None);
        assert_eq!((november[0].net_this_month, november[0].pending), (3, -1));
        let december = ledger(&moves, date("2026-12-01"), None);
        assert_eq!((december[0].net_this_month, december[0].pending), (0, 0));
        assert!(
            to_text(&december, date("2026-12-01"), &jiff::tz::TimeZone::UTC)
                .contains("-1  LG-2  en vigueur depuis le 01/12/2026")
        );
        let october = ledger(&moves, date("2026-10-31"), None);
        assert!(october.is_empty(), "nothing received yet");
    }

    #[test]
    fn duplicates_are_looked_for_from_the_first_of_the_previous_month() {
        let window = |s: &str| {
            duplicates_window(s.parse().unwrap(), &Calendar::default())
                .unwrap()
                .to_string()
        };
        assert_eq!(window("2026-11-23T09:00:00Z"), "2026-09-30T22:00:00Z");
        // 31 October 23:30 UTC is 1 November in Paris.
        assert_eq!(window("2026-10-31T23:30:00Z"), "2026-09-30T22:00:00Z");
        assert_eq!(window("2027-01-05T09:00:00Z"), "2026-11-30T23:00:00Z");
    }

    #[test]
    fn a_removal_within_7_days_of_the_addition_is_cancellable() {
        // In any order: the accepted index is read by request id.
        let entries = [
            accepted("LG-2", "2026-11-08T10:00:00Z", "Garage", "E1", -1),
            accepted("LG-1", "2026-11-02T10:00:00Z", "Garage", "E1", 1),
            accepted("LG-3", "2026-11-10T10:00:00Z", "Garage", "E1", -1),
            accepted("LG-4", "2026-11-08T10:00:00Z", "Garage", "E3", -1),
        ];
        let moves = movements(
            entries.iter().filter_map(Accepted::of),
            &Calendar::default(),
        );
        let deadline: Timestamp = "2026-11-09T10:00:00Z".parse().unwrap();
        let by_id = |id: &str| {
            moves
                .iter()
                .find(|m| m.request_id == id)
                .unwrap()
                .cancellable
                .clone()
        };
        let cancels_lg1 = Cancellable {
            addition: "LG-1".into(),
            until: deadline,
        };
        assert_eq!(by_id("LG-2"), Some(cancels_lg1));
        assert_eq!(by_id("LG-3"), None, "8 days after the addition");
        assert_eq!(by_id("LG-4"), None, "another licence");
        assert_eq!(ledger(&moves, date("2026-11-30"), Some("garage")).len(), 2);
        assert!(ledger(&moves, date("2026-11-30"), Some("Boulangerie")).is_empty());
    }
}
