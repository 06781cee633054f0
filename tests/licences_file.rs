//! `rules/licences.toml` is exactly what `licgate rules import-products`
//! generates from Microsoft's CSV (`tests/data/m365-products.csv`), with every
//! distinct product name of the CSV, and keeps the internal names.

use std::collections::BTreeSet;
use std::path::Path;

use licgate::rules::{Catalog, import_products};

#[test]
fn shipped_licences_file_is_the_generated_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let csv = std::fs::read_to_string(root.join("tests/data/m365-products.csv")).unwrap();
    let shipped = std::fs::read_to_string(root.join("rules/licences.toml")).unwrap();
    let generated = import_products(&csv, &shipped).unwrap();
    assert!(
        generated == shipped,
        "rules/licences.toml is out of date: run `licgate rules import-products --csv tests/data/m365-products.csv`"
    );

    let names: BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            // Only rows whose display name is not quoted: enough to count the distinct names below.
            line.split(',').next().filter(|name| !name.starts_with('"'))
        })
        .collect();
    let catalog = Catalog::from_toml(&shipped).unwrap();
    assert_eq!(
        catalog.len(),
        555,
        "distinct Product_Display_Name in Microsoft's CSV"
    );
    for name in names {
        assert!(catalog.get(name).is_some(), "{name} missing");
    }
    let internal: Vec<&str> = catalog.internal_names().map(|(name, _)| name).collect();
    for name in [
        "Boîte mail simple",
        "Boîte mail + Suite Office",
        "Archivage inclus",
    ] {
        assert!(internal.contains(&name), "{name} missing");
    }
    let basic = catalog.get("Microsoft 365 Business Basic").unwrap();
    assert_eq!(
        basic.skus.len(),
        2,
        "O365_BUSINESS_ESSENTIALS and SMB_BUSINESS_ESSENTIALS"
    );
}
