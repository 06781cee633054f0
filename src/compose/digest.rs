//! What licgate writes to people other than the requester, pure: the digest
//! of accepted requests for purchasing (HTML with a plain-text alternative),
//! the immediate notice of a removal, the technicians' reminder on the
//! month's last business day, and when the scheduled ones fall due.
//!
//! The digest is written for ordering in one pass: first « À commander », one
//! table per action (removals first), one line per client and licence with
//! the net quantity, the SKU and the client's tenant, and a total per
//! licence for the distributor; then the requests one by one. Only what
//! purchasing acts on is shown: the technicians' warnings are left out.
//!
//! The HTML is what classic Outlook for Windows (Word's engine) shows as
//! written: tables with fixed widths given as attributes, inline styles of a
//! small set of properties, no class, no `max-width`, no rounded corner, no
//! flex, no script, no image. Everything that came from a mail is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::{Date, Time};
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::judge::{Outcome, Warning, WarningCode};
use crate::records::audit::Head;
use crate::records::{Decision, OutboxItem, Own};
use crate::rules::{Calendar, Rules, french_date, french_date_time, french_time};
use crate::text::{count, typography};

/// One accepted request, as purchasing needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub request_id: String,
    pub received_at: Timestamp,
    /// Who asked (the technician's address).
    pub sender: String,
    /// The name the technician's mail gives beside the address, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    pub client: String,
    /// The client's tenant (`clients.toml`), to find it in the admin center.
    pub tenant: Option<String>,
    /// The official Microsoft name (for an upgrade: the target).
    pub licence: String,
    /// For an upgrade: the licence the users leave (irreversible).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_licence: Option<String>,
    /// Its SKUs (`String_Id` of the catalog), what the distributor orders.
    pub skus: Vec<String>,
    /// Positive: to add; negative: to remove.
    pub quantity: i64,
    pub users: Vec<String>,
    /// Generic address to create.
    pub address: Option<String>,
    pub remote_desktop: Option<bool>,
    /// The client holds this licence on an annual commitment.
    pub annual: bool,
    /// The ticket to write the action into, when the request named one.
    pub ticket: Option<String>,
    /// For a removal: the recent addition it can cancel with a refund.
    pub cancels: Option<Cancels>,
}

/// A recent addition that a removal cancels at the distributor, with a
/// prorated refund, before its window closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancels {
    /// The request id of the addition.
    pub addition: String,
    /// How many it added.
    pub quantity: i64,
    pub received_at: Timestamp,
    /// The end of its refund window.
    pub until: Timestamp,
}

impl Item {
    /// The item of an accepted decision (`None` for any other), with the
    /// SKUs and tenant the rules give; [`Item::cancels`] is for the caller.
    pub fn from_decision(decision: &Decision, rules: &Rules) -> Option<Item> {
        if decision.outcome != Outcome::Accepted {
            return None;
        }
        let verdict = decision.verdict.as_ref()?;
        let request = &verdict.request;
        let annual = |w: &Warning| w.code == WarningCode::AnnualLicence;
        let client = request.client.clone()?;
        let licence = request.licence.clone()?;
        Some(Item {
            request_id: decision.request_id.clone(),
            received_at: decision.received_or_decided(),
            sender: decision.sender.clone().unwrap_or_default(),
            sender_name: verdict.from_name.clone(),
            tenant: rules.clients.lookup(&client).and_then(|c| c.tenant.clone()),
            skus: rules
                .catalog
                .get(&licence)
                .map(|l| l.skus.iter().map(|s| s.string_id.clone()).collect())
                .unwrap_or_default(),
            from_licence: request.from_licence.clone(),
            client,
            licence,
            quantity: request.quantity?,
            users: request.users.clone(),
            address: request.address.clone(),
            remote_desktop: request.remote_desktop,
            annual: verdict.warnings.iter().any(annual),
            ticket: request.ticket.clone(),
            cancels: None,
        })
    }

    fn is_removal(&self) -> bool {
        self.quantity < 0
    }

    /// What purchasing does for it.
    fn change(&self) -> Change {
        match (&self.from_licence, self.quantity < 0) {
            (Some(_), _) => Change::Upgrade,
            (None, true) => Change::Removal,
            (None, false) => Change::Addition,
        }
    }

    /// The licence as purchasing reads it: `A → B` for an upgrade.
    fn licence_cell(&self) -> String {
        licence_cell(self.from_licence.as_deref(), &self.licence)
    }

    /// The SKUs as one cell.
    fn sku(&self) -> String {
        self.skus.join(", ")
    }
}

/// A remark purchasing acts on, shown as a coloured label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: &'static str,
    pub colour: &'static str,
    /// What to do, in French; empty when the label says it all.
    pub text: String,
}

/// The badges of a request: only what purchasing acts on. (A badge for a
/// new kind of request, such as an irreversible change, goes here.)
pub fn badges(item: &Item, zone: &jiff::tz::TimeZone) -> Vec<Badge> {
    let local = |t: Timestamp| french_date_time(&t.to_zoned(zone.clone()));
    let mut badges = Vec::new();
    if let Some(from) = &item.from_licence {
        badges.push(Badge {
            label: "IRRÉVERSIBLE",
            colour: "#7c2d12",
            text: format!(
                "mise à niveau de « {from} » vers « {} », confirmée par le demandeur : \
                 elle ne pourra pas être annulée.",
                item.licence
            ),
        });
    }
    if let Some(cancels) = &item.cancels {
        badges.push(Badge {
            label: "ANNULABLE",
            colour: "#1d4ed8",
            text: format!(
                "Annulez l'ajout {} ({:+}, reçu le {}) chez le distributeur avant le {} : \
                 remboursement au prorata.",
                cancels.addition,
                cancels.quantity,
                local(cancels.received_at),
                local(cancels.until)
            ),
        });
    }
    if item.annual {
        badges.push(Badge {
            label: "ANNUEL",
            colour: "#b45309",
            text: "engagement annuel pour ce client : 12 mois facturés.".into(),
        });
    }
    if item.remote_desktop == Some(true) {
        badges.push(Badge {
            label: "BUREAU À DISTANCE",
            colour: "#0f766e",
            text: "bureau à distance associé : à mettre en place à part.".into(),
        });
    }
    badges
}

