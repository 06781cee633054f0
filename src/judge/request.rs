//! Reads the request itself from the subject and the new text of the body:
//! the action and client of the subject, and the fields of the template (six
//! for an addition or a removal; an upgrade names two licences).
//!
//! Everything here is tolerant parsing of text into raw values; whether the
//! values are right is the business of [`crate::judge`].

use serde::{Deserialize, Serialize};

use crate::text;

/// What the technician asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `[AJOUT]`: licences to add.
    Ajout,
    /// `[SUPPRESSION]`: licences to remove.
    Suppression,
    /// `[MISE À NIVEAU]`: licences to move from `Licence actuelle` to
    /// `Licence cible` (irreversible in the console).
    MiseANiveau,
}

impl Action {
    /// The stable name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ajout => "ajout",
            Action::Suppression => "suppression",
            Action::MiseANiveau => "mise_a_niveau",
        }
    }

    /// The subject tag, as the template writes it.
    pub fn tag(self) -> &'static str {
        match self {
            Action::Ajout => "AJOUT",
            Action::Suppression => "SUPPRESSION",
            Action::MiseANiveau => "MISE À NIVEAU",
        }
    }
}

/// What is wrong with a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectIssue {
    /// Not `[ACTION] Licence Office 365 - Client` at all.
    NotTemplate,
    /// The tag still reads `[AJOUT / SUPPRESSION]`, or names no known action.
    ActionNotChosen,
    /// Nothing after the dash.
    ClientMissing,
}

/// The parts of a subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The action of the `[...]` tag, when it names exactly one.
    pub action: Option<Action>,
    /// The client after the dash, when there is one.
    pub client: Option<String>,
    /// The first thing found wrong, if any.
    pub issue: Option<SubjectIssue>,
    /// The subject said « URGENT » or « IMPORTANT » (taken off the client).
    pub urgent: bool,
}

/// What could be read of a request: resolved names where they resolved,
/// the values as written otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Request {
    /// From the subject's tag.
    pub action: Option<Action>,
    /// Canonical client name when known, else as written.
    pub client: Option<String>,
    /// Official licence name when recognised, else as written (for an
    /// upgrade: the target licence, `Licence cible`).
    pub licence: Option<String>,
    /// For an upgrade: the licence the users have today (`Licence actuelle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_licence: Option<String>,
    /// Signed: positive to add, negative to remove.
    pub quantity: Option<i64>,
    /// User names, one per licence.
    pub users: Vec<String>,
    /// Generic address to create.
    pub address: Option<String>,
    /// `Bureau à distance associé`.
    pub remote_desktop: Option<bool>,
    /// The ticket reference(s), from a subject tag or a `Ticket :` line
    /// ([`super::ticket`]); absent from records written before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Reply and forward prefixes of the usual mail clients, in several languages.
const PREFIXES: &[&str] = &[
    "re", "tr", "fw", "fwd", "aw", "wg", "rv", "sv", "vs", "antw", "ref", "réf",
];

/// Parses `[AJOUT] Licence Office 365 - Client`, tolerating case, spacing,
/// dash variants and reply/forward prefixes.
pub fn parse_subject(subject: &str) -> Subject {
    let (rest, urgent_before) = strip_urgency_tags(clean_subject(subject));
    let Some((tag, rest)) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) else {
        return Subject {
            issue: Some(SubjectIssue::NotTemplate),
            ..Subject::default()
        };
    };
    let action = match text::words(tag).as_str() {
        "ajout" => Some(Action::Ajout),
        "suppression" => Some(Action::Suppression),
        "mise a niveau" | "upgrade" => Some(Action::MiseANiveau),
        _ => None,
    };
    let (product, client, urgent_after) = match rest.find(text::is_dash) {
        Some(at) => {
            let dash_len = rest[at..].chars().next().map_or(1, char::len_utf8);
            let (client, urgent) = strip_urgency(&rest[at + dash_len..]);
            (&rest[..at], value_or_none(client), urgent)
        }
        None => (rest, None, false),
    };
    let product_ok = matches!(
        text::words(product).as_str(),
        "licence office 365" | "license office 365" | "licences office 365" | "licence office365"
    );
    let issue = if !product_ok || !rest.contains(text::is_dash) {
        Some(SubjectIssue::NotTemplate)
    } else if action.is_none() {
        Some(SubjectIssue::ActionNotChosen)
    } else if client.is_none() {
        Some(SubjectIssue::ClientMissing)
    } else {
        None
    };
    Subject {
        action,
        client: client.map(str::to_owned),
        issue,
        urgent: urgent_before || urgent_after,
    }
}

/// Words of urgency technicians add to a subject.
const URGENCY: &[&str] = &[
    "urgent",
    "urgente",
    "important",
    "importante",
    "tres urgent",
];

/// `subject` without `[URGENT]` or `URGENT :` before its tag; whether there
/// was one.
fn strip_urgency_tags(subject: &str) -> (&str, bool) {
    let mut rest = subject;
    let mut urgent = false;
    // NOTE: a few tags at most: a subject of a thousand tags stops here.
    for _ in 0..3 {
        let tag = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .or_else(|| rest.split_once([':', '-', '–']));
        match tag {
            Some((word, after)) if URGENCY.contains(&text::words(word).as_str()) => {
                rest = text::trim(after);
                urgent = true;
            }
            _ => break,
        }
    }
    (rest, urgent)
}

