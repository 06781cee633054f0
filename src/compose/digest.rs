//! What licgate writes to people other than the requester, pure: the digest
//! of accepted requests for purchasing (HTML with a plain-text alternative),
//! the immediate notice of a removal, the technicians' reminder on the
//! month's last business day, and when the scheduled ones fall due.
//!
//! Everything that came from a mail is escaped in the HTML, which uses inline
//! styles only (no script, no stylesheet, no image): Outlook shows it as is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::{Date, Time};
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::judge::Cancellable;
use crate::judge::{Outcome, Warning, WarningCode};
use crate::records::audit::Head;
use crate::records::{Decision, OutboxItem};
use crate::rules::{Calendar, french_date, french_date_time, french_time};
use crate::text::{count, typography};

/// One accepted request, as purchasing needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub request_id: String,
    pub received_at: Timestamp,
    pub sender: String,
    pub subject: String,
    pub client: String,
    /// The official Microsoft name (for an upgrade: the target).
    pub licence: String,
    /// For an upgrade: the licence the users leave (irreversible).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_licence: Option<String>,
    /// Positive: to add; negative: to remove.
    pub quantity: i64,
    pub users: Vec<String>,
    /// Generic address to create.
    pub address: Option<String>,
    pub remote_desktop: Option<bool>,
    /// The client holds this licence on an annual commitment.
    pub annual: bool,
    /// The other warnings of the judgement, in French.
    pub warnings: Vec<String>,
    /// For a removal: the recent addition it can cancel with a refund.
    pub cancellable: Option<Cancellable>,
}

impl Item {
    /// The item of an accepted decision (`None` for any other), with the
    /// cancellable addition the ledger found for it.
    pub fn from_decision(decision: &Decision, cancellable: Option<Cancellable>) -> Option<Item> {
        if decision.outcome != Outcome::Accepted {
            return None;
        }
        let verdict = decision.verdict.as_ref()?;
        let request = &verdict.request;
        let annual = |w: &&Warning| w.code == WarningCode::AnnualLicence;
        Some(Item {
            request_id: decision.request_id.clone(),
            received_at: decision.received_or_decided(),
            sender: decision.sender.clone().unwrap_or_default(),
            subject: verdict.subject.clone().unwrap_or_default(),
            client: request.client.clone()?,
            licence: request.licence.clone()?,
            from_licence: request.from_licence.clone(),
            quantity: request.quantity?,
            users: request.users.clone(),
            address: request.address.clone(),
            remote_desktop: request.remote_desktop,
            annual: verdict.warnings.iter().any(|w| annual(&w)),
            warnings: verdict
                .warnings
                .iter()
                .filter(|w| !annual(w))
                .map(|w| w.message.clone())
                .collect(),
            cancellable,
        })
    }

    fn is_removal(&self) -> bool {
        self.quantity < 0
    }
}

/// Which mail a [`Digest`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The scheduled digest of the requests accepted since the previous one.
    Digest,
    /// `licgate digest`: the requests accepted since a day, or (`None`)
    /// those the next scheduled digest holds.
    OnDemand { since: Option<Date> },
    /// The notice sent to purchasing as soon as a removal is accepted.
    RemovalNotice,
}

/// Accepted requests put in front of purchasing, with the month's cut-off.
#[derive(Debug, Clone)]
pub struct Digest {
    pub kind: Kind,
    /// The requests, oldest first.
    pub items: Vec<Item>,
    /// When it is written (the slot of a scheduled digest), in the calendar's zone.
    pub at: Zoned,
    /// The last orders of the month are taken until then.
    pub cutoff: Zoned,
    /// Business days from `at` to the cut-off, both included.
    pub business_days_left: usize,
    /// The audit trail's head when written: printed in the footer, so a
    /// trail rewritten later no longer matches the digests already sent.
    pub chain_head: Option<Head>,
}

