//! The NAMESPACE response (RFC 2342, RFC 9051 §7.3.5): the personal, other
//! users' and shared namespaces, each `NIL` or a list of (prefix delimiter
//! extensions...). Every byte comes from the server and may be odd: any
//! departure from the grammar is an error, never a panic.

use std::fmt;

use super::mutf7;

/// One namespace.
#[derive(Debug, PartialEq)]
pub struct Namespace {
    /// Decoded from modified UTF-7: `INBOX.`, or empty.
    pub prefix: String,
    /// `None` for a flat namespace.
    pub delimiter: Option<char>,
}

/// The three kinds of namespaces, each in the server's order (the first
/// is the default one).
#[derive(Debug, PartialEq, Default)]
pub struct Namespaces {
    pub personal: Vec<Namespace>,
    pub other: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

impl Namespaces {
    pub fn all(&self) -> impl Iterator<Item = &Namespace> {
        self.personal.iter().chain(&self.other).chain(&self.shared)
    }
}

impl fmt::Display for Namespaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds = [
            ("personal", &self.personal),
            ("other users", &self.other),
            ("shared", &self.shared),
        ];
        for (i, (kind, namespaces)) in kinds.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{kind}")?;
            if namespaces.is_empty() {
                f.write_str(" none")?;
            }
            for namespace in namespaces.iter() {
                write!(f, " {:?}", namespace.prefix)?;
                match namespace.delimiter {
                    Some(delimiter) => write!(f, " (delimiter {:?})", delimiter.to_string())?,
                    None => f.write_str(" (flat)")?,
                }
            }
        }
        Ok(())
    }
}

/// Reads an untagged `* NAMESPACE ...` response (CRLF optional).
pub fn parse(response: &[u8]) -> Result<Namespaces, String> {
    let mut input = Input {
        bytes: response,
        at: 0,
    };
    input.expect_word("*")?;
    input.expect(b' ')?;
    input.expect_word("NAMESPACE")?;
    input.expect(b' ')?;
    let personal = input.namespaces()?;
    input.expect(b' ')?;
    let other = input.namespaces()?;
    input.expect(b' ')?;
    let shared = input.namespaces()?;
    input.spaces();
    if !matches!(&input.bytes[input.at..], b"" | b"\r\n") {
        return Err(input.error("end of the response"));
    }
    Ok(Namespaces {
        personal,
        other,
        shared,
    })
}

