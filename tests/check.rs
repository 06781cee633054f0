//! Every problem and warning code of the judgement, one small mail each,
//! against the shipped rules folder.

use jiff::Timestamp;
use licgate::rules::Rules;
use licgate::{Limits, Outcome, Verdict, check};

/// Monday 23 November 2026, 10:00 in Paris: a business day, office hours.
const MONDAY_10H: &str = "2026-11-23T10:00:00+01:00";

const LABELS: [&str; 6] = [
    "Nom du client",
    "Type de licence",
    "Quantité",
    "Nom Prénom de l'utilisateur",
    "Adresse à créer (si non nominatif)",
    "Bureau à distance associé",
];

/// A valid request: subject and the six fields.
struct Draft {
    subject: String,
    fields: Vec<(String, String)>,
    headers: String,
}

impl Draft {
    fn new() -> Draft {
        let values = [
            "Boulangerie Martin",
            "Microsoft 365 Business Standard",
            "+2",
            "Jean Dupont, Marie Curie",
            "",
            "NON",
        ];
        Draft {
            subject: "[AJOUT] Licence Office 365 - Boulangerie Martin".into(),
            fields: LABELS
                .iter()
                .zip(values)
                .map(|(l, v)| (l.to_string(), v.to_string()))
                .collect(),
            headers: String::new(),
        }
    }

    fn subject(mut self, subject: &str) -> Draft {
        self.subject = subject.into();
        self
    }

    fn set(mut self, label: &str, value: &str) -> Draft {
        self.fields
            .iter_mut()
            .find(|(l, _)| l == label)
            .expect("known label")
            .1 = value.into();
        self
    }

    fn remove(mut self, label: &str) -> Draft {
        self.fields.retain(|(l, _)| l != label);
        self
    }

    fn add(mut self, label: &str, value: &str) -> Draft {
        self.fields.push((label.into(), value.into()));
        self
    }

    fn header(mut self, header: &str) -> Draft {
        self.headers.push_str(header);
        self.headers.push_str("\r\n");
        self
    }

    fn raw(&self) -> Vec<u8> {
        let body: String = self
            .fields
            .iter()
            .map(|(l, v)| format!("{l} : {v}\r\n"))
            .collect();
        format!(
            "From: Julie Bernard <julie.bernard@infogerance.example>\r\nTo: licences@infogerance.example\r\n\
             Subject: {}\r\nMessage-ID: <t@infogerance.example>\r\n{}MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour,\r\n\r\n{body}\r\nMerci\r\n",
            self.subject, self.headers
        )
        .into_bytes()
    }

    fn judge(&self) -> Verdict {
        judge_at(&self.raw(), MONDAY_10H)
    }
}

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

/// The verdict on `raw` received at `at`, in plain spaces ([`plain`]).
fn judge_at(raw: &[u8], at: &str) -> Verdict {
    plain(check(
        raw,
        rules(),
        Some(at.parse::<Timestamp>().unwrap()),
        &Limits::default(),
    ))
}

/// `verdict` with its French text in plain spaces (typography is tested on
/// its own, below), so that the tests read as the messages are written.
fn plain(mut verdict: Verdict) -> Verdict {
    let plain = |text: &mut String| *text = text.replace('\u{a0}', " ");
    verdict
        .problems
        .iter_mut()
        .for_each(|p| plain(&mut p.message));
    verdict
        .warnings
        .iter_mut()
        .for_each(|w| plain(&mut w.message));
    if let Some(reply) = &mut verdict.reply {
        plain(&mut reply.body);
    }
    verdict
}

fn problems(verdict: &Verdict) -> Vec<&'static str> {
    verdict.problems.iter().map(|p| p.code.as_str()).collect()
}

fn warnings(verdict: &Verdict) -> Vec<&'static str> {
    verdict.warnings.iter().map(|w| w.code.as_str()).collect()
}

fn reply_body(verdict: &Verdict) -> &str {
    &verdict.reply.as_ref().expect("a reply").body
}

#[test]
fn a_valid_request_is_accepted_with_a_summary() {
    let verdict = Draft::new().judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);
    let request = &verdict.request;
    assert_eq!(request.client.as_deref(), Some("Boulangerie Martin"));
    assert_eq!(
        request.licence.as_deref(),
        Some("Microsoft 365 Business Standard")
    );
    assert_eq!(request.quantity, Some(2));
    assert_eq!(request.users, ["Jean Dupont", "Marie Curie"]);
    assert_eq!(request.remote_desktop, Some(false));
    let reply = verdict.reply.as_ref().unwrap();
    assert_eq!(
        reply.subject,
        format!(
            "[ACCEPTÉE] [AJOUT] Licence Office 365 - Boulangerie Martin ({})",
            verdict.request_id
        )
    );
    assert!(reply.body.contains(&verdict.request_id), "{}", reply.body);
    assert!(reply.body.contains("ajout de 2 licences"), "{}", reply.body);
    assert!(
        reply
            .body
            .contains("Utilisateurs : Jean Dupont, Marie Curie"),
        "{}",
        reply.body
    );
    // Issue 10: when it was received, and until when a removal would cancel
    // the addition with a refund (7 days).
    assert!(
        reply
            .body
            .contains("Reçue le : lundi 23 novembre 2026 à 10 h"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("remboursement au prorata jusqu'au lundi 30 novembre 2026 à 10 h"),
        "{}",
        reply.body
    );
}

