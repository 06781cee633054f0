//! Ticket references and technicians' questions, as the judgement reads
//! them from whole mails against the shipped rules: each default ticket
//! pattern, none, two in one mail, a `Ticket :` line, a tag never taken for
//! the client; and `[ÉTAT]` questions, ignored as no request
//! (`state_query`), whatever they hold.

use jiff::Timestamp;
use licgate::rules::Rules;
use licgate::{Limits, Outcome, Verdict, check};

fn rules() -> &'static Rules {
    static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        Rules::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rules"
        )))
        .unwrap()
    })
}

fn mail(subject: &str, extra_body: &str) -> Vec<u8> {
    format!(
        "From: Julie Bernard <julie.bernard@infogerance.example>\r\nTo: licences@infogerance.example\r\n\
         Subject: {subject}\r\nMessage-ID: <t@infogerance.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Nom du client : Boulangerie Martin\r\nType de licence : Microsoft 365 Business Standard\r\n\
         Quantité : +1\r\nNom Prénom de l'utilisateur : Jean Dupont\r\n\
         Adresse à créer (si non nominatif) :\r\nBureau à distance associé : NON\r\n{extra_body}\r\nMerci\r\n"
    )
    .into_bytes()
}

fn judge(raw: &[u8]) -> Verdict {
    check(
        raw,
        rules(),
        Some("2026-11-23T10:00:00+01:00".parse::<Timestamp>().unwrap()),
        &Limits::default(),
    )
}

const SUBJECT: &str = "[AJOUT] Licence Office 365 - Boulangerie Martin";

#[test]
fn each_default_pattern_gives_the_ticket_and_leaves_the_subject_judged_as_is() {
    for (subject, ticket) in [
        (format!("[GLPI #0001234] {SUBJECT}"), "GLPI #0001234"),
        (format!("{SUBJECT} [Ticket#1234567]"), "Ticket#1234567"),
        (format!("RE: {SUBJECT} #12345"), "#12345"),
    ] {
        let verdict = judge(&mail(&subject, ""));
        assert_eq!(
            verdict.outcome,
            Outcome::Accepted,
            "{subject}: {:?}",
            verdict.problems
        );
        assert_eq!(verdict.request.ticket.as_deref(), Some(ticket), "{subject}");
        assert_eq!(
            verdict.request.client.as_deref(),
            Some("Boulangerie Martin")
        );
        let reply = verdict.reply.unwrap().body;
        assert!(
            reply.contains(&format!("Ticket\u{a0}: {ticket}\n")),
            "{reply}"
        );
        let json = serde_json::to_value(&verdict.request).unwrap();
        assert_eq!(json["ticket"], ticket);
    }
}

#[test]
fn without_a_ticket_nothing_is_added() {
    let verdict = judge(&mail(SUBJECT, ""));
    assert_eq!(verdict.request.ticket, None);
    let json = serde_json::to_value(&verdict.request).unwrap();
    assert!(json.get("ticket").is_none(), "{json}");
    assert!(!verdict.reply.unwrap().body.contains("Ticket"));
}

#[test]
fn a_ticket_line_of_the_body_and_two_tickets_in_one_mail() {
    let verdict = judge(&mail(SUBJECT, "Ticket : INC-42\r\n"));
    assert_eq!(verdict.request.ticket.as_deref(), Some("INC-42"));
    let verdict = judge(&mail(&format!("[GLPI #7] {SUBJECT}"), "Ticket : 8812\r\n"));
    assert_eq!(verdict.request.ticket.as_deref(), Some("GLPI #7, 8812"));
    // The same ticket written twice is one.
    let verdict = judge(&mail(
        &format!("[GLPI #7] {SUBJECT}"),
        "Ticket : GLPI 7\r\n",
    ));
    assert_eq!(verdict.request.ticket.as_deref(), Some("GLPI #7"));
}

#[test]
fn a_ticket_is_never_read_into_the_client() {
    let verdict = judge(&mail(
        "[AJOUT] Licence Office 365 - Boulangerie Martin #12345",
        "",
    ));
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert!(verdict.problems.is_empty());
}

fn question(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: julie.bernard@infogerance.example\r\nTo: licences@infogerance.example\r\n\
         Subject: {subject}\r\nMessage-ID: <q@infogerance.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn a_state_query_is_ignored_as_no_request_whatever_it_holds() {
    for subject in [
        "[ÉTAT] Licence Office 365 - Garage du Centre",
        "[ETAT] Licence Office 365 - garage du centre",
        "TR: [STATUT] Licence Office 365 - Garage du Centre",
    ] {
        // Even with a whole template in it: a question never orders.
        let body = "Nom du client : Garage du Centre\r\nType de licence : Exchange Online (Plan 1)\r\n\
                    Quantité : +1\r\nNom Prénom de l'utilisateur : Jean Dupont\r\n\
                    Bureau à distance associé : NON\r\nUtilisateur : Jean Dupont";
        let verdict = judge(&question(subject, body));
        assert_eq!(verdict.outcome, Outcome::Ignored, "{subject}");
        let codes: Vec<&str> = verdict.problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["state_query"], "{subject}");
        assert_eq!(verdict.request.client.as_deref(), Some("Garage du Centre"));
        assert_eq!(verdict.request.users, ["Jean Dupont"]);
        assert_eq!(verdict.request.quantity, None);
        assert!(
            verdict.reply.is_none(),
            "the daemon answers it, from its records"
        );
    }
    let unknown = judge(&question("[ÉTAT] Licence Office 365 - Garaje", "?"));
    assert_eq!(unknown.request.client.as_deref(), Some("Garaje"));
    assert_eq!(unknown.outcome, Outcome::Ignored);
}