/// The client of a subject without the urgency after it (`Martin - URGENT`,
/// `Martin (urgent)`, `Martin URGENT !`); whether there was one.
fn strip_urgency(client: &str) -> (&str, bool) {
    let mut rest = client;
    let mut urgent = false;
    for _ in 0..3 {
        rest = rest.trim_end_matches(|c: char| {
            c.is_whitespace() || c == '!' || c == ':' || text::is_dash(c)
        });
        let bracketed = rest
            .strip_suffix(')')
            .and_then(|r| r.rsplit_once('('))
            .or_else(|| rest.strip_suffix(']').and_then(|r| r.rsplit_once('[')));
        let (before, word) = match bracketed {
            Some((before, word)) => (before, word),
            None => match rest.rsplit_once(char::is_whitespace) {
                Some((before, word)) => (before, word),
                None => break,
            },
        };
        let mut words = text::words(word);
        let mut before = before;
        if let Some(tres) = before
            .trim_end()
            .rsplit_once(char::is_whitespace)
            .filter(|(_, w)| matches!(text::words(w).as_str(), "tres"))
        {
            words = format!("tres {words}");
            before = tres.0;
        }
        if !URGENCY.contains(&words.as_str()) {
            break;
        }
        rest = before;
        urgent = true;
    }
    let rest = rest.trim_end_matches(|c: char| c.is_whitespace() || text::is_dash(c));
    (rest, urgent)
}

/// `subject` without reply and forward prefixes, the tags of licgate's
/// replies and the request id they end with: the subject of the request
/// itself, as a reply quotes it (`[REFUSÉE] <this> (LG-…)`), never stacked.
pub fn clean_subject(subject: &str) -> &str {
    let rest = strip_prefixes(text::trim(subject));
    let Some(open) = rest.rfind("(LG-") else {
        return rest;
    };
    let is_reference = rest[open + 1..]
        .strip_suffix(')')
        .is_some_and(super::is_request_id);
    if is_reference {
        text::trim(&rest[..open])
    } else {
        rest
    }
}

/// The request id of licgate's `[À CONFIRMER] … (LG-…)` that `subject`
/// answers, if it answers one.
pub fn answered_hold(subject: &str) -> Option<String> {
    if !text::fold(subject).contains("[a confirmer]") {
        return None;
    }
    let open = subject.rfind("(LG-")?;
    let id = text::trim(&subject[open + 1..]).strip_suffix(')')?;
    super::is_request_id(id).then(|| id.to_ascii_uppercase())
}

/// Removes any number of `RE:`, `TR :`, `Fwd[2]:` prefixes, and the tags of
/// licgate's own replies (`[REFUSÉE]`), so that answering a refusal works.
fn strip_prefixes(mut s: &str) -> &str {
    loop {
        if let Some(rest) = s.strip_prefix('[').and_then(|r| r.split_once(']'))
            && matches!(
                text::words(rest.0).as_str(),
                "refusee" | "acceptee" | "a confirmer" | "expiree" | "annulee"
            )
        {
            s = text::trim(rest.1);
            continue;
        }
        let Some((head, tail)) = s.split_once(':') else {
            return s;
        };
        let word = head
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit() || "[]() ".contains(c));
        if !PREFIXES.contains(&word.to_lowercase().as_str()) {
            return s;
        }
        s = text::trim(tail);
    }
}

/// The fields of the templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "Nom du client")]
    Client,
    #[serde(rename = "Type de licence")]
    Licence,
    /// Upgrade: the licence the users have today.
    #[serde(rename = "Licence actuelle")]
    CurrentLicence,
    /// Upgrade: the licence they move to, copied from the client's tenant.
    #[serde(rename = "Licence cible")]
    TargetLicence,
    #[serde(rename = "Quantité")]
    Quantity,
    #[serde(rename = "Nom Prénom de l'utilisateur")]
    Users,
    #[serde(rename = "Adresse à créer (si non nominatif)")]
    Address,
    #[serde(rename = "Bureau à distance associé")]
    RemoteDesktop,
    /// Not a body field: the subject line, named in problems about it.
    #[serde(rename = "Objet")]
    Subject,
}

impl Field {
    /// The body fields of an addition or a removal, in the template's order.
    pub const TEMPLATE: [Field; 6] = [
        Field::Client,
        Field::Licence,
        Field::Quantity,
        Field::Users,
        Field::Address,
        Field::RemoteDesktop,
    ];

    /// The body fields of an upgrade, in the template's order.
    pub const UPGRADE_TEMPLATE: [Field; 7] = [
        Field::Client,
        Field::CurrentLicence,
        Field::TargetLicence,
        Field::Quantity,
        Field::Users,
        Field::Address,
        Field::RemoteDesktop,
    ];

    /// Every body field any template has.
    pub const BODY: [Field; 8] = [
        Field::Client,
        Field::Licence,
        Field::CurrentLicence,
        Field::TargetLicence,
        Field::Quantity,
        Field::Users,
        Field::Address,
        Field::RemoteDesktop,
    ];

