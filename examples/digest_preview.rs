//! Prints a sample digest for purchasing, as HTML (or text with `--text`),
//! to look at it in a browser: `scripts/render-digest` turns it into a PNG
//! with headless Chromium.

use jiff::Timestamp;
use licgate::compose::digest::{Cancels, Digest, Item, Kind};
use licgate::rules::Calendar;

fn item(id: &str, at: &str, client: &str, licence: &str, quantity: i64, users: &[&str]) -> Item {
    Item {
        request_id: id.into(),
        received_at: at.parse().expect("valid time"),
        sender: "julie.bernard@infogerance.example".into(),
        sender_name: Some("Julie Bernard".into()),
        client: client.into(),
        tenant: None,
        licence: licence.into(),
        from_licence: None,
        skus: Vec::new(),
        quantity,
        users: users.iter().map(|u| u.to_string()).collect(),
        address: None,
        remote_desktop: Some(false),
        annual: false,
        ticket: None,
        cancels: None,
    }
}

fn main() {
    let cabinet = |mut item: Item| {
        item.tenant = Some("cabinetdurand.onmicrosoft.com".into());
        item.skus = vec!["EXCHANGESTANDARD".into()];
        item
    };
    let garage = |mut item: Item, sku: &str| {
        item.tenant = Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301".into());
        item.skus = vec![sku.into()];
        item
    };
    let mut removal = cabinet(item(
        "LG-3F2A9C0B11",
        "2026-11-23T08:05:00Z",
        "Cabinet Durand & Associés",
        "Exchange Online (Plan 1)",
        -1,
        &["Marc <Lefèvre>"],
    ));
    removal.cancels = Some(Cancels {
        addition: "LG-0A1B2C3D4E".into(),
        quantity: 1,
        received_at: "2026-11-18T09:12:00Z".parse().expect("valid time"),
        until: "2026-11-25T09:12:00Z".parse().expect("valid time"),
    });
    removal.ticket = Some("GLPI #0001234".into());
    let mut annual = garage(
        item(
            "LG-77D01E2F93",
            "2026-11-23T09:40:00Z",
            "Garage du Centre",
            "Microsoft 365 Business Standard",
            2,
            &["Paul Martin", "Léa Morel"],
        ),
        "O365_BUSINESS_PREMIUM",
    );
    annual.annual = true;
    annual.ticket = Some("Ticket#1234567".into());
    let mut generic = item(
        "LG-51C3B8A7E0",
        "2026-11-23T10:02:00Z",
        "Boulangerie Martin",
        "Exchange Online (Plan 1)",
        1,
        &[],
    );
    generic.tenant = Some("boulangeriemartin.onmicrosoft.com".into());
    generic.skus = vec!["EXCHANGESTANDARD".into()];
    generic.address = Some("commandes@boulangerie-martin.example".into());
    generic.remote_desktop = Some(true);
    let addition = garage(
        item(
            "LG-9E8D7C6B5A",
            "2026-11-23T11:30:00Z",
            "Garage du Centre",
            "Microsoft 365 Business Standard",
            1,
            &["Hugo Petit"],
        ),
        "O365_BUSINESS_PREMIUM",
    );
    let at: Timestamp = "2026-11-23T13:00:00Z".parse().expect("valid time");
    let digest = Digest::new(
        Kind::Digest,
        vec![removal, annual, generic, addition],
        at,
        &Calendar::default(),
    );
    if std::env::args().any(|a| a == "--text") {
        print!("Objet : {}\n\n{}", digest.subject(), digest.to_text());
    } else {
        print!("{}", digest.to_html());
    }
}