// Issue 10: an accepted removal says when it takes effect.
#[test]
fn an_accepted_removal_says_when_it_takes_effect() {
    let verdict = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .set("Quantité", "-1")
        .set("Nom Prénom de l'utilisateur", "Jean Dupont")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{verdict:#?}");
    let body = verdict.reply.unwrap().body;
    assert!(body.contains("suppression d'une licence\n"), "{body}");
    assert!(body.contains("Utilisateur : Jean Dupont"), "{body}");
    assert!(
        body.contains("La suppression prendra effet le mardi 1er décembre 2026"),
        "{body}"
    );
}

#[test]
fn subject_format() {
    for subject in [
        "Licence pour la boulangerie",
        "[AJOUT / SUPPRESSION] Licence Office 365 - Boulangerie Martin",
        "[AJOUT] Licence Office 365 - ",
    ] {
        let verdict = Draft::new().subject(subject).judge();
        assert_eq!(problems(&verdict), ["subject_format"], "{subject}");
    }
}

#[test]
fn field_missing_names_the_field() {
    for label in [
        "Nom du client",
        "Type de licence",
        "Quantité",
        "Bureau à distance associé",
    ] {
        let verdict = Draft::new().remove(label).judge();
        assert_eq!(problems(&verdict), ["field_missing"], "{label}");
        let json = serde_json::to_value(&verdict.problems[0]).unwrap();
        assert_eq!(json["field"], label);
        let verdict = Draft::new().set(label, "[À COMPLÉTER]").judge();
        assert_eq!(
            problems(&verdict),
            ["field_missing"],
            "placeholder in {label}"
        );
    }
}

#[test]
fn field_duplicate_only_when_values_differ() {
    let verdict = Draft::new().add("Quantité", "+3").judge();
    assert_eq!(problems(&verdict), ["field_duplicate"]);
    // Issue 10: the template gives both back as a question, never the first
    // as if it were right.
    assert!(
        reply_body(&verdict).contains("Quantité : [+2 ou +3 ?]\n"),
        "{}",
        reply_body(&verdict)
    );
    let verdict = Draft::new().add("quantité", "+2").judge();
    assert_eq!(verdict.outcome, Outcome::Accepted);
}

#[test]
fn client_unknown_suggests_the_closest() {
    let verdict = Draft::new()
        .subject("[AJOUT] Licence Office 365 - Boulangerie Martine")
        .set("Nom du client", "Boulangerie Martine")
        .judge();
    assert_eq!(problems(&verdict), ["client_unknown"]);
    assert!(
        verdict.problems[0]
            .message
            .contains("« Boulangerie Martin »")
    );
}

#[test]
fn client_aliases_and_accents_match() {
    let verdict = Draft::new()
        .set("Nom du client", "BOULANGERIE MARTIN SARL")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert_eq!(
        verdict.request.client.as_deref(),
        Some("Boulangerie Martin")
    );
}

#[test]
fn client_mismatch() {
    let verdict = Draft::new()
        .set("Nom du client", "Garage du Centre")
        .judge();
    assert_eq!(problems(&verdict), ["client_mismatch"]);
    // Issue 10: both names are given back as a question, so that resending
    // the template unchanged is refused again.
    let body = reply_body(&verdict);
    assert!(
        body.contains("Nom du client : [Boulangerie Martin ou Garage du Centre ?]"),
        "{body}"
    );
    let resent = Draft::new()
        .set(
            "Nom du client",
            "[Boulangerie Martin ou Garage du Centre ?]",
        )
        .judge();
    assert_eq!(resent.outcome, Outcome::Rejected);
}

// Issue 10: one typo in the body gave client_unknown and client_mismatch;
// the known client of the subject is the one given back.
#[test]
fn a_client_typo_gives_one_line_and_the_known_name_back() {
    let verdict = Draft::new()
        .set("Nom du client", "Boulangrie Martin")
        .judge();
    assert_eq!(problems(&verdict), ["client_unknown"]);
    assert!(
        reply_body(&verdict).contains("Nom du client : Boulangerie Martin\n"),
        "{}",
        reply_body(&verdict)
    );
    let in_subject = Draft::new()
        .subject("[AJOUT] Licence Office 365 - Boulangrie Martin")
        .judge();
    assert_eq!(problems(&in_subject), ["client_unknown"]);
    assert_eq!(
        in_subject.problems[0].field.map(|f| f.label()),
        Some("Objet")
    );
}

#[test]
fn licence_unknown_suggests_official_names_and_never_corrects() {
    for (written, expected) in [
        ("Business Premium", "Microsoft 365 Business Premium"),
        ("Exchange Online Plan 1", "Exchange Online (Plan 1)"),
        (
            "Microsoft 365 Business Standart",
            "Microsoft 365 Business Standard",
        ),
    ] {
        let verdict = Draft::new().set("Type de licence", written).judge();
        assert_eq!(problems(&verdict), ["licence_unknown"], "{written}");
        assert_eq!(verdict.request.licence.as_deref(), Some(written));
        assert!(
            reply_body(&verdict).contains(&format!("« {expected} »")),
            "{written}: {}",
            reply_body(&verdict)
        );
    }
}

// Issue 19: « Copilot » got « Microsoft Sales Copilot », « M365 BP »
// Business Standard, « Business standart » its « (no Teams) » and
// « Prepaid Legacy » variants.
#[test]
fn licence_suggestions_follow_usual_names_and_never_mislead() {
    for (written, expected, never) in [
        (
            "Copilot",
            "Microsoft Copilot for Microsoft 365",
            "Sales Copilot",
        ),
        (
            "M365 BP",
            "Microsoft 365 Business Premium",
            "Business Standard",
        ),
        (
            "Business standart",
            "Microsoft 365 Business Standard",
            "(no Teams)",
        ),
        (
            "Business standart",
            "Microsoft 365 Business Standard",
            "Legacy",
        ),
        ("Exchange Plan 1", "Exchange Online (Plan 1)", "Plan 2"),
        ("O365 E3", "Office 365 E3", "Microsoft 365 E3"),
        ("EOP1", "Exchange Online (Plan 1)", "Protection"),
    ] {
        let verdict = Draft::new().set("Type de licence", written).judge();
        // A pointer only: never taken as the licence.
        assert_eq!(problems(&verdict), ["licence_unknown"], "{written}");
        let message = &verdict.problems[0].message;
        assert!(
            message.contains(&format!("« {expected} »")),
            "{written}: {message}"
        );
        assert!(!message.contains(never), "{written}: {message}");
    }
    // A variant comes when the mail names it.
    let verdict = Draft::new()
        .set("Type de licence", "Business Standard no Teams")
        .judge();
    let message = &verdict.problems[0].message;
    assert!(
        message.contains("« Microsoft 365 Business Standard (no Teams) »"),
        "{message}"
    );
}

// Issue 10: suggestions named sector variants no one asked for
// (« Project Plan 3_USGOV_GCCHIGH »), and several names when one held every
// word written.
#[test]
fn licence_suggestions_are_few_and_never_for_an_unnamed_sector() {
    let suggestions = |written: &str| -> String {
        let verdict = Draft::new().set("Type de licence", written).judge();
        verdict.problems[0].message.clone()
    };
    for written in [
        "Project Plan 3",
        "Exchange Online Plan 1",
        "Office 365 E1 Kiosk",
    ] {
        let message = suggestions(written).to_lowercase();
        for sector in [
            "gcc",
            "usgov",
            "government",
            "student",
            "faculty",
            "nonprofit",
            "alumni",
        ] {
            assert!(!message.contains(sector), "{written}: {message}");
        }
    }
    assert!(suggestions("Office 365 E1 GCC").contains("GCC"));
    let one = suggestions("Standard Business 365 Microsoft");
    assert!(
        one.contains("proche : « Microsoft 365 Business Standard »."),
        "{one}"
    );
}

#[test]
fn licence_internal_name_names_the_official_licence() {
    for (written, official) in [
        ("Boîte mail simple", "Exchange Online (Plan 1)"),
        (
            "boite mail + suite office",
            "Microsoft 365 Business Standard",
        ),
        ("Archivage inclus", "Exchange Online (Plan 2)"),
    ] {
        let verdict = Draft::new().set("Type de licence", written).judge();
        assert_eq!(problems(&verdict), ["licence_internal_name"], "{written}");
        assert!(
            verdict.problems[0].message.contains(official),
            "{}",
            verdict.problems[0].message
        );
    }
}

#[test]
fn licence_normalised_is_a_warning() {
    let verdict = Draft::new()
        .set("Type de licence", "microsoft 365  business standard")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted);
    assert_eq!(warnings(&verdict), ["licence_normalised"]);
    assert_eq!(
        verdict.request.licence.as_deref(),
        Some("Microsoft 365 Business Standard")
    );
}

