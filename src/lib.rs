//! licgate guards the Microsoft 365 licence orders that technicians send to a
//! shared mailbox: it judges each mail against the company's procedure and
//! rules, and answers in French what to fix.
//!
//! # Layout
//! Layers, lowest first; each uses only the layers listed before it
//! (`tests/layers.rs` keeps it so):
//! - [`text`]: case, accent and spacing folding; cleaning hostile text.
//! - [`mail`]: reading a mail: MIME (mail-parser), HTML to text, the new text
//!   of the body, automatic mails, the bounds checked before parsing.
//! - [`rules`]: the operators' files: licence catalog, clients, calendar.
//! - [`judge`]: the pure judgement, mail bytes + rules + reception time ->
//!   [`Verdict`]: the request, the problem and warning codes with their
//!   French wording, the reply's text.
//! - [`records`]: typed, versioned records of decisions; the hash-chained
//!   audit trail and the licence ledger computed from them (pure).
//! - [`compose`]: whole messages: replies, digest, notices, reminder (pure).
//! - [`store`]: sled: decisions, outbox, counters, migrations; status.
//! - [`net`]: IMAP, SMTP, OAuth2 and TLS adapters, behind the
//!   [`net::Mailbox`] and [`net::Outbound`] traits.
//! - [`config`]: the TOML configuration, checked.
//! - [`query`]: the CLI's questions, answered from the store.
//! - [`daemon`]: `licgate run`: tasks, the decision policy, outbox, schedule.
//!
//! The judgement knows nothing of sled, tokio or the network. The binary
//! (`src/main.rs`, `src/cli/`) is glue: arguments, files, output.
//!
//! # Example
//! ```
//! use licgate::{Limits, Outcome, Rules, check};
//!
//! let rules = Rules::load("rules".as_ref()).expect("valid rules");
//! let mail = "From: julie@infogerance.example\r\n\
//!     Subject: [AJOUT] Licence Office 365 - Boulangerie Martin\r\n\r\n\
//!     Nom du client : Boulangerie Martin\r\n\
//!     Type de licence : Business Premium\r\n\
//!     Quantité : +1\r\n\
//!     Nom Prénom de l'utilisateur : Jean Dupont\r\n\
//!     Bureau à distance associé : NON\r\n";
//! let received = "2026-11-23T10:00:00+01:00".parse().ok();
//! let verdict = check(mail.as_bytes(), &rules, received, &Limits::default());
//! assert_eq!(verdict.outcome, Outcome::Rejected);
//! assert_eq!(verdict.problems[0].code.as_str(), "licence_unknown");
//! assert!(verdict.reply.unwrap().body.contains("Microsoft 365 Business Premium"));
//! ```

pub mod compose;
pub mod config;
pub mod daemon;
pub mod judge;
pub mod mail;
pub mod net;
pub mod query;
pub mod records;
pub mod rules;
pub mod store;
pub mod text;

pub use judge::{Limits, Outcome, Verdict, check};
pub use rules::Rules;
