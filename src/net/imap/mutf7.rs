//! Modified UTF-7, the encoding of mailbox names in IMAP (RFC 3501 §5.1.3):
//! printable ASCII stands for itself but `&`, written `&-`; any other run of
//! characters is `&`, its UTF-16 in base64 with `,` for `/` and no padding,
//! then `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// `name` in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            match c {
                '&' => out.push_str("&-"),
                c => out.push(c),
            }
        } else {
            run.extend_from_slice(c.encode_utf16(&mut [0; 2]));
        }
    }
    flush(&mut out, &mut run);
    out
}

/// Writes `run` (UTF-16) as `&base64-`, and empties it.
fn flush(out: &mut String, run: &mut Vec<u16>) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .chain([0, 0].iter())
            .take(3)
            .fold(0u32, |group, &b| group << 8 | u32::from(b));
        // n bytes give n + 1 characters: 8n bits in 6-bit digits.
        for digit in 0..=chunk.len() {
            let value = (group >> (18 - 6 * digit)) & 0x3f;
            out.push(char::from(ALPHABET[value as usize]));
        }
    }
    out.push('-');
}

/// Not a name in modified UTF-7.
#[derive(Debug, PartialEq)]
pub struct Invalid;

/// The name `wire` stands for; strict: non-ASCII bytes, a `&` without
/// its `-`, bits left over, lone surrogates, and any spelling other than
/// the one [`encode`] gives (printable ASCII encoded, two runs side by
/// side) are errors: a name has one spelling, so a folder the server
/// lists can never pass for another.
pub fn decode(wire: &str) -> Result<String, Invalid> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(c) = rest.chars().next() {
        if c != '&' {
            if !(' '..='~').contains(&c) {
                return Err(Invalid);
            }
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        let (run, after) = rest[1..].split_once('-').ok_or(Invalid)?;
        if run.is_empty() {
            out.push('&');
        } else {
            for c in char::decode_utf16(utf16(run)?) {
                out.push(c.map_err(|_| Invalid)?);
            }
        }
        rest = after;
    }
    if encode(&out) != wire {
        return Err(Invalid);
    }
    Ok(out)
}

/// The UTF-16 units of a base64 run.
fn utf16(run: &str) -> Result<Vec<u16>, Invalid> {
    let mut bytes = Vec::with_capacity(run.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for b in run.bytes() {
        let value = ALPHABET.iter().position(|&a| a == b).ok_or(Invalid)?;
        bits = bits << 6 | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    // Whole UTF-16 units, and only zero bits of padding.
    if count >= 6 || bits != 0 || bytes.len() % 2 != 0 {
        return Err(Invalid);
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_of_rfc_3501_goes_both_ways() {
        let name = "~peter/mail/台北/日本語";
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode(name), wire);
        assert_eq!(decode(wire).unwrap(), name);
    }

    // Found by review: `&AEkATgBCAE8AWA-` was read as INBOX.
    #[test]
    fn a_name_has_one_spelling() {
        assert_eq!(decode("&AEkATgBCAE8AWA-"), Err(Invalid));
        assert_eq!(decode("&ACY-"), Err(Invalid));
        assert_eq!(decode("&AOk-&AOk-"), Err(Invalid));
        assert_eq!(decode("&AOkA6Q-").unwrap(), "éé");
    }

    #[test]
    fn an_ampersand_is_written_ampersand_dash() {
        assert_eq!(encode("R&D"), "R&-D");
        assert_eq!(decode("R&-D").unwrap(), "R&D");
        assert_eq!(encode("&"), "&-");
    }

    #[test]
    fn french_folder_names() {
        assert_eq!(encode("licgate/refusées"), "licgate/refus&AOk-es");
        assert_eq!(encode("licgate.acceptées"), "licgate.accept&AOk-es");
        // Two accents in a row make one run.
        assert_eq!(encode("éé"), "&AOkA6Q-");
        assert_eq!(decode("&AOkA6Q-").unwrap(), "éé");
    }

    #[test]
    fn ascii_stays_as_it_is_and_controls_are_encoded() {
        assert_eq!(
            encode("INBOX.licgate acceptees~"),
            "INBOX.licgate acceptees~"
        );
        assert_eq!(encode("a\tb"), "a&AAk-b");
        assert_eq!(decode("a&AAk-b").unwrap(), "a\tb");
    }

    #[test]
    fn characters_beyond_the_basic_plane_take_a_surrogate_pair() {
        let name = "licgate/😀 urgent";
        assert_eq!(encode(name), "licgate/&2D3eAA- urgent");
        assert_eq!(decode(&encode(name)).unwrap(), name);
    }

    #[test]
    fn malformed_names_are_errors() {
        for wire in [
            "&",         // no end
            "&AOk",      // no end
            "é",         // raw UTF-8
            "a\tb",      // raw control
            "&AO-",      // bits for a unit and a half
            "&AOl-",     // non-zero padding bits
            "&A-",       // six bits only
            "&2D0-",     // a lone high surrogate
            "&3gA-",     // a lone low surrogate
            "&AO*-",     // outside the alphabet
            "&AOk/AOk-", // `/` is `,` here
        ] {
            assert_eq!(decode(wire), Err(Invalid), "{wire:?}");
        }
    }

    #[test]
    fn every_encoding_decodes_back() {
        for name in [
            "",
            "a",
            "&&",
            "é&é",
            "日本語/x/ü",
            "\u{7f}\u{80}\u{ffff}",
            "\u{10ffff}",
        ] {
            assert_eq!(decode(&encode(name)).unwrap(), name, "{name:?}");
        }
    }
}
