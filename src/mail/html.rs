//! HTML to plain text, line by line, for mails that come without a usable
//! text/plain part (Outlook, OWA, Gmail).
//!
//! Unlike a renderer it only has to keep the template's lines apart: block
//! elements (`p`, `div`, `li`, `br`, `tr`...) end a line, table cells are
//! separated by a tab (a table row is one line, whatever paragraphs Outlook
//! wraps each cell's text in), entities are decoded, and what a reader never sees
//! (`head`, `style`, `script`, comments, Outlook's conditional comments,
//! elements styled out of sight: `display:none`, `visibility:hidden`,
//! `mso-hide:all`, `font-size:0`, `opacity:0`, white text, the `hidden`
//! attribute) or
//! should not count (`blockquote`: quoted history) is dropped.

use mail_parser::decoders::html::add_html_token;

/// Elements whose whole content is dropped.
const SKIPPED: &[&str] = &["head", "style", "script", "title", "template", "blockquote"];

/// Elements that have no content and no closing tag.
const VOID: &[&str] = &[
    "br", "hr", "img", "input", "meta", "link", "col", "area", "base", "wbr", "source",
];

/// Elements that start or end a line of text (`br` always ends one).
const BLOCKS: &[&str] = &[
    "p", "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
    "dt", "dd", "body", "section", "article", "header", "footer",
];

/// Converts an HTML document or fragment to text, one line per block.
///
/// Never fails: unterminated tags, comments or entities end the text.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    // Names of the dropped elements we are inside, innermost last.
    let mut skipped: Vec<String> = Vec::new();
    // Inside a table cell: whether it has text yet. A cell's first
    // paragraph stays on its row's line (Outlook wraps each cell's text in
    // `<p class=MsoNormal>`); a block after text in it ends a line, once
    // more text comes (`pending_break`).
    let mut cell: Option<bool> = None;
    let mut pending_break = false;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if c == '<' {
            let Some(end) = rest.find('>') else { break };
            let tag = Tag::parse(&rest[1..end]);
            rest = &rest[end + 1..];
            if let Some(inner) = skipped.last() {
                if tag.name == *inner {
                    if tag.closing {
                        skipped.pop();
                    } else if !tag.self_closing {
                        skipped.push(tag.name);
                    }
                }
            } else if (SKIPPED.contains(&tag.name.as_str()) || tag.hidden)
                && !tag.closing
                && !tag.self_closing
                && !VOID.contains(&tag.name.as_str())
            {
                skipped.push(tag.name);
            } else if tag.name == "br" {
                trim_line_end(&mut out);
                out.push('\n');
            } else if matches!(tag.name.as_str(), "td" | "th") {
                pending_break = false;
                if tag.closing {
                    trim_line_end(&mut out);
                    out.push('\t');
                    cell = None;
                } else {
                    cell = Some(false);
                }
            } else if BLOCKS.contains(&tag.name.as_str()) {
                match cell {
                    Some(false) if !matches!(tag.name.as_str(), "tr" | "table") => {}
                    Some(true) if !matches!(tag.name.as_str(), "tr" | "table") => {
                        pending_break = true
                    }
                    _ => {
                        end_line(&mut out);
                        pending_break = false;
                        cell = None;
                    }
                }
            }
            continue;
        }
        if !skipped.is_empty() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let space = matches!(c, ' ' | '\t' | '\r' | '\n');
        if !space {
            if pending_break {
                end_line(&mut out);
                pending_break = false;
            }
            if let Some(has_text) = cell.as_mut() {
                *has_text = true;
            }
        }
        if c == '&'
            && let Some(len) = entity_len(rest)
        {
            add_html_token(&mut out, &rest.as_bytes()[..len], false);
            rest = &rest[len..];
            continue;
        }
        if space {
            if !out.is_empty() && !out.ends_with([' ', '\n', '\t']) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    end_line(&mut out);
    out
}

/// The parts of a tag that matter here.
struct Tag {
    /// Lower-case element name, empty for `<!...>` declarations.
    name: String,
    /// `</name>`.
    closing: bool,
    /// `<name/>`.
    self_closing: bool,
    /// Styled or marked so that a reader never sees its content.
    hidden: bool,
}

