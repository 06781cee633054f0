//! The upgrade request (`[MISE À NIVEAU]`) and the confirmation of held
//! requests, as the judgement sees them: pure, with the shipped rules.

use jiff::Timestamp;
use licgate::judge::{CommandKeys, Field, Held, Judge, Request};
use licgate::rules::Rules;
use licgate::{Limits, Outcome, Verdict};

const MONDAY_10H: &str = "2026-11-23T10:00:00+01:00";
const TECH: &str = "julie.bernard@infogerance.example";

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

/// An upgrade mail: `subject`, then `Label : value` lines.
fn mail(from: &str, subject: &str, lines: &[(&str, &str)]) -> Vec<u8> {
    let body: String = lines
        .iter()
        .map(|(l, v)| format!("{l} : {v}\r\n"))
        .collect();
    format!(
        "From: {from}\r\nMessage-ID: <{}@infogerance.example>\r\nSubject: {subject}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\n\r\n{body}\r\nMerci\r\n",
        subject.len() + body.len()
    )
    .into_bytes()
}

/// The fields of a valid upgrade, with `changes` applied (an empty value
/// removes the field).
fn upgrade_lines<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut lines = vec![
        ("Nom du client", "Boulangerie Martin"),
        ("Licence actuelle", "Exchange Online (Plan 1)"),
        ("Licence cible", "Exchange Online (Plan 2)"),
        ("Quantité", "2"),
        ("Nom Prénom de l'utilisateur", "Jean Dupont, Marie Curie"),
        ("Bureau à distance associé", "NON"),
    ];
    for (label, value) in changes {
        lines.retain(|(l, _)| l != label);
        if !value.is_empty() {
            lines.push((label, value));
        }
    }
    lines
}

const SUBJECT: &str = "[MISE À NIVEAU] Licence Office 365 - Boulangerie Martin";

/// The server's keys of these tests.
const KEYS: CommandKeys = CommandKeys {
    current: [7; 32],
    previous: None,
};

fn judge(raw: &[u8], at: &str, held: &[Held]) -> Verdict {
    let judge = Judge {
        rules: rules(),
        limits: &Limits::default(),
        history: &[],
        held,
        now: None,
        keys: Some(&KEYS),
        refusals: None,
    };
    judge.check(raw, Some(at.parse::<Timestamp>().unwrap()))
}

fn upgrade(changes: &[(&str, &str)]) -> Verdict {
    judge(
        &mail(TECH, SUBJECT, &upgrade_lines(changes)),
        MONDAY_10H,
        &[],
    )
}

fn codes(verdict: &Verdict) -> Vec<(&'static str, Option<Field>)> {
    verdict
        .problems
        .iter()
        .map(|p| (p.code.as_str(), p.field))
        .collect()
}

#[test]
fn the_held_reply_carries_the_code_and_its_record_never_does() {
    let verdict = upgrade(&[]);
    let code = KEYS.code(&verdict.request_id);
    let body = &verdict.reply.as_ref().unwrap().body;
    assert!(
        body.contains(&format!("CONFIRMER {} {code}\n", verdict.request_id)),
        "{body}"
    );
    let stored = serde_json::to_string(&verdict.clone().masked()).unwrap();
    assert!(!stored.contains(&code), "{stored}");
    assert!(stored.contains(licgate::judge::MASKED_CODE), "{stored}");
}

#[test]
fn a_valid_upgrade_is_held_with_both_licences() {
    let verdict = upgrade(&[]);
    assert_eq!(verdict.outcome, Outcome::Held, "{:?}", verdict.problems);
    let request = &verdict.request;
    assert_eq!(
        request.from_licence.as_deref(),
        Some("Exchange Online (Plan 1)")
    );
    assert_eq!(request.licence.as_deref(), Some("Exchange Online (Plan 2)"));
    assert_eq!(request.quantity, Some(2));
    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(json["verdict"], "held");
    assert_eq!(json["request"]["action"], "mise_a_niveau");
    assert_eq!(json["warnings"][0]["code"], "confirmation_required");
    assert_eq!(json["confirm_before"], "2026-11-24T16:30:00Z");
    // `N` and `+N` alike; the subject's tag with the usual tolerance.
    for (subject, quantity) in [
        (
            "RE: [Mise a niveau] licence office 365 – Boulangerie Martin",
            "+2",
        ),
        ("[UPGRADE] Licence Office 365 - Boulangerie Martin", "2"),
    ] {
        let raw = mail(TECH, subject, &upgrade_lines(&[("Quantité", quantity)]));
        let verdict = judge(&raw, MONDAY_10H, &[]);
        assert_eq!(
            verdict.outcome,
            Outcome::Held,
            "{subject}: {:?}",
            verdict.problems
        );
    }
}

