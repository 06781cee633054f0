//! The accepted requests a judgement compares a new one against (to find
//! duplicates), as the ledger computes them from the records.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

/// Days during which a new subscription can be cancelled with a refund.
pub const CANCELLATION_DAYS: i64 = 7;

/// One accepted change of licences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub request_id: String,
    pub client: String,
    pub licence: String,
    /// Positive: added; negative: removed.
    pub quantity: i64,
    pub users: Vec<String>,
    /// The users compared loosely, sorted ([`user_keys`]).
    #[serde(skip)]
    pub user_keys: Vec<String>,
    pub received_at: Timestamp,
    /// The day it was received, in the calendar's time zone.
    pub received_on: Date,
    /// The day it shows in the console.
    pub effective_on: Date,
    /// For a removal within 7 days of an addition of the same client and
    /// licence: that addition, and the end of its prorated-refund window.
    pub cancellable: Option<Cancellable>,
    /// One of the two movements of an upgrade (from the current licence,
    /// to the target): effective at once, and irreversible.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub upgrade: bool,
    /// Of a request still held for confirmation: a duplicate for the
    /// judgement, but nothing ordered (never a refundable addition).
    #[serde(skip)]
    pub held: bool,
    /// The request's ticket reference, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// An addition that a later removal can cancel with a prorated refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancellable {
    /// The request id of the addition.
    pub addition: String,
    /// The end of its refund window.
    pub until: Timestamp,
}

/// User names as compared for duplicates: case, accents and punctuation
/// ignored, order ignored.
pub fn user_keys(users: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = users.iter().map(|u| crate::text::words(u)).collect();
    keys.sort();
    keys
}
