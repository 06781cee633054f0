//! Text normalisation shared by the parsers and the rules: how two spellings of
//! a label, a client or a licence are compared.
//!
//! Three strengths, from strict to loose:
//! - [`squash`]: case, spacing and dash variants only (the licence catalog's
//!   "normalised" match, which still earns a warning);
//! - [`fold`]: also accents, typographic apostrophes and exotic spaces;
//! - [`words`]: [`fold`] reduced to its letters and digits, one space between
//!   words (labels, client names, suggestions).

/// Lower-cases `s`, turns every dash variant into `-` and drops all white space.
///
/// `Exchange Online(Plan 1)` and `exchange online (plan 1)` give the same key.
pub fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if is_dash(c) { '-' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Lower-cases `s`, removes French accents, unifies apostrophes and dashes, and
/// collapses every run of white space (NBSP included) into one space.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
            c if is_dash(c) => out.push('-'),
            c => push_unaccented(&mut out, c),
        }
    }
    out
}

/// [`fold`], then keeps only letters and digits: words are separated by one space.
///
/// `Nom Prénom de l’utilisateur` gives `nom prenom de l utilisateur`.
pub fn words(s: &str) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// True for the hyphen and every dash or minus sign a mail client may put in its place.
pub fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2015}'
            | '\u{2212}'
    )
}

/// Longest value, in characters, quoted in a reply or kept in a record:
/// a real client, licence or user name is far shorter.
pub const MAX_VALUE_CHARS: usize = 200;

/// True for characters that must never reach a person's screen from a mail:
/// control characters (CR, ESC, DEL, C1) other than tab and line feed, the
/// bidirectional overrides and isolates that reorder what is shown
/// (U+202A-U+202E, U+2066-U+2069, the marks U+200E, U+200F, U+061C), and
/// the invisible ones: zero-width spaces and joiners, soft hyphen, word
/// joiner, byte order mark, line and paragraph separators, interlinear
/// annotations, tag characters, variation selectors, fillers and the other
/// default-ignorable code points.
pub fn is_hostile(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n')
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200B}'..='\u{200F}'
                | '\u{061C}'
                | '\u{00AD}'
                | '\u{180E}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{206A}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
        )
}

/// `s` without the characters of [`is_hostile`]; line feeds and tabs kept.
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !is_hostile(*c)).collect()
}

/// `s` cleaned ([`clean`]), on one line, cut to `max` characters with `…`
/// when longer: what a header value (subject, sender) may show of itself.
pub fn clean_line(s: &str, max: usize) -> String {
    clean_line_cut(s, max).0
}

/// [`clean_line`], and whether something was cut.
pub fn clean_line_cut(s: &str, max: usize) -> (String, bool) {
    // NOTE: the common case, a short clean value, in one pass.
    if s.len() <= max && !s.chars().any(|c| is_hostile(c) || c == '\n' || c == '\t') {
        return (s.to_owned(), false);
    }
    let one_line: String = s
        .chars()
        .filter(|c| !is_hostile(*c))
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect();
    cap_cut(&one_line, max)
}

/// `s` cut to `max` characters, with `…` when something was cut.
pub fn cap(s: &str, max: usize) -> String {
    cap_cut(s, max).0
}

fn cap_cut(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((end, _)) => (format!("{}…", &s[..end]), true),
        None => (s.to_owned(), false),
    }
}

/// Trims white space, NBSP and zero-width characters from both ends.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}'))
}

fn push_unaccented(out: &mut String, c: char) {
    // NOTE: most of what is folded is ASCII: lower-cased without Unicode's
    // tables (the same result), a third of a judgement's time before.
    if c.is_ascii() {
        return out.push(c.to_ascii_lowercase());
    }
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => 'y',
        'œ' | 'Œ' => return out.push_str("oe"),
        'æ' | 'Æ' => return out.push_str("ae"),
        c => return out.extend(c.to_lowercase()),
    };
    out.push(base);
}

/// A plain `local@domain.tld` address (no display name, no spaces).
pub fn is_email_address(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    local_ok && domain_ok
}

/// `5000` as French writes it: `5 000` (narrow no-break space).
pub fn french_number(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(digit);
    }
    out
}

/// `n` things in French, the noun agreeing: `0 ajout`, `1 ajout`,
/// `2 ajouts`, `1 000 ajouts` (French keeps 0 and 1 singular).
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", french_number(n), if n > 1 { many } else { one })
}

/// Why an I/O operation failed, in French words for a person (the system's
/// own words for the rare causes).
pub fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => "fichier absent".into(),
        ErrorKind::PermissionDenied => "accès refusé".into(),
        ErrorKind::IsADirectory => "c'est un dossier, pas un fichier".into(),
        ErrorKind::InvalidData => "contenu qui n'est pas du texte UTF-8".into(),
        ErrorKind::ConnectionRefused => "connexion refusée".into(),
        ErrorKind::TimedOut => "délai dépassé".into(),
        _ => err.to_string(),
    }
}