    /// The template's fields for `action`.
    pub fn template(action: Option<Action>) -> &'static [Field] {
        match action {
            Some(Action::MiseANiveau) => &Field::UPGRADE_TEMPLATE,
            _ => &Field::TEMPLATE,
        }
    }

    /// The label as the template writes it.
    pub fn label(self) -> &'static str {
        match self {
            Field::Client => "Nom du client",
            Field::Licence => "Type de licence",
            Field::CurrentLicence => "Licence actuelle",
            Field::TargetLicence => "Licence cible",
            Field::Quantity => "Quantité",
            Field::Users => "Nom Prénom de l'utilisateur",
            Field::Address => "Adresse à créer (si non nominatif)",
            Field::RemoteDesktop => "Bureau à distance associé",
            Field::Subject => "Objet",
        }
    }

    /// Recognises a label, whatever its case, accents, apostrophe or spacing.
    /// Longest value read, in characters: a list of about a hundred users,
    /// or [`text::MAX_VALUE_CHARS`].
    pub fn max_chars(self) -> usize {
        match self {
            Field::Users => 4000,
            _ => text::MAX_VALUE_CHARS,
        }
    }

    pub(crate) fn from_label(label: &str) -> Option<Field> {
        Field::from_words(&text::words(label))
    }

    /// [`Field::from_label`] of a label already folded to its words
    /// ([`text::words`]).
    fn from_words(words: &str) -> Option<Field> {
        let field = match words {
            "nom du client" | "nom client" | "client" => Field::Client,
            "type de licence" | "type de license" | "type de licences" | "type licence" => {
                Field::Licence
            }
            "licence actuelle" | "license actuelle" => Field::CurrentLicence,
            "licence cible" | "license cible" => Field::TargetLicence,
            "quantite" => Field::Quantity,
            w if w.starts_with("adresse a creer") => Field::Address,
            w if w.starts_with("bureau a distance") => Field::RemoteDesktop,
            w if (w.starts_with("nom") || w.starts_with("prenom")) && w.contains("utilisateur") => {
                Field::Users
            }
            "utilisateur" | "utilisateurs" => Field::Users,
            _ => return None,
        };
        Some(field)
    }
}

/// Every value given for each field, in order of appearance (empty values and
/// placeholders left out), cleaned of control characters and capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    values: [Vec<String>; 8],
    /// The fields with a value longer than its cap: what was read of them is
    /// cut, so it must never be taken as the request.
    too_long: Vec<Field>,
    /// `Label : value` lines right after a field whose label is none of the
    /// template's (`Date souhaitée : 20/11/2026`): they end the field and
    /// are never read as its value, so the technician is told.
    ignored: Vec<String>,
}

impl Fields {
    /// The values given for `field`.
    pub fn values(&self, field: Field) -> &[String] {
        Field::BODY
            .iter()
            .position(|f| *f == field)
            .map_or(&[], |i| &self.values[i])
    }

    /// True when no field of the template was written at all.
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Vec::is_empty) && self.too_long.is_empty()
    }

    /// How many fields have a value.
    pub fn filled(&self) -> usize {
        self.values.iter().filter(|v| !v.is_empty()).count()
    }

    /// The fields with a value that was cut ([`Field::max_chars`]).
    pub fn too_long(&self) -> &[Field] {
        &self.too_long
    }

    /// The lines of another label that ended a field, as written (the first
    /// few).
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    fn values_mut(&mut self, field: Field) -> &mut Vec<String> {
        let i = Field::BODY
            .iter()
            .position(|f| *f == field)
            .expect("body field");
        &mut self.values[i]
    }

    /// Adds a value as written (placeholders and empty values left out);
    /// gives whether there was one.
    fn push(&mut self, field: Field, written: &str) -> bool {
        let Some(value) = value_or_none(written) else {
            return false;
        };
        if field == Field::Address && says_none(value) {
            return false;
        }
        let (value, cut) = text::clean_line_cut(value, field.max_chars());
        self.cut(field, cut);
        self.values_mut(field).push(value);
        true
    }

    /// Adds a line to the last value of the users' list.
    fn continue_users(&mut self, line: &str) {
        if self.too_long.contains(&Field::Users) {
            return;
        }
        let max = Field::Users.max_chars();
        let Some(last) = self.values_mut(Field::Users).last_mut() else {
            return;
        };
        let room = max.saturating_sub(last.chars().count() + 1);
        let (line, cut) = text::clean_line_cut(line, room);
        last.push('\n');
        last.push_str(&line);
        self.cut(Field::Users, cut);
    }

    fn cut(&mut self, field: Field, cut: bool) {
        if cut && !self.too_long.contains(&field) {
            self.too_long.push(field);
        }
    }
}

/// Openings of a sign-off, which end a list of users written on several lines.
const SIGN_OFFS: &[&str] = &[
    "cordialement",
    "bien cordialement",
    "merci",
    "bonne journee",
    "bonne soiree",
    "salutations",
    "bien a vous",
    "regards",
    "best regards",
];