#[test]
fn an_annual_addition_is_held_for_confirmation() {
    let verdict = Draft::new()
        .set("Type de licence", "Microsoft 365 Business Premium")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Held);
    assert_eq!(
        warnings(&verdict),
        ["annual_licence", "confirmation_required"]
    );
    // Monday 10:00: until Tuesday 17:30.
    assert_eq!(
        verdict.confirm_before,
        Some("2026-11-24T17:30:00+01:00".parse().unwrap())
    );
    let reply = verdict.reply.as_ref().unwrap();
    assert!(
        reply
            .subject
            .starts_with("[À CONFIRMER] [AJOUT] Licence Office 365 - Boulangerie Martin (LG-"),
        "{}",
        reply.subject
    );
    let confirm = format!("CONFIRMER {}", verdict.request_id);
    assert!(reply.body.contains(&confirm), "{}", reply.body);
    assert!(
        reply
            .body
            .contains("engage pour 12 mois, jusqu'au mardi 23 novembre 2027"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("avant le mardi 24 novembre 2026 à 17 h 30"),
        "{}",
        reply.body
    );
    // Issue 10: a removal is told to check the commitment's end first.
    let removal = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .set("Type de licence", "Microsoft 365 Business Premium")
        .set("Quantité", "-1")
        .set("Nom Prénom de l'utilisateur", "Jean Dupont")
        .judge();
    assert!(
        removal.warnings[0]
            .message
            .contains("la réduction ne prend effet qu'à l'échéance de l'engagement annuel"),
        "{:?}",
        removal.warnings
    );
    // … and it is not said when the client itself is in doubt.
    let doubted = Draft::new()
        .set("Type de licence", "Microsoft 365 Business Premium")
        .set("Nom du client", "Garage du Centre")
        .judge();
    assert_eq!(problems(&doubted), ["client_mismatch"]);
    assert!(warnings(&doubted).is_empty(), "{:?}", doubted.warnings);
}