/// The three kinds of change, in the order purchasing handles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// Handled at once: the console shows it only after the 1st.
    Removal,
    /// Irreversible in the console.
    Upgrade,
    Addition,
}

/// `B`, or `A → B` for an upgrade from `A`.
fn licence_cell(from: Option<&str>, licence: &str) -> String {
    match from {
        Some(from) => format!("{from} → {licence}"),
        None => licence.to_owned(),
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
    /// `licgate digest --send`: the next scheduled digest's requests, sent
    /// now in its stead (the next one no longer carries them).
    SentOnDemand,
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
    /// Which part of how many, for a digest sent in parts ([`split`]).
    pub part: Option<(usize, usize)>,
}

/// One line of « À commander »: a client and a licence, the net quantity
/// of their requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine<'a> {
    pub client: &'a str,
    pub tenant: Option<&'a str>,
    /// For an upgrade: the licence left.
    pub from: Option<&'a str>,
    pub licence: &'a str,
    pub sku: String,
    /// The sum of the requests' quantities.
    pub net: i64,
    /// The union of the requests' badges' labels, in order.
    pub badges: Vec<Badge>,
}

/// The total of one licence across clients, for the distributor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total<'a> {
    /// For an upgrade: the licence left.
    pub from: Option<&'a str>,
    pub licence: &'a str,
    pub sku: String,
    pub net: i64,
}

/// « À commander »: the removals, the upgrades and the additions.
///
/// NOTE: a removal is never netted with an addition of the same licence:
/// purchasing handled it at once from its notice, and the addition is
/// still to order (or to cancel, when the badge says so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Orders<'a> {
    pub removals: Vec<OrderLine<'a>>,
    pub upgrades: Vec<OrderLine<'a>>,
    pub additions: Vec<OrderLine<'a>>,
}

