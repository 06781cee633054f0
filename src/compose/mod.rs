//! What licgate writes, as whole messages: the reply to a technician
//! (threaded under the original) and licgate's own mails (digest, notice,
//! reminder, in [`digest`]). Pure: the same inputs give the same bytes;
//! nothing is sent here.

pub mod digest;
pub mod state;

use crate::judge::Reply;
use crate::records::OutboxItem;

/// Who a reply goes to, and how it threads with the original.
#[derive(Debug, Clone)]
pub struct Addressing<'a> {
    /// The gateway's own address.
    pub from: &'a str,
    /// The technician who sent the request.
    pub to: &'a str,
    /// Purchasing addresses that received a refused original: they get a copy
    /// marked not to be processed.
    pub cc: &'a [String],
    /// The request id, which also names the reply's Message-ID.
    pub request_id: &'a str,
    /// Message-ID of the original.
    pub in_reply_to: Option<&'a str>,
    /// References of the original.
    pub references: &'a [String],
    /// The decision time, used as the Date.
    pub date: jiff::Timestamp,
    /// Where to write with a question, named at the end of the reply.
    pub contact: Option<&'a str>,
}

/// Marks a message as automatic (RFC 3834 `Auto-Submitted: kind`, and
/// Exchange's `X-Auto-Response-Suppress`), so that no one answers it.
pub(crate) fn automatic(
    builder: lettre::message::MessageBuilder,
    kind: &str,
) -> lettre::message::MessageBuilder {
    use lettre::message::header::{HeaderName, HeaderValue};
    builder
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            kind.to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ))
}

impl Addressing<'_> {
    /// `reply`, so addressed, ready for the outbox: to the requester and
    /// the copies.
    pub fn to_outbox(&self, reply: &Reply) -> anyhow::Result<OutboxItem> {
        let mut to = vec![self.to.to_owned()];
        to.extend(self.cc.iter().cloned());
        Ok(OutboxItem {
            request_id: self.request_id.to_owned(),
            from: self.from.to_owned(),
            to,
            message: to_mime(reply, self)?,
            queued_at: self.date,
            own: None,
        })
    }
}

/// The whole reply message (RFC 5322), threaded under the original, marked as
/// an automatic answer. The same inputs always give the same bytes.
pub fn to_mime(reply: &Reply, addressing: &Addressing) -> anyhow::Result<String> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Mailbox, Message, MultiPart, SinglePart};

    let domain = addressing
        .from
        .rsplit('@')
        .next()
        .unwrap_or("licgate.invalid");
    let mut body = String::new();
    if !addressing.cc.is_empty() {
        body.push_str("[Copie pour les achats\u{a0}: demande REFUSÉE, ne rien commander.]\n\n");
    }
    body.push_str(&reply.body);
    if let Some(contact) = addressing.contact {
        body.push_str(&format!("Une question\u{a0}? Écrivez à {contact}.\n"));
    }
    let builder = Message::builder()
        .from(addressing.from.parse::<Mailbox>()?)
        .to(addressing.to.parse::<Mailbox>()?)
        .subject(reply.subject.clone())
        .date(std::time::SystemTime::from(addressing.date))
        .message_id(Some(format!("<{}.reply@{domain}>", addressing.request_id)));
    let mut builder = automatic(builder, "auto-replied").raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Licgate-Request"),
        addressing.request_id.to_owned(),
    ));
    for cc in addressing.cc {
        builder = builder.cc(cc.parse::<Mailbox>()?);
    }
    if let Some(original) = addressing.in_reply_to {
        let id = format!("<{original}>");
        builder = builder.in_reply_to(id.clone());
        let mut references: Vec<String> = addressing
            .references
            .iter()
            .map(|r| format!("<{r}>"))
            .collect();
        references.push(id);
        builder = builder.references(references.join(" "));
    }
    // NOTE: with an HTML part whose every line is its own `div`, Outlook
    // keeps the template's line breaks when the technician answers; from a
    // plain-text mail it may join them (« sauts de ligne superflus »).
    let html = reply_html(&body);
    let message = builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html),
            ),
    )?;
    Ok(String::from_utf8(message.formatted())?)
}

/// The reply's text as HTML: one `div` per line, everything escaped.
fn reply_html(text: &str) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:Calibri,Arial,sans-serif;font-size:11pt\">\n",
    );
    for line in text.lines() {
        if line.is_empty() {
            html.push_str("<div><br></div>\n");
        } else {
            html.push_str(&format!("<div>{}</div>\n", digest::escape(line)));
        }
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    // Issue 10: replies were text/plain only; Outlook joined the template's
    // lines when the technician answered.
    #[test]
    fn a_reply_has_a_text_part_and_an_html_part_with_a_div_per_line() {
        let reply = Reply {
            subject: "[REFUSÉE] [AJOUT] Licence Office 365 - A & B (LG-0123456789)".into(),
            body: "Bonjour,\n\nNom du client : <script>x</script>\nQuantité : +1\n".into(),
        };
        let addressing = Addressing {
            from: "licences@example.fr",
            to: "tech@example.fr",
            cc: &[],
            request_id: "LG-0123456789",
            in_reply_to: Some("m1@example.fr"),
            references: &[],
            date: "2026-11-23T09:00:00Z".parse().unwrap(),
            contact: Some("achats@example.fr"),
        };
        let mime = to_mime(&reply, &addressing).unwrap();
        let message = mail_parser::MessageParser::default()
            .parse(mime.as_bytes())
            .unwrap();
        assert!(
            message
                .content_type()
                .is_some_and(|ct| ct.subtype() == Some("alternative"))
        );
        let text = message.body_text(0).unwrap().replace("\r\n", "\n");
        assert!(text.starts_with(&reply.body), "{text}");
        let html = message.body_html(0).unwrap();
        assert!(
            html.contains("<div>Nom du client : &lt;script&gt;x&lt;/script&gt;</div>"),
            "{html}"
        );
        assert!(html.contains("<div>Quantité : +1</div>"), "{html}");
        // The address for questions closes the reply (configurable).
        assert!(
            text.trim_end()
                .ends_with("Une question\u{a0}? Écrivez à achats@example.fr."),
            "{text}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }
}