impl Digest {
    /// A digest written at `at`; `items` in any order.
    pub fn new(kind: Kind, mut items: Vec<Item>, at: Timestamp, calendar: &Calendar) -> Digest {
        items.sort_by(|a, b| (a.received_at, &a.request_id).cmp(&(b.received_at, &b.request_id)));
        let at = at.to_zoned(calendar.time_zone.clone());
        let mut cutoff = calendar.cutoff_of_month(at.date());
        if at.timestamp() >= cutoff.timestamp() {
            let next_month = at
                .date()
                .last_of_month()
                .tomorrow()
                .expect("dates in range");
            cutoff = calendar.cutoff_of_month(next_month);
        }
        let business_days_left = std::iter::successors(Some(at.date()), |d| d.tomorrow().ok())
            .take_while(|d| *d <= cutoff.date())
            .filter(|d| calendar.is_business_day(*d))
            .count();
        Digest {
            kind,
            items,
            at,
            cutoff,
            business_days_left,
            chain_head: None,
        }
    }

    /// The line that names the audit trail's head, if known.
    fn chain_line(&self) -> Option<String> {
        let head = self.chain_head.as_ref().filter(|h| h.len > 0)?;
        Some(format!(
            "Empreinte du journal d'audit à l'envoi : {} (enregistrement n° {}) ; \
             « licgate audit verify --records {} » affiche la même tant que le journal n'a pas été réécrit.",
            head.hash, head.len, head.len
        ))
    }

    /// The requests grouped by client (sorted), removals first.
    fn sections(&self) -> [(&'static str, BTreeMap<&str, Vec<&Item>>); 2] {
        let mut removals: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        let mut additions: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        for item in &self.items {
            let section = if item.is_removal() {
                &mut removals
            } else {
                &mut additions
            };
            section.entry(item.client.as_str()).or_default().push(item);
        }
        [
            ("Suppressions : URGENT, à traiter dès réception", removals),
            ("Ajouts", additions),
        ]
    }

    fn count(&self, removals: bool) -> u64 {
        self.items
            .iter()
            .filter(|i| i.is_removal() == removals)
            .count() as u64
    }

    /// `1 suppression, 2 ajouts`.
    fn counts(&self) -> String {
        format!(
            "{}, {}",
            count(self.count(true), "suppression", "suppressions"),
            count(self.count(false), "ajout", "ajouts")
        )
    }

    /// The mail's subject, in French typography.
    pub fn subject(&self) -> String {
        typography(&self.plain_subject())
    }

    fn plain_subject(&self) -> String {
        match self.kind {
            Kind::RemovalNotice => {
                let item = &self.items[0];
                format!(
                    "[licgate] URGENT suppression à traiter : {} {:+} {} ({})",
                    item.client, item.quantity, item.licence, item.request_id
                )
            }
            Kind::Digest | Kind::OnDemand { .. } => {
                let removals = self.count(true);
                let additions = self.count(false);
                let mut parts = Vec::new();
                if removals > 0 {
                    parts.push(format!(
                        "{} URGENT",
                        count(removals, "suppression", "suppressions")
                    ));
                }
                if additions > 0 {
                    parts.push(count(additions, "ajout", "ajouts"));
                }
                let title = match self.kind {
                    Kind::Digest => "Demandes acceptées",
                    _ => "Synthèse à la demande",
                };
                format!(
                    "[licgate] {title} : {} ({})",
                    parts.join(", "),
                    french_date_time(&self.at)
                )
            }
        }
    }

    fn introduction(&self) -> String {
        match self.kind {
            Kind::RemovalNotice => {
                "Une suppression vient d'être acceptée : elle se traite dès réception.".to_owned()
            }
            Kind::Digest => format!(
                "Demandes acceptées par licgate depuis la synthèse précédente ({}).",
                self.counts()
            ),
            Kind::OnDemand { since: None } => format!(
                "Synthèse demandée : les demandes acceptées qui figureront dans la prochaine synthèse ({}).",
                self.counts()
            ),
            Kind::OnDemand { since: Some(day) } => format!(
                "Synthèse demandée : les demandes acceptées depuis le {} ({}) ; certaines ont pu figurer dans une synthèse précédente.",
                french_date(day),
                self.counts()
            ),
        }
    }

    fn cutoff_line(&self) -> String {
        format!(
            "Clôture des commandes du mois : {}, {}, aujourd'hui compris.",
            french_date_time(&self.cutoff),
            count(
                self.business_days_left as u64,
                "jour ouvré restant",
                "jours ouvrés restants"
            )
        )
    }

    fn footer(&self) -> &'static str {
        match self.kind {
            Kind::Digest => {
                "Message automatique de licgate. Chaque demande acceptée figure dans une seule synthèse ; \
                 le détail et le mail d'origine : licgate audit show RÉFÉRENCE."
            }
            _ => {
                "Message automatique de licgate. Le détail et le mail d'origine : licgate audit show RÉFÉRENCE."
            }
        }
    }