impl Tag {
    /// Parses the inside of `<...>`.
    fn parse(inner: &str) -> Tag {
        let closing = inner.starts_with('/');
        let name = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Tag {
            name,
            closing,
            self_closing: inner.ends_with('/'),
            hidden: !closing && hides(inner),
        }
    }
}

/// Whether the attributes of a tag (the inside of `<...>`) keep its content
/// out of sight: in its style (spaces and case aside), or as the `hidden`
/// attribute. A text hidden so is no part of the order a technician sees.
fn hides(inner: &str) -> bool {
    let style: String = inner
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    // NOTE: `font-size:0.9em` and `opacity:0.5` are seen: only a zero alone is hidden.
    let zero = |property: &str| {
        style.match_indices(property).any(|(at, _)| {
            !style[at + property.len()..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
        })
    };
    // NOTE: white text (`color`, not `background-color`) on the mail's white.
    let white = style.match_indices("color:").any(|(at, _)| {
        let own = !style[..at].ends_with(|c: char| c == '-' || c.is_ascii_alphanumeric());
        let value = &style[at + "color:".len()..];
        let hex = |len: usize| {
            value.len() >= len
                && value[..len].bytes().all(|b| b == b'f' || b == b'#')
                && !value[len..].starts_with(|c: char| c.is_ascii_hexdigit())
        };
        own && (value.starts_with("white")
            || value.starts_with("rgb(255,255,255)")
            || (value.starts_with('#') && (hex(4) || hex(7))))
    });
    ["display:none", "visibility:hidden", "mso-hide:all"]
        .iter()
        .any(|hidden| style.contains(hidden))
        || white
        || zero("font-size:0")
        || zero("opacity:0")
        || bare_words(inner)
            .iter()
            .any(|word| word.eq_ignore_ascii_case("hidden"))
}

/// The words of a tag's inside outside quoted values: its name and the
/// names of its attributes (`hidden` in `<div hidden class="x">`).
fn bare_words(inner: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut quote = None;
    let mut start = None;
    for (at, c) in inner.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c.is_whitespace() || matches!(c, '=' | '/' | '"' | '\'') => {
                if let Some(begin) = start.take() {
                    words.push(&inner[begin..at]);
                }
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
            None => {
                start.get_or_insert(at);
            }
        }
    }
    if let (Some(begin), None) = (start, quote) {
        words.push(&inner[begin..]);
    }
    words
}

/// Length of the entity (`&name;`, `&#123;`, `&#x1F;`) at the start of `s`, if it is one.
fn entity_len(s: &str) -> Option<usize> {
    let body = s.get(1..s.len().min(34))?;
    let end = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))?;
    (end > 0 && body[end..].starts_with(';')).then_some(end + 2)
}