#[test]
fn quantity_invalid_and_sign() {
    for written in ["deux", "0", "+X", "1,5"] {
        let verdict = Draft::new()
            .set("Quantité", written)
            .set("Nom Prénom de l'utilisateur", "")
            .set(
                "Adresse à créer (si non nominatif)",
                "contact@boulangerie-martin.fr",
            );
        assert_eq!(
            problems(&verdict.judge()),
            ["quantity_invalid"],
            "{written}"
        );
    }
    let verdict = Draft::new().set("Quantité", "-2").judge();
    assert_eq!(problems(&verdict), ["quantity_sign"]);
    let verdict = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .judge();
    assert_eq!(problems(&verdict), ["quantity_sign"]);
}

#[test]
fn quantity_unsigned_follows_the_action() {
    let verdict = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .set("Quantité", "2")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert_eq!(warnings(&verdict), ["quantity_unsigned"]);
    assert_eq!(verdict.request.quantity, Some(-2));
    // Issue 10: a refusal gives it back with the sign it was read with.
    let refused = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .set("Quantité", "2")
        .set("Bureau à distance associé", "peut-être")
        .judge();
    assert!(
        reply_body(&refused).contains("Quantité : -2\n"),
        "{}",
        reply_body(&refused)
    );
}

#[test]
fn user_missing_and_users_count() {
    let verdict = Draft::new().set("Nom Prénom de l'utilisateur", "").judge();
    assert_eq!(problems(&verdict), ["user_missing"]);
    let verdict = Draft::new()
        .set("Nom Prénom de l'utilisateur", "Jean Dupont")
        .judge();
    assert_eq!(problems(&verdict), ["users_count"]);
    let verdict = Draft::new()
        .set("Quantité", "+1")
        .set("Nom Prénom de l'utilisateur", "")
        .set(
            "Adresse à créer (si non nominatif)",
            "contact@boulangerie-martin.fr",
        )
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
}

#[test]
fn address_invalid_and_domain() {
    let generic = |address: &str| {
        Draft::new()
            .set("Quantité", "+1")
            .set("Nom Prénom de l'utilisateur", "")
            .set("Adresse à créer (si non nominatif)", address)
            .judge()
    };
    assert_eq!(
        problems(&generic("contact boulangerie")),
        ["address_invalid"]
    );
    assert_eq!(
        problems(&generic("contact@garageducentre.fr")),
        ["address_domain"]
    );
    assert_eq!(
        generic("Contact@Boulangerie-Martin.FR").outcome,
        Outcome::Accepted
    );
}

#[test]
fn remote_desktop_invalid() {
    for written in ["OUI/NON", "peut-être", "1"] {
        let verdict = Draft::new()
            .set("Bureau à distance associé", written)
            .judge();
        assert_eq!(problems(&verdict), ["remote_desktop_invalid"], "{written}");
    }
    assert_eq!(
        Draft::new()
            .set("Bureau à distance associé", "oui")
            .judge()
            .request
            .remote_desktop,
        Some(true)
    );
}

#[test]
fn windows_first_of_month_and_after_cutoff_give_a_resend_date() {
    let raw = Draft::new().raw();
    let verdict = judge_at(&raw, "2026-12-01T10:00:00+01:00");
    assert_eq!(problems(&verdict), ["window_first_of_month"]);
    assert!(
        reply_body(&verdict).contains("à partir du mercredi 2 décembre 2026 à 9 h"),
        "{}",
        reply_body(&verdict)
    );
    let verdict = judge_at(&raw, "2026-11-30T17:30:00+01:00");
    assert_eq!(problems(&verdict), ["window_after_cutoff"]);
    assert!(reply_body(&verdict).contains("à partir du mercredi 2 décembre 2026 à 9 h"));
    assert_eq!(
        judge_at(&raw, "2026-11-30T17:29:59+01:00").outcome,
        Outcome::Accepted
    );
}

#[test]
fn outside_office_hours_is_a_warning_with_the_next_opening() {
    let verdict = judge_at(&Draft::new().raw(), "2026-11-21T11:00:00+01:00");
    assert_eq!(verdict.outcome, Outcome::Accepted);
    assert_eq!(warnings(&verdict), ["outside_office_hours"]);
    assert!(
        verdict.warnings[0]
            .message
            .contains("lundi 23 novembre 2026 à 9 h")
    );
}

#[test]
fn reception_time_comes_from_headers_without_at() {
    let raw = Draft::new()
        .header("Received: from a by b; Tue, 1 Dec 2026 08:00:00 +0100")
        .raw();
    let verdict = check(&raw, rules(), None, &Limits::default());
    assert_eq!(problems(&verdict), ["window_first_of_month"]);
    let verdict = check(&Draft::new().raw(), rules(), None, &Limits::default());
    assert_eq!(verdict.outcome, Outcome::Accepted);
    assert_eq!(warnings(&verdict), ["reception_time_unknown"]);
}

#[test]
fn unreadable_mail_without_text() {
    let raw = "From: a@infogerance.example\r\nSubject: [AJOUT] Licence Office 365 - Boulangerie Martin\r\n\
               Content-Type: application/pdf; name=commande.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n";
    let verdict = judge_at(raw.as_bytes(), MONDAY_10H);
    assert_eq!(problems(&verdict), ["unreadable"]);
    assert_eq!(
        problems(&judge_at(b"", MONDAY_10H)),
        ["subject_format", "unreadable"]
    );
}

#[test]
fn too_large_mail_is_judged_on_its_headers() {
    let raw = Draft::new().raw();
    let limits = Limits {
        max_message_size: raw.len() - 1,
        ..Limits::default()
    };
    let verdict = check(&raw, rules(), Some(MONDAY_10H.parse().unwrap()), &limits);
    assert_eq!(problems(&verdict), ["too_large"]);
    assert!(
        verdict
            .reply
            .unwrap()
            .subject
            .starts_with("[REFUSÉE] [AJOUT]")
    );
}