    /// The plain-text alternative.
    /// The plain-text part, in French typography.
    pub fn to_text(&self) -> String {
        typography(&self.plain_text())
    }

    fn plain_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n\n{}\n", self.introduction(), self.cutoff_line());
        for (title, clients) in self.sections() {
            if clients.is_empty() {
                continue;
            }
            let _ = writeln!(out, "== {title} ==\n");
            for (client, items) in clients {
                let _ = writeln!(out, "{client}");
                for item in items {
                    let _ = writeln!(out, "  {:+}  {}", item.quantity, item.licence);
                    for mark in marks(item, &self.at) {
                        let _ = writeln!(out, "      [{}] {}", mark.label, mark.text);
                    }
                    for (label, value) in details(item, &self.at) {
                        let _ = writeln!(out, "      {label} : {value}");
                    }
                }
                out.push('\n');
            }
        }
        out.push_str(self.footer());
        out.push('\n');
        if let Some(line) = self.chain_line() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// The HTML alternative: one table, inline styles, everything escaped.
    /// The HTML part, in French typography.
    pub fn to_html(&self) -> String {
        typography(&self.plain_html())
    }

    fn plain_html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"margin:0;padding:16px;background:#f3f4f6;font-family:'Segoe UI',Arial,sans-serif;font-size:14px;color:#111827\">\n\
             <table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" style=\"max-width:760px;margin:0 auto;background:#ffffff;border:1px solid #d1d5db;border-collapse:collapse\">\n\
             <tr><td style=\"padding:14px 18px;background:#1f3a5f;color:#ffffff;font-size:18px;font-weight:bold\">{}</td></tr>\n\
             <tr><td style=\"padding:12px 18px\">{}</td></tr>\n\
             <tr><td style=\"padding:10px 18px;background:#fff7ed;border-top:1px solid #fed7aa;border-bottom:1px solid #fed7aa;color:#9a3412;font-weight:bold\">{}</td></tr>\n",
            escape(&self.subject()),
            escape(&self.subject()),
            escape(&self.introduction()),
            escape(&self.cutoff_line()),
        );
        for (title, clients) in self.sections() {
            if clients.is_empty() {
                continue;
            }
            let removals = title.starts_with("Suppressions");
            let colour = if removals { "#b91c1c" } else { "#1f3a5f" };
            let _ = writeln!(
                out,
                "<tr><td style=\"padding:16px 18px 4px 18px;font-size:16px;font-weight:bold;color:{colour};border-bottom:2px solid {colour}\">{}</td></tr>",
                escape(title)
            );
            for (client, items) in clients {
                let _ = write!(
                    out,
                    "<tr><td style=\"padding:10px 18px 2px 18px;font-weight:bold;font-size:15px\">{}</td></tr>\n\
                     <tr><td style=\"padding:0 18px 6px 18px\">\
                     <table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" style=\"border-collapse:collapse\">\n",
                    escape(client)
                );
                for item in items {
                    let _ = write!(
                        out,
                        "<tr><td style=\"width:56px;padding:8px 6px;vertical-align:top;font-size:16px;font-weight:bold;color:{colour};border-top:1px solid #e5e7eb\">{:+}</td>\
                         <td style=\"padding:8px 6px;vertical-align:top;border-top:1px solid #e5e7eb\">\
                         <div style=\"font-weight:bold\">{}</div>",
                        item.quantity,
                        escape(&item.licence)
                    );
                    for mark in marks(item, &self.at) {
                        let _ = write!(
                            out,
                            "<div style=\"margin-top:4px\"><span style=\"display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;font-weight:bold;color:#ffffff;background:{}\">{}</span> {}</div>",
                            mark.colour,
                            escape(mark.label),
                            escape(&mark.text)
                        );
                    }
                    for (label, value) in details(item, &self.at) {
                        let _ = write!(
                            out,
                            "<div style=\"color:#374151;font-size:13px\">{} : {}</div>",
                            escape(label),
                            escape(&value)
                        );
                    }
                    out.push_str("</td></tr>\n");
                }
                out.push_str("</table></td></tr>\n");
            }
        }
        let _ = write!(
            out,
            "<tr><td style=\"padding:14px 18px;color:#6b7280;font-size:12px;border-top:1px solid #e5e7eb\">{}{}</td></tr>\n\
             </table>\n</body></html>\n",
            escape(self.footer()),
            self.chain_line()
                .map(|line| format!("<br>{}", escape(&line)))
                .unwrap_or_default()
        );
        out
    }
}