/// Reads the template's fields from the new text of a body.
///
/// A value may stand on the line after its label (or, for a label alone on
/// its line as Outlook writes a table's cells as text, after blank lines);
/// the users may go on over several lines, until a blank line, another label
/// (the template's or any `Label : value` line) or a sign-off.
pub fn parse_fields(body: &str) -> Fields {
    let mut fields = Fields::default();
    // The field that the next lines may still add to, and whether it has a value yet.
    let mut open: Option<(Field, bool)> = None;
    // Whether the open field's label stood alone on its line (a table's
    // cell): its value may come after blank lines.
    let mut bare = false;
    // NOTE: the template is a dozen lines: what follows its first thousands
    // is never read, so a mail of a million field lines costs no more.
    let lines = body.lines().take(MAX_BODY_LINES).flat_map(split_joined);
    for line in lines {
        let line = strip_bullet(line);
        if line.is_empty() {
            if !(bare && matches!(open, Some((_, false)))) {
                open = None;
            }
            continue;
        }
        bare = false;
        if let Some((field, value)) = split_label(line) {
            let has_value = fields.push(field, value);
            open = Some((field, has_value));
            continue;
        }
        let words = text::words(line);
        if let Some(field) = bare_label(line, &words) {
            open = Some((field, false));
            bare = true;
            continue;
        }
        if SIGN_OFFS.iter().any(|s| words.starts_with(s)) {
            open = None;
            continue;
        }
        // Issue 19, item 1: `Date souhaitée : 20/11/2026` after the users
        // is no user; it ends the field.
        if is_other_label(line) {
            if open.is_some() && fields.ignored.len() < MAX_IGNORED {
                fields
                    .ignored
                    .push(text::clean_line(line, text::MAX_VALUE_CHARS));
            }
            open = None;
            continue;
        }
        match open {
            Some((field, false)) => {
                let has_value = fields.push(field, line);
                open = Some((field, has_value));
            }
            Some((Field::Users, true)) => fields.continue_users(line),
            _ => open = None,
        }
    }
    fields
}

/// Most ignored lines reported for one mail.
const MAX_IGNORED: usize = 3;

/// Longest label of a `Label : value` line that is not the template's, in
/// characters (`Date de départ souhaitée`).
const MAX_OTHER_LABEL_CHARS: usize = 40;

/// True for a line of the shape `Label : value` (`Date souhaitée : 20/11`,
/// `Ticket : GLPI 0004521`, `NB : …`), or a table's row `Label<TAB>value`:
/// a short label of words only, no digit, before a colon that is no URL's.
/// A name with a time (`Jean Dupont, arrivée à 9:00`) is not one.
fn is_other_label(line: &str) -> bool {
    let Some((label, value)) = line.split_once([':', '\u{FF1A}', '\t']) else {
        return false;
    };
    // A table's row (`Date souhaitée<TAB>01/12`) has a value; a cell's
    // last paragraph of names ends with a lone tab.
    if line.as_bytes().get(label.len()) == Some(&b'\t') && text::trim(value).is_empty() {
        return false;
    }
    let label = text::trim(label);
    let mut chars = label.chars();
    chars.next().is_some_and(char::is_alphabetic)
        && label.chars().count() <= MAX_OTHER_LABEL_CHARS
        && label.split_whitespace().count() <= 5
        && chars.all(|c| c.is_alphabetic() || c.is_whitespace() || "'’-.()/".contains(c))
        && !value.starts_with("//")
}

/// The field of a line that is only a label (`Nom du client`, `Quantité :`),
/// as Outlook writes a table's cells as text, one per line; `words` are the
/// line's ([`text::words`]).
fn bare_label(line: &str, words: &str) -> Option<Field> {
    let label = line.trim_end_matches(|c: char| c.is_whitespace() || c == ':' || c == '\u{FF1A}');
    if label.contains([':', '\u{FF1A}', '\t']) {
        return None;
    }
    Field::from_words(words)
}

/// True for a value that says there is none (`N/A`, `néant`, `-`): for the
/// optional `Adresse à créer`, such a word means the field is empty.
fn says_none(value: &str) -> bool {
    matches!(
        text::words(value).as_str(),
        "" | "n a"
            | "na"
            | "neant"
            | "aucune"
            | "aucun"
            | "sans objet"
            | "non applicable"
            | "non"
            | "rien"
    )
}

/// Longest label looked for inside a line, in bytes.
const MAX_LABEL_BYTES: usize = 64;