#[test]
fn automatic_mails_are_ignored_without_reply() {
    for header in [
        "Auto-Submitted: auto-replied",
        "Precedence: junk",
        "List-Unsubscribe: <mailto:x@example.fr>",
        "X-Auto-Response-Suppress: All",
        "Return-Path: <>",
    ] {
        let verdict = Draft::new().header(header).judge();
        assert_eq!(verdict.outcome, Outcome::Ignored, "{header}");
        assert_eq!(problems(&verdict), ["auto_submitted"]);
        assert!(verdict.reply.is_none());
    }
}

#[test]
fn a_refusal_gives_the_template_back_filled() {
    let verdict = Draft::new()
        .set("Type de licence", "Business Premium")
        .judge();
    let body = reply_body(&verdict);
    assert!(
        body.contains("Objet : [AJOUT] Licence Office 365 - Boulangerie Martin"),
        "{body}"
    );
    assert!(
        body.contains("Type de licence : Business Premium\n"),
        "{body}"
    );
    assert!(
        body.contains("Nom Prénom de l'utilisateur : Jean Dupont, Marie Curie\n"),
        "{body}"
    );
    assert_eq!(
        verdict.reply.as_ref().unwrap().subject,
        format!(
            "[REFUSÉE] [AJOUT] Licence Office 365 - Boulangerie Martin ({})",
            verdict.request_id
        )
    );
}

#[test]
fn the_same_mail_gets_the_same_request_id() {
    let first = Draft::new().judge();
    assert_eq!(first.request_id, Draft::new().judge().request_id);
    assert!(first.request_id.starts_with("LG-") && first.request_id.len() == 13);
}

/// A request accepted before, as the ledger records it.
fn accepted_before(id: &str, at: &str, quantity: i64, users: &[&str]) -> licgate::judge::Movement {
    let received_at: Timestamp = at.parse().unwrap();
    let received_on = received_at
        .to_zoned(rules().calendar.time_zone.clone())
        .date();
    let effective_on = if quantity < 0 {
        received_on.last_of_month().tomorrow().unwrap()
    } else {
        received_on
    };
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    licgate::judge::Movement {
        request_id: id.into(),
        client: "Boulangerie Martin".into(),
        licence: "Microsoft 365 Business Standard".into(),
        quantity,
        user_keys: licgate::judge::user_keys(&users),
        users,
        received_at,
        received_on,
        effective_on,
        cancellable: None,
        upgrade: false,
        held: false,
        ticket: None,
    }
}

fn judge_with(history: &[licgate::judge::Movement], raw: &[u8], at: &str) -> Verdict {
    let judge = licgate::judge::Judge {
        rules: rules(),
        limits: &Limits::default(),
        history,
        held: &[],
        now: None,
        keys: None,
        refusals: None,
    };
    plain(judge.check(raw, Some(at.parse().unwrap())))
}

#[test]
fn duplicate_request_for_the_same_addition_this_month() {
    let history = [accepted_before(
        "LG-FIRST00001",
        "2026-11-05T10:00:00+01:00",
        2,
        &["Marie Curie", "Jean Dupont"],
    )];
    let verdict = judge_with(&history, &Draft::new().raw(), MONDAY_10H);
    assert_eq!(problems(&verdict), ["duplicate_request"]);
    assert!(
        verdict.problems[0]
            .message
            .contains("LG-FIRST00001, reçue le jeudi 5 novembre 2026 à 10 h")
    );
    let other_users = Draft::new()
        .set("Nom Prénom de l'utilisateur", "Paul Martin, Anne Roy")
        .raw();
    assert_eq!(
        judge_with(&history, &other_users, MONDAY_10H).outcome,
        Outcome::Accepted
    );
    let next_month = [accepted_before(
        "LG-FIRST00001",
        "2026-10-05T10:00:00+02:00",
        2,
        &["Jean Dupont", "Marie Curie"],
    )];
    assert_eq!(
        judge_with(&next_month, &Draft::new().raw(), MONDAY_10H).outcome,
        Outcome::Accepted
    );
}

#[test]
fn duplicate_request_for_a_removal_still_pending() {
    let removal = Draft::new()
        .subject("[SUPPRESSION] Licence Office 365 - Boulangerie Martin")
        .set("Quantité", "-1")
        .set("Nom Prénom de l'utilisateur", "Jean Dupont")
        .raw();
    let pending = [accepted_before(
        "LG-REMOVAL001",
        "2026-11-20T10:00:00+01:00",
        -1,
        &["jean dupont"],
    )];
    assert_eq!(
        problems(&judge_with(&pending, &removal, MONDAY_10H)),
        ["duplicate_request"]
    );
    let done = [accepted_before(
        "LG-REMOVAL001",
        "2026-10-20T10:00:00+02:00",
        -1,
        &["Jean Dupont"],
    )];
    assert_eq!(
        judge_with(&done, &removal, MONDAY_10H).outcome,
        Outcome::Accepted,
        "in effect since 1 November"
    );
}

