//! Answering a refusal: the technician presses Reply, corrects the template
//! where it stands in the quoted refusal, and sends. The quoted refusals are
//! built from what licgate replies, so a rewording keeps these tests true.

use std::path::Path;

use licgate::rules::Rules;
use licgate::{Limits, Outcome, Verdict, check};

const RECEIVED: &str = "2026-11-23T10:00:00+01:00";
const LATER: &str = "2026-11-23T10:30:00+01:00";

fn rules() -> Rules {
    Rules::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
}

fn judge(raw: &str, at: &str) -> Verdict {
    check(
        raw.as_bytes(),
        &rules(),
        Some(at.parse().unwrap()),
        &Limits::default(),
    )
}

/// A request whose licence is not an official name: refused.
fn refused_request() -> String {
    "From: Julie Bernard <julie.bernard@infogerance.example>\r\n\
     To: licences@infogerance.example\r\n\
     Subject: [AJOUT] Licence Office 365 - Boulangerie Martin\r\n\
     Message-ID: <first@infogerance.example>\r\n\r\n\
     Nom du client : Boulangerie Martin\r\n\
     Type de licence : Business Standard\r\n\
     Quantité : +1\r\n\
     Nom Prénom de l'utilisateur : Jean Dupont\r\n\
     Bureau à distance associé : NON\r\n"
        .to_owned()
}

/// The refusal licgate sends for [`refused_request`], and its verdict.
fn refusal() -> (Verdict, String, String) {
    let verdict = judge(&refused_request(), RECEIVED);
    assert_eq!(verdict.outcome, Outcome::Rejected);
    let reply = verdict.reply.clone().unwrap();
    (verdict, reply.subject, reply.body)
}

