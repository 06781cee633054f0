//! Prints a sample digest for purchasing, as HTML (or text with `--text`),
//! to look at it in a browser: `scripts/render-digest` turns it into a PNG
//! with headless Chromium.

use jiff::Timestamp;
use licgate::compose::digest::{Digest, Item, Kind};
use licgate::judge::Cancellable;
use licgate::rules::Calendar;

fn item(id: &str, at: &str, client: &str, licence: &str, quantity: i64, users: &[&str]) -> Item {
    Item {
        request_id: id.into(),
        received_at: at.parse().expect("valid time"),
        sender: "julie.bernard@infogerance.example".into(),
        subject: String::new(),
        client: client.into(),
        licence: licence.into(),
        from_licence: None,
        quantity,
        users: users.iter().map(|u| u.to_string()).collect(),
        address: None,
        remote_desktop: Some(false),
        annual: false,
        warnings: Vec::new(),
        cancellable: None,
    }
}

fn main() {
    let mut removal = item(
        "LG-3F2A9C0B11",
        "2026-11-23T08:05:00Z",
        "Cabinet Durand & Associés",
        "Exchange Online (Plan 1)",
        -1,
        &["Marc <Lefèvre>"],
    );
    removal.cancellable = Some(Cancellable {
        addition: "LG-0A1B2C3D4E".into(),
        until: "2026-11-25T09:12:00Z".parse().expect("valid time"),
    });
    let mut annual = item(
        "LG-77D01E2F93",
        "2026-11-23T09:40:00Z",
        "Garage du Centre",
        "Microsoft 365 Business Premium",
        2,
        &["Paul Martin", "Léa Morel"],
    );
    annual.annual = true;
    let mut generic = item(
        "LG-51C3B8A7E0",
        "2026-11-23T10:02:00Z",
        "Boulangerie Martin",
        "Exchange Online (Plan 1)",
        1,
        &[],
    );
    generic.address = Some("commandes@boulangerie-martin.example".into());
    generic.remote_desktop = Some(true);
    generic.warnings = vec![
        "« exchange online plan 1 » a été lu comme le nom officiel « Exchange Online (Plan 1) » (majuscules ou espaces différents).".into(),
    ];
    let addition = item(
        "LG-9E8D7C6B5A",
        "2026-11-23T11:30:00Z",
        "Garage du Centre",
        "Microsoft 365 Business Standard",
        1,
        &["Hugo Petit"],
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