// Issue 8, item 14: any quantity was accepted, and a generic address (one
// account) could come with +5.
#[test]
fn quantity_is_bounded_and_a_generic_address_is_one_licence() {
    let verdict = Draft::new()
        .set("Quantité", "+1001")
        .set("Nom Prénom de l'utilisateur", "")
        .set(
            "Adresse à créer (si non nominatif)",
            "accueil@boulangerie-martin.fr",
        )
        .judge();
    assert_eq!(problems(&verdict), ["quantity_too_large", "address_count"]);
    assert!(reply_body(&verdict).contains("maximum de 1\u{202F}000 licences"));
    assert!(reply_body(&verdict).contains("écrivez +1,"));
    let one = Draft::new()
        .set("Quantité", "+1")
        .set("Nom Prénom de l'utilisateur", "")
        .set(
            "Adresse à créer (si non nominatif)",
            "accueil@boulangerie-martin.fr",
        )
        .judge();
    assert_eq!(problems(&one), Vec::<&str>::new());
    let limits = Limits {
        max_quantity: 2,
        ..Limits::default()
    };
    let raw = Draft::new()
        .set("Quantité", "+3")
        .set("Nom Prénom de l'utilisateur", "A, B, C")
        .raw();
    let verdict = check(&raw, rules(), Some(MONDAY_10H.parse().unwrap()), &limits);
    assert_eq!(problems(&verdict), ["quantity_too_large"]);
}

// Issue 8, items 3 and 6: many values of one field were compared pairwise,
// and every one of them was listed in the reply.
#[test]
fn many_conflicting_values_are_listed_briefly() {
    let mut draft = Draft::new();
    for i in 0..5000 {
        draft = draft.add("Quantité", &format!("+{i}"));
    }
    let verdict = draft.judge();
    let duplicate = &verdict.problems[0];
    assert_eq!(duplicate.code.as_str(), "field_duplicate");
    assert!(
        duplicate
            .message
            .contains("« +2 », « +0 », « +1 », « +3 », « +4 », …"),
        "{}",
        duplicate.message
    );
}

// Issue 8, items 6 and 13: a long value was quoted whole, and CR, ESC or a
// bidi override in a value reached the reply and the terminal.
#[test]
fn values_are_cleaned_and_capped_before_anyone_reads_them() {
    let long = "x".repeat(10_000);
    let verdict = Draft::new()
        .set("Type de licence", &long)
        .set("Nom du client", "Boulangerie\u{202E} Martin\r")
        .set(
            "Nom Prénom de l'utilisateur",
            "Jean\u{1b}[2J Dupont, Marie\u{2066} Curie",
        )
        .judge();
    assert_eq!(
        verdict.request.client.as_deref(),
        Some("Boulangerie Martin")
    );
    assert_eq!(verdict.request.users, ["Jean[2J Dupont", "Marie Curie"]);
    let licence = verdict.request.licence.as_deref().unwrap();
    assert_eq!(licence.chars().count(), licgate::text::MAX_VALUE_CHARS + 1);
    assert!(licence.ends_with('…'));
    assert_eq!(problems(&verdict), ["field_too_long", "licence_unknown"]);
    assert!(reply_body(&verdict).len() < 5_000);
    let subject = Draft::new()
        .subject("[AJOUT] Licence Office 365 - Boulangerie Martin\u{202E}")
        .judge();
    assert_eq!(problems(&subject), Vec::<&str>::new());
    assert!(!subject.subject.unwrap().contains('\u{202E}'));
}

// Issue 8, found by review: a list of 20 users was cut at 200 characters to 9
// names, which matched a quantity of +9: the request was accepted with the
// wrong users. A value that was cut is never taken as the request.
#[test]
fn a_cut_value_is_never_accepted() {
    let names: Vec<String> = (0..20)
        .map(|i| format!("Prénom{i} Nomdefamille{i}"))
        .collect();
    let verdict = Draft::new()
        .set("Quantité", "+20")
        .set("Nom Prénom de l'utilisateur", &names.join(", "))
        .judge();
    assert_eq!(problems(&verdict), Vec::<&str>::new(), "20 names fit");
    assert_eq!(verdict.request.users.len(), 20);
    let names: Vec<String> = (0..200)
        .map(|i| format!("Prénom{i} Nomdefamille{i}"))
        .collect();
    let verdict = Draft::new()
        .set("Quantité", "+150")
        .set("Nom Prénom de l'utilisateur", &names.join(", "))
        .judge();
    assert_eq!(problems(&verdict), ["field_too_long", "users_count"]);
    let on_lines = Draft::new()
        .set("Quantité", "+150")
        .set("Nom Prénom de l'utilisateur", &names.join("\r\n"))
        .judge();
    assert_eq!(problems(&on_lines), ["field_too_long", "users_count"]);
    // Found by review: once cut, every further line still added « … ».
    let kept: usize = on_lines
        .request
        .users
        .iter()
        .map(|u| u.chars().count())
        .sum();
    assert!(kept <= 4001, "{kept} characters of users kept");
    assert_eq!(
        on_lines
            .request
            .users
            .iter()
            .filter(|u| u.ends_with('…'))
            .count(),
        1
    );
}