/// A highlighted remark on a request.
struct Mark {
    label: &'static str,
    colour: &'static str,
    text: String,
}

fn marks(item: &Item, at: &Zoned) -> Vec<Mark> {
    let local = |t: Timestamp| french_date_time(&t.to_zoned(at.time_zone().clone()));
    let mut marks = Vec::new();
    if item.is_removal() {
        marks.push(Mark {
            label: "URGENT",
            colour: "#b91c1c",
            text: "suppression : à faire dès réception (visible dans la console après le 1er)."
                .into(),
        });
    }
    if let Some(from) = &item.from_licence {
        marks.push(Mark {
            label: "IRRÉVERSIBLE",
            colour: "#7c2d12",
            text: format!(
                "mise à niveau de « {from} » vers « {} », confirmée par le demandeur : \
                 elle ne pourra pas être annulée.",
                item.licence
            ),
        });
    }
    if let Some(cancellable) = &item.cancellable {
        marks.push(Mark {
            label: "ANNULABLE",
            colour: "#1d4ed8",
            text: format!(
                "l'ajout {} peut être annulé avec remboursement au prorata jusqu'au {}.",
                cancellable.addition,
                local(cancellable.until)
            ),
        });
    }
    if item.annual {
        marks.push(Mark {
            label: "ANNUEL",
            colour: "#b45309",
            text: "engagement annuel pour ce client : vérifier avant de commander.".into(),
        });
    }
    for warning in &item.warnings {
        marks.push(Mark {
            label: "REMARQUE",
            colour: "#6b7280",
            text: warning.clone(),
        });
    }
    marks
}

fn details(item: &Item, at: &Zoned) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if !item.users.is_empty() {
        let label = if item.users.len() > 1 {
            "Utilisateurs"
        } else {
            "Utilisateur"
        };
        lines.push((label, item.users.join(", ")));
    }
    if let Some(address) = &item.address {
        lines.push(("Adresse à créer", address.clone()));
    }
    if let Some(remote) = item.remote_desktop {
        lines.push((
            "Bureau à distance",
            if remote { "OUI" } else { "NON" }.to_owned(),
        ));
    }
    lines.push((
        "Reçue",
        format!(
            "{}, de {}",
            french_date_time(&item.received_at.to_zoned(at.time_zone().clone())),
            item.sender
        ),
    ));
    lines.push(("Référence", item.request_id.clone()));
    lines
}

/// Text made safe for HTML, in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// When the digest is sent: times of day in the calendar's zone, on business
/// days or every day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Sorted times of day.
    pub times: Vec<Time>,
    /// Also on weekends, public holidays and closed days.
    pub every_day: bool,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            times: vec![Time::constant(8, 30, 0, 0), Time::constant(14, 0, 0, 0)],
            every_day: false,
        }
    }
}

/// How far the schedule is searched for a slot.
const SEARCH_DAYS: usize = 32;

impl Schedule {
    fn slots_of(&self, date: Date, calendar: &Calendar) -> Vec<Timestamp> {
        if !self.every_day && !calendar.is_business_day(date) {
            return Vec::new();
        }
        self.times
            .iter()
            .filter_map(|time| {
                date.to_datetime(*time)
                    .to_zoned(calendar.time_zone.clone())
                    .ok()
            })
            .map(|zoned| zoned.timestamp())
            .collect()
    }

    /// The last slot at or before `now` (within a month), if any.
    pub fn latest(&self, calendar: &Calendar, now: Timestamp) -> Option<Timestamp> {
        let today = now.to_zoned(calendar.time_zone.clone()).date();
        std::iter::successors(Some(today), |d| d.yesterday().ok())
            .take(SEARCH_DAYS)
            .find_map(|day| {
                self.slots_of(day, calendar)
                    .into_iter()
                    .filter(|slot| *slot <= now)
                    .max()
            })
    }

