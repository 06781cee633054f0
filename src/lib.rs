//! licgate guards the Microsoft 365 licence orders that technicians send to a
//! shared mailbox: it judges each mail against the company's procedure and
//! rules, and answers in French what to fix.
//!
//! # Layout
//! - [`check`]: the pure judgement, mail bytes + rules + reception time -> [`Verdict`].
//! - [`mail`]: MIME parsing (mail-parser), automatic-mail detection, new text of the body.
//! - [`html`]: HTML bodies (Outlook, OWA) turned into lines of text.
//! - [`request`]: subject and template fields read from text.
//! - [`verdict`]: outcome, stable problem and warning codes, their French wording.
//! - [`reply`]: the reply's subject and body, built from a verdict, never sent here.
//! - [`rules`]: the operators' files: licence catalog, clients, calendar (holidays, windows).
//! - [`text`]: case, accent and spacing folding shared by all of the above.
//!
//! The binary (`src/main.rs`, `src/cli/`) is glue: arguments, files, output.

pub mod check;
pub mod html;
pub mod mail;
pub mod reply;
pub mod request;
pub mod rules;
pub mod text;
pub mod verdict;

pub use check::{Limits, check};
pub use rules::Rules;
pub use verdict::{Outcome, Verdict};
