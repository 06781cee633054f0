//! Ticket references, from `tickets.toml` (optional: without it, the
//! defaults): the patterns a ticket takes in a subject, and the labels of a
//! body line that gives one (`Ticket : …`).
//!
//! A pattern is literal text around one `{n}`, a run of 1 to 12 digits:
//! `[GLPI #{n}]` finds `[glpi #0001234]`. Letters match whatever their case.
//! Matching is a scan of the text per pattern: linear, no backtracking.

use serde::Deserialize;
use toml::Spanned;

use super::SourceError;
use crate::text;

/// Most digits a ticket number has.
const MAX_DIGITS: usize = 12;

/// Most tickets one pattern finds in a text: a subject holds one or two.
pub const MAX_MATCHES: usize = 8;

/// The ticket patterns and body labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tickets {
    /// Patterns tried in order: a text matched by one is not tried again by
    /// the next (`[GLPI #1]` is not also `#1`).
    pub patterns: Vec<Pattern>,
    /// Labels of a body line giving the ticket, compared loosely.
    pub labels: Vec<String>,
}

/// One pattern: `prefix`, digits, `suffix` (ASCII letters in lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written in the file.
    pub written: String,
    prefix: String,
    suffix: String,
}

impl Pattern {
    /// Parses `PREFIX{n}SUFFIX`; the prefix must not be empty.
    pub fn new(written: &str) -> Result<Pattern, String> {
        let (prefix, suffix) = written
            .split_once("{n}")
            .ok_or_else(|| format!("« {written} » holds no {{n}} (the ticket number)"))?;
        if prefix.trim().is_empty() {
            return Err(format!(
                "« {written} »: text is needed before {{n}}, or any number would be a ticket"
            ));
        }
        if suffix.contains("{n}") {
            return Err(format!("« {written} » holds {{n}} twice"));
        }
        Ok(Pattern {
            written: written.to_owned(),
            prefix: prefix.to_ascii_lowercase(),
            suffix: suffix.to_ascii_lowercase(),
        })
    }

    /// The byte ranges of `lower` (text in ASCII lower case) this pattern matches.
    fn matches(&self, lower: &str) -> Vec<std::ops::Range<usize>> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = lower[from..].find(&self.prefix) {
            let start = from + at;
            from = start + self.prefix.len();
            // A ticket stands alone: `C#12` or `abc[GLPI #1]` is no ticket.
            let after_word = lower[..start]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
            if after_word
                && self
                    .prefix
                    .starts_with(|c: char| c.is_alphanumeric() || c == '#')
            {
                continue;
            }
            let digits = lower[from..]
                .bytes()
                .take(MAX_DIGITS + 1)
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 || digits > MAX_DIGITS {
                continue;
            }
            let end = from + digits;
            if !lower[end..].starts_with(&self.suffix) {
                continue;
            }
            let end = end + self.suffix.len();
            if self.suffix.is_empty() && lower[end..].starts_with(char::is_alphabetic) {
                continue;
            }
            found.push(start..end);
            if found.len() == MAX_MATCHES {
                break;
            }
            from = end;
        }
        found
    }
}

impl Default for Tickets {
    /// GLPI's and OTRS's subject tags, a bare `#12345`, and `Ticket :` lines.
    fn default() -> Tickets {
        Tickets {
            patterns: DEFAULT_PATTERNS
                .iter()
                .map(|p| Pattern::new(p).expect("default patterns are valid"))
                .collect(),
            labels: vec!["ticket".into()],
        }
    }
}