// Issue 10: answering a reply stacked its tags (`[REFUSÉE] RE: [REFUSÉE] …`).
#[test]
fn the_reply_subject_is_the_request_subject_never_stacked() {
    let first = judge_at(&Draft::new().set("Quantité", "beaucoup").raw(), MONDAY_10H);
    let subject = first.reply.unwrap().subject;
    let answer = judge_at(
        &Draft::new()
            .subject(&format!("RE: {subject}"))
            .set("Quantité", "encore")
            .raw(),
        MONDAY_10H,
    );
    assert_eq!(
        answer.reply.unwrap().subject,
        format!(
            "[REFUSÉE] [AJOUT] Licence Office 365 - Boulangerie Martin ({})",
            answer.request_id
        )
    );
    let unknown = judge_at(
        &Draft::new()
            .subject("TR: Re: [REFUSÉE] commande urgente (LG-0123456789)")
            .raw(),
        MONDAY_10H,
    );
    let subject = unknown.reply.unwrap().subject;
    assert!(
        subject.starts_with("[REFUSÉE] commande urgente (LG-"),
        "{subject}"
    );
    assert!(!subject.contains("0123456789"), "{subject}");
}

// Issue 10: a request refused for when it came was told « un point est à
// corriger », and technicians changed what was right.
#[test]
fn a_window_refusal_says_nothing_is_to_correct() {
    let verdict = judge_at(&Draft::new().raw(), "2026-11-30T18:00:00+01:00");
    assert_eq!(problems(&verdict), ["window_after_cutoff"]);
    let body = reply_body(&verdict);
    assert!(
        body.contains("est correcte, mais elle ne peut pas"),
        "{body}"
    );
    assert!(
        body.contains("à la date indiquée, répondez à ce message sans rien modifier"),
        "{body}"
    );
    assert!(!body.contains("corrige"), "{body}");
    assert!(
        body.contains("à partir du mercredi 2 décembre 2026 à 9 h"),
        "{body}"
    );
}

// Issue 10: a mail without the template got five « absent ou vide » lines.
#[test]
fn a_mail_without_the_template_gets_one_line_saying_so() {
    let mut draft = Draft::new();
    for label in LABELS {
        draft = draft.remove(label);
    }
    let verdict = draft.judge();
    assert_eq!(problems(&verdict), ["field_missing"]);
    assert!(verdict.problems[0].field.is_none());
    assert!(
        verdict.problems[0]
            .message
            .contains("Le modèle de demande est absent du message"),
        "{}",
        verdict.problems[0].message
    );
}

// Issue 10: the replies' French had plain spaces before « : » and inside
// « », where French typography wants no-break spaces.
#[test]
fn replies_follow_french_typography() {
    let verdict = check(
        &Draft::new().set("Quantité", "beaucoup").raw(),
        rules(),
        Some(MONDAY_10H.parse::<Timestamp>().unwrap()),
        &Limits::default(),
    );
    let body = &verdict.reply.as_ref().unwrap().body;
    assert!(
        body.contains("Nom du client\u{a0}: Boulangerie Martin"),
        "{body}"
    );
    assert!(body.contains("«\u{a0}beaucoup\u{a0}»"), "{body}");
    for (i, c) in body.char_indices() {
        if matches!(c, ':' | ';' | '?' | '!' | '»') && i > 0 {
            assert!(
                !body[..i].ends_with(' '),
                "plain space before {c:?}: {body}"
            );
        }
    }
    assert!(!body.contains("« "), "{body}");
    assert!(verdict.problems[0].message.contains("\u{a0}"));
}

// Found by review: an addition received a week before the month's end was
// said cancellable on a date when no removal is accepted any more.
#[test]
fn the_refund_window_given_ends_at_the_cut_off_at_the_latest() {
    let verdict = judge_at(&Draft::new().raw(), "2026-11-26T10:00:00+01:00");
    assert_eq!(verdict.outcome, Outcome::Accepted);
    let body = reply_body(&verdict);
    assert!(
        body.contains("jusqu'au lundi 30 novembre 2026 à 17 h 30"),
        "{body}"
    );
}

// Found by review: a duplicate was told to correct itself.
#[test]
fn a_duplicate_refusal_asks_for_nothing() {
    let history = [accepted_before(
        "LG-FIRST00001",
        "2026-11-05T10:00:00+01:00",
        2,
        &["Marie Curie", "Jean Dupont"],
    )];
    let verdict = judge_with(&history, &Draft::new().raw(), MONDAY_10H);
    let body = verdict.reply.unwrap().body.replace('\u{a0}', " ");
    assert!(body.contains("elle est déjà commandée"), "{body}");
    assert!(
        body.contains("Si c'est bien la même demande, rien à faire."),
        "{body}"
    );
    assert!(!body.contains("Corrigez"), "{body}");
}

// Found by review: with two clients, the reply's subject took the body's side.
#[test]
fn with_two_clients_the_reply_subject_is_the_subject_as_written() {
    let verdict = Draft::new()
        .set("Nom du client", "Garage du Centre")
        .judge();
    assert_eq!(
        verdict.reply.unwrap().subject,
        format!(
            "[REFUSÉE] [AJOUT] Licence Office 365 - Boulangerie Martin ({})",
            verdict.request_id
        )
    );
}

// Issue 18, low item: `licgate check --at 9999-12-30T10:00:00+01:00`
// panicked in rules/calendar.rs (the month's cut-off past jiff's last
// date); a `Date:` of that year did the same without `--at`.
#[test]
fn a_reception_time_past_the_calendar_is_no_reception_time() {
    let verdict = judge_at(&Draft::new().raw(), "9999-12-30T10:00:00+01:00");
    assert_eq!(warnings(&verdict), ["reception_time_unknown"]);
    let dated = Draft::new().header("Date: Thu, 30 Dec 9999 10:00:00 +0100");
    let verdict = plain(check(&dated.raw(), rules(), None, &Limits::default()));
    assert!(warnings(&verdict).contains(&"reception_time_unknown"));
}