/// The refusal's template with its licence line corrected.
fn corrected(body: &str) -> String {
    body.lines()
        .map(|line| {
            // The label is followed by a no-break space (French typography).
            if line.starts_with("Type de licence") && line.contains(':') {
                "Type de licence : Microsoft 365 Business Standard"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A plain-text answer: `top` above Outlook's « Message d'origine » block
/// quoting `quoted` as it stands.
fn outlook_text_answer(subject: &str, top: &str, quoted: &str) -> String {
    format!(
        "From: Julie Bernard <julie.bernard@infogerance.example>\r\n\
         To: licences@infogerance.example\r\n\
         Subject: RE: {subject}\r\n\
         Message-ID: <answer@infogerance.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         {top}\r\n\r\n\
         -----Message d'origine-----\r\n\
         De : licences@infogerance.example\r\n\
         Envoyé : lundi 23 novembre 2026 10:00\r\n\
         À : Julie Bernard <julie.bernard@infogerance.example>\r\n\
         Objet : {subject}\r\n\r\n\
         {quoted}\r\n"
    )
}

/// A plain-text answer quoting with `>`, as Thunderbird or Gmail do.
fn quoting_answer(subject: &str, top: &str, quoted: &str) -> String {
    let quoted: Vec<String> = quoted.lines().map(|l| format!("> {l}")).collect();
    format!(
        "From: Julie Bernard <julie.bernard@infogerance.example>\r\n\
         Subject: Re: {subject}\r\n\
         Message-ID: <answer@infogerance.example>\r\n\r\n\
         {top}\r\n\r\n\
         Le 23/11/2026 à 10:00, licences@infogerance.example a écrit :\r\n\
         {}\r\n",
        quoted.join("\r\n")
    )
}

/// An HTML-only answer as Outlook writes it: the quoted part after a `div`
/// with a top border.
fn outlook_html_answer(subject: &str, top: &str, quoted: &str) -> String {
    let paragraphs: String = quoted
        .lines()
        .map(|l| format!("<p class=MsoNormal>{}<o:p></o:p></p>\r\n", html_escape(l)))
        .collect();
    format!(
        "From: Julie Bernard <julie.bernard@infogerance.example>\r\n\
         Subject: RE: {subject}\r\n\
         Message-ID: <answer@infogerance.example>\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><div class=WordSection1>\
         <p class=MsoNormal>{top}<o:p></o:p></p>\
         <div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>\
         <p class=MsoNormal><b>De&nbsp;:</b> licences@infogerance.example<br>\
         <b>Envoyé&nbsp;:</b> lundi 23 novembre 2026 10:00<br>\
         <b>À&nbsp;:</b> Julie Bernard<br><b>Objet&nbsp;:</b> {subject}</p></div>\
         {paragraphs}</div></body></html>\r\n"
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

type Answer = fn(&str, &str, &str) -> String;

const ANSWERS: [(&str, Answer); 3] = [
    ("Outlook text", outlook_text_answer),
    ("> quoting", quoting_answer),
    ("Outlook HTML", outlook_html_answer),
];

// Issue 10: an answer correcting the quoted template was refused again with
// five « absent ou vide » lines: only the new text was read.
#[test]
fn a_template_corrected_in_the_quoted_refusal_is_accepted() {
    let (refused, subject, body) = refusal();
    for (name, answer) in ANSWERS {
        let mail = answer(&subject, "Corrigé", &corrected(&body));
        let verdict = judge(&mail, LATER);
        assert_eq!(verdict.outcome, Outcome::Accepted, "{name}: {verdict:#?}");
        assert_eq!(
            verdict.corrects.as_deref(),
            Some(refused.request_id.as_str()),
            "{name}"
        );
        assert_ne!(verdict.request_id, refused.request_id, "{name}: a new id");
        assert_eq!(
            verdict.request.licence.as_deref(),
            Some("Microsoft 365 Business Standard"),
            "{name}"
        );
        assert_eq!(verdict.request.users, ["Jean Dupont"], "{name}");
        // The acceptance says which refused request it corrects.
        let body = verdict.reply.unwrap().body;
        assert!(body.contains(&refused.request_id), "{name}: {body}");
    }
}

#[test]
fn an_unedited_quoted_refusal_gets_the_same_problems() {
    let (refused, subject, body) = refusal();
    let codes = |v: &Verdict| v.problems.iter().map(|p| p.code).collect::<Vec<_>>();
    for (name, answer) in ANSWERS {
        let verdict = judge(&answer(&subject, "Voilà", &body), LATER);
        assert_eq!(verdict.outcome, Outcome::Rejected, "{name}");
        assert_eq!(codes(&verdict), codes(&refused), "{name}");
        assert_eq!(
            verdict.corrects.as_deref(),
            Some(refused.request_id.as_str())
        );
    }
}

#[test]
fn a_quoted_acceptance_or_own_request_is_never_read_as_a_request() {
    let accepted = judge(
        &refused_request().replace("Business Standard", "Microsoft 365 Business Standard"),
        RECEIVED,
    );
    assert_eq!(accepted.outcome, Outcome::Accepted);
    let reply = accepted.reply.unwrap();
    let answer = outlook_text_answer(
        &reply.subject,
        "Merci ! La licence est-elle active ?",
        &reply.body,
    );
    let verdict = judge(&answer, LATER);
    // Found by review: a question about an accepted order was answered
    // « REFUSÉE » (with a copy to purchasing: « ne rien commander »).
    assert_eq!(verdict.outcome, Outcome::Ignored, "{verdict:#?}");
    assert_eq!(verdict.problems[0].code.as_str(), "answer_to_acceptance");
    assert!(verdict.problems[0].message.contains(&accepted.request_id));
    assert!(verdict.reply.is_none());
    assert!(verdict.corrects.is_none());
    assert!(
        verdict.request.licence.is_none() && verdict.request.quantity.is_none(),
        "nothing read from the quote"
    );

    let own = refused_request();
    let body = &own[own.find("\r\n\r\n").unwrap() + 4..];
    let forward = outlook_text_answer(
        "[AJOUT] Licence Office 365 - Boulangerie Martin",
        "Pour info",
        body,
    );
    let verdict = judge(&forward, LATER);
    assert!(verdict.corrects.is_none());
    assert!(
        verdict.request.licence.is_none(),
        "nothing read from the quote"
    );
}

#[test]
fn a_template_in_the_new_text_wins_over_the_quoted_refusal() {
    let (_, subject, body) = refusal();
    let top = "Nom du client : Boulangerie Martin\r\n\
               Type de licence : Microsoft 365 Business Standard\r\n\
               Quantité : +3\r\n\
               Nom Prénom de l'utilisateur : A, B, C\r\n\
               Bureau à distance associé : NON";
    let mail = outlook_text_answer(&subject, top, &corrected(&body));
    let verdict = judge(&mail, LATER);
    assert!(verdict.corrects.is_none());
    assert_eq!(verdict.request.quantity, Some(3));
    assert_eq!(
        verdict.request.licence.as_deref(),
        Some("Microsoft 365 Business Standard")
    );
}

// Found by review: a block pasted by someone else (a client's mail forwarded,
// a hidden HTML element) was read as the sender's correction.
#[test]
fn a_refusal_block_is_read_only_in_an_answer_that_names_it() {
    let (refused, subject, body) = refusal();
    let forward = outlook_text_answer("question facture", "Qu'en pensez-vous ?", &corrected(&body));
    let verdict = judge(&forward, LATER);
    assert!(verdict.corrects.is_none(), "{verdict:#?}");
    assert_ne!(verdict.outcome, Outcome::Accepted);
    // The reply's Message-ID in References names it as well as the subject.
    let threaded = outlook_text_answer("Réponse", "Corrigé", &corrected(&body)).replacen(
        "Message-ID:",
        &format!(
            "References: <{}.reply@infogerance.example>\r\nMessage-ID:",
            refused.request_id
        ),
        1,
    );
    assert_eq!(judge(&threaded, LATER).outcome, Outcome::Accepted);
    assert!(subject.contains(&refused.request_id));
}

// Found by review: when the newest quoted block could not be read, an older
// refusal further down the thread was accepted instead.
#[test]
fn only_the_newest_quoted_refusal_is_read() {
    let (_, subject, body) = refusal();
    let older = corrected(&body);
    // The newest block cannot be read: its template lines were deleted.
    let newest: String = body
        .lines()
        .filter(|l| !l.contains('\u{a0}') || l.starts_with("Objet") || l.starts_with("Réf"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let mail = outlook_text_answer(&subject, "Corrigé", &format!("{newest}\r\n\r\n{older}"));
    let verdict = judge(&mail, LATER);
    assert_ne!(verdict.outcome, Outcome::Accepted, "{verdict:#?}");
    assert_ne!(
        verdict.request.licence.as_deref(),
        Some("Microsoft 365 Business Standard"),
        "the older block was read"
    );
}

// Found by review: the quoted subject went unread into replies and the audit
// trail, control characters and length included.
#[test]
fn the_quoted_subject_is_cleaned_and_capped() {
    let (_, subject, body) = refusal();
    let hostile = format!(
        "[AJOUT] Licence Office 365 - \u{1b}]0;x\u{7}{}",
        "B".repeat(5000)
    );
    let edited = corrected(&body).replace(
        "Objet\u{a0}: [AJOUT] Licence Office 365 - Boulangerie Martin",
        &format!("Objet : {hostile}"),
    );
    let verdict = judge(&outlook_text_answer(&subject, "Corrigé", &edited), LATER);
    let client = verdict.request.client.unwrap_or_default();
    assert!(!client.contains('\u{1b}'), "{client:?}");
    assert!(verdict.reply.unwrap().subject.chars().count() < 400);
}

// Issue 18: a made-up `(LG-0123456789)` in a subject and a quoted block was
// recorded as `corrects LG-0123456789`. The daemon names only a refusal it
// really sent (`Judge::refusals`); any other quoted block is no template.
#[test]
fn only_a_refusal_really_sent_is_corrected() {
    let (refused, subject, body) = refusal();
    let mail = outlook_text_answer(&subject, "Corrigé", &corrected(&body));
    let rules = rules();
    let limits = Limits::default();
    let judge_knowing = |sent: &dyn Fn(&str) -> bool| {
        licgate::judge::Judge {
            rules: &rules,
            limits: &limits,
            history: &[],
            held: &[],
            now: None,
            keys: None,
            refusals: Some(sent),
        }
        .check(mail.as_bytes(), Some(LATER.parse().unwrap()))
    };
    let real = judge_knowing(&|id| id == refused.request_id);
    assert_eq!(real.outcome, Outcome::Accepted, "{real:#?}");
    assert_eq!(real.corrects.as_deref(), Some(refused.request_id.as_str()));
    let made_up = judge_knowing(&|_| false);
    assert_eq!(made_up.outcome, Outcome::Rejected, "{made_up:#?}");
    assert_eq!(made_up.corrects, None);
    assert_eq!(made_up.problems[0].code.as_str(), "field_missing");
}