/// `line` cut before each label of the template that stands inside it:
/// Outlook's « supprimer les sauts de ligne superflus » joins the template's
/// lines (`Type de licence : Microsoft 365 Business Standard Quantité : +2`).
/// Linear: each colon looks back over one label's length at most.
pub(crate) fn split_joined(line: &str) -> Vec<&str> {
    // NOTE: a template line is short; a longer one is not split (a pasted
    // log full of colons must cost no more than reading it).
    if line.len() > MAX_JOINED_BYTES {
        return vec![line];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    // The first colon of a piece ends its own label, if it has one.
    let mut labelled = false;
    for (colon, _) in line.match_indices([':', '\u{FF1A}']) {
        if !labelled {
            labelled = true;
            if Field::from_label(&line[start..colon]).is_some() {
                continue;
            }
        }
        // Only a colon after a word that ends a label can end one: a test in
        // constant time before any label is folded.
        if !ends_a_label(&line[start..colon]) || pieces.len() >= Field::BODY.len() {
            continue;
        }
        let floor = colon.saturating_sub(MAX_LABEL_BYTES).max(start);
        // Each word start between `floor` and the colon, farthest first: the
        // longest label wins (`Nom Prénom de l'utilisateur`, not `Prénom de
        // l'utilisateur`).
        let label_start = (floor..colon)
            .filter(|&i| {
                line.is_char_boundary(i) && i > start && line[..i].ends_with(char::is_whitespace)
            })
            .find(|&i| {
                let label = &line[i..colon];
                !label.contains([':', '\u{FF1A}']) && Field::from_label(label).is_some()
            });
        if let Some(label_start) = label_start {
            pieces.push(&line[start..label_start]);
            start = label_start;
        }
    }
    pieces.push(&line[start..]);
    pieces
}

/// Longest line looked at for joined template lines, in bytes.
const MAX_JOINED_BYTES: usize = 2048;

/// The last words of the template's labels.
const LABEL_ENDS: &[&str] = &[
    "client",
    "licence",
    "actuelle",
    "cible",
    "licences",
    "license",
    "quantité",
    "quantite",
    "utilisateur",
    "utilisateurs",
    "nominatif)",
    "associé",
    "associe",
];

/// True when `text` ends with the last word of a label (before a colon).
fn ends_a_label(text: &str) -> bool {
    let text = text.trim_end_matches(|c: char| c.is_whitespace());
    // NOTE: only the tail can hold the word (16 bytes at most): looking
    // further back from each colon made a line of colons quadratic.
    let tail = (text.len().saturating_sub(32)..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    let word = text[tail..]
        .rsplit(|c: char| c.is_whitespace() || c == '\'' || c == '’')
        .next()
        .unwrap_or_default();
    word.len() <= 16
        && LABEL_ENDS
            .iter()
            .any(|end| end.eq_ignore_ascii_case(word) || word.to_lowercase() == *end)
}

/// Splits `Label : value` (or `Label<TAB>value`, from an HTML table) when the
/// label is one of the template's; the first of the colon and the tab
/// separates (a value may hold either).
fn split_label(line: &str) -> Option<(Field, &str)> {
    let (label, value) = line.split_once([':', '\u{FF1A}', '\t'])?;
    // A label cell without its colon, then a value cell that starts with one.
    let value =
        value.trim_start_matches(|c: char| c.is_whitespace() || c == ':' || c == '\u{FF1A}');
    Some((Field::from_label(label)?, value))
}

/// Removes list bullets (`•`, `·`, `-`, `*`, Symbol and Wingdings glyphs) and
/// the spacing around them.
fn strip_bullet(line: &str) -> &str {
    let line = text::trim(line);
    let rest = line.trim_start_matches(|c: char| {
        matches!(
            c,
            '•' | '·' | '‣' | '◦' | '▪' | '■' | '□' | '●' | '○' | '*' | '§' | '\u{F000}'
                ..='\u{F0FF}'
        ) || text::is_dash(c)
    });
    if rest.len() != line.len() && (rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        text::trim(rest)
    } else {
        line
    }
}

/// Lines of new text read for the template's fields.
const MAX_BODY_LINES: usize = 2000;

/// The trimmed value, or `None` when it is empty or a placeholder left as is
/// (`[ENTREPRISE CLIENT]`, `<Client>`).
fn value_or_none(value: &str) -> Option<&str> {
    let value = text::trim(value);
    let placeholder = (value.starts_with('[') && value.ends_with(']'))
        || (value.starts_with('<') && value.ends_with('>') && !value.contains('@'));
    (!value.is_empty() && !placeholder).then_some(value)
}

/// Words that no person's name holds, but that notes among the names do
/// (« à voir avec le client », « TBD », « stagiaire », « voir ticket »),
/// folded.
const NOT_NAMES: &[&str] = &[
    "voir",
    "ticket",
    "tbd",
    "tbc",
    "definir",
    "preciser",
    "stagiaire",
    "arrivant",
    "embauche",
    "idem",
    "inconnu",
    "test",
    "client",
];

/// Whether a users entry may name a person: none of [`NOT_NAMES`] in it.
pub fn names_a_person(entry: &str) -> bool {
    !text::words(entry)
        .split(' ')
        .any(|word| NOT_NAMES.contains(&word))
}

/// The first name written twice among `users`, whatever the order of its
/// words, their case and accents (`Jean Dupont`, `DUPONT Jean`).
pub fn written_twice(users: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    users.iter().find_map(|user| {
        let mut words: Vec<String> = text::words(user).split(' ').map(str::to_owned).collect();
        words.sort();
        (!seen.insert(words)).then_some(user.as_str())
    })
}

/// The user names of the `Nom Prénom` field, separated by `,`, `;` or lines.
pub fn split_users(value: &str) -> Vec<String> {
    value
        .split([',', ';', '\n'])
        .filter_map(|name| value_or_none(strip_bullet(name)))
        .map(str::to_owned)
        .collect()
}

/// The sign written before a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Plus,
    Minus,
}

/// A quantity as written: optional sign, then a positive count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The sign, when one was written.
    pub sign: Option<Sign>,
    /// The number of licences, at least 1.
    pub count: u32,
}

/// Parses `+2`, `-1`, `3`, `+ 2` or `−1` (minus sign), and a count followed
/// by a unit or a comment (`-1 (départ)`, `+2 licences`). `None` unless it
/// is a non-zero integer, read without doubt: `1 ou 2`, `deux`, `2-3` or
/// `+2 (peut-être 3)` are none.
pub fn parse_quantity(value: &str) -> Option<Quantity> {
    let value = text::trim(value);
    let (sign, rest) = match value.chars().next()? {
        '+' => (Some(Sign::Plus), &value[1..]),
        c if text::is_dash(c) => (Some(Sign::Minus), &value[c.len_utf8()..]),
        _ => (None, value),
    };
    let rest = text::trim(rest);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, comment) = rest.split_at(end);
    if digits.is_empty() || !is_plain_comment(comment) {
        return None;
    }
    let count: u32 = digits.parse().ok().filter(|n| *n > 0)?;
    Some(Quantity { sign, count })
}

/// Words that may follow a count.
const UNITS: &[&str] = &[
    "licence",
    "licences",
    "license",
    "licenses",
    "utilisateur",
    "utilisateurs",
    "compte",
    "comptes",
    "poste",
    "postes",
];

