//! An answer to a refusal: the technician pressed Reply, corrected the
//! template where it stands in the quoted refusal, and sent. Such a mail is
//! judged on that quoted template, as edited.
//!
//! Only a refusal of licgate's is ever read from quoted history: its
//! template block, from the line `Objet : …` to the line `Référence : LG-…`
//! (see [`super::reply`]). An acceptance has no such block, and a quoted
//! request of the technician's own has no reference: neither is read.

use super::request::{self, Field};
use crate::text;

/// The template of a quoted refusal, as the answer left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedRefusal {
    /// The request id of the refusal (`LG-…`).
    pub refused: String,
    /// The value of its `Objet :` line.
    pub subject: String,
    /// Its field lines, unquoted.
    pub template: String,
}

/// Lines of a body looked at for a quoted refusal.
const MAX_LINES: usize = 2000;

/// Lines from `Objet :` to `Référence :` in a refusal: the subject, a blank
/// line, the fields (the users may take one line each), a blank line.
const MAX_TEMPLATE_LINES: usize = 120;

/// Longest quoted subject kept, in characters (as a mail's own subject).
const MAX_SUBJECT_CHARS: usize = 300;

/// The refusal quoted in `text` (a whole body, quoted history included) by
/// an answer whose `subject` or `references` name it, if there is one.
///
/// Only the first reference quoted is looked at, the newest: an older
/// refusal further down the thread is never taken instead. The answer must
/// name that refusal where mail clients keep it (the subject `… (LG-…)` of
/// licgate's reply, or its Message-ID `<LG-….reply@…>` in `References`): a
/// block merely pasted or forwarded is never read as a correction.
pub fn quoted_refusal(text: &str, subject: &str, references: &[String]) -> Option<QuotedRefusal> {
    let lines = quoted_lines(text);
    let end = lines.iter().position(|line| reference(line).is_some())?;
    let refused = reference(lines[end])?;
    let named = subject.contains(&format!("({refused})"))
        || references
            .iter()
            .any(|r| r.starts_with(&format!("{refused}.reply@")));
    if !named {
        return None;
    }
    let start = end.saturating_sub(MAX_TEMPLATE_LINES);
    let (objet, value) = (start..end).rev().find_map(|i| {
        let (label, value) = lines[i].split_once([':', '\u{FF1A}'])?;
        (label.len() <= 16 && text::fold(text::trim(label)) == "objet").then_some((i, value))
    })?;
    let template = lines[objet + 1..end].join("\n");
    // The block must be the template, its labels filled or not.
    let labelled = template
        .lines()
        .flat_map(request::split_joined)
        .filter(|l| label(l).is_some())
        .count();
    (labelled >= 3).then(|| QuotedRefusal {
        refused,
        subject: text::clean_line(text::trim(value), MAX_SUBJECT_CHARS),
        template,
    })
}

/// The request id of an acceptance of licgate's quoted in `text`, if one
/// is: its `Référence : LG-…` line right after « Votre demande est
/// acceptée ». An answer to it is a question or a remark, never a request.
pub fn quoted_acceptance(text: &str) -> Option<String> {
    let lines = quoted_lines(text);
    lines.iter().enumerate().find_map(|(i, line)| {
        let id = reference(line)?;
        let start = i.saturating_sub(4);
        lines[start..i]
            .iter()
            .any(|l| text::fold(l).contains("votre demande est acceptee"))
            .then_some(id)
    })
}

/// The lines of `text` looked at, without the marks of quoting.
fn quoted_lines(text: &str) -> Vec<&str> {
    text.lines().take(MAX_LINES).map(unquote).collect()
}

/// `line` without the `>` marks (and spaces) of quoting.
fn unquote(line: &str) -> &str {
    let mut line = text::trim(line);
    while let Some(rest) = line.strip_prefix('>') {
        line = text::trim(rest);
    }
    line
}

/// The request id of a `Référence : LG-0123456789` line.
fn reference(line: &str) -> Option<String> {
    let (label, value) = line.split_once([':', '\u{FF1A}'])?;
    if text::fold(text::trim(label)) != "reference" {
        return None;
    }
    let id = text::trim(value);
    super::is_request_id(id).then(|| id.to_owned())
}

/// The field whose label opens `line`, if one does.
fn label(line: &str) -> Option<Field> {
    let (label, _) = line.split_once([':', '\u{FF1A}'])?;
    Field::from_label(label)
}