/// French typography on a text written with plain spaces: a no-break space
/// before `:`, `;`, `?` and `!`, and inside « ». Idempotent.
pub fn typography(text: &str) -> String {
    // NOTE: on bytes, copying the runs between changes: it runs on every
    // reply and digest, and char by char it cost more than parsing the mail.
    const OPENING: &[u8] = "« ".as_bytes();
    const CLOSING: &[u8] = "»".as_bytes();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest[0] == b' '
            && (matches!(rest.get(1), Some(b':' | b';' | b'?' | b'!'))
                || rest[1..].starts_with(CLOSING))
        {
            out.push_str(&text[copied..i]);
            out.push('\u{a0}');
            copied = i + 1;
        } else if rest.starts_with(OPENING) {
            out.push_str(&text[copied..i]);
            out.push_str("«\u{a0}");
            copied = i + OPENING.len();
            i = copied;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 8, item 13: CR, ESC and bidi overrides reached replies and the terminal.
    #[test]
    fn hostile_characters_are_removed() {
        assert_eq!(
            clean("a\rb\u{1b}[31mc\u{202E}d\u{2066}e\u{85}f\tg\nh"),
            "ab[31mcdef\tg\nh"
        );
        assert_eq!(clean_line("a\nb\u{202E}", 10), "a b");
        // Found by review: invisible characters passed.
        assert_eq!(
            clean(
                "a\u{2028}b\u{200B}c\u{FEFF}d\u{00AD}e\u{E0041}f\u{2060}g\u{034F}h\u{3164}i\u{FE0F}j\u{E0100}k"
            ),
            "abcdefghijk"
        );
    }

    // Issue 8, item 6: a 10 MB value was quoted whole, several times.
    #[test]
    fn values_are_capped_with_an_ellipsis() {
        assert_eq!(cap("abcdef", 3), "abc…");
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(cap("éééé", 2), "éé…");
    }

    #[test]
    fn squash_ignores_case_spacing_and_dashes() {
        assert_eq!(
            squash("Exchange Online(Plan 1)"),
            squash("exchange  online (PLAN 1)")
        );
        assert_eq!(squash("A – B"), squash("a-b"));
        assert_ne!(
            squash("Exchange Online Plan 1"),
            squash("Exchange Online (Plan 1)")
        );
    }

    #[test]
    fn fold_removes_accents_and_unifies_apostrophes() {
        assert_eq!(
            fold("  Nom Prénom de l’utilisateur\u{a0}"),
            "nom prenom de l'utilisateur"
        );
        assert_eq!(fold("QUANTITÉ"), "quantite");
        assert_eq!(
            fold("Bureau à distance associé"),
            "bureau a distance associe"
        );
        assert_eq!(fold("Cœur"), "coeur");
    }

    #[test]
    fn words_keeps_letters_and_digits_only() {
        assert_eq!(
            words("Adresse à créer (si non nominatif)"),
            "adresse a creer si non nominatif"
        );
        assert_eq!(
            words("Boîte mail + Suite Office"),
            "boite mail suite office"
        );
        assert_eq!(words("--"), "");
    }

    #[test]
    fn trim_removes_nbsp_and_zero_width() {
        assert_eq!(trim("\u{a0}\u{200B} OUI \u{feff}"), "OUI");
    }

    #[test]
    fn an_email_address_is_local_at_domain_dot_tld() {
        assert!(is_email_address("contact@boulangerie-martin.fr"));
        for bad in ["contact", "a@b", "a b@c.fr", "@c.fr", "a@-c.fr", "a@c..fr"] {
            assert!(!is_email_address(bad), "{bad}");
        }
    }

    #[test]
    fn typography_puts_no_break_spaces_where_french_wants_them() {
        let text = "Objet : « A » ; vraiment ? Oui ! 10:30 http://x";
        let french = "Objet\u{a0}: «\u{a0}A\u{a0}» ; vraiment\u{a0}? Oui\u{a0}! 10:30 http://x"
            .replace(" ;", "\u{a0};");
        assert_eq!(typography(text), french);
        assert_eq!(typography(&typography(text)), french);
        for (text, french) in [
            ("", ""),
            (" ", " "),
            ("a «", "a «"),
            ("« ", "«\u{a0}"),
            ("é : ü ?", "é\u{a0}: ü\u{a0}?"),
            ("x »", "x\u{a0}»"),
            ("«  deux", "«\u{a0} deux"),
        ] {
            assert_eq!(typography(text), french, "{text:?}");
        }
    }
}
