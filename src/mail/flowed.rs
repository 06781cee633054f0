//! Unwraps `format=flowed` text (RFC 3676), the default of Thunderbird and
//! Apple Mail: a line ending in a space is a soft break, joined to the next
//! line of the same quote depth; every other line break is kept.
//!
//! Space-stuffing is undone, the signature separator `-- ` is never joined,
//! and with `DelSp=yes` the space that marks a soft break is deleted. One
//! pass over the text: linear in its size.

/// The text of a `format=flowed` part as its writer typed it: soft line
/// breaks joined, hard ones kept. `delsp` is the part's `DelSp=yes`.
pub fn unwrap(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The quote depth of the paragraph being joined, when the last line was
    // a soft break.
    let mut joining: Option<usize> = None;
    for line in text.lines() {
        let depth = line.bytes().take_while(|b| *b == b'>').count();
        let content = &line[depth..];
        // Space-stuffing (RFC 3676, 4.4): one space added before a line that
        // starts with a space, `>` or `From `.
        let content = content.strip_prefix(' ').unwrap_or(content);
        let signature = content == "-- ";
        if joining.is_some_and(|d| d != depth) || (joining.is_some() && signature) {
            // A soft break before a change of quote depth, or before the
            // signature separator, is a hard one.
            out.push('\n');
            joining = None;
        }
        if joining != Some(depth) {
            for _ in 0..depth {
                out.push('>');
            }
            if depth > 0 {
                out.push(' ');
            }
        }
        let soft = content.ends_with(' ') && !signature;
        if soft {
            let kept = if delsp {
                &content[..content.len() - 1]
            } else {
                content
            };
            out.push_str(kept);
            joining = Some(depth);
        } else {
            out.push_str(content);
            out.push('\n');
            joining = None;
        }
    }
    if joining.is_some() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unwrap;

    // Issue 19, item 3: Thunderbird wrapped a long users line at 72
    // columns, and « Jean-Baptiste » was read apart from « Moreau ».
    #[test]
    fn soft_breaks_are_joined_and_hard_ones_kept() {
        let text = "Nom Prénom de l'utilisateur : Marie Curie, Paul Martin, Jean-Baptiste \r\n\
                    Moreau\r\n\
                    Bureau à distance associé : NON\r\n";
        assert_eq!(
            unwrap(text, false),
            "Nom Prénom de l'utilisateur : Marie Curie, Paul Martin, Jean-Baptiste Moreau\n\
             Bureau à distance associé : NON\n"
        );
    }

    #[test]
    fn delsp_deletes_the_space_of_the_break() {
        assert_eq!(
            unwrap("Jean-Bap \ntiste Moreau\n", true),
            "Jean-Baptiste Moreau\n"
        );
        assert_eq!(
            unwrap("Jean-Bap \ntiste Moreau\n", false),
            "Jean-Bap tiste Moreau\n"
        );
    }

    #[test]
    fn signature_separator_stuffing_and_quotes() {
        // `-- ` stays a line of its own; a stuffed line loses its space.
        assert_eq!(
            unwrap("Merci \n-- \nPaul \nMartin\n", false),
            "Merci \n-- \nPaul Martin\n"
        );
        assert_eq!(
            unwrap("  indenté\n From here\n", false),
            " indenté\nFrom here\n"
        );
        // Quoted lines join only with lines of the same depth.
        assert_eq!(
            unwrap("> Nom du client : \n> Boulangerie\nNouveau\n", false),
            "> Nom du client : Boulangerie\nNouveau\n"
        );
        assert_eq!(unwrap(">> a \n> b\n", false), ">> a \n> b\n");
    }

    #[test]
    fn hostile_text_never_panics() {
        for text in ["", " ", ">", "> ", "-- ", "é \n", "\n\n \n", ">>>>> \n>"] {
            unwrap(text, true);
            unwrap(text, false);
        }
        assert_eq!(unwrap("end \n", false), "end \n");
    }
}
