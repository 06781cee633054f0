//! The ticket reference of a request, when the technician gives one: a tag
//! of the subject (`[GLPI #0001234]`, patterns of [`Tickets`]), taken out of
//! the subject before it is judged, or a `Ticket : …` line of the body.
//! Carried to the verdict (`request.ticket`) so that purchasing can write
//! the action into the ticket.

use crate::rules::Tickets;
use crate::text;

/// Most tickets kept for one request.
const MAX_TICKETS: usize = 3;

/// Longest ticket kept, in characters.
const MAX_CHARS: usize = 60;

/// Longest label looked at before a colon, in bytes.
const MAX_LABEL_BYTES: usize = 32;

/// `subject` without its ticket tags (spaces closed up), and those tickets.
pub fn from_subject(subject: &str, tickets: &Tickets) -> (String, Vec<String>) {
    let found = tickets.find(subject);
    if found.is_empty() {
        return (subject.to_owned(), Vec::new());
    }
    let mut rest = String::with_capacity(subject.len());
    let mut from = 0;
    for (range, _) in &found {
        rest.push_str(&subject[from..range.start]);
        rest.push(' ');
        from = range.end;
    }
    rest.push_str(&subject[from..]);
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    let found = found.into_iter().map(|(_, t)| tidy(&t)).collect();
    (rest, found)
}

/// The values of the body's ticket lines (`Ticket : 1234`), placeholders
/// (`[N° DE TICKET]`) and empty values left out.
pub fn from_body(body: &str, tickets: &Tickets) -> Vec<String> {
    let mut found = Vec::new();
    for line in body.lines() {
        let Some(colon) = line
            .char_indices()
            .take_while(|(i, _)| *i <= MAX_LABEL_BYTES)
            .find(|(_, c)| *c == ':')
            .map(|(i, _)| i)
        else {
            continue;
        };
        if !tickets.is_label(&line[..colon]) {
            continue;
        }
        let written = text::trim(&line[colon + 1..]);
        if written.starts_with('[') && written.ends_with(']') {
            continue;
        }
        let value = tidy(written);
        if value.is_empty() {
            continue;
        }
        found.push(value);
        if found.len() == MAX_TICKETS {
            break;
        }
    }
    found
}

/// A ticket as shown: cleaned, capped, outer brackets taken off.
fn tidy(ticket: &str) -> String {
    let ticket = text::clean_line(ticket, MAX_CHARS);
    let ticket = text::trim(&ticket);
    match ticket.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) if !inner.contains(['[', ']']) => text::trim(inner).to_owned(),
        _ => ticket.to_owned(),
    }
}

/// The request's ticket: the distinct ones found, in order, joined.
pub fn join(found: &[String]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for ticket in found {
        if !seen.iter().any(|s| text::words(s) == text::words(ticket)) {
            seen.push(ticket);
        }
    }
    seen.truncate(MAX_TICKETS);
    (!seen.is_empty()).then(|| seen.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by review: patterns with a leading or trailing space panicked.
    #[test]
    fn patterns_with_spaces_never_cut_a_subject_twice() {
        let source = "subject-patterns = [\"[GLPI #{n}]\", \" REF{n}\", \"INC{n} \"]\n";
        let tickets = Tickets::from_toml(source).unwrap();
        for subject in ["[GLPI #12]REF34 [AJOUT] x", "INC5[GLPI #12] [AJOUT] x"] {
            let (rest, found) = from_subject(subject, &tickets);
            assert!(rest.ends_with("[AJOUT] x"), "{rest}");
            assert!(found.contains(&"GLPI #12".to_owned()), "{found:?}");
        }
    }

    #[test]
    fn a_subject_tag_is_taken_out_and_kept() {
        let tickets = Tickets::default();
        let (subject, found) = from_subject(
            "RE: [GLPI #0001234] [AJOUT] Licence Office 365 - Garage",
            &tickets,
        );
        assert_eq!(subject, "RE: [AJOUT] Licence Office 365 - Garage");
        assert_eq!(found, ["GLPI #0001234"]);
        let (subject, found) = from_subject("[AJOUT] Licence Office 365 - Garage", &tickets);
        assert_eq!(subject, "[AJOUT] Licence Office 365 - Garage");
        assert!(found.is_empty());
    }

    #[test]
    fn body_lines_give_tickets_placeholders_do_not() {
        let tickets = Tickets::default();
        let body = "Nom du client : Garage\nTicket : [N° DE TICKET]\nticket: 4242\n\
                    Remarque : voir ticket : 99\n";
        assert_eq!(from_body(body, &tickets), ["4242"]);
    }

    #[test]
    fn two_tickets_are_both_kept_once_each() {
        let found = vec!["#12".to_owned(), "GLPI #7".to_owned(), "#12".to_owned()];
        assert_eq!(join(&found).as_deref(), Some("#12, GLPI #7"));
        assert_eq!(join(&[]), None);
    }
}