impl Orders<'_> {
    /// The totals per licence (per path, for upgrades) of `lines`, by name.
    pub fn totals<'a>(lines: &[OrderLine<'a>]) -> Vec<Total<'a>> {
        let mut totals: BTreeMap<(&str, Option<&str>), Total> = BTreeMap::new();
        for line in lines {
            totals
                .entry((line.licence, line.from))
                .or_insert_with(|| Total {
                    from: line.from,
                    licence: line.licence,
                    sku: line.sku.clone(),
                    net: 0,
                })
                .net += line.net;
        }
        totals.into_values().collect()
    }
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
            part: None,
        }
    }

    /// The id of this digest's mail: `id`, followed by `-pN` for part N.
    pub fn mail_id(&self, id: &str) -> String {
        match self.part {
            Some((n, _)) => format!("{id}-p{n}"),
            None => id.to_owned(),
        }
    }

    /// The request ids it lists, oldest first.
    pub fn request_ids(&self) -> Vec<String> {
        self.items.iter().map(|i| i.request_id.clone()).collect()
    }

    /// Part `part` of this digest, listing `items` (a run of its own).
    fn part_of(&self, items: &[Item], part: (usize, usize)) -> Digest {
        Digest {
            items: items.to_vec(),
            part: Some(part),
            ..self.clone()
        }
    }

    /// « À commander »: one line per kind of change, client and licence
    /// (sorted), with the sum of their requests' quantities.
    pub fn orders(&self) -> Orders<'_> {
        let zone = self.at.time_zone();
        let mut lines: BTreeMap<(Change, &str, Option<&str>, &str), OrderLine> = BTreeMap::new();
        for item in &self.items {
            let from = item.from_licence.as_deref();
            let key = (
                item.change(),
                item.client.as_str(),
                from,
                item.licence.as_str(),
            );
            let line = lines.entry(key).or_insert_with(|| OrderLine {
                client: &item.client,
                tenant: item.tenant.as_deref(),
                from,
                licence: &item.licence,
                sku: item.sku(),
                net: 0,
                badges: Vec::new(),
            });
            line.net += item.quantity;
            for badge in badges(item, zone) {
                if !line.badges.iter().any(|b| b.label == badge.label) {
                    line.badges.push(badge);
                }
            }
        }
        let mut orders = Orders::default();
        for ((change, ..), line) in lines {
            match change {
                Change::Removal => orders.removals.push(line),
                Change::Upgrade => orders.upgrades.push(line),
                Change::Addition => orders.additions.push(line),
            }
        }
        orders
    }

    /// The line that names the audit trail's head, if known.
    fn chain_line(&self) -> Option<String> {
        let head = self.chain_head.as_ref().filter(|h| h.len > 0)?;
        Some(format!(
            "Empreinte du journal d'audit à l'envoi : {} (enregistrement n° {}).",
            head.hash, head.len
        ))
    }

    /// The requests, removals first, then upgrades, then additions, each by
    /// client (sorted), oldest first.
    fn requests(&self) -> [(&'static str, BTreeMap<&str, Vec<&Item>>); 3] {
        let mut sections: [(&'static str, BTreeMap<&str, Vec<&Item>>); 3] = [
            ("Détail des suppressions", BTreeMap::new()),
            ("Détail des mises à niveau", BTreeMap::new()),
            ("Détail des ajouts", BTreeMap::new()),
        ];
        for item in &self.items {
            let section = &mut sections[item.change() as usize].1;
            section.entry(item.client.as_str()).or_default().push(item);
        }
        sections
    }

    fn count(&self, change: Change) -> u64 {
        self.items.iter().filter(|i| i.change() == change).count() as u64
    }

    /// `1 suppression, 2 ajouts`, leaving out what there is none of.
    fn counts(&self) -> String {
        let mut parts = Vec::new();
        for (change, one, many) in [
            (Change::Removal, "suppression", "suppressions"),
            (Change::Upgrade, "mise à niveau", "mises à niveau"),
            (Change::Addition, "ajout", "ajouts"),
        ] {
            let n = self.count(change);
            if n > 0 {
                parts.push(count(n, one, many));
            }
        }
        parts.join(", ")
    }

    /// The mail's subject, in French typography: what matters first, within
    /// the 40 characters Outlook shows.
    pub fn subject(&self) -> String {
        typography(&self.plain_subject())
    }

    fn plain_subject(&self) -> String {
        let urgent = if self.count(Change::Removal) > 0 {
            "URGENT – "
        } else {
            ""
        };
        let part = self
            .part
            .map(|(n, of)| format!(", partie {n} sur {of}"))
            .unwrap_or_default();
        let when = format!(
            "{}, {}{part}",
            french_date(self.at.date()),
            french_time(self.at.time())
        );
        match self.kind {
            Kind::RemovalNotice => {
                let item = &self.items[0];
                format!(
                    "[licgate] URGENT – suppression : {} {:+} {} ({})",
                    item.client, item.quantity, item.licence, item.request_id
                )
            }
            Kind::Digest => format!("[licgate] {urgent}{} ({when})", self.counts()),
            Kind::OnDemand { .. } | Kind::SentOnDemand => {
                format!("[licgate] {urgent}{} (à la demande, {when})", self.counts())
            }
        }
    }

    fn introduction(&self) -> String {
        let part = match self.part {
            Some((n, of)) => format!(
                " Partie {n} sur {of} : trop longue pour un seul message, la synthèse est \
                 envoyée en {of} parties ; chacune est complète pour les demandes qu'elle liste."
            ),
            None => String::new(),
        };
        self.plain_introduction() + &part
    }

    fn plain_introduction(&self) -> String {
        match self.kind {
            Kind::RemovalNotice => {
                "Une suppression vient d'être acceptée : elle se traite dès réception.".to_owned()
            }
            Kind::Digest => format!(
                "Demandes acceptées par licgate depuis la synthèse précédente ({}).",
                self.counts()
            ),
            Kind::SentOnDemand => format!(
                "Synthèse envoyée à la demande : les demandes acceptées depuis la synthèse \
                 précédente ({}) ; la prochaine synthèse ne les reprendra pas.",
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

    fn footer(&self) -> String {
        let once = if matches!(self.kind, Kind::Digest | Kind::SentOnDemand) {
            " Chaque demande acceptée figure dans une seule synthèse."
        } else {
            ""
        };
        // NOTE: these mails go to purchasing: a question about a request
        // goes to the technician who asked, never back to purchasing itself.
        format!(
            "Message automatique de licgate.{once} Une question sur une demande : écrivez à \
             son demandeur (ligne « Demandeur ») en citant sa référence (LG-…)."
        )
    }

    /// The plain-text part, in French typography.
    pub fn to_text(&self) -> String {
        typography(&self.plain_text())
    }

    fn plain_text(&self) -> String {
        let zone = self.at.time_zone();
        let mut out = String::new();
        let _ = writeln!(out, "{}\n\n{}\n", self.introduction(), self.cutoff_line());
        let orders = self.orders();
        let _ = writeln!(out, "=== À commander ===\n");
        for (title, lines, _) in order_sections(&orders) {
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(out, "-- {title} --");
            for line in lines {
                let tenant = match line.tenant {
                    Some(tenant) => format!(" (tenant {tenant})"),
                    None => format!(" ({NO_TENANT})"),
                };
                let _ = writeln!(out, "{}{tenant}", line.client);
                let _ = writeln!(
                    out,
                    "  {:+}  {}  [réf. technique {}]",
                    line.net,
                    licence_cell(line.from, line.licence),
                    or_dash(&line.sku)
                );
                for badge in &line.badges {
                    let _ = writeln!(out, "      [{}]", badge.label);
                }
            }
            let _ = writeln!(out, "Total par licence, pour le distributeur :");
            for total in Orders::totals(lines) {
                let _ = writeln!(
                    out,
                    "  {:+}  {}  [réf. technique {}]",
                    total.net,
                    licence_cell(total.from, total.licence),
                    or_dash(&total.sku)
                );
            }
            out.push('\n');
        }
        for (title, clients) in self.requests() {
            if clients.is_empty() {
                continue;
            }
            let _ = writeln!(out, "=== {title} ===\n");
            for (client, items) in clients {
                let _ = writeln!(out, "{client}");
                for item in items {
                    let _ = writeln!(out, "  {:+}  {}", item.quantity, item.licence_cell());
                    for badge in badges(item, zone) {
                        let _ = writeln!(out, "      [{}] {}", badge.label, badge.text);
                    }
                    for (label, value) in details(item, zone) {
                        let _ = writeln!(out, "      {label} : {value}");
                    }
                }
                out.push('\n');
            }
        }
        let _ = writeln!(out, "{}", self.footer());
        if let Some(line) = self.chain_line() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// The HTML part, in French typography.
    pub fn to_html(&self) -> String {
        typography(&self.plain_html())
    }

    fn plain_html(&self) -> String {
        let zone = self.at.time_zone();
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
             <body bgcolor=\"#f3f4f6\" style=\"margin:0;padding:0\">\n\
             <table width=\"{WIDTH}\" align=\"center\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" bgcolor=\"#ffffff\" \
             style=\"border:1px solid #d1d5db;font-family:Arial,sans-serif;font-size:14px;color:#111827\">\n\
             <tr><td bgcolor=\"#1f3a5f\" style=\"padding:14px 18px;color:#ffffff;font-size:18px;font-weight:bold\">{subject}</td></tr>\n\
             <tr><td style=\"padding:12px 18px\">{}</td></tr>\n\
             <tr><td bgcolor=\"#fff7ed\" style=\"padding:10px 18px;color:#9a3412;font-weight:bold\">{}</td></tr>\n\
             <tr><td style=\"padding:16px 18px 4px 18px;font-size:17px;font-weight:bold\">À commander</td></tr>\n",
            escape(&self.introduction()),
            escape(&self.cutoff_line()),
            subject = escape(&self.subject()),
        );
        let orders = self.orders();
        for (title, lines, removals) in order_sections(&orders) {
            if lines.is_empty() {
                continue;
            }
            let colour = if removals { RED } else { BLUE };
            let urgent = if removals {
                badge_html("URGENT", RED) + " "
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<tr><td style=\"padding:10px 18px 4px 18px;font-size:15px;font-weight:bold;color:{colour}\">{urgent}{}</td></tr>\n\
                 <tr><td style=\"padding:0 18px 6px 18px\">\n\
                 <table width=\"{INNER}\" cellpadding=\"5\" cellspacing=\"0\" border=\"1\" style=\"border-collapse:collapse;border:1px solid #d1d5db;font-size:13px\">\n\
                 <tr bgcolor=\"#f3f4f6\"><th width=\"150\" align=\"left\">Client</th><th width=\"150\" align=\"left\">Tenant</th>\
                 <th width=\"234\" align=\"left\">Produit (nom de la console)</th><th width=\"90\" align=\"left\" style=\"font-size:11px\">Réf. technique</th><th width=\"60\" align=\"right\">Qté</th></tr>\n",
                escape(title)
            );
            for line in lines {
                let _ = write!(
                    out,
                    "<tr><td width=\"150\" valign=\"top\"><b>{}</b></td><td width=\"150\" valign=\"top\">{}</td>\
                     <td width=\"234\" valign=\"top\">{}",
                    escape(line.client),
                    match line.tenant {
                        Some(tenant) => escape(tenant),
                        None => format!(
                            "{}<br><span style=\"font-size:11px;color:{RED}\">{}</span>",
                            badge_html("À RENSEIGNER", RED),
                            escape(NO_TENANT)
                        ),
                    },
                    escape(&licence_cell(line.from, line.licence)),
                );
                for badge in &line.badges {
                    let _ = write!(out, "<br>{}", badge_html(badge.label, badge.colour));
                }
                let _ = writeln!(
                    out,
                    "</td><td width=\"90\" valign=\"top\" style=\"{ID_STYLE}\">{}</td>\
                     <td width=\"60\" valign=\"top\" align=\"right\" style=\"font-size:15px;font-weight:bold;color:{colour}\">{:+}</td></tr>",
                    escape(or_dash(&line.sku)),
                    line.net
                );
            }
            for total in Orders::totals(lines) {
                let _ = writeln!(
                    out,
                    "<tr bgcolor=\"#f9fafb\"><td width=\"534\" colspan=\"3\" valign=\"top\">Total {}, tous clients (distributeur)</td>\
                     <td width=\"90\" valign=\"top\" style=\"{ID_STYLE}\">{}</td><td width=\"60\" valign=\"top\" align=\"right\"><b>{:+}</b></td></tr>",
                    escape(&licence_cell(total.from, total.licence)),
                    escape(or_dash(&total.sku)),
                    total.net
                );
            }
            out.push_str("</table></td></tr>\n");
        }
        for (title, clients) in self.requests() {
            if clients.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "<tr><td style=\"padding:18px 18px 4px 18px;font-size:15px;font-weight:bold;border-bottom:2px solid #1f3a5f\">{}</td></tr>",
                escape(title)
            );
            for (client, items) in clients {
                let _ = write!(
                    out,
                    "<tr><td style=\"padding:10px 18px 2px 18px;font-weight:bold\">{}</td></tr>\n\
                     <tr><td style=\"padding:0 18px 6px 18px\">\n\
                     <table width=\"{INNER}\" cellpadding=\"4\" cellspacing=\"0\" border=\"0\" style=\"font-size:13px\">\n",
                    escape(client)
                );
                for item in items {
                    let colour = if item.is_removal() { RED } else { BLUE };
                    let _ = write!(
                        out,
                        "<tr><td width=\"56\" valign=\"top\" style=\"border-top:1px solid #e5e7eb;font-size:15px;font-weight:bold;color:{colour}\">{:+}</td>\
                         <td width=\"628\" valign=\"top\" style=\"border-top:1px solid #e5e7eb\"><b>{}</b>",
                        item.quantity,
                        escape(&item.licence_cell())
                    );
                    for badge in badges(item, zone) {
                        let _ = write!(
                            out,
                            "<br>{} {}",
                            badge_html(badge.label, badge.colour),
                            escape(&badge.text)
                        );
                    }
                    for (label, value) in details(item, zone) {
                        let _ = write!(
                            out,
                            "<br><span style=\"color:#374151\">{} : {}</span>",
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
            escape(&self.footer()),
            self.chain_line()
                .map(|line| format!("<br>{}", escape(&line)))
                .unwrap_or_default()
        );
        out
    }
}

/// Width of the digest, in pixels: what a reading pane shows whole.
const WIDTH: u32 = 720;
/// Width of the tables inside it (less the side padding).
const INNER: u32 = 684;
const RED: &str = "#b91c1c";
const BLUE: &str = "#1f3a5f";

/// The sections of « À commander », removals first: title, lines, and
/// whether they are removals.
type Section<'o, 'a> = (&'static str, &'o [OrderLine<'a>], bool);

fn order_sections<'o, 'a>(orders: &'o Orders<'a>) -> [Section<'o, 'a>; 3] {
    [
        (
            "Suppressions : à faire dès réception",
            orders.removals.as_slice(),
            true,
        ),
        (
            "Mises à niveau : irréversibles, vérifiez le tenant avant",
            orders.upgrades.as_slice(),
            false,
        ),
        ("Ajouts", orders.additions.as_slice(), false),
    ]
}

/// Said of a client without `tenant` in `clients.toml`.
const NO_TENANT: &str = "tenant non renseigné dans clients.toml : vérifiez le client dans l'espace partenaire avant de commander, puis faites ajouter son tenant par l'exploitant";

/// Microsoft's ids, small and grey: the product's name is what purchasing reads.
const ID_STYLE: &str = "font-size:11px;color:#6b7280;font-family:monospace";

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "—" } else { value }
}

/// A label on a coloured ground, as Outlook draws it (no rounded corner).
fn badge_html(label: &str, colour: &str) -> String {
    format!(
        "<span style=\"background-color:{colour};color:#ffffff;font-size:11px;font-weight:bold\">&nbsp;{}&nbsp;</span>",
        escape(label).replace(' ', "&nbsp;")
    )
}

/// The per-request lines: requester, users, reception, effect, reference, ticket.
fn details(item: &Item, zone: &jiff::tz::TimeZone) -> Vec<(&'static str, String)> {
    let received = item.received_at.to_zoned(zone.clone());
    let requester = match &item.sender_name {
        Some(name) => format!("{name} <{}>", item.sender),
        None => item.sender.clone(),
    };
    let mut lines = vec![("Demandeur", requester)];
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
    lines.push(("Reçue le", french_date_time(&received)));
    if item.is_removal() {
        let effective = received
            .date()
            .last_of_month()
            .tomorrow()
            .expect("dates in range");
        lines.push((
            "Prend effet le",
            format!("{} (renouvellement mensuel)", french_date(effective)),
        ));
    }
    lines.push(("Référence", item.request_id.clone()));
    if let Some(ticket) = &item.ticket {
        lines.push(("Ticket", ticket.clone()));
    }
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

/// Largest digest mail, in bytes (MIME as sent: text, HTML and headers); a
/// longer digest goes out in numbered parts. Far under what servers take
/// (Exchange Online 25 MB, Postfix 10 MB by default).
pub const DIGEST_MAX_SIZE: usize = 300_000;

/// When the digest is sent: times of day in the calendar's zone, on business
/// days or every day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Sorted times of day.
    pub times: Vec<Time>,
    /// Also on weekends, public holidays and closed days.
    pub every_day: bool,
    /// Largest mail, in bytes: a longer digest goes out in numbered parts.
    pub max_size: usize,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            times: vec![Time::constant(8, 30, 0, 0), Time::constant(14, 0, 0, 0)],
            every_day: false,
            max_size: DIGEST_MAX_SIZE,
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

/// `digest` as mails of at most `max_size` bytes each, as `mail` writes
/// them: one mail when it fits, else numbered parts, each a complete digest
/// of a run of its requests (oldest first). A part of a single request is
/// sent whatever its size: it cannot be cut further.
pub fn split(
    digest: &Digest,
    max_size: usize,
    mail: impl Fn(&Digest) -> anyhow::Result<OutboxItem>,
) -> anyhow::Result<Vec<OutboxItem>> {
    let whole = mail(digest)?;
    if whole.message.len() <= max_size || digest.items.len() < 2 {
        return Ok(vec![whole]);
    }
    // NOTE: a first cut in runs of equal counts from the whole's size, then
    // any run still too long is halved; the numbers are written last, so
    // a margin keeps room for them (« partie 12 sur 13 » and its sentence).
    let room = max_size.saturating_sub(PART_MARGIN).max(1);
    let guess = whole
        .message
        .len()
        .div_ceil(room)
        .clamp(2, digest.items.len());
    let per_run = digest.items.len().div_ceil(guess);
    let mut todo: Vec<&[Item]> = digest.items.chunks(per_run).rev().collect();
    let mut runs = Vec::new();
    while let Some(run) = todo.pop() {
        let size = mail(&digest.part_of(run, (1, 1)))?.message.len();
        if size <= room || run.len() == 1 {
            runs.push(run);
        } else {
            let (first, second) = run.split_at(run.len() / 2);
            todo.extend([second, first]);
        }
    }
    let of = runs.len();
    runs.iter()
        .enumerate()
        .map(|(n, run)| mail(&digest.part_of(run, (n + 1, of))))
        .collect()
}

/// Where licgate's own mails to purchasing go, and how long one may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Mailing {
    /// The gateway's address (`[smtp] from`).
    pub from: String,
    /// `[purchasing] to`.
    pub to: Vec<String>,
    /// `[purchasing] cc`.
    pub cc: Vec<String>,
    /// `[digest] max-size`: a longer digest goes out in parts.
    pub max_size: usize,
}

impl Mailing {
    /// The mails of `digest`, dated `date`, known by `id` (`id-pN` for its
    /// parts when it goes out in several), each naming the requests it lists.
    pub fn digest_mails(
        &self,
        digest: Digest,
        id: &str,
        date: Timestamp,
    ) -> anyhow::Result<Vec<OutboxItem>> {
        split(&digest, self.max_size, |part| {
            Letter {
                from: &self.from,
                to: &self.to,
                cc: &self.cc,
                id: &part.mail_id(id),
                date,
                subject: part.subject(),
                text: part.to_text(),
                html: Some(part.to_html()),
            }
            .to_outbox(part.request_ids())
        })
    }
}

/// Bytes kept free in each part while cutting, for its number.
const PART_MARGIN: usize = 2_000;

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

    /// The letter ready for the outbox (or to send at once), known by its
    /// `id`, owed until sent: a digest names the requests it lists.
    pub fn to_outbox(&self, request_ids: Vec<String>) -> anyhow::Result<OutboxItem> {
        Ok(OutboxItem {
            request_id: self.id.to_owned(),
            from: self.from.to_owned(),
            to: self.to.iter().chain(self.cc).cloned().collect(),
            message: self.to_mime()?,
            queued_at: self.date,
            own: Some(Own { request_ids }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn item(id: &str, client: &str, licence: &str, quantity: i64) -> Item {
        Item {
            request_id: id.into(),
            received_at: at("2026-11-23T09:15:00Z"),
            sender: "julie@infogerance.example".into(),
            sender_name: None,
            client: client.into(),
            tenant: None,
            licence: licence.into(),
            from_licence: None,
            skus: vec![format!("SKU_{}", licence.len())],
            quantity,
            users: vec!["Jean Dupont".into()],
            address: None,
            remote_desktop: Some(false),
            annual: false,
            ticket: None,
            cancels: None,
        }
    }

    const E1: &str = "Exchange Online (Plan 1)";
    const BS: &str = "Microsoft 365 Business Standard";

    // Issue 18, item 3: 380 requests with 4,000-character user names made a
    // 10.9 MB digest, refused (552) and dropped.
    #[test]
    fn a_long_digest_goes_out_in_numbered_parts_under_the_cap_each_complete() {
        let items: Vec<Item> = (0..60)
            .map(|n| Item {
                users: vec!["\"Dupont\" ".repeat(400)],
                ..item(
                    &format!("LG-{n:02}"),
                    "Garage",
                    "Exchange Online (Plan 1)",
                    1,
                )
            })
            .collect();
        let mailing = Mailing {
            from: "licences@infogerance.example".into(),
            to: vec!["achats@infogerance.example".into()],
            cc: vec![],
            max_size: 100_000,
        };
        let whole = mailing
            .digest_mails(
                digest(items.clone()),
                "digest-1",
                at("2026-11-23T13:00:00Z"),
            )
            .map(|mails| mails.len());
        assert!(whole.unwrap() > 1);
        let mails = mailing
            .digest_mails(digest(items), "digest-1", at("2026-11-23T13:00:00Z"))
            .unwrap();
        let of = mails.len();
        let mut listed = Vec::new();
        for (n, mail) in mails.iter().enumerate() {
            assert!(
                mail.message.len() <= 100_000,
                "part {n}: {}",
                mail.message.len()
            );
            assert_eq!(mail.request_id, format!("digest-1-p{}", n + 1));
            let subject = mail
                .message
                .lines()
                .find(|l| l.starts_with("Subject:"))
                .unwrap();
            assert!(subject.contains("?="), "encoded: {subject}");
            let own = mail.own.as_ref().unwrap();
            assert!(!own.request_ids.is_empty());
            listed.extend(own.request_ids.clone());
        }
        let expected: Vec<String> = (0..60).map(|n| format!("LG-{n:02}")).collect();
        assert_eq!(listed, expected, "every request once, in order");
        // Each part says which it is, and is a whole digest of its requests.
        let part = digest(vec![item("LG-1", "Garage", "E1", 1)])
            .part_of(&[item("LG-1", "Garage", "E1", 1)], (2, of));
        assert!(
            part.subject().contains(&format!(", partie 2 sur {of})")),
            "{}",
            part.subject()
        );
        let text = part.to_text();
        assert!(
            text.contains(&format!(
                "Partie 2 sur {of}\u{a0}: trop longue pour un seul message, la synthèse est envoyée en {of} parties"
            )),
            "{text}"
        );
        assert!(text.contains("=== À commander ===") && text.contains("Total par licence"));
    }

    fn digest(items: Vec<Item>) -> Digest {
        Digest::new(
            Kind::Digest,
            items,
            at("2026-11-23T13:00:00Z"),
            &Calendar::default(),
        )
    }

    fn nets(lines: &[OrderLine]) -> Vec<(String, String, i64)> {
        lines
            .iter()
            .map(|l| (l.client.to_owned(), l.licence.to_owned(), l.net))
            .collect()
    }

    fn line(client: &str, licence: &str, net: i64) -> (String, String, i64) {
        (client.into(), licence.into(), net)
    }

    #[test]
    fn requests_for_one_client_and_licence_are_summed() {
        let digest = digest(vec![
            item("LG-1", "Garage", E1, 1),
            item("LG-2", "Garage", E1, 2),
            item("LG-3", "Garage", BS, 1),
        ]);
        let orders = digest.orders();
        assert_eq!(
            nets(&orders.additions),
            [line("Garage", E1, 3), line("Garage", BS, 1)]
        );
        assert!(orders.removals.is_empty());
    }

    // Issue 11: a confirmed upgrade is an order of its own, never summed
    // with additions of its target, and marked irreversible.
    #[test]
    fn an_upgrade_is_an_irreversible_order_of_its_own() {
        let mut upgrade = item("LG-2", "Garage", "Exchange Online (Plan 2)", 1);
        upgrade.from_licence = Some(E1.into());
        let digest = digest(vec![
            item("LG-1", "Garage", "Exchange Online (Plan 2)", 1),
            upgrade,
        ]);
        let orders = digest.orders();
        assert_eq!(
            nets(&orders.upgrades),
            [line("Garage", "Exchange Online (Plan 2)", 1)]
        );
        assert_eq!(orders.upgrades[0].from, Some(E1));
        assert_eq!(
            nets(&orders.additions),
            [line("Garage", "Exchange Online (Plan 2)", 1)]
        );
        assert_eq!(
            digest.subject(),
            "[licgate] 1 mise à niveau, 1 ajout (lundi 23 novembre 2026, 14\u{a0}h)"
        );
        let text = digest.to_text();
        let upgrades = text
            .find("-- Mises à niveau")
            .expect("a section of their own");
        let additions = text.find("-- Ajouts").unwrap();
        assert!(upgrades < additions, "{text}");
        assert!(
            text.contains("+1  Exchange Online (Plan 1) → Exchange Online (Plan 2)"),
            "{text}"
        );
        assert!(
            text.contains(
                "[IRRÉVERSIBLE] mise à niveau de «\u{a0}Exchange Online (Plan 1)\u{a0}» \
                 vers «\u{a0}Exchange Online (Plan 2)\u{a0}»"
            ),
            "{text}"
        );
        assert!(text.contains("=== Détail des mises à niveau ==="), "{text}");
        let html = digest.to_html();
        assert!(html.contains("IRRÉVERSIBLE"));
        assert!(html.contains("Exchange Online (Plan 1) → Exchange Online (Plan 2)"));
    }

    #[test]
    // Found by review: a removal netted into the additions was applied
    // twice by purchasing, who had handled it at once from its notice.
    fn additions_and_removals_are_never_netted() {
        let digest = digest(vec![
            item("LG-1", "Garage", E1, 2),
            item("LG-2", "Garage", E1, -1),
            item("LG-3", "Cabinet", E1, -2),
            item("LG-4", "Cabinet", E1, 1),
        ]);
        let orders = digest.orders();
        assert_eq!(
            nets(&orders.additions),
            [line("Cabinet", E1, 1), line("Garage", E1, 2)]
        );
        assert_eq!(
            nets(&orders.removals),
            [line("Cabinet", E1, -2), line("Garage", E1, -1)]
        );
    }

    #[test]
    fn totals_per_licence_span_clients() {
        let digest = digest(vec![
            item("LG-1", "Garage", E1, 2),
            item("LG-2", "Cabinet", E1, 1),
            item("LG-3", "Cabinet", BS, 4),
            item("LG-4", "Boulangerie", E1, -1),
            item("LG-5", "Garage", E1, 1),
        ]);
        let orders = digest.orders();
        let totals: Vec<(&str, i64)> = Orders::totals(&orders.additions)
            .iter()
            .map(|t| (t.licence, t.net))
            .collect();
        assert_eq!(totals, [(E1, 4), (BS, 4)]);
        let text = digest.to_text();
        assert!(
            text.contains("Total par licence, pour le distributeur\u{a0}:\n  +4  Exchange Online (Plan 1)  [réf. technique SKU_24]\n  +4  Microsoft 365 Business Standard"),
            "{text}"
        );
        let html = digest.to_html();
        assert!(
            html.contains(&format!("Total Exchange Online (Plan 1), tous clients (distributeur)</td><td width=\"90\" valign=\"top\" style=\"{ID_STYLE}\">SKU_24</td><td width=\"60\" valign=\"top\" align=\"right\"><b>+4</b>")),
            "{html}"
        );
    }

    #[test]
    fn order_lines_give_the_sku_and_the_tenant() {
        let mut garage = item("LG-1", "Garage", E1, 1);
        garage.tenant = Some("garage.onmicrosoft.com".into());
        garage.skus = vec!["EXCHANGESTANDARD".into(), "EXCHANGESTANDARD_GOV".into()];
        let mut cabinet = item("LG-2", "Cabinet", E1, 1);
        cabinet.skus = vec![];
        let digest = digest(vec![garage, cabinet]);
        let html = digest.to_html();
        assert!(
            html.contains("<td width=\"150\" valign=\"top\"><b>Garage</b></td><td width=\"150\" valign=\"top\">garage.onmicrosoft.com</td>"),
            "{html}"
        );
        assert!(
            html.contains(">EXCHANGESTANDARD, EXCHANGESTANDARD_GOV</td>"),
            "{html}"
        );
        assert!(html.contains("<b>Cabinet</b></td><td width=\"150\" valign=\"top\">"));
        assert!(html.contains("RENSEIGNER"), "{html}");
        let text = digest.to_text();
        assert!(text.contains("Garage (tenant garage.onmicrosoft.com)\n  +1  Exchange Online (Plan 1)  [réf. technique EXCHANGESTANDARD, EXCHANGESTANDARD_GOV]"), "{text}");
        assert!(
            text.contains("Cabinet (tenant non renseigné dans clients.toml\u{a0}: vérifiez le client dans l'espace partenaire avant de commander, puis faites ajouter son tenant par l'exploitant)\n  +1  Exchange Online (Plan 1)  [réf. technique —]"),
            "{text}"
        );
    }

    #[test]
    fn the_subject_leads_with_urgent_only_when_there_is_a_removal() {
        let both = digest(vec![
            item("LG-1", "Garage", E1, -1),
            item("LG-2", "Garage", E1, 1),
            item("LG-3", "Garage", BS, 1),
            item("LG-4", "Cabinet", BS, 1),
        ]);
        assert_eq!(
            both.subject(),
            "[licgate] URGENT – 1 suppression, 3 ajouts (lundi 23 novembre 2026, 14\u{a0}h)"
        );
        let additions = digest(vec![item("LG-2", "Garage", E1, 1)]);
        assert_eq!(
            additions.subject(),
            "[licgate] 1 ajout (lundi 23 novembre 2026, 14\u{a0}h)"
        );
        // Outlook's list shows about 40 characters: URGENT is among them.
        assert!(both.subject().find("URGENT").unwrap() < 12);
    }

    #[test]
    fn removals_say_when_they_take_effect_and_what_to_cancel() {
        let mut removal = item("LG-2", "Cabinet", E1, -1);
        removal.cancels = Some(Cancels {
            addition: "LG-0".into(),
            quantity: 1,
            received_at: at("2026-11-20T08:00:00Z"),
            until: at("2026-11-27T08:00:00Z"),
        });
        removal.remote_desktop = Some(true);
        removal.ticket = Some("GLPI #0001234".into());
        let mut annual = item("LG-3", "Garage", BS, 2);
        annual.annual = true;
        let digest = digest(vec![item("LG-1", "Garage", E1, 1), removal, annual]);
        // Monday 23 November to Monday 30 November: 6 business days.
        assert_eq!(digest.business_days_left, 6);
        let text = digest.to_text();
        assert!(
            text.find("Suppressions\u{a0}: à faire").unwrap() < text.find("-- Ajouts").unwrap()
        );
        assert!(
            text.contains("[ANNULABLE] Annulez l'ajout LG-0 (+1, reçu le vendredi 20 novembre 2026 à 9\u{a0}h) chez le distributeur avant le vendredi 27 novembre 2026 à 9\u{a0}h\u{a0}: remboursement au prorata."),
            "{text}"
        );
        assert!(
            text.contains("Prend effet le\u{a0}: mardi 1er décembre 2026 (renouvellement mensuel)"),
            "{text}"
        );
        assert!(!text.contains("console"), "{text}");
        assert!(text.contains("[BUREAU À DISTANCE]"), "{text}");
        assert!(text.contains("[ANNUEL]"), "{text}");
        assert!(text.contains("Ticket\u{a0}: GLPI #0001234"), "{text}");
        assert!(
            text.contains("Demandeur\u{a0}: julie@infogerance.example"),
            "{text}"
        );
        assert!(
            text.contains("lundi 30 novembre 2026 à 17\u{a0}h\u{a0}30"),
            "{text}"
        );
        let details = text.split("=== Détail des ajouts").nth(1).unwrap();
        assert_eq!(details.matches("\nGarage\n").count(), 1, "{text}");
        assert_eq!(digest.to_html().matches(">&nbsp;URGENT&nbsp;<").count(), 1);
    }

    // Found by review: the digest `--send` sent said its requests would be
    // in the next digest, which it takes them out of.
    #[test]
    fn a_digest_sent_on_demand_says_the_next_one_will_not_repeat_it() {
        let mut sent = digest(vec![item("LG-1", "Garage", E1, 1)]);
        sent.kind = Kind::SentOnDemand;
        let text = sent.to_text();
        assert!(
            text.contains("la prochaine synthèse ne les reprendra pas"),
            "{text}"
        );
        assert!(
            text.contains("Chaque demande acceptée figure dans une seule synthèse"),
            "{text}"
        );
        assert!(
            sent.subject().contains("(à la demande, "),
            "{}",
            sent.subject()
        );
    }

    // Issue 20: the footer sent purchasing to write to purchasing; the
    // requester was a bare address, and a client without tenant unflagged.
    #[test]
    fn the_footer_sends_questions_to_the_requester_and_names_no_command() {
        let mut named = item("LG-1", "Garage", E1, 1);
        named.sender_name = Some("Julie Bernard".into());
        let mut digest = digest(vec![named]);
        digest.chain_head = Some(Head {
            len: 12,
            hash: "ab12".repeat(16),
        });
        let text = digest.to_text();
        assert!(
            text.contains(
                "écrivez à son demandeur (ligne «\u{a0}Demandeur\u{a0}») en citant sa référence (LG-…)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Demandeur\u{a0}: Julie Bernard <julie@infogerance.example>"),
            "{text}"
        );
        assert!(
            text.contains("Garage (tenant non renseigné dans clients.toml\u{a0}: vérifiez"),
            "{text}"
        );
        let html = digest.to_html();
        assert!(html.contains("RENSEIGNER") && html.contains("Produit (nom de la console)"));
        assert!(
            html.contains("Julie Bernard &lt;julie@infogerance.example&gt;"),
            "{html}"
        );
        // Issue 8, item 16: a trail rewritten in the store alone went unnoticed.
        let hash = "ab12".repeat(16);
        assert!(text.contains(&format!("{hash} (enregistrement n° 12)")));
        assert!(digest.to_html().contains(&hash));
        assert!(
            !text.contains("licgate audit") && !text.contains("licgate digest"),
            "{text}"
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

    /// What classic Outlook for Windows (Word's engine) shows as written:
    /// why `html` falls outside it, if it does.
    pub(crate) fn outside_outlook_subset(html: &str) -> Option<String> {
        const TAGS: [&str; 13] = [
            "!DOCTYPE", "html", "head", "meta", "title", "body", "table", "tr", "th", "td", "b",
            "br", "span",
        ];
        const PROPERTIES: [&str; 13] = [
            "margin",
            "padding",
            "border",
            "border-top",
            "border-bottom",
            "border-collapse",
            "font-family",
            "font-size",
            "font-weight",
            "color",
            "background-color",
            "text-align",
            "vertical-align",
        ];
        for tag in html.split('<').skip(1) {
            let inside = tag.split('>').next().unwrap_or_default();
            let name = inside
                .trim_start_matches('/')
                .split([' ', '>'])
                .next()
                .unwrap_or_default();
            if !TAGS.contains(&name) {
                return Some(format!("tag <{name}>"));
            }
            if inside.contains(" class=") || inside.contains(" id=") {
                return Some(format!("a class or id in <{inside}>"));
            }
            if name == "table" && !inside.starts_with('/') {
                for attribute in ["cellpadding=", "cellspacing=", "border="] {
                    if !inside.contains(attribute) {
                        return Some(format!("<{inside}> without {attribute}"));
                    }
                }
                let width = inside
                    .split("width=\"")
                    .nth(1)
                    .and_then(|w| w.split('"').next());
                if !width.is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit())) {
                    return Some(format!("<{inside}> without a fixed width in pixels"));
                }
            }
            if let Some(style) = inside.split("style=\"").nth(1) {
                let style = style.split('"').next().unwrap_or_default();
                for declaration in style.split(';').filter(|d| !d.trim().is_empty()) {
                    let property = declaration.split(':').next().unwrap_or_default().trim();
                    if !PROPERTIES.contains(&property) {
                        return Some(format!("CSS property {property} in <{inside}>"));
                    }
                }
            }
        }
        None
    }

    fn hostile() -> Item {
        let mut hostile = item("LG-1", "<script>alert('x')</script>", "<b>E1</b>", -1);
        hostile.users = vec!["<img src=x onerror=alert(1)>".into()];
        hostile.sender = "\"><a href=\"http://evil\">@x".into();
        hostile.ticket = Some("<i>#1</i>".into());
        hostile.address = Some("a&b@x.fr".into());
        hostile.tenant = Some("<t>".into());
        hostile
    }

    #[test]
    fn the_html_stays_within_what_outlook_shows() {
        let mut removal = hostile();
        removal.remote_desktop = Some(true);
        removal.annual = true;
        removal.cancels = Some(Cancels {
            addition: "LG-0".into(),
            quantity: 1,
            received_at: at("2026-11-20T08:00:00Z"),
            until: at("2026-11-27T08:00:00Z"),
        });
        let mut full = digest(vec![
            removal,
            item("LG-2", "Garage", E1, 1),
            item("LG-3", "Garage", E1, -1),
        ]);
        full.chain_head = Some(Head {
            len: 1,
            hash: "ab".into(),
        });
        let notice = Digest::new(
            Kind::RemovalNotice,
            vec![hostile()],
            at("2026-11-23T10:00:00Z"),
            &Calendar::default(),
        );
        for html in [full.to_html(), notice.to_html()] {
            assert_eq!(outside_outlook_subset(&html), None, "{html}");
        }
        // The check itself finds what Outlook would not show.
        for bad in [
            "<div>x</div>",
            "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">",
            "<table width=\"600\" border=\"0\">",
            "<td style=\"max-width:600px\">",
            "<span style=\"border-radius:3px\">",
            "<td style=\"display:flex\">",
            "<td class=\"x\">",
        ] {
            assert!(outside_outlook_subset(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn html_escapes_everything_that_came_from_a_mail() {
        let digest = digest(vec![hostile()]);
        let html = digest.to_html();
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&lt;b&gt;E1&lt;/b&gt;"));
        assert!(html.contains("&lt;i&gt;#1&lt;/i&gt;"));
        assert!(html.contains("a&amp;b@x.fr"));
        assert!(html.contains("&lt;t&gt;"));
        assert!(html.contains("&quot;&gt;&lt;a href=&quot;http://evil&quot;&gt;@x"));
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<a "));
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