/// A position in the response.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn error(&self, expected: &str) -> String {
        format!("{expected} expected at byte {}", self.at)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("{:?}", char::from(byte))))
        }
    }

    /// Some servers put spaces where the grammar has none (between
    /// namespaces) or two where it has one.
    fn spaces(&mut self) {
        while self.eat(b' ') {}
    }

    /// Eats `word` (any case) when it comes next.
    fn word(&mut self, word: &str) -> bool {
        let end = self.at + word.len();
        let found = self
            .bytes
            .get(self.at..end)
            .is_some_and(|b| b.eq_ignore_ascii_case(word.as_bytes()));
        if found {
            self.at = end;
        }
        found
    }

    fn expect_word(&mut self, word: &str) -> Result<(), String> {
        if self.word(word) {
            Ok(())
        } else {
            Err(self.error(word))
        }
    }

    /// `NIL` or `(` namespace+ `)`.
    fn namespaces(&mut self) -> Result<Vec<Namespace>, String> {
        if self.word("NIL") {
            return Ok(Vec::new());
        }
        self.expect(b'(')?;
        let mut namespaces = Vec::new();
        loop {
            self.spaces();
            if self.eat(b')') {
                return Ok(namespaces);
            }
            namespaces.push(self.namespace()?);
        }
    }

    /// `(` prefix SP delimiter extensions `)`.
    fn namespace(&mut self) -> Result<Namespace, String> {
        self.expect(b'(')?;
        self.spaces();
        let wire = self.string()?;
        let prefix = std::str::from_utf8(&wire)
            .ok()
            .and_then(|wire| mutf7::decode(wire).ok())
            .ok_or_else(|| self.error("a prefix in modified UTF-7"))?;
        self.expect(b' ')?;
        self.spaces();
        let delimiter = if self.word("NIL") {
            None
        } else {
            let text = String::from_utf8(self.string()?)
                .map_err(|_| self.error("a delimiter in UTF-8"))?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(delimiter), None) => Some(delimiter),
                _ => return Err(self.error("a one-character delimiter")),
            }
        };
        // Extensions: SP string SP ( string *(SP string) ), skipped.
        loop {
            self.spaces();
            if self.eat(b')') {
                return Ok(Namespace { prefix, delimiter });
            }
            self.string()?;
            self.spaces();
            self.expect(b'(')?;
            loop {
                self.spaces();
                if self.eat(b')') {
                    break;
                }
                self.string()?;
            }
        }
    }

    /// A quoted string or a literal.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err(self.error("a string")),
        }
    }

    /// `"` chars `"`, where `\` escapes only `"` and `\`.
    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b'"')?;
        let mut text = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return Err(self.error("a closing quote")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(escaped @ (b'"' | b'\\')) => text.push(escaped),
                        _ => return Err(self.error("an escaped quote or backslash")),
                    }
                }
                Some(byte) => text.push(byte),
            }
            self.at += 1;
        }
    }

    /// `{n}` CRLF then n bytes.
    fn literal(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b'{')?;
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let length: usize = std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| self.error("a literal's length"))?;
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        let end = self
            .at
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error("a literal as long as announced"))?;
        let text = self.bytes[self.at..end].to_vec();
        self.at = end;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, delimiter: Option<char>) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            delimiter,
        }
    }

    #[test]
    fn cyrus_and_courier_put_the_folders_under_inbox() {
        let parsed = parse(b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n").unwrap();
        assert_eq!(
            parsed,
            Namespaces {
                personal: vec![ns("INBOX.", Some('.'))],
                ..Namespaces::default()
            }
        );
    }

    #[test]
    fn several_namespaces_of_each_kind() {
        let parsed = parse(
            b"* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\") (\"#public/\" \"/\") (\"#ftp/\" \"/\"))",
        )
        .unwrap();
        assert_eq!(parsed.personal, [ns("", Some('/')), ns("#mh/", Some('/'))]);
        assert_eq!(parsed.other, [ns("~", Some('/'))]);
        assert_eq!(parsed.shared.len(), 3);
        assert_eq!(parsed.shared[2], ns("#ftp/", Some('/')));
    }

    #[test]
    fn nil_delimiter_any_case_and_lenient_spaces() {
        let parsed = parse(b"* namespace (( \"\"  NIL )) nil nil  \r\n").unwrap();
        assert_eq!(parsed.personal, [ns("", None)]);
    }

    #[test]
    fn escapes_literals_and_encoded_prefixes() {
        let parsed = parse(
            b"* NAMESPACE ((\"a\\\"b\\\\\" \"\\\\\")) (({6}\r\nUsers. \".\")) ((\"Partag&AOk-s.\" \".\"))",
        )
        .unwrap();
        assert_eq!(parsed.personal, [ns("a\"b\\", Some('\\'))]);
        assert_eq!(parsed.other, [ns("Users.", Some('.'))]);
        assert_eq!(parsed.shared, [ns("Partagés.", Some('.'))]);
    }

    #[test]
    fn extension_data_is_skipped() {
        let parsed = parse(
            b"* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"Public/\" \"/\" \"TRANSLATION\" (\"Publique/\") \"X\" ()))",
        )
        .unwrap();
        assert_eq!(parsed.personal, [ns("", Some('/'))]);
        assert_eq!(parsed.shared, [ns("Public/", Some('/'))]);
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let hostile: &[&[u8]] = &[
            b"",
            b"*",
            b"* NAMESPACE",
            b"* NAMESPACE ",
            b"* NAMESPACE NIL NIL",
            b"* NAMESPACE NIL NIL NIL garbage",
            b"* NAMESPACE ((\"INBOX.\" \".\") NIL NIL",
            b"* NAMESPACE ((\"INBOX. \".\")) NIL NIL",
            b"* NAMESPACE ((\"INBOX.\" \"..\")) NIL NIL",
            b"* NAMESPACE ((\"INBOX.\" \"\")) NIL NIL",
            b"* NAMESPACE ((\"INBOX.\")) NIL NIL",
            b"* NAMESPACE ((INBOX. \".\")) NIL NIL",
            b"* NAMESPACE ((\"IN\\BOX.\" \".\")) NIL NIL",
            b"* NAMESPACE ((\"IN\rBOX.\" \".\")) NIL NIL",
            b"* NAMESPACE ((\"INBOX.\\",
            b"* NAMESPACE (({99}\r\nINBOX. \".\")) NIL NIL",
            b"* NAMESPACE (({18446744073709551615}\r\nx \".\")) NIL NIL",
            b"* NAMESPACE (({99999999999999999999999}\r\nx \".\")) NIL NIL",
            b"* NAMESPACE (({}\r\n \".\")) NIL NIL",
            b"* NAMESPACE (({3}x \".\")) NIL NIL",
            b"* NAMESPACE ((\"\xff\xfe\" \".\")) NIL NIL",
            b"* NAMESPACE ((\"&AOk\" \".\")) NIL NIL",
            b"* NAMESPACE ((\"\" \".\" \"X\")) NIL NIL",
            b"* NAMESPACE ((\"\" \".\" \"X\" (\"a\")) NIL NIL",
            b"* LIST () \".\" INBOX",
            b"\0\0\0\0",
        ];
        for response in hostile {
            assert!(
                parse(response).is_err(),
                "{:?}",
                String::from_utf8_lossy(response)
            );
        }
        // Every cut of a valid response: no panic, whatever the result.
        let valid =
            b"* NAMESPACE ((\"INBOX.\" \".\" \"X\" (\"a\" {1}\r\nb))) ((\"~\" \"/\")) NIL\r\n";
        assert!(parse(valid).is_ok());
        for cut in 0..valid.len() {
            let _ = parse(&valid[..cut]);
        }
    }

    #[test]
    fn shown_in_words_for_the_operator() {
        let parsed = parse(b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"Public.\" \".\"))").unwrap();
        assert_eq!(
            parsed.to_string(),
            r#"personal "INBOX." (delimiter "."), other users none, shared "Public." (delimiter ".")"#
        );
    }
}
