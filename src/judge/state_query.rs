//! A technician's question before a request: `[ÉTAT] Licence Office 365 -
//! <Client>` (also `[ETAT]`, `[STATUT]`), with an optional `Utilisateur :
//! Prénom NOM` line. Recognised here, from the subject and the new text of
//! the body; it is never a request: the judgement ignores it
//! (`state_query`), and the daemon answers it from what it recorded.

use serde::{Deserialize, Serialize};

use super::request;
use crate::rules::Tickets;
use crate::text;

/// What a technician asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateQuery {
    /// The client, as written in the subject.
    pub client: String,
    /// Only what concerns this user, when given.
    pub user: Option<String>,
}

/// Longest label looked at before a colon, in bytes.
const MAX_LABEL_BYTES: usize = 32;

/// Longest user name kept, in characters.
const MAX_USER_CHARS: usize = 200;

/// The question a mail asks, if its subject is `[ÉTAT] Licence Office 365 -
/// <Client>` (prefixes, ticket tags, case and spacing tolerated).
pub fn recognise(subject: &str, body: Option<&str>, tickets: &Tickets) -> Option<StateQuery> {
    let (subject, _) = super::ticket::from_subject(subject, tickets);
    let rest = request::clean_subject(&subject);
    let (tag, rest) = rest.strip_prefix('[')?.split_once(']')?;
    if !matches!(text::words(tag).as_str(), "etat" | "statut") {
        return None;
    }
    // The rest is read as a request's subject would be.
    let parsed = request::parse_subject(&format!("[AJOUT]{rest}"));
    if parsed.issue.is_some() {
        return None;
    }
    let user = body.and_then(user_line);
    Some(StateQuery {
        client: text::clean_line(&parsed.client?, MAX_USER_CHARS),
        user,
    })
}

/// The value of the first `Utilisateur :` line, placeholders left out.
fn user_line(body: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let colon = line
            .char_indices()
            .take_while(|(i, _)| *i <= MAX_LABEL_BYTES)
            .find(|(_, c)| *c == ':')?
            .0;
        if !matches!(
            text::words(&line[..colon]).as_str(),
            "utilisateur" | "nom prenom de l utilisateur" | "nom prenom"
        ) {
            return None;
        }
        let value = text::trim(&line[colon + 1..]);
        if value.is_empty() || (value.starts_with('[') && value.ends_with(']')) {
            return None;
        }
        Some(text::clean_line(value, MAX_USER_CHARS))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(subject: &str, body: &str) -> Option<StateQuery> {
        recognise(subject, Some(body), &Tickets::default())
    }

    #[test]
    fn the_three_tags_and_usual_prefixes_are_recognised() {
        for subject in [
            "[ÉTAT] Licence Office 365 - Garage du Centre",
            "[etat] licence office 365 – Garage du Centre",
            "RE: [STATUT] Licence Office 365 - Garage du Centre",
            "[GLPI #12] [ÉTAT] Licence Office 365 - Garage du Centre",
        ] {
            let query = asked(subject, "").unwrap_or_else(|| panic!("{subject}"));
            assert_eq!(query.client, "Garage du Centre");
            assert_eq!(query.user, None);
        }
    }

    #[test]
    fn a_user_line_narrows_the_question() {
        let query = asked(
            "[ÉTAT] Licence Office 365 - Garage",
            "Bonjour,\nUtilisateur : Jean DUPONT\nMerci",
        )
        .unwrap();
        assert_eq!(query.user.as_deref(), Some("Jean DUPONT"));
        let query = asked(
            "[ÉTAT] Licence Office 365 - Garage",
            "Utilisateur : [Prénom NOM]",
        );
        assert_eq!(query.unwrap().user, None);
    }

    #[test]
    fn requests_and_other_subjects_are_not_questions() {
        assert_eq!(asked("[AJOUT] Licence Office 365 - Garage", ""), None);
        assert_eq!(asked("[ÉTAT] Licence Office 365 - ", ""), None);
        assert_eq!(asked("[ÉTAT] des lieux", ""), None);
        assert_eq!(asked("État des licences", ""), None);
    }
}