/// Words that make a count doubtful, wherever they stand.
const DOUBTS: &[&str] = &[
    "ou", "a", "plus", "moins", "environ", "voire", "peut", "max", "maximum", "min", "minimum",
    "sur", "et",
];

/// True when what follows a count leaves it as it is: nothing, a unit,
/// then at most one comment in parentheses, with no other number nor a
/// word of doubt.
fn is_plain_comment(comment: &str) -> bool {
    if comment.is_empty() {
        return true;
    }
    if !comment.starts_with(|c: char| c.is_whitespace() || c == '(') {
        return false;
    }
    let comment = text::trim(comment);
    let (units, remark) = match comment.split_once('(') {
        Some((units, remark)) => match remark.strip_suffix(')') {
            Some(remark) if !remark.contains(['(', ')']) => (units, remark),
            _ => return false,
        },
        None => (comment, ""),
    };
    let units_ok = text::words(units)
        .split(' ')
        .all(|w| w.is_empty() || UNITS.contains(&w));
    let remark_ok = remark.split_whitespace().all(|token| {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric());
        !token.bytes().all(|b| b.is_ascii_digit()) || token.is_empty()
    }) && text::words(remark).split(' ').all(|w| !DOUBTS.contains(&w));
    units_ok && remark_ok
}