#[test]
fn an_upgrade_outside_the_allowed_paths_lists_the_allowed_targets() {
    let verdict = upgrade(&[("Licence cible", "Microsoft 365 E5")]);
    assert_eq!(
        codes(&verdict),
        [("upgrade_path_unknown", Some(Field::TargetLicence))]
    );
    let message = &verdict.problems[0].message;
    for target in [
        "Exchange Online (Plan 2)",
        "Microsoft 365 Business Basic",
        "Microsoft 365 Business Standard",
        "Microsoft 365 Business Premium",
    ] {
        assert!(
            message.contains(&format!("«\u{a0}{target}\u{a0}»")),
            "{message}"
        );
    }
    // From a licence with no path at all.
    let verdict = upgrade(&[("Licence actuelle", "Microsoft 365 E5")]);
    assert_eq!(
        codes(&verdict),
        [("upgrade_path_unknown", Some(Field::TargetLicence))]
    );
    assert!(
        verdict.problems[0]
            .message
            .contains("Aucune mise à niveau n'est prévue")
    );
}

#[test]
fn the_same_licence_twice_is_no_upgrade() {
    let verdict = upgrade(&[("Licence cible", "Exchange Online (Plan 1)")]);
    assert_eq!(
        codes(&verdict),
        [("upgrade_same_licence", Some(Field::TargetLicence))]
    );
}

#[test]
fn the_target_must_be_written_exactly_the_current_licence_may_be_loose() {
    let verdict = upgrade(&[("Licence cible", "exchange online (PLAN 2)")]);
    assert_eq!(
        codes(&verdict),
        [("licence_not_exact", Some(Field::TargetLicence))]
    );
    assert!(
        verdict.problems[0]
            .message
            .contains("«\u{a0}Exchange Online (Plan 2)\u{a0}»"),
        "the exact name is given: {}",
        verdict.problems[0].message
    );
    let body = &verdict.reply.as_ref().unwrap().body;
    // Given back as written: resending it unchanged does not pass.
    assert!(
        body.contains("Licence cible\u{a0}: exchange online (PLAN 2)\n"),
        "{body}"
    );
    let verdict = upgrade(&[("Licence actuelle", "exchange online (plan 1)")]);
    assert_eq!(verdict.outcome, Outcome::Held);
    assert_eq!(verdict.warnings[0].code.as_str(), "licence_normalised");
}

#[test]
fn the_licence_codes_name_the_field_at_fault() {
    let verdict = upgrade(&[
        ("Licence actuelle", "Exchange Plan 1"),
        ("Licence cible", "Boîte mail simple"),
    ]);
    assert_eq!(
        codes(&verdict),
        [
            ("licence_unknown", Some(Field::CurrentLicence)),
            ("licence_internal_name", Some(Field::TargetLicence)),
        ]
    );
    let verdict = upgrade(&[("Licence cible", ""), ("Quantité", "-2")]);
    assert_eq!(
        codes(&verdict),
        [
            ("field_missing", Some(Field::TargetLicence)),
            ("quantity_sign", Some(Field::Quantity)),
        ]
    );
    // The refusal gives the upgrade's template back.
    let body = &verdict.reply.as_ref().unwrap().body;
    assert!(
        body.contains("Objet\u{a0}: [MISE À NIVEAU] Licence Office 365 - Boulangerie Martin"),
        "{body}"
    );
    assert!(
        body.contains("Licence actuelle\u{a0}: Exchange Online (Plan 1)\nLicence cible\u{a0}: \n"),
        "{body}"
    );
    assert!(!body.contains("Type de licence"), "{body}");
}

#[test]
fn the_window_applies_to_upgrades() {
    let raw = mail(TECH, SUBJECT, &upgrade_lines(&[]));
    let verdict = judge(&raw, "2026-12-01T10:00:00+01:00", &[]);
    assert_eq!(codes(&verdict), [("window_first_of_month", None)]);
    let verdict = judge(&raw, "2026-11-30T18:00:00+01:00", &[]);
    assert_eq!(codes(&verdict), [("window_after_cutoff", None)]);
}

/// The upgrade above, held on Monday for Julie Bernard.
fn held() -> Held {
    let verdict = upgrade(&[]);
    Held {
        request_id: verdict.request_id.clone(),
        requester: TECH.into(),
        received_at: verdict.received_at.unwrap(),
        confirm_before: verdict.confirm_before.unwrap(),
        request: verdict.request,
    }
}