    /// The first slot after `now` (within a month), if any.
    pub fn next(&self, calendar: &Calendar, now: Timestamp) -> Option<Timestamp> {
        let today = now.to_zoned(calendar.time_zone.clone()).date();
        std::iter::successors(Some(today), |d| d.tomorrow().ok())
            .take(SEARCH_DAYS)
            .find_map(|day| {
                self.slots_of(day, calendar)
                    .into_iter()
                    .filter(|slot| *slot > now)
                    .min()
            })
    }
}

/// The technicians' reminder, when it is due at `now`: on the month's last
/// business day, from `time` until the cut-off. Gives that day.
pub fn reminder_due(calendar: &Calendar, time: Time, now: Timestamp) -> Option<Date> {
    let local = now.to_zoned(calendar.time_zone.clone());
    let today = local.date();
    let cutoff = calendar.cutoff_of_month(today);
    (cutoff.date() == today && local.time() >= time && now < cutoff.timestamp()).then_some(today)
}

/// The reminder's subject and body, for the last business day `today`.
pub fn reminder(calendar: &Calendar, today: Date) -> (String, String) {
    let (subject, body) = plain_reminder(calendar, today);
    (typography(&subject), typography(&body))
}

fn plain_reminder(calendar: &Calendar, today: Date) -> (String, String) {
    let cutoff = calendar.cutoff_of_month(today);
    let next_month = today.last_of_month().tomorrow().expect("dates in range");
    let subject = format!(
        "[licgate] Rappel : dernier jour de commande de licences, clôture aujourd'hui à {}",
        french_time(cutoff.time())
    );
    let body = format!(
        "Bonjour,\n\n\
         Aujourd'hui, {}, est le dernier jour ouvré du mois : les demandes de licences \
         (ajouts et suppressions) sont acceptées jusqu'à {}.\n\
         Après, elles seront refusées jusqu'au {} inclus (renouvellement de toutes les licences le 1er) ; \
         renvoyez-les ensuite.\n\n\
         Pensez aux départs et arrivées de fin de mois : une suppression reçue après la clôture \
         est facturée un mois de plus.\n\n\
         -- \nlicgate, contrôle des commandes de licences Microsoft 365\nMessage automatique.\n",
        french_date(today),
        french_time(cutoff.time()),
        french_date(next_month),
    );
    (subject, body)
}

/// One mail of licgate's own (digest, notice, reminder).
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    /// Names the Message-ID: `<ID@domain of from>`.
    pub id: &'a str,
    pub date: Timestamp,
    pub subject: String,
    pub text: String,
    /// When given, the mail is multipart/alternative.
    pub html: Option<String>,
}

