//! The second step of a high-risk request (an upgrade, an annual licence):
//! the requester's `CONFIRMER LG-… CODE` or `ANNULER LG-… CODE`, read from
//! the new text of a mail and weighed against the requests still held.
//!
//! The `LG-…` reference is public: people quote it, and anyone who knows a
//! mail's Message-ID can compute it. What lets someone act on a request is
//! the code that only the `[À CONFIRMER]` mail carries: a keyed hash of the
//! reference under the server's secret ([`CommandKeys`]), which no sender
//! can derive from what they write.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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
    /// The code written after the reference, upper case without its dash
    /// (`None`: none was written).
    pub code: Option<String>,
}

/// Letters of a code: Crockford's base 32 (no I, L, O, U), read back
/// whatever the case, with O as 0 and I or L as 1.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of a code: 40 bits, guessed only by sending mails, each
/// answered and counted under the hourly limit.
const CODE_LEN: usize = 8;

/// The server's secret keys that code the commands: the newest codes every
/// new `[À CONFIRMER]`; the one before it still checks the codes given
/// before the operator rotated them.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandKeys {
    /// Codes the new requests.
    pub current: [u8; 32],
    /// Still accepted, for requests held before the last rotation.
    pub previous: Option<[u8; 32]>,
}

impl std::fmt::Debug for CommandKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // NOTE: a secret never reaches a log line.
        f.write_str("CommandKeys(…)")
    }
}

impl CommandKeys {
    /// The code of the confirmation or cancellation of `request_id`, as the
    /// `[À CONFIRMER]` mail writes it: `XXXX-XXXX`.
    pub fn code(&self, request_id: &str) -> String {
        let code = code_under(&self.current, request_id);
        format!("{}-{}", &code[..CODE_LEN / 2], &code[CODE_LEN / 2..])
    }

    /// True when `written` ([`Command::code`]) is the code of `request_id`
    /// under either key.
    pub fn accepts(&self, request_id: &str, written: &str) -> bool {
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .any(|key| same(code_under(key, request_id).as_bytes(), written.as_bytes()))
    }
}

/// The code of `request_id` under `key`, without its dash.
fn code_under(key: &[u8; 32], request_id: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"licgate confirmation\0");
    mac.update(request_id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let bits = tag[..5]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (0..CODE_LEN)
        .rev()
        .map(|i| char::from(CODE_ALPHABET[((bits >> (5 * i)) & 31) as usize]))
        .collect()
}

/// Compares in a time that does not tell how many characters matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A code as written (its words after the reference), normalised as
/// [`CODE_ALPHABET`] reads it; `None` unless it has the code's length.
fn written_code(words: &[&str]) -> Option<String> {
    let joined: String = words.concat();
    (joined.len() == CODE_LEN && joined.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| {
        joined
            .bytes()
            .map(|b| match b.to_ascii_uppercase() {
                b'O' => '0',
                b'I' | b'L' => '1',
                other => char::from(other),
            })
            .collect()
    })
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
    let (Some("lg"), Some(hex)) = (words.next(), words.next()) else {
        return None;
    };
    let rest: Vec<&str> = words.collect();
    let code = match rest.len() {
        0 => None,
        // `K7QM-4XRP` or `K7QM4XRP`; anything else is no command.
        1 | 2 => Some(written_code(&rest)?),
        _ => return None,
    };
    let request_id = format!("LG-{}", hex.to_ascii_uppercase());
    // NOTE: the reference as written, not only as folded: `LG-…4É` folds
    // to a reference that was never given.
    let written = line.to_ascii_uppercase().contains(&request_id);
    (written && super::is_request_id(&request_id)).then_some(Command {
        request_id,
        answer,
        code,
    })
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

    fn keys(seed: u8) -> CommandKeys {
        CommandKeys {
            current: [seed; 32],
            previous: None,
        }
    }

    #[test]
    fn the_code_is_read_after_the_reference_as_people_copy_it() {
        let code = keys(1).code("LG-0A1B2C3D4E");
        assert_eq!(code.len(), CODE_LEN + 1);
        for line in [
            format!("CONFIRMER LG-0A1B2C3D4E {code}"),
            format!("confirmer lg-0a1b2c3d4e {}", code.to_lowercase()),
            format!("CONFIRMER LG-0A1B2C3D4E {}", code.replace('-', "")),
            format!("« CONFIRMER LG-0A1B2C3D4E {code} »"),
        ] {
            let read = command(&line).unwrap_or_else(|| panic!("{line}"));
            let written = read.code.unwrap_or_else(|| panic!("{line}"));
            assert!(keys(1).accepts("LG-0A1B2C3D4E", &written), "{line}");
        }
        assert_eq!(command("CONFIRMER LG-0A1B2C3D4E").unwrap().code, None);
    }

    // Issue 18: the reference alone, computable from a chosen Message-ID,
    // confirmed an upgrade. The code depends on the server's key.
    #[test]
    fn a_code_holds_only_for_its_request_under_the_servers_key() {
        let code = keys(1).code("LG-0A1B2C3D4E").replace('-', "");
        assert!(keys(1).accepts("LG-0A1B2C3D4E", &code));
        assert!(
            !keys(2).accepts("LG-0A1B2C3D4E", &code),
            "another server's key"
        );
        assert!(!keys(1).accepts("LG-0A1B2C3D4F", &code), "another request");
        assert_ne!(keys(1).code("LG-0A1B2C3D4E"), keys(2).code("LG-0A1B2C3D4E"));
        let rotated = CommandKeys {
            current: [2; 32],
            previous: Some([1; 32]),
        };
        assert!(
            rotated.accepts("LG-0A1B2C3D4E", &code),
            "given before the rotation"
        );
        assert_eq!(format!("{rotated:?}"), "CommandKeys(…)");
    }

    #[test]
    fn anything_else_is_no_command() {
        for body in [
            "Je confirme la demande",
            "CONFIRMER",
            "CONFIRMER LG-0A1B2C3D4",
            "CONFIRMER LG-0A1B2C3D4E et aussi LG-0A1B2C3D4F",
            "CONFIRMER LG-0A1B2C3D4E K7QM-4XR",
            "CONFIRMER LG-0A1B2C3D4E K7QM 4XRP 2",
            "CONFIRMER LG-0A1B2C3D4Z",
            "CONFIRMER LG-0A1B2C3D4É",
            "CONFIRMER LG–0A1B2C3D4E",
            "a\nb\nc\nd\ne\nCONFIRMER LG-0A1B2C3D4E",
        ] {
            assert_eq!(command(body), None, "{body}");
        }
    }
}
