//! The second step of a high-risk request (an upgrade, an annual licence):
//! the requester's `CONFIRMER LG-…` or `ANNULER LG-…`, read from the new
//! text of a mail and weighed against the requests still held.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::request::Request;
use crate::text;

/// What the requester answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `CONFIRMER LG-…`: order it.
    Confirm,
    /// `ANNULER LG-…`: close it, order nothing.
    Cancel,
}

/// A command read from a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The held request it names.
    pub request_id: String,
    /// Confirm or cancel.
    pub answer: Answer,
}

/// A request held for confirmation, as a confirmation is checked against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Its request id.
    pub request_id: String,
    /// The requester's address, lower case: the only one that may answer.
    pub requester: String,
    /// When it was received.
    pub received_at: Timestamp,
    /// The last moment it may be confirmed.
    pub confirm_before: Timestamp,
    /// What was asked.
    pub request: Request,
}

/// Non-empty lines of new text in which a command is looked for: the reply
/// asks for it first, after a greeting at most.
const COMMAND_LINES: usize = 5;

/// The first `CONFIRMER LG-…` or `ANNULER LG-…` line among the first lines
/// of `body` (the new text, without quoted history), whatever the case,
/// spacing or punctuation around the reference.
pub fn command(body: &str) -> Option<Command> {
    body.lines()
        .map(text::trim)
        .filter(|line| !line.is_empty())
        .take(COMMAND_LINES)
        .find_map(command_of_line)
}

fn command_of_line(line: &str) -> Option<Command> {
    // NOTE: a command line is short, and its first letter is a C or an A
    // (after any quote, bullet or emoji): any other is never folded.
    let starts = line
        .chars()
        .find(|c| c.is_alphanumeric())
        .is_some_and(|c| matches!(c.to_ascii_lowercase(), 'c' | 'a'));
    if line.len() > 80 || !starts {
        return None;
    }
    let words = text::words(line);
    let mut words = words.split(' ');
    let answer = match words.next()? {
        "confirmer" | "confirme" => Answer::Confirm,
        "annuler" | "annule" => Answer::Cancel,
        _ => return None,
    };
    let (Some("lg"), Some(hex), None) = (words.next(), words.next(), words.next()) else {
        return None;
    };
    let request_id = format!("LG-{}", hex.to_ascii_uppercase());
    // NOTE: the reference as written, not only as folded: `LG-…4É` folds
    // to a reference that was never given.
    let written = line.to_ascii_uppercase().contains(&request_id);
    (written && super::is_request_id(&request_id)).then_some(Command { request_id, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_read_from_the_first_lines() {
        let confirm = command("CONFIRMER LG-0A1B2C3D4E\n\nCordialement").unwrap();
        assert_eq!(confirm.request_id, "LG-0A1B2C3D4E");
        assert_eq!(confirm.answer, Answer::Confirm);
        let cancel = command("Bonjour,\n\n  annuler   lg-0a1b2c3d4e.\n").unwrap();
        assert_eq!(cancel.answer, Answer::Cancel);
        assert_eq!(cancel.request_id, "LG-0A1B2C3D4E");
        // Found by review: quotes, bullets and emphasis before the word.
        for line in [
            "*CONFIRMER LG-0A1B2C3D4E*",
            "« CONFIRMER LG-0A1B2C3D4E »",
            "- CONFIRMER LG-0A1B2C3D4E",
            "\"ANNULER LG-0A1B2C3D4E\"",
            "✅ CONFIRMER LG-0A1B2C3D4E",
            "\u{2060}CONFIRMER LG-0A1B2C3D4E",
        ] {
            let read = command(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(read.request_id, "LG-0A1B2C3D4E", "{line}");
        }
    }

    #[test]
    fn anything_else_is_no_command() {
        for body in [
            "Je confirme la demande",
            "CONFIRMER",
            "CONFIRMER LG-0A1B2C3D4",
            "CONFIRMER LG-0A1B2C3D4E et aussi LG-0A1B2C3D4F",
            "CONFIRMER LG-0A1B2C3D4Z",
            "CONFIRMER LG-0A1B2C3D4É",
            "CONFIRMER LG–0A1B2C3D4E",
            "a\nb\nc\nd\ne\nCONFIRMER LG-0A1B2C3D4E",
        ] {
            assert_eq!(command(body), None, "{body}");
        }
    }
}