impl Letter<'_> {
    /// The whole message (RFC 5322), marked as automatic. Same letter, same bytes.
    pub fn to_mime(&self) -> anyhow::Result<String> {
        use lettre::message::header::ContentType;
        use lettre::message::{Mailbox, Message, MultiPart, SinglePart};

        let domain = self.from.rsplit('@').next().unwrap_or("licgate.invalid");
        let builder = Message::builder()
            .from(self.from.parse::<Mailbox>()?)
            .subject(self.subject.clone())
            .date(std::time::SystemTime::from(self.date))
            .message_id(Some(format!("<{}@{domain}>", self.id)));
        let mut builder = super::automatic(builder, "auto-generated");
        for to in self.to {
            builder = builder.to(to.parse::<Mailbox>()?);
        }
        for cc in self.cc {
            builder = builder.cc(cc.parse::<Mailbox>()?);
        }
        let message = match &self.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(self.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html.clone()),
                    ),
            )?,
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(self.text.clone())?,
        };
        Ok(String::from_utf8(message.formatted())?)
    }

    /// The letter ready for the outbox (or to send at once), known by its `id`.
    pub fn to_outbox(&self) -> anyhow::Result<OutboxItem> {
        Ok(OutboxItem {
            request_id: self.id.to_owned(),
            from: self.from.to_owned(),
            to: self.to.iter().chain(self.cc).cloned().collect(),
            message: self.to_mime()?,
            queued_at: self.date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn item(id: &str, client: &str, quantity: i64) -> Item {
        Item {
            request_id: id.into(),
            received_at: at("2026-11-23T09:15:00Z"),
            sender: "julie@infogerance.example".into(),
            subject: "[AJOUT] Licence Office 365 - x".into(),
            client: client.into(),
            licence: "Exchange Online (Plan 1)".into(),
            from_licence: None,
            quantity,
            users: vec!["Jean Dupont".into()],
            address: None,
            remote_desktop: Some(false),
            annual: false,
            warnings: vec![],
            cancellable: None,
        }
    }

    // Issue 8, item 16: a trail rewritten in the store alone went unnoticed.
    #[test]
    fn the_digest_names_the_audit_trail_head() {
        let calendar = Calendar::default();
        let mut digest = Digest::new(
            Kind::Digest,
            vec![item("LG-1", "Garage", 1)],
            at("2026-11-23T07:30:00Z"),
            &calendar,
        );
        digest.chain_head = Some(Head {
            len: 12,
            hash: "ab12".repeat(16),
        });
        let hash = "ab12".repeat(16);
        assert!(
            digest
                .to_text()
                .contains(&format!("{hash} (enregistrement n° 12)"))
        );
        assert!(digest.to_html().contains(&hash));
    }

    #[test]
    fn removals_come_first_grouped_by_client_with_the_cut_off() {
        let calendar = Calendar::default();
        let mut annual = item("LG-3", "Garage", 2);
        annual.annual = true;
        let mut upgrade = item("LG-4", "Garage", 1);
        upgrade.from_licence = Some("Exchange Online (Plan 1)".into());
        upgrade.licence = "Exchange Online (Plan 2)".into();
        let mut cancellable = item("LG-2", "Cabinet", -1);
        cancellable.cancellable = Some(Cancellable {
            addition: "LG-0".into(),
            until: at("2026-11-25T09:00:00Z"),
        });
        let digest = Digest::new(
            Kind::Digest,
            vec![item("LG-1", "Garage", 1), cancellable, annual, upgrade],
            at("2026-11-23T07:30:00Z"),
            &calendar,
        );
        // Monday 23 November to Monday 30 November: 6 business days.
        assert_eq!(digest.business_days_left, 6);
        let text = digest.to_text();
        let removals = text.find("Suppressions").unwrap();
        let additions = text.find("== Ajouts").unwrap();
        assert!(removals < additions, "{text}");
        assert!(
            text.contains("lundi 30 novembre 2026 à 17\u{a0}h\u{a0}30"),
            "{text}"
        );
        assert!(text.contains("[ANNULABLE] l'ajout LG-0"), "{text}");
        assert!(text.contains("[ANNUEL]"), "{text}");
        assert!(
            text.contains(
                "[IRRÉVERSIBLE] mise à niveau de «\u{a0}Exchange Online (Plan 1)\u{a0}» \
                 vers «\u{a0}Exchange Online (Plan 2)\u{a0}»"
            ),
            "{text}"
        );
        assert!(digest.to_html().contains("IRRÉVERSIBLE"));
        assert_eq!(text.matches("\nGarage\n").count(), 1, "{text}");
        assert_eq!(
            digest.subject(),
            "[licgate] Demandes acceptées\u{a0}: 1 suppression URGENT, 3 ajouts (lundi 23 novembre 2026 à 8\u{a0}h\u{a0}30)"
        );
    }

    #[test]
    fn after_the_cut_off_the_next_month_counts() {
        let digest = Digest::new(
            Kind::Digest,
            vec![],
            at("2026-11-30T16:45:00Z"),
            &Calendar::default(),
        );
        assert_eq!(digest.cutoff.date(), "2026-12-31".parse::<Date>().unwrap());
    }

    #[test]
    fn html_escapes_what_came_from_mails_and_loads_nothing() {
        let mut hostile = item("LG-1", "<script>alert('x')</script>", -1);
        hostile.users = vec!["<img src=x onerror=alert(1)>".into()];
        hostile.sender = "\"><a href=\"http://evil\">@x".into();
        hostile.warnings = vec!["« <b>gras</b> » & co".into()];
        let digest = Digest::new(
            Kind::RemovalNotice,
            vec![hostile],
            at("2026-11-23T10:00:00Z"),
            &Calendar::default(),
        );
        let html = digest.to_html();
        // Only the layout's own tags, none that runs or loads anything.
        let allowed = [
            "!DOCTYPE", "html", "head", "meta", "title", "body", "table", "tr", "td", "div", "span",
        ];
        for tag in html.split('<').skip(1) {
            let name = tag
                .trim_start_matches('/')
                .split([' ', '>'])
                .next()
                .unwrap();
            assert!(allowed.contains(&name), "<{name} in {html}");
        }
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("«\u{a0}&lt;b&gt;gras&lt;/b&gt;\u{a0}» &amp; co"));
    }

    #[test]
    fn slots_fall_on_business_days_at_the_configured_times() {
        let calendar = Calendar::default();
        let schedule = Schedule::default();
        // Monday 23 November 2026, 9:00 in Paris.
        let monday_9h = at("2026-11-23T08:00:00Z");
        assert_eq!(
            schedule.latest(&calendar, monday_9h),
            Some(at("2026-11-23T07:30:00Z"))
        );
        assert_eq!(
            schedule.next(&calendar, monday_9h),
            Some(at("2026-11-23T13:00:00Z"))
        );
        // Monday 7:00: the last slot was Friday 14:00.
        assert_eq!(
            schedule.latest(&calendar, at("2026-11-23T06:00:00Z")),
            Some(at("2026-11-20T13:00:00Z"))
        );
        // Friday 24 December 2027, 15:00: next is Monday 27 (Christmas is a Saturday).
        assert_eq!(
            schedule.next(&calendar, at("2027-12-24T14:00:00Z")),
            Some(at("2027-12-27T07:30:00Z"))
        );
        // Summer time: 8:30 in Paris is 6:30 UTC.
        assert_eq!(
            schedule.next(&calendar, at("2027-07-01T00:00:00Z")),
            Some(at("2027-07-01T06:30:00Z"))
        );
        let every_day = Schedule {
            every_day: true,
            ..Schedule::default()
        };
        assert_eq!(
            every_day.latest(&calendar, at("2026-11-22T12:00:00Z")),
            Some(at("2026-11-22T07:30:00Z"))
        );
    }

    #[test]
    fn the_reminder_is_due_on_the_last_business_day_before_the_cut_off() {
        let calendar = Calendar::default();
        let nine = Time::constant(9, 0, 0, 0);
        let due = |s: &str| reminder_due(&calendar, nine, at(s));
        // Monday 30 November 2026 is the last business day.
        assert_eq!(
            due("2026-11-30T08:00:00Z"),
            Some("2026-11-30".parse().unwrap())
        );
        assert_eq!(due("2026-11-30T07:59:00Z"), None, "before 9:00");
        assert_eq!(due("2026-11-30T16:30:00Z"), None, "after the cut-off");
        assert_eq!(due("2026-11-27T08:00:00Z"), None, "not the last day");
        let (subject, body) = reminder(&calendar, "2026-11-30".parse().unwrap());
        assert!(subject.contains("17\u{a0}h\u{a0}30"), "{subject}");
        assert!(body.contains("mardi 1er décembre 2026"), "{body}");
    }

    #[test]
    fn letters_are_multipart_alternative_and_automatic() {
        let to = vec!["achats@example.fr".to_owned()];
        let letter = Letter {
            from: "licences@example.fr",
            to: &to,
            cc: &[],
            id: "digest-1",
            date: at("2026-11-23T07:30:00Z"),
            subject: "Synthèse".into(),
            text: "texte".into(),
            html: Some("<p>html</p>".into()),
        };
        let mime = letter.to_mime().unwrap();
        assert!(mime.contains("multipart/alternative"), "{mime}");
        assert!(mime.contains("Auto-Submitted: auto-generated"));
        assert!(mime.contains("Message-ID: <digest-1@example.fr>"));
        let parsed = mail_parser::MessageParser::default()
            .parse(mime.as_bytes())
            .unwrap();
        assert_eq!(parsed.body_text(0).unwrap(), "texte");
        assert_eq!(parsed.body_html(0).unwrap(), "<p>html</p>");
    }
}
