//! The computed French public holidays equal the official Etalab dataset
//! (2006-2031) and, from 2008 (when Whit Monday became a public holiday
//! again in every dataset), the `holidays` package's 2000-2100 set.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::civil::Date;
use licgate::rules::french_holidays;

/// The distinct dates of a `date,annee,zone,nom_jour_ferie` CSV, by year.
fn dataset(file: &str, years: std::ops::RangeInclusive<i16>) -> BTreeSet<Date> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let dates: BTreeSet<Date> = text
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').next().unwrap().parse::<Date>().unwrap())
        .filter(|date| years.contains(&date.year()))
        .collect();
    assert!(
        dates.len() > 10 * years.len(),
        "{file}: too few dates for {years:?}"
    );
    dates
}

fn computed(years: std::ops::RangeInclusive<i16>) -> BTreeSet<Date> {
    years.flat_map(french_holidays).collect()
}

#[test]
fn equal_to_the_official_dataset_2006_2031() {
    let official = dataset("jours-feries-metropole.csv", 2006..=2031);
    assert_eq!(computed(2006..=2031), official);
}

#[test]
fn equal_to_the_generated_set_2008_2100() {
    let generated = dataset(
        "jours-feries-metropole-2000-2100.holidays-pkg.csv",
        2008..=2100,
    );
    assert_eq!(computed(2008..=2100), generated);
}