/// The patterns used when `tickets.toml` names none.
pub const DEFAULT_PATTERNS: [&str; 3] = ["[GLPI #{n}]", "[Ticket#{n}]", "#{n}"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTickets {
    subject_patterns: Option<Vec<Spanned<String>>>,
    body_labels: Option<Vec<Spanned<String>>>,
}

impl Tickets {
    /// Parses and checks the text of `tickets.toml`.
    pub fn from_toml(source: &str) -> Result<Tickets, SourceError> {
        let raw: RawTickets =
            toml::from_str(source).map_err(|e| SourceError::from_toml(source, e))?;
        let mut tickets = Tickets::default();
        if let Some(patterns) = raw.subject_patterns {
            tickets.patterns = patterns
                .iter()
                .map(|p| {
                    Pattern::new(p.get_ref()).map_err(|message| {
                        SourceError::at(source, p.span(), format!("subject-patterns: {message}"))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(labels) = raw.body_labels {
            tickets.labels = Vec::new();
            for label in labels {
                let folded = text::words(label.get_ref());
                if folded.is_empty() {
                    let msg = "body-labels: empty label".to_owned();
                    return Err(SourceError::at(source, label.span(), msg));
                }
                tickets.labels.push(folded);
            }
        }
        Ok(tickets)
    }

    /// The tickets of `text` (a subject), each as written, in the order they
    /// come, with the byte ranges they take: at most [`MAX_MATCHES`] per
    /// pattern, so that a subject made of tags costs no more than its size.
    pub fn find(&self, text: &str) -> Vec<(std::ops::Range<usize>, String)> {
        // NOTE: ASCII lower case keeps every byte offset of `text`.
        let mut lower = text.to_ascii_lowercase().into_bytes();
        let mut found = Vec::new();
        for pattern in &self.patterns {
            let Ok(haystack) = std::str::from_utf8(&lower) else {
                break;
            };
            let ranges = pattern.matches(haystack);
            for range in ranges {
                // A pattern that starts or ends with a space can match into
                // the blanks of an earlier one: never twice the same bytes.
                let overlaps = found
                    .iter()
                    .any(|(taken, _): &(std::ops::Range<usize>, String)| {
                        taken.start < range.end && range.start < taken.end
                    });
                if overlaps {
                    continue;
                }
                found.push((range.clone(), text[range.clone()].to_owned()));
                // Blanked in place (whole characters: still UTF-8), so that
                // a later pattern does not match it again.
                lower[range].fill(b' ');
            }
        }
        found.sort_by_key(|(range, _)| range.start);
        found
    }

    /// True when `label` (the part of a body line before its colon) names a ticket.
    pub fn is_label(&self, label: &str) -> bool {
        // NOTE: every template line has a label: its first letter is looked
        // at before the whole label is folded.
        let first = |s: &str| {
            let s = s.trim_start_matches(|c: char| !c.is_alphanumeric());
            s.char_indices()
                .nth(1)
                .map_or(s, |(end, _)| &s[..end])
                .to_owned()
        };
        let initial = text::fold(&first(label));
        if !self.labels.iter().any(|l| l.starts_with(initial.as_str())) || initial.is_empty() {
            return false;
        }
        self.labels.contains(&text::words(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by review: a pattern with a leading space matched into the
    // blanks of the one before, and cutting the subject panicked.
    #[test]
    fn matches_never_overlap() {
        let source = "subject-patterns = [\"[GLPI #{n}]\", \" REF{n}\", \"INC{n} \"]\n";
        let tickets = Tickets::from_toml(source).unwrap();
        for subject in ["[GLPI #12]REF34 [AJOUT] x", "INC5[GLPI #12] [AJOUT] x"] {
            let found = tickets.find(subject);
            for pair in found.windows(2) {
                assert!(pair[0].0.end <= pair[1].0.start, "{subject}: {found:?}");
            }
        }
    }

    fn found(text: &str) -> Vec<String> {
        Tickets::default()
            .find(text)
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn each_default_pattern_is_found() {
        assert_eq!(found("[GLPI #0001234] [AJOUT] x"), ["[GLPI #0001234]"]);
        assert_eq!(found("[AJOUT] x [ticket#1234567]"), ["[ticket#1234567]"]);
        assert_eq!(found("[AJOUT] x - y #12345"), ["#12345"]);
    }

    #[test]
    fn no_ticket_and_lookalikes() {
        assert!(found("[AJOUT] Licence Office 365 - Boulangerie Martin").is_empty());
        assert!(found("C#12 et #abc et # 12 et #1234567890123").is_empty());
        assert!(found("#12ab").is_empty());
    }

    #[test]
    fn two_tickets_in_order_each_once() {
        assert_eq!(
            found("#42 [GLPI #7] suite"),
            ["#42".to_owned(), "[GLPI #7]".to_owned()]
        );
    }

    #[test]
    fn the_file_replaces_the_defaults_and_names_the_bad_line() {
        let tickets = Tickets::from_toml(
            "subject-patterns = [\"INC{n}\"]\nbody-labels = [\"N° d'incident\"]\n",
        )
        .unwrap();
        assert_eq!(
            tickets.find("[AJOUT] x inc0042 #12")[0].1,
            "inc0042".to_owned()
        );
        assert_eq!(tickets.find("#12").len(), 0);
        assert!(tickets.is_label("n° d’incident"));
        let err = Tickets::from_toml("subject-patterns = [\n\"GLPI\"]\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("no {n}"), "{}", err.message);
        assert!(Tickets::from_toml("subject-patterns = [\"{n}\"]").is_err());
    }
}