/// `OUI` -> true, `NON` -> false, whatever the case and accents, and with a
/// comment after a parenthesis, a dash or a comma (`NON (pas besoin)`); a
/// comment that names the other answer (`OUI/NON`, `non, ou oui`) is none.
pub fn parse_yes_no(value: &str) -> Option<bool> {
    let value = text::trim(value);
    let answer = |word: &str| match word {
        "oui" => Some(true),
        "non" => Some(false),
        _ => None,
    };
    let head = value.get(..3).map(str::to_ascii_lowercase)?;
    let yes = answer(&head)?;
    let comment = text::trim(&value[3..]);
    if text::words(comment).is_empty() {
        return Some(yes);
    }
    let separated = comment.starts_with(['(', ',']) || comment.starts_with(text::is_dash);
    let doubtful = text::words(comment)
        .split(' ')
        .any(|w| answer(w).is_some() || w == "ou");
    (separated && !doubtful).then_some(yes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 10: Outlook's « supprimer les sauts de ligne superflus » joined
    // the template's lines, and the second field was lost in the first.
    #[test]
    fn joined_lines_are_read_as_their_fields() {
        let fields = parse_fields(
            "Nom du client : Boulangerie Martin Type de licence : Microsoft 365 Business Standard Quantité : +2\n\
             Nom Prénom de l'utilisateur : Jean Dupont, Marie Curie Bureau à distance associé : NON\n",
        );
        assert_eq!(fields.values(Field::Client), ["Boulangerie Martin"]);
        assert_eq!(
            fields.values(Field::Licence),
            ["Microsoft 365 Business Standard"]
        );
        assert_eq!(fields.values(Field::Quantity), ["+2"]);
        assert_eq!(fields.values(Field::Users), ["Jean Dupont, Marie Curie"]);
        assert_eq!(fields.values(Field::RemoteDesktop), ["NON"]);
        assert_eq!(
            split_joined("Adresse à créer (si non nominatif) : contact@x.fr"),
            ["Adresse à créer (si non nominatif) : contact@x.fr"]
        );
        assert_eq!(
            split_joined("Réunion à 10:30 avec le client"),
            ["Réunion à 10:30 avec le client"]
        );
        // Found by review: the nearest label won, and « +1 Nom » was read
        // as the quantity.
        assert_eq!(
            split_joined("Quantité : +1 Nom Prénom de l'utilisateur : Jean Dupont"),
            [
                "Quantité : +1 ",
                "Nom Prénom de l'utilisateur : Jean Dupont"
            ]
        );
    }

    fn subject(s: &str) -> (Option<Action>, Option<String>, Option<SubjectIssue>) {
        let parsed = parse_subject(s);
        (parsed.action, parsed.client, parsed.issue)
    }

    #[test]
    fn subject_tolerates_case_spacing_dashes_and_prefixes() {
        let ok = (
            Some(Action::Ajout),
            Some("Boulangerie Martin".to_owned()),
            None,
        );
        assert_eq!(
            subject("[AJOUT] Licence Office 365 - Boulangerie Martin"),
            ok
        );
        assert_eq!(
            subject("RE: TR : [ajout]   licence office 365 – Boulangerie Martin"),
            ok
        );
        assert_eq!(
            subject("Fwd[2]: AW: [ Ajout ]Licence Office 365—Boulangerie Martin "),
            ok
        );
        assert_eq!(
            subject("[SUPPRESSION] Licence Office 365 - Boulangerie-Martin"),
            (
                Some(Action::Suppression),
                Some("Boulangerie-Martin".to_owned()),
                None
            )
        );
        assert_eq!(
            subject("RE: [REFUSÉE] [AJOUT] Licence Office 365 - Boulangerie Martin"),
            ok
        );
    }

    // Issue 19, item 6: « - URGENT » after the client was read as part of
    // its name, and the request refused as `client_unknown`.
    #[test]
    fn urgency_is_taken_off_the_client() {
        for written in [
            "[AJOUT] Licence Office 365 - Boulangerie Martin - URGENT",
            "[AJOUT] Licence Office 365 - Boulangerie Martin URGENT !!",
            "[AJOUT] Licence Office 365 - Boulangerie Martin (urgent)",
            "[AJOUT] Licence Office 365 - Boulangerie Martin – TRÈS URGENT",
            "[AJOUT] Licence Office 365 - Boulangerie Martin IMPORTANT",
            "[URGENT] [AJOUT] Licence Office 365 - Boulangerie Martin",
            "URGENT : [AJOUT] Licence Office 365 - Boulangerie Martin",
        ] {
            let parsed = parse_subject(written);
            assert_eq!(
                parsed.client.as_deref(),
                Some("Boulangerie Martin"),
                "{written}"
            );
            assert_eq!(parsed.action, Some(Action::Ajout), "{written}");
            assert!(parsed.urgent, "{written}");
        }
        let parsed = parse_subject("[AJOUT] Licence Office 365 - Urgences Dentaires");
        assert_eq!(parsed.client.as_deref(), Some("Urgences Dentaires"));
        assert!(!parsed.urgent);
        assert_eq!(
            parse_subject("[AJOUT] Licence Office 365 - URGENT").issue,
            Some(SubjectIssue::ClientMissing)
        );
    }

    #[test]
    fn subject_issues() {
        assert_eq!(
            subject("Licence pour Martin").2,
            Some(SubjectIssue::NotTemplate)
        );
        assert_eq!(
            subject("[AJOUT] Office 365 - Martin").2,
            Some(SubjectIssue::NotTemplate)
        );
        assert_eq!(
            subject("[AJOUT] Licence Office 365 Martin").2,
            Some(SubjectIssue::NotTemplate)
        );
        assert_eq!(
            subject("[AJOUT / SUPPRESSION] Licence Office 365 - Martin").2,
            Some(SubjectIssue::ActionNotChosen)
        );
        assert_eq!(
            subject("[AJOUT] Licence Office 365 - ").2,
            Some(SubjectIssue::ClientMissing)
        );
        assert_eq!(
            subject("[AJOUT] Licence Office 365 - <Client>").2,
            Some(SubjectIssue::ClientMissing)
        );
    }

    #[test]
    fn fields_tolerate_labels_bullets_and_placeholders() {
        let body = "Bonjour,\n\n• NOM DU CLIENT\u{a0}: Boulangerie Martin\n\
                    ·\u{a0}\u{a0}Type de licence: Exchange Online (Plan 1)\n\
                    - quantite :+1\n\
                    * Nom Prénom de l’utilisateur : [Prénom NOM]\n\
                    \u{F0B7}  Adresse à créer : contact@boulangerie-martin.fr\n\
                    Bureau a distance associe : non\nCordialement\n";
        let fields = parse_fields(body);
        assert_eq!(fields.values(Field::Client), ["Boulangerie Martin"]);
        assert_eq!(fields.values(Field::Licence), ["Exchange Online (Plan 1)"]);
        assert_eq!(fields.values(Field::Quantity), ["+1"]);
        assert!(fields.values(Field::Users).is_empty());
        assert_eq!(
            fields.values(Field::Address),
            ["contact@boulangerie-martin.fr"]
        );
        assert_eq!(fields.values(Field::RemoteDesktop), ["non"]);
    }

    #[test]
    fn users_may_span_lines_until_a_blank_line_or_sign_off() {
        let body =
            "Nom Prénom de l'utilisateur :\n- Jean Dupont\n- Marie Curie\nCordialement\nPaul\n";
        let fields = parse_fields(body);
        assert_eq!(fields.values(Field::Users), ["Jean Dupont\nMarie Curie"]);
        assert_eq!(
            split_users(&fields.values(Field::Users)[0]),
            ["Jean Dupont", "Marie Curie"]
        );
        assert_eq!(split_users("A B, C D; E F"), ["A B", "C D", "E F"]);
    }

    // Issue 19, item 1: « Date souhaitée : 20/11/2026 » was read as a
    // second user, and let an order for two licences through.
    #[test]
    fn another_label_ends_the_users_and_is_no_user() {
        let fields = parse_fields(
            "Quantité : +2\nNom Prénom de l'utilisateur : Jean Dupont\n\
             Date souhaitée : 20/11/2026\nBureau à distance associé : NON\n",
        );
        assert_eq!(fields.values(Field::Users), ["Jean Dupont"]);
        assert_eq!(fields.ignored(), ["Date souhaitée : 20/11/2026"]);
        // An empty users field followed by such lines has no user at all.
        let fields =
            parse_fields("Nom Prénom de l'utilisateur :\nTicket : GLPI 0004521\nNB: urgent\n");
        assert!(fields.values(Field::Users).is_empty());
        assert_eq!(fields.ignored(), ["Ticket : GLPI 0004521"]);
        // A continuation line of names, even with a time in it, still counts.
        let fields = parse_fields(
            "Nom Prénom de l'utilisateur : Jean Dupont,\nMarie Curie (arrivée à 9:00)\n\
             Paul Martin\n",
        );
        assert_eq!(
            split_users(&fields.values(Field::Users)[0]),
            ["Jean Dupont", "Marie Curie (arrivée à 9:00)", "Paul Martin"]
        );
        assert!(fields.ignored().is_empty());
        // Lines of another label before the template are not reported.
        assert!(
            parse_fields("Ticket : 12\nNom du client : X\n")
                .ignored()
                .is_empty()
        );
        assert!(!is_other_label("https://portal.office.com"));
        assert!(is_other_label("Date de départ souhaitée : 30/11"));
        // A table's row of another label; a cell's last line of names is none.
        assert!(is_other_label("Date souhaitée\t01/12/2026\t"));
        assert!(!is_other_label("Marie Curie\t"));
    }

    // Issue 19, item 2: Outlook writes a pasted table as text with each
    // cell on its own line, and as HTML one row per line, cells apart by a
    // tab; labels without colon.
    #[test]
    fn a_table_as_cells_on_lines_or_tabs_is_read() {
        let text = "Nom du client\n\nBoulangerie Martin\n\nType de licence\n\n\
                    Microsoft 365 Business Standard\n\nQuantité\n\n+1\n\n\
                    Nom Prénom de l'utilisateur\n\nJean Dupont\n\n\
                    Adresse à créer (si non nominatif)\n\n\nBureau à distance associé\n\nNON\n";
        let fields = parse_fields(text);
        assert_eq!(fields.values(Field::Client), ["Boulangerie Martin"]);
        assert_eq!(fields.values(Field::Quantity), ["+1"]);
        assert_eq!(fields.values(Field::Users), ["Jean Dupont"]);
        assert!(fields.values(Field::Address).is_empty());
        assert_eq!(fields.values(Field::RemoteDesktop), ["NON"]);
        let html = "Nom du client\tBoulangerie Martin\t\nQuantité :\t+1\t\n\
                    Nom Prénom de l'utilisateur\tJean Dupont (arrivée : 1/12)\t\n\
                    Adresse à créer (si non nominatif)\t\u{a0}\t\nBureau à distance associé\t: NON\t\n";
        let fields = parse_fields(html);
        assert_eq!(fields.values(Field::Client), ["Boulangerie Martin"]);
        assert_eq!(fields.values(Field::Quantity), ["+1"]);
        assert_eq!(
            fields.values(Field::Users),
            ["Jean Dupont (arrivée : 1/12)"]
        );
        assert!(fields.values(Field::Address).is_empty());
        assert_eq!(fields.values(Field::RemoteDesktop), ["NON"]);
        // A label with its colon still ends at a blank line.
        let fields = parse_fields("Nom du client :\n\nMerci de faire vite\n");
        assert!(fields.values(Field::Client).is_empty());
    }

    // Issue 19, item 4: « N/A » was refused as an invalid address, telling
    // the technician to invent one.
    #[test]
    fn a_word_for_none_leaves_the_address_empty() {
        for none in ["N/A", "néant", "Aucune", "-", "sans objet", "/", "NA"] {
            let fields = parse_fields(&format!("Adresse à créer (si non nominatif) : {none}\n"));
            assert!(fields.values(Field::Address).is_empty(), "{none}");
        }
        let fields = parse_fields("Adresse à créer : accueil@x.fr\nNom du client : N/A\n");
        assert_eq!(fields.values(Field::Address), ["accueil@x.fr"]);
        assert_eq!(fields.values(Field::Client), ["N/A"]);
    }

    #[test]
    fn value_on_next_line_and_duplicates_are_kept() {
        let fields =
            parse_fields("Nom du client :\nBoulangerie Martin\nQuantité : +1\nQuantité : +2\n");
        assert_eq!(fields.values(Field::Client), ["Boulangerie Martin"]);
        assert_eq!(fields.values(Field::Quantity), ["+1", "+2"]);
    }

    #[test]
    fn quantities() {
        let q = |sign, count| Some(Quantity { sign, count });
        assert_eq!(parse_quantity("+2"), q(Some(Sign::Plus), 2));
        assert_eq!(parse_quantity("- 1"), q(Some(Sign::Minus), 1));
        assert_eq!(parse_quantity("−3"), q(Some(Sign::Minus), 3));
        assert_eq!(parse_quantity("4"), q(None, 4));
        for bad in ["0", "+0", "deux", "+", "1.5", "+X", "99999999999", ""] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
        // Issue 19, item 5: a count followed by a unit or a comment is read;
        // what is really ambiguous still is not.
        assert_eq!(parse_quantity("-1 (départ)"), q(Some(Sign::Minus), 1));
        assert_eq!(parse_quantity("+2 licences"), q(Some(Sign::Plus), 2));
        assert_eq!(parse_quantity("2 licences"), q(None, 2));
        assert_eq!(
            parse_quantity("-1 licence (départ le 30/11)"),
            q(Some(Sign::Minus), 1)
        );
        for bad in [
            "1 ou 2",
            "2-3",
            "2 à 3",
            "+2 (peut-être 3)",
            "+2 (1 de plus)",
            "2 licences ou plus",
            "+2 (voire 3",
            "2,5",
            "3 (2 + 1)",
        ] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn yes_no_and_addresses() {
        assert_eq!(parse_yes_no("OUI"), Some(true));
        assert_eq!(parse_yes_no(" Non "), Some(false));
        assert_eq!(parse_yes_no("OUI/NON"), None);
        // Issue 19: a comment after the answer.
        assert_eq!(parse_yes_no("NON (pas besoin)"), Some(false));
        assert_eq!(parse_yes_no("Oui - RDS partagé"), Some(true));
        assert_eq!(parse_yes_no("NON."), Some(false));
        for bad in [
            "NON - ou OUI ?",
            "non, oui",
            "nonobstant",
            "OUI NON",
            "ou",
            "é",
        ] {
            assert_eq!(parse_yes_no(bad), None, "{bad}");
        }
    }
}