// Found by the outside review: `Jean Dupont, DUPONT Jean` with `+2`, and
// a note among the names (« à voir avec le client », « TBD »), were each
// accepted as one more licence.
#[test]
fn each_licence_is_a_person_named_once() {
    for users in [
        "Jean Dupont, Jean Dupont",
        "Jean Dupont, DUPONT Jean",
        "Jean Dupont\njean dupont",
    ] {
        let verdict = Draft::new()
            .set("Quantité", "+2")
            .set("Nom Prénom de l'utilisateur", users)
            .judge();
        assert_eq!(problems(&verdict), ["users_count"], "{users}");
        assert!(
            verdict.problems[0].message.contains("figure deux fois"),
            "{users}"
        );
    }
    for note in [
        "à voir avec le client",
        "TBD",
        "Stagiaire",
        "voir ticket",
        "À définir",
    ] {
        let verdict = Draft::new()
            .set("Quantité", "+2")
            .set(
                "Nom Prénom de l'utilisateur",
                &format!("Jean Dupont\n{note}"),
            )
            .judge();
        assert_eq!(problems(&verdict), ["user_missing"], "{note}");
        assert!(
            verdict.problems[0]
                .message
                .contains("n'est pas le nom d'une personne"),
            "{note}"
        );
    }
    // Names that hold no such word, and two people of one family, pass.
    let verdict = Draft::new()
        .set("Quantité", "+2")
        .set("Nom Prénom de l'utilisateur", "Jean Dupont, Marie Dupont")
        .judge();
    assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
}

// Issue 19, item 1: « Date souhaitée : 20/11/2026 » after one user was
// read as a second one, and `Quantité : +2` was accepted.
#[test]
fn line_ignored_never_counts_as_a_user() {
    let verdict = Draft::new()
        .set(
            "Nom Prénom de l'utilisateur",
            "Jean Dupont\nDate souhaitée : 20/11/2026",
        )
        .judge();
    assert_eq!(problems(&verdict), ["users_count"]);
    assert_eq!(warnings(&verdict), ["line_ignored"]);
    assert_eq!(verdict.request.users, ["Jean Dupont"]);
    let body = reply_body(&verdict);
    assert!(
        body.contains("La ligne « Date souhaitée : 20/11/2026 » n'est pas un champ du modèle"),
        "{body}"
    );
    // An empty users field followed by such lines has no user at all.
    let verdict = Draft::new()
        .set("Quantité", "+1")
        .set(
            "Nom Prénom de l'utilisateur",
            "\nDate souhaitée : 20/11/2026\nRemarque : au plus vite",
        )
        .judge();
    assert_eq!(problems(&verdict), ["user_missing"]);
    // A `Ticket :` line is read as the ticket, not reported.
    let verdict = Draft::new()
        .set(
            "Nom Prénom de l'utilisateur",
            "Jean Dupont, Marie Curie\nTicket : GLPI 0004521",
        )
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert!(warnings(&verdict).is_empty(), "{:?}", warnings(&verdict));
}

// Issue 19, item 5: a count followed by a comment was refused; a removal's
// refusal gave « +1 » as its example, which leads to `quantity_sign`.
#[test]
fn quantity_with_a_comment_is_read_and_a_removal_example_is_negative() {
    let removal = "[SUPPRESSION] Licence Office 365 - Boulangerie Martin";
    let verdict = Draft::new()
        .subject(removal)
        .set("Quantité", "-1 (départ)")
        .set("Nom Prénom de l'utilisateur", "Jean Dupont")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert_eq!(verdict.request.quantity, Some(-1));
    let verdict = Draft::new().set("Quantité", "2 licences").judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    assert_eq!(warnings(&verdict), ["quantity_unsigned"]);
    for ambiguous in ["1 ou 2", "deux", "2-3"] {
        let verdict = Draft::new().set("Quantité", ambiguous).judge();
        assert_eq!(problems(&verdict), ["quantity_invalid"], "{ambiguous}");
    }
    let verdict = Draft::new()
        .subject(removal)
        .set("Quantité", "moins un")
        .judge();
    let body = reply_body(&verdict);
    assert!(body.contains("(par exemple -1)"), "{body}");
    assert!(!body.contains("+1"), "{body}");
}

// Issue 19, item 6: « - URGENT » after the client was refused as
// `client_unknown`.
#[test]
fn urgency_in_the_subject_is_no_part_of_the_client() {
    let verdict = Draft::new()
        .subject("[AJOUT] Licence Office 365 - Boulangerie Martin - URGENT")
        .judge();
    assert_eq!(verdict.outcome, Outcome::Accepted, "{:?}", verdict.problems);
    let body = reply_body(&verdict);
    assert!(
        body.contains("La mention d'urgence de l'objet n'est pas nécessaire"),
        "{body}"
    );
    assert!(
        !reply_body(&Draft::new().judge()).contains("urgent"),
        "said only when the subject says it"
    );
}

// Issue 19: two licences in one mail were answered « n'en gardez qu'une »,
// and the second user never got a licence.
#[test]
fn field_duplicate_of_a_licence_asks_for_a_request_of_its_own() {
    let verdict = Draft::new()
        .add("Type de licence", "Exchange Online (Plan 1)")
        .judge();
    assert_eq!(problems(&verdict), ["field_duplicate"]);
    let message = &verdict.problems[0].message;
    assert!(
        message.contains("envoyez une demande séparée pour l'autre"),
        "{message}"
    );
    assert!(!message.contains("n'en gardez qu'une"), "{message}");
}
