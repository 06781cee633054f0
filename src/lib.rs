//! licgate guards the Microsoft 365 licence orders that technicians send to a
//! shared mailbox: it judges each mail against the company's procedure and
//! rules, and answers in French what to fix.
//!
//! # Layout
//! - [`check`](mod@check): the pure judgement, mail bytes + rules + reception time -> [`Verdict`].
//! - [`mail`]: MIME parsing (mail-parser), automatic-mail detection, new text of the body.
//! - [`html`]: HTML bodies (Outlook, OWA) turned into lines of text.
//! - [`request`]: subject and template fields read from text.
//! - [`verdict`]: outcome, stable problem and warning codes, their French wording.
//! - [`reply`]: the reply's subject and body, built from a verdict, never sent here.
//! - [`ledger`], [`digest`]: what purchasing reads: the licence ledger, the digest of accepted requests.
//!
//! The shell around them: [`config`], [`daemon`] (with [`imap`], [`smtp`],
//! [`oauth`], [`tls`]), [`store`] and [`audit`] (sled), [`query`] (the CLI's
//! questions to the store or the running daemon), [`status`].
//! - [`rules`]: the operators' files: licence catalog, clients, calendar (holidays, windows).
//! - [`text`]: case, accent and spacing folding shared by all of the above.
//!
//! The binary (`src/main.rs`, `src/cli/`) is glue: arguments, files, output.
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
//! assert!(verdict.reply.unwrap().body.contains("« Microsoft 365 Business Premium »"));
//! ```

pub mod audit;
pub mod check;
pub mod config;
pub mod daemon;
pub mod digest;
pub mod html;
pub mod imap;
pub mod ledger;
pub mod mail;
pub mod oauth;
pub mod query;
pub mod reply;
pub mod request;
pub mod rules;
pub mod smtp;
pub mod status;
pub mod store;
pub mod text;
pub mod tls;
pub mod verdict;

pub use check::{Limits, check};
pub use rules::Rules;
pub use verdict::{Outcome, Verdict};