/// Ends the current line, unless nothing was written on it since the last one.
fn end_line(out: &mut String) {
    trim_line_end(out);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn trim_line_end(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn blocks_end_lines_and_entities_are_decoded() {
        let html = "<html><head><style>p {color:red}</style></head><body>\
            <div>Nom du client&nbsp;: Boulangerie&#160;Martin</div>\
            <p>Quantit&eacute; : +2<br>Bureau &agrave; distance : NON</p></body></html>";
        assert_eq!(
            to_text(html),
            "Nom du client\u{a0}: Boulangerie\u{a0}Martin\nQuantité : +2\nBureau à distance : NON\n"
        );
    }

    #[test]
    fn outlook_list_paragraph_keeps_its_bullet_on_the_line() {
        let html = "<p class=MsoListParagraph style='mso-list:l0 level1 lfo1'><![if !supportLists]>\
            <span style='font-family:Symbol'><span style='mso-list:Ignore'>&middot;<span \
            style='font:7.0pt \"Times New Roman\"'>&nbsp;&nbsp;&nbsp; </span></span></span>\
            <![endif]>Type de licence : Exchange Online (Plan 1)<o:p></o:p></p>";
        let text = to_text(html);
        assert!(text.starts_with('·'), "{text:?}");
        assert!(
            text.trim_end()
                .ends_with("Type de licence : Exchange Online (Plan 1)"),
            "{text:?}"
        );
    }

    // Found by review: text styled out of sight was read into the order
    // (`+<span style="display:none">2</span>1` gave 21 licences).
    #[test]
    fn what_a_reader_never_sees_is_dropped() {
        for hidden in [
            "<span style=\"display:none\">2</span>",
            "<span style='DISPLAY : None !important'>2</span>",
            "<span style=\"mso-hide:all\">2</span>",
            "<span style=\"visibility:hidden\">2</span>",
            "<span style=\"font-size:0px\">2</span>",
            "<span style=\"font-size:0\">2<span>3</span></span>",
            "<span style=\"opacity:0;color:red\">2</span>",
            "<span hidden>2</span>",
            "<div hidden=\"\">2</div>",
            "<span style=\"color:#FFFFFF\">2</span>",
            "<span style=\"color: #fff;\">2</span>",
            "<font style=\"color:White\">2</font>",
        ] {
            let html = format!("<p>Quantité : +{hidden}1</p>");
            assert_eq!(to_text(&html), "Quantité : +1\n", "{hidden}");
        }
        for seen in [
            "<span style=\"font-size:0.9em\">2</span>",
            "<span style=\"opacity:0.8\">2</span>",
            "<span title=\"hidden\">2</span>",
            "<img style=\"display:none\" src=x>2",
            "<span style=\"background-color:#ffffff\">2</span>",
            "<span style=\"color:#ffffee\">2</span>",
        ] {
            let html = format!("<p>Quantité : +{seen}1</p>");
            assert_eq!(to_text(&html), "Quantité : +21\n", "{seen}");
        }
    }

    #[test]
    fn comments_scripts_and_blockquotes_are_dropped() {
        let html = "<!-- hidden --><script>alert(1)</script>Visible<blockquote>quoted \
            <blockquote>deeper</blockquote> still quoted</blockquote><div>after</div>";
        assert_eq!(to_text(html), "Visible\nafter\n");
    }

    #[test]
    fn table_cells_are_separated_by_tabs() {
        let html = "<table><tr><td>Quantité</td><td>+1</td></tr></table>";
        assert_eq!(to_text(html), "Quantité\t+1\t\n");
    }

    // Issue 19, item 2: the template pasted from Word as a two-column
    // table; each cell's `<p class=MsoNormal>` put label and value on lines
    // of their own, apart.
    #[test]
    fn an_outlook_table_row_is_one_line() {
        let html = "<table class=MsoTableGrid border=1 cellspacing=0 cellpadding=0>\n\
            <tr style='height:14.2pt'>\n<td width=227 valign=top style='width:170.1pt'>\n\
            <p class=MsoNormal><b><span style='color:black'>Nom du client<o:p></o:p></span></b></p>\n\
            </td>\n<td width=378 valign=top>\n<p class=MsoNormal>Boulangerie Martin<o:p></o:p></p>\n\
            </td>\n</tr>\n<tr><td><p class=MsoNormal>Nom Prénom de l'utilisateur<o:p></o:p></p></td>\n\
            <td><p class=MsoNormal>Jean Dupont<o:p></o:p></p><p class=MsoNormal>Marie Curie<o:p></o:p></p></td></tr>\n\
            <tr><td><p class=MsoNormal>Adresse à créer<o:p></o:p></p></td>\
            <td><p class=MsoNormal><o:p>&nbsp;</o:p></p></td></tr></table>\n\
            <p class=MsoNormal>Cordialement<o:p></o:p></p>";
        assert_eq!(
            to_text(html),
            "Nom du client\tBoulangerie Martin\t\n\
             Nom Prénom de l'utilisateur\tJean Dupont\nMarie Curie\t\n\
             Adresse à créer\t\u{a0}\t\n\
             Cordialement\n"
        );
    }

    #[test]
    fn broken_markup_never_panics() {
        for html in [
            "<",
            "<!--",
            "&",
            "&#xFFFFFFFF;",
            "<p",
            "é<",
            "&amp",
            "<b>é&#233;</",
        ] {
            to_text(html);
        }
        assert_eq!(to_text("a &amp b &#233;"), "a &amp b é\n");
    }
}