fn answer(from: &str, first_line: &str) -> Vec<u8> {
    let subject = format!("RE: [À CONFIRMER] {SUBJECT} ({})", held().request_id);
    format!(
        "From: {from}\r\nMessage-ID: <{}@x>\r\nSubject: {subject}\r\n\r\n{first_line}\r\n\r\n\
         > Votre demande est correcte, mais elle n'est pas encore transmise aux achats\r\n\
         > ANNULER {}\r\n",
        first_line.len(),
        held().request_id
    )
    .into_bytes()
}

#[test]
fn a_confirmation_accepts_the_held_request_under_its_reference() {
    let held = held();
    let id = held.request_id.clone();
    let verdict = judge(
        &answer(TECH, &format!("CONFIRMER {id} {}", KEYS.code(&id))),
        "2026-11-24T09:00:00+01:00",
        std::slice::from_ref(&held),
    );
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert_eq!(verdict.confirms.as_deref(), Some(id.as_str()));
    // Its own record names the client only: the order is the held request's.
    assert_eq!(verdict.request.client, held.request.client);
    assert_eq!(verdict.request.licence, None);
    let reply = verdict.reply.unwrap();
    assert_eq!(reply.subject, format!("[ACCEPTÉE] {SUBJECT} ({id})"));
    assert!(
        reply.body.contains(&format!(
            "Référence\u{a0}: {id}\nConfirmée le\u{a0}: mardi 24 novembre 2026"
        )),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains("La mise à niveau est irréversible"),
        "{}",
        reply.body
    );
    // The quoted `ANNULER` of the held reply's own text is never read.
    let cancel = judge(
        &answer(TECH, &format!("Annuler {id} {}", KEYS.code(&id))),
        "2026-11-24T09:00:00+01:00",
        &[held],
    );
    assert_eq!(cancel.outcome, Outcome::Ignored);
    assert_eq!(codes(&cancel), [("cancelled", None)]);
    assert!(cancel.reply.unwrap().subject.starts_with("[ANNULÉE] "));
}

// Found by review: a reference written in lower case in the subject read as
// another request than the command's.
#[test]
fn the_thread_and_the_command_compare_whatever_the_case() {
    let held = held();
    let id = held.request_id.to_lowercase();
    let raw = format!(
        "From: {TECH}\r\nMessage-ID: <lc@x>\r\n\
         Subject: RE: [À CONFIRMER] {SUBJECT} ({})\r\n\r\nconfirmer {id} {}\r\n",
        id.replace("lg-", "LG-"),
        KEYS.code(&held.request_id).to_lowercase()
    );
    let verdict = judge(raw.as_bytes(), "2026-11-24T09:00:00+01:00", &[held]);
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
}

#[test]
fn a_command_for_another_request_than_the_thread_is_refused() {
    let held = held();
    // The thread is of LG-0123456789; the command names the held request.
    let raw = format!(
        "From: {TECH}\r\nMessage-ID: <m@x>\r\n\
         Subject: RE: [À CONFIRMER] {SUBJECT} (LG-0123456789)\r\n\r\nCONFIRMER {}\r\n",
        held.request_id
    );
    let verdict = judge(raw.as_bytes(), "2026-11-24T09:00:00+01:00", &[held]);
    assert_eq!(verdict.outcome, Outcome::Rejected);
    assert_eq!(codes(&verdict), [("confirmation_mismatch", None)]);
    assert_eq!(verdict.confirms, None);
}

// Found by review: answering a closed request's notice with a new template
// was refused for its subject.
#[test]
fn a_new_request_in_answer_to_an_expiry_or_cancellation_is_judged() {
    for tag in ["[EXPIRÉE]", "[ANNULÉE]"] {
        let subject = format!("RE: {tag} {SUBJECT} (LG-0123456789)");
        let raw = mail(TECH, &subject, &upgrade_lines(&[]));
        let verdict = judge(&raw, MONDAY_10H, &[]);
        assert_eq!(
            verdict.outcome,
            Outcome::Held,
            "{tag}: {:?}",
            verdict.problems
        );
    }
}

#[test]
fn an_answer_without_the_command_says_what_to_write() {
    let held = held();
    let id = held.request_id.clone();
    // The quoted text holds the command: it is never read.
    let raw = answer(TECH, "Oui c'est bon pour moi.");
    let verdict = judge(&raw, "2026-11-24T09:00:00+01:00", &[held]);
    assert_eq!(verdict.outcome, Outcome::Rejected);
    assert_eq!(codes(&verdict), [("confirmation_missing", None)]);
    let body = verdict.reply.unwrap().body;
    assert!(
        body.contains(&format!(
            "sans «\u{a0}CONFIRMER {id}\u{a0}» ni «\u{a0}ANNULER {id}\u{a0}»"
        )),
        "{body}"
    );
}

// Found by the outside review: another technician's answer to the
// `[À CONFIRMER]` got `confirmation_missing` with the deadline, as if it
// were theirs to confirm.
#[test]
fn an_answer_from_another_sender_is_told_whose_request_it_is() {
    let held = held();
    let raw = answer("other@infogerance.example", "OK pour moi.");
    let verdict = judge(&raw, "2026-11-24T09:00:00+01:00", &[held]);
    assert_eq!(verdict.outcome, Outcome::Rejected);
    assert_eq!(codes(&verdict), [("confirmation_sender", None)]);
    let body = verdict.reply.unwrap().body;
    assert!(body.contains("Seul l'auteur de la demande"), "{body}");
    assert!(body.contains("l'échéance donnée dans le message"), "{body}");
}

// Issue 19: the answer without the command got a `[REFUSÉE]` under a new
// reference, which read as a refused upgrade from the inbox list; and it
// did not say until when to confirm. The code is never repeated there.
#[test]
fn an_answer_without_the_command_keeps_the_requests_subject_and_deadline() {
    let held = held();
    let id = held.request_id.clone();
    let raw = answer(TECH, "Oui c'est bon pour moi.");
    let verdict = judge(
        &raw,
        "2026-11-24T09:00:00+01:00",
        std::slice::from_ref(&held),
    );
    let reply = verdict.reply.unwrap();
    assert_eq!(reply.subject, format!("[À CONFIRMER] {SUBJECT} ({id})"));
    let deadline = licgate::rules::french_date_time(
        &held
            .confirm_before
            .to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap()),
    );
    assert!(
        reply
            .body
            .contains(&format!("peut être confirmée jusqu'au {deadline}")),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(&format!("Référence\u{a0}: {id}")),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(&KEYS.code(&id)), "{}", reply.body);
}

#[test]
fn a_confirmation_is_refused_unless_from_the_requester_in_time() {
    let held = held();
    let id = held.request_id.clone();
    let command = format!("CONFIRMER {id} {}", KEYS.code(&id));
    let cases = [
        (
            "paul.martin@infogerance.example",
            "2026-11-24T09:00:00+01:00",
            "confirmation_sender",
        ),
        (TECH, "2026-11-24T17:31:00+01:00", "confirmation_expired"),
    ];
    for (from, at, code) in cases {
        let verdict = judge(&answer(from, &command), at, std::slice::from_ref(&held));
        assert_eq!(verdict.outcome, Outcome::Rejected);
        assert_eq!(codes(&verdict), [(code, None)]);
        assert_eq!(verdict.confirms, None);
        let reply = verdict.reply.unwrap();
        assert!(
            reply
                .subject
                .starts_with(&format!("[REFUSÉE] {SUBJECT} (LG-")),
            "{}",
            reply.subject
        );
        assert!(
            !reply.subject.contains(&id),
            "the refusal names the answer, not the request: {}",
            reply.subject
        );
    }
    let verdict = judge(&answer(TECH, &command), "2026-11-24T09:00:00+01:00", &[]);
    assert_eq!(codes(&verdict), [("confirmation_unknown", None)]);
    // Issue 18: the reference alone, computable from the Message-ID an
    // outsider chose, confirmed an irreversible upgrade under a forged From:.
    let other_server = CommandKeys {
        current: [8; 32],
        previous: None,
    };
    for line in [
        format!("CONFIRMER {id}"),
        format!("ANNULER {id}"),
        format!("CONFIRMER {id} {}", other_server.code(&id)),
        format!("CONFIRMER {id} {}", KEYS.code("LG-0123456789")),
    ] {
        let verdict = judge(
            &answer(TECH, &line),
            "2026-11-24T09:00:00+01:00",
            std::slice::from_ref(&held),
        );
        assert_eq!(verdict.outcome, Outcome::Rejected, "{line}");
        assert_eq!(codes(&verdict), [("confirmation_code", None)], "{line}");
        assert_eq!(verdict.confirms, None, "{line}");
    }
    // Not a request either: the held request stays untouched offline.
    assert_eq!(verdict.request, Request::default());
}
