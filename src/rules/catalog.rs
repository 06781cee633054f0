//! The licence catalog: Microsoft's official product names (with their SKUs)
//! and the internal names used with clients, from `licences.toml`.
//!
//! A name is matched exactly, then with case and spacing ignored (accepted with
//! a warning), then against the internal names (refused: the official name is
//! required); anything else is unknown and gets up to three suggestions.
//! Nothing is ever corrected silently.
//!
//! Suggestions follow the usual names technicians write (`BP`, `E3`,
//! `Copilot`, `M365`…, `[[usual]]`), rank the licences the company sells
//! first (`sold`), and never offer a variant (no Teams, Legacy, a sector…)
//! the mail does not name.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::SourceError;
use crate::text;

/// One official licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// Microsoft's `Product_Display_Name`.
    pub name: String,
    /// The SKUs sold under that name.
    pub skus: Vec<Sku>,
}

/// One SKU of an official licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sku {
    /// Microsoft's `String_Id`, e.g. `O365_BUSINESS_PREMIUM`.
    pub string_id: String,
    /// Microsoft's SKU `GUID`.
    pub guid: String,
}

/// A client-facing name and the official licences it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InternalName {
    name: String,
    stands_for: Vec<String>,
}

/// A usual name or abbreviation (`BP`, `M365`): a pointer for suggestions
/// only, never taken as the licence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Usual {
    /// The name as written in `licences.toml`, for the import to keep it.
    name: String,
    /// Its words ([`tokens`]), matched as a run of the written words.
    words: Vec<String>,
    /// The official licences it points to (indexes in `licences`), or
    /// none when it only stands for other words.
    points_to: Vec<usize>,
    /// The words it stands for (`M365` -> `Microsoft 365`), when it points
    /// to no licence, as written in `licences.toml`.
    means: Option<String>,
    /// The words of `means` ([`tokens`]).
    means_words: Vec<String>,
}

/// How a written licence name relates to the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenceMatch<'a> {
    /// The official name, to the letter.
    Exact(&'a str),
    /// An official name written with other case, spacing or dashes.
    Normalised(&'a str),
    /// An internal name; these are the official names it stands for.
    Internal(&'a [String]),
    /// Not a licence name; the closest official names, best first (at most 3).
    Unknown(Vec<&'a str>),
}

/// Official and internal licence names.
#[derive(Debug, Clone)]
pub struct Catalog {
    licences: Vec<Licence>,
    /// Index in `licences` by exact name.
    exact: HashMap<String, usize>,
    /// Index in `licences` by [`text::squash`] of the name.
    squashed: HashMap<String, usize>,
    /// Every word of the licence names, once ([`text::words`]).
    vocabulary: Vec<String>,
    /// The words of each licence name, as indexes in `vocabulary`.
    tokens: Vec<Vec<usize>>,
    /// Whether each word of `vocabulary` marks a variant or a sector
    /// ([`VARIANTS`], [`SECTORS`]): looked up once, not at each suggestion.
    marks_variant: Vec<bool>,
    internal: Vec<InternalName>,
    /// Index in `internal` by [`text::words`] of the name.
    internal_by_words: HashMap<String, usize>,
    /// The usual names, in the file's order.
    usual: Vec<Usual>,
    /// Whether the company sells each licence (by index): ranked first.
    sold: Vec<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    sold: Vec<Spanned<String>>,
    #[serde(default)]
    usual: Vec<RawUsual>,
    #[serde(default)]
    internal: Vec<RawInternal>,
    #[serde(default)]
    licence: Vec<RawLicence>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsual {
    name: Spanned<String>,
    #[serde(default)]
    points_to: Vec<Spanned<String>>,
    means: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInternal {
    name: Spanned<String>,
    stands_for: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicence {
    name: Spanned<String>,
    #[serde(default)]
    skus: Vec<Sku>,
}

impl Catalog {
    /// Parses and checks the text of `licences.toml`.
    pub fn from_toml(source: &str) -> Result<Catalog, SourceError> {
        let raw: RawCatalog =
            toml::from_str(source).map_err(|e| SourceError::from_toml(source, e))?;
        let mut catalog = Catalog {
            licences: Vec::with_capacity(raw.licence.len()),
            exact: HashMap::new(),
            squashed: HashMap::new(),
            vocabulary: Vec::new(),
            tokens: Vec::new(),
            marks_variant: Vec::new(),
            internal: Vec::new(),
            internal_by_words: HashMap::new(),
            usual: Vec::new(),
            sold: Vec::new(),
        };
        let mut word_index: HashMap<String, usize> = HashMap::new();
        for licence in raw.licence {
            let name = text::trim(licence.name.get_ref()).to_owned();
            let span = licence.name.span();
            if name.is_empty() {
                return Err(SourceError::at(
                    source,
                    span,
                    "licence.name: empty name".into(),
                ));
            }
            if catalog.squashed.contains_key(&text::squash(&name)) {
                let msg =
                    format!("licence.name: « {name} » is listed twice (case and spacing ignored)");
                return Err(SourceError::at(source, span, msg));
            }
            let index = catalog.licences.len();
            catalog.exact.insert(name.clone(), index);
            catalog.squashed.insert(text::squash(&name), index);
            let words = tokens(&name)
                .into_iter()
                .map(|word| {
                    *word_index.entry(word.clone()).or_insert_with(|| {
                        catalog.vocabulary.push(word);
                        catalog.vocabulary.len() - 1
                    })
                })
                .collect();
            catalog.tokens.push(words);
            catalog.licences.push(Licence {
                name,
                skus: licence.skus,
            });
        }
        for internal in raw.internal {
            let name = text::trim(internal.name.get_ref()).to_owned();
            let key = text::words(&name);
            if key.is_empty() || catalog.internal_by_words.contains_key(&key) {
                let msg = format!("internal.name: « {name} » is empty or listed twice");
                return Err(SourceError::at(source, internal.name.span(), msg));
            }
            if catalog.squashed.contains_key(&text::squash(&name)) {
                let msg = format!("internal.name: « {name} » is also an official licence name");
                return Err(SourceError::at(source, internal.name.span(), msg));
            }
            let mut stands_for = Vec::new();
            for official in &internal.stands_for {
                if !catalog.exact.contains_key(official.get_ref()) {
                    let msg = format!(
                        "internal.stands_for: « {} » is not an official licence name",
                        official.get_ref()
                    );
                    return Err(SourceError::at(source, official.span(), msg));
                }
                stands_for.push(official.get_ref().clone());
            }
            if stands_for.is_empty() {
                let msg = format!("internal.stands_for: « {name} » stands for no licence");
                return Err(SourceError::at(source, internal.name.span(), msg));
            }
            catalog
                .internal_by_words
                .insert(key, catalog.internal.len());
            catalog.internal.push(InternalName { name, stands_for });
        }
        let official = |name: &Spanned<String>, key: &str| {
            catalog.exact.get(name.get_ref()).copied().ok_or_else(|| {
                let msg = format!(
                    "{key}: « {} » is not an official licence name",
                    name.get_ref()
                );
                SourceError::at(source, name.span(), msg)
            })
        };
        let mut sold = vec![false; catalog.licences.len()];
        for name in &raw.sold {
            sold[official(name, "sold")?] = true;
        }
        let mut usual = Vec::new();
        for raw_usual in &raw.usual {
            let name = text::trim(raw_usual.name.get_ref()).to_owned();
            let points_to = raw_usual
                .points_to
                .iter()
                .map(|target| official(target, "usual.points_to"))
                .collect::<Result<Vec<usize>, SourceError>>()?;
            let means = raw_usual
                .means
                .as_deref()
                .map(text::trim)
                .map(str::to_owned);
            let means_words = means.as_deref().map(tokens).unwrap_or_default();
            let words = tokens(&name);
            if words.is_empty() || points_to.is_empty() == means_words.is_empty() {
                let msg = format!(
                    "usual: « {name} » needs a name and either points_to (official names) \
                     or means (the words it stands for)"
                );
                return Err(SourceError::at(source, raw_usual.name.span(), msg));
            }
            usual.push(Usual {
                name,
                words,
                points_to,
                means,
                means_words,
            });
        }
        catalog.sold = sold;
        catalog.usual = usual;
        catalog.marks_variant = catalog
            .vocabulary
            .iter()
            .map(|word| SECTORS.contains(&word.as_str()) || VARIANTS.contains(&word.as_str()))
            .collect();
        Ok(catalog)
    }

    /// Number of official licences.
    pub fn len(&self) -> usize {
        self.licences.len()
    }

    /// True when the catalog lists no official licence.
    pub fn is_empty(&self) -> bool {
        self.licences.is_empty()
    }

    /// The official licence of that exact name.
    pub fn get(&self, name: &str) -> Option<&Licence> {
        self.exact.get(name).map(|i| &self.licences[*i])
    }

    /// Relates a written licence name to the catalog.
    pub fn lookup(&self, written: &str) -> LicenceMatch<'_> {
        let written = text::trim(written);
        if let Some(i) = self.exact.get(written) {
            return LicenceMatch::Exact(&self.licences[*i].name);
        }
        if let Some(i) = self.squashed.get(&text::squash(written)) {
            return LicenceMatch::Normalised(&self.licences[*i].name);
        }
        if let Some(i) = self.internal_by_words.get(&text::words(written)) {
            return LicenceMatch::Internal(&self.internal[*i].stands_for);
        }
        LicenceMatch::Unknown(self.suggest(written))
    }

    /// Up to three official names close to `written`, best first, those the
    /// company sells before the others. A usual name (`BP`, `Copilot`)
    /// gives the licences it points to, narrowed by the other words
    /// written. Otherwise: only the name that holds every word written with
    /// the fewest others, when one does; never a variant (for a sector, no
    /// Teams, Legacy…) the mail does not name.
    fn suggest(&self, written: &str) -> Vec<&str> {
        let (words, pointed) = self.read_usual(&tokens(written));
        if !pointed.is_empty() {
            let known: Vec<usize> = words
                .iter()
                .filter_map(|w| self.vocabulary.iter().position(|v| v == w))
                .collect();
            let narrowed: Vec<usize> = pointed
                .iter()
                .copied()
                .filter(|&i| known.iter().all(|w| self.tokens[i].contains(w)))
                .collect();
            let mut chosen = if narrowed.is_empty() {
                pointed
            } else {
                narrowed
            };
            chosen.sort_by_key(|&i| !self.sold[i]);
            return chosen
                .into_iter()
                .take(3)
                .map(|i| self.licences[i].name.as_str())
                .collect();
        }
        let named = |candidate: &[usize]| {
            candidate
                .iter()
                .all(|&i| !self.marks_variant[i] || words.contains(&self.vocabulary[i]))
        };
        let written: Option<Vec<usize>> = words
            .iter()
            .map(|w| self.vocabulary.iter().position(|v| v == w))
            .collect();
        // Names holding every word written, with their number of words.
        let holding_all: Vec<(usize, &str)> = match &written {
            Some(written) if !written.is_empty() => self
                .tokens
                .iter()
                .zip(&self.licences)
                .filter(|(candidate, _)| {
                    named(candidate) && written.iter().all(|w| candidate.contains(w))
                })
                .map(|(candidate, licence)| (candidate.len(), licence.name.as_str()))
                .collect(),
            _ => Vec::new(),
        };
        // The one with the fewest other words, when one is: the plain
        // product (« Microsoft 365 Business Standard », not its variants).
        if let Some(fewest) = holding_all.iter().map(|(len, _)| *len).min() {
            let plain: Vec<&str> = holding_all
                .iter()
                .filter(|(len, _)| *len == fewest)
                .map(|(_, name)| *name)
                .collect();
            if let [only] = plain.as_slice() {
                return vec![only];
            }
        }
        // NOTE: each written word is compared once with each word of the
        // vocabulary, not once per licence: ten times fewer comparisons.
        let query: Vec<Vec<f64>> = words
            .iter()
            .map(|word| {
                self.vocabulary
                    .iter()
                    .map(|known| word_similarity(word, known))
                    .collect()
            })
            .collect();
        let mut scored: Vec<(bool, f64, &str)> = self
            .tokens
            .iter()
            .zip(&self.licences)
            .zip(&self.sold)
            .filter(|((candidate, _), _)| named(candidate))
            .map(|((candidate, licence), sold)| {
                (*sold, similarity(&query, candidate), licence.name.as_str())
            })
            .filter(|(_, score, _)| *score >= 0.5)
            .collect();
        // NOTE: only names about as close as the closest: a far one, sold
        // or not, is another product (« Business standart » is not
        // « Microsoft Teams Phone Standard for Small and Medium Business »).
        let best = scored.iter().map(|s| s.1).fold(0.0, f64::max);
        scored.retain(|(_, score, _)| *score >= best - NEAR_BEST);
        scored.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then(a.2.len().cmp(&b.2.len()))
                .then(a.2.cmp(b.2))
        });
        scored
            .into_iter()
            .take(3)
            .map(|(_, _, name)| name)
            .collect()
    }

    /// The written words with the usual names read: those that stand for
    /// other words replaced by them (`m365` -> `microsoft 365`), those that
    /// point to licences taken out, their licences given apart (in order,
    /// once each). The longest usual name wins at each word.
    fn read_usual(&self, written: &[String]) -> (Vec<String>, Vec<usize>) {
        let mut words = Vec::with_capacity(written.len());
        let mut pointed: Vec<usize> = Vec::new();
        let mut at = 0;
        while at < written.len() {
            let found = self
                .usual
                .iter()
                .filter(|usual| written[at..].starts_with(&usual.words))
                .max_by_key(|usual| usual.words.len());
            match found {
                Some(usual) => {
                    words.extend(usual.means_words.iter().cloned());
                    for &i in &usual.points_to {
                        if !pointed.contains(&i) {
                            pointed.push(i);
                        }
                    }
                    at += usual.words.len();
                }
                None => {
                    words.push(written[at].clone());
                    at += 1;
                }
            }
        }
        (words, pointed)
    }

    /// The official names the company sells, in the catalog's order.
    pub fn sold_names(&self) -> impl Iterator<Item = &str> {
        self.licences
            .iter()
            .zip(&self.sold)
            .filter(|(_, sold)| **sold)
            .map(|(licence, _)| licence.name.as_str())
    }

    /// The usual names as `licences.toml` writes them: the name, then the
    /// official names it points to, or the words it stands for.
    fn usual_entries(&self) -> impl Iterator<Item = (&str, Vec<&str>, Option<&str>)> {
        self.usual.iter().map(|usual| {
            let points_to = usual
                .points_to
                .iter()
                .map(|&i| self.licences[i].name.as_str())
                .collect();
            (usual.name.as_str(), points_to, usual.means.as_deref())
        })
    }

    /// The internal names, with the official names they stand for.
    pub fn internal_names(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.internal
            .iter()
            .map(|i| (i.name.as_str(), i.stands_for.as_slice()))
    }
}

/// How far below the closest name's score another suggestion may be.
const NEAR_BEST: f64 = 0.05;

/// Words of official names that mark a variant of a product (`(no Teams)`,
/// `EEA`, `Prepaid Legacy`, a trial…), offered only when the mail names them.
const VARIANTS: &[&str] = &[
    "no",
    "eea",
    "legacy",
    "prepaid",
    "trial",
    "donation",
    "hub",
    "unattended",
    "developer",
    "without",
    "with",
];

/// Words of official names that mark a variant for one sector only.
const SECTORS: &[&str] = &[
    "gcc",
    "gcchigh",
    "usgov",
    "government",
    "gov",
    "dod",
    "students",
    "student",
    "faculty",
    "nonprofit",
    "nonprofits",
    "education",
    "edu",
    "alumni",
];

fn tokens(s: &str) -> Vec<String> {
    text::words(s)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How well the words of a written name match a candidate's, from 0 to 1:
/// mostly how many written words the candidate has (typos forgiven, numbers
/// exact), a little how few words it has besides. `query[i][w]` is the
/// similarity of written word `i` with vocabulary word `w`.
fn similarity(query: &[Vec<f64>], candidate: &[usize]) -> f64 {
    if query.is_empty() || candidate.is_empty() {
        return 0.0;
    }
    let mut used = vec![false; candidate.len()];
    let mut covered = 0.0;
    for word in query {
        let best = candidate
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, c)| (i, word[*c]))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, score)) = best.filter(|(_, score)| *score > 0.0) {
            used[i] = true;
            covered += score;
        }
    }
    let coverage = covered / query.len() as f64;
    let precision = used.iter().filter(|u| **u).count() as f64 / candidate.len() as f64;
    0.7 * coverage + 0.3 * precision
}

fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    if a.chars().chain(b.chars()).any(|c| c.is_ascii_digit()) {
        return 0.0;
    }
    // Below 0.7 anyway when the lengths differ by more than 30 %.
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.abs_diff(lb) * 10 > la.max(lb) * 3 {
        return 0.0;
    }
    let score = strsim::normalized_levenshtein(a, b);
    if score >= 0.7 { score } else { 0.0 }
}

/// Rewrites `licences.toml` from Microsoft's product CSV ("Product names and
/// service plan identifiers for licensing"): one `[[licence]]` per distinct
/// `Product_Display_Name`, with its SKUs; the `[[internal]]` entries of
/// `current` are kept as they are.
pub fn import_products(csv: &str, current: &str) -> Result<String, String> {
    let existing =
        Catalog::from_toml(current).map_err(|e| format!("current licences file: {}", e.message))?;
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("CSV has no `{name}` column"))
    };
    let (name_col, id_col, guid_col) = (
        column("Product_Display_Name")?,
        column("String_Id")?,
        column("GUID")?,
    );
    let mut products: std::collections::BTreeMap<String, Vec<Sku>> = Default::default();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV row {}: {e}", row + 2))?;
        let field = |i: usize| text::trim(record.get(i).unwrap_or_default()).to_owned();
        let sku = Sku {
            string_id: field(id_col),
            guid: field(guid_col),
        };
        let skus = products.entry(field(name_col)).or_default();
        if !skus.contains(&sku) {
            skus.push(sku);
        }
    }
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = String::from(LICENCES_HEADER);
    let sold: Vec<String> = existing
        .sold_names()
        .filter(|name| products.contains_key(*name))
        .map(|name| format!("  {},\n", quote(name)))
        .collect();
    let _ = write!(out, "\nsold = [\n{}]\n", sold.concat());
    for (name, points_to, means) in existing.usual_entries() {
        let points_to: Vec<String> = points_to
            .into_iter()
            .filter(|target| products.contains_key(*target))
            .map(quote)
            .collect();
        let target = match means {
            Some(means) => format!("means = {}", quote(means)),
            // NOTE: a usual name left with no licence Microsoft still lists
            // is dropped.
            None if points_to.is_empty() => continue,
            None => format!("points_to = [{}]", points_to.join(", ")),
        };
        let _ = write!(out, "\n[[usual]]\nname = {}\n{target}\n", quote(name));
    }
    for (name, stands_for) in existing.internal_names() {
        let list: Vec<String> = stands_for.iter().map(|s| quote(s)).collect();
        let _ = write!(
            out,
            "\n[[internal]]\nname = {}\nstands_for = [{}]\n",
            quote(name),
            list.join(", ")
        );
    }
    out.push_str("\n# Official names, generated from Microsoft's CSV: do not edit by hand.\n");
    for (name, skus) in products.iter().filter(|(name, _)| !name.is_empty()) {
        let skus: Vec<String> = skus
            .iter()
            .map(|s| {
                format!(
                    "{{ string_id = {}, guid = {} }}",
                    quote(&s.string_id),
                    quote(&s.guid)
                )
            })
            .collect();
        let _ = write!(
            out,
            "\n[[licence]]\nname = {}\nskus = [{}]\n",
            quote(name),
            skus.join(", ")
        );
    }
    Catalog::from_toml(&out).map_err(|e| {
        format!(
            "generated file is invalid: line {:?}: {}",
            e.line, e.message
        )
    })?;
    Ok(out)
}

const LICENCES_HEADER: &str = "\
# Licence names known to licgate.
#
# sold: the official names the company sells, offered first when a request
#   names a licence that is not an official name. Edit by hand.
#
# [[usual]]: the abbreviations and usual names technicians write, pointers
#   for suggestions only (a request that writes one is refused, with the
#   official name to write). Edit these by hand:
#     name      = as technicians write it, matched as whole words, whatever the case
#     points_to = the official names it points to, or
#     means     = the words it stands for (\"M365\" means \"Microsoft 365\")
#
# [[internal]]: the names used with clients (never in an order), and the
#   official licence(s) each stands for. Edit these by hand:
#     name       = the client-facing name, matched whatever the case and accents
#     stands_for = official names from the [[licence]] list below
#
# [[licence]]: Microsoft's official product names (Product_Display_Name) and
#   their SKUs (String_Id, GUID). Refresh them when Microsoft updates its list:
#     licgate rules import-products --csv \"Product names and service plan identifiers for licensing.csv\"
#   which rewrites this file and keeps sold, [[usual]] and [[internal]].
";

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_toml(
            r#"
            [[internal]]
            name = "Boîte mail simple"
            stands_for = ["Exchange Online (Plan 1)"]
            [[licence]]
            name = "Exchange Online (Plan 1)"
            [[licence]]
            name = "Exchange Online (Plan 2)"
            [[licence]]
            name = "Microsoft 365 Business Premium"
            [[licence]]
            name = "Microsoft 365 Business Premium (no Teams)"
            [[licence]]
            name = "Microsoft 365 Business Standard"
            [[licence]]
            name = "Microsoft 365 Business Standard (no Teams)"
            [[licence]]
            name = "Microsoft 365 E3"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn exact_normalised_and_internal() {
        let c = catalog();
        assert_eq!(
            c.lookup("Exchange Online (Plan 1)"),
            LicenceMatch::Exact("Exchange Online (Plan 1)")
        );
        assert_eq!(
            c.lookup(" exchange online(PLAN 1) "),
            LicenceMatch::Normalised("Exchange Online (Plan 1)")
        );
        let LicenceMatch::Internal(official) = c.lookup("BOITE MAIL SIMPLE") else {
            panic!()
        };
        assert_eq!(official, ["Exchange Online (Plan 1)"]);
    }

    #[test]
    fn unknown_names_get_the_closest_official_names_first() {
        let c = catalog();
        let first = |written: &str| match c.lookup(written) {
            LicenceMatch::Unknown(s) => s.first().map(|s| s.to_string()),
            other => panic!("{written}: {other:?}"),
        };
        assert_eq!(
            first("Business Premium").as_deref(),
            Some("Microsoft 365 Business Premium")
        );
        assert_eq!(
            first("Exchange Online Plan 1").as_deref(),
            Some("Exchange Online (Plan 1)")
        );
        assert_eq!(
            first("Microsoft 365 Business Standart").as_deref(),
            Some("Microsoft 365 Business Standard")
        );
        assert_eq!(first("Office"), None);
        let LicenceMatch::Unknown(all) = c.lookup("Business") else {
            panic!()
        };
        assert!(all.len() <= 3);
    }

    #[test]
    fn plan_numbers_must_match_exactly() {
        let catalog = catalog();
        let LicenceMatch::Unknown(s) = catalog.lookup("Exchange Online Plan 2") else {
            panic!()
        };
        assert_eq!(s[0], "Exchange Online (Plan 2)");
    }

    // Issue 19: usual names point the suggestions; what the company sells
    // comes first; a variant only when named.
    #[test]
    fn usual_names_and_sold_licences_lead_the_suggestions() {
        let c = Catalog::from_toml(
            r#"
            sold = ["Microsoft 365 Business Standard"]
            [[usual]]
            name = "BP"
            points_to = ["Microsoft 365 Business Premium"]
            [[usual]]
            name = "M365"
            means = "Microsoft 365"
            [[usual]]
            name = "E3"
            points_to = ["Office 365 E3", "Microsoft 365 E3"]
            [[licence]]
            name = "Microsoft 365 Business Premium"
            [[licence]]
            name = "Microsoft 365 Business Standard"
            [[licence]]
            name = "Microsoft 365 Business Standard (no Teams)"
            [[licence]]
            name = "Microsoft 365 E3"
            [[licence]]
            name = "Office 365 E3"
            "#,
        )
        .unwrap();
        let suggested = |written: &str| match c.lookup(written) {
            LicenceMatch::Unknown(s) => s,
            other => panic!("{written}: {other:?}"),
        };
        assert_eq!(suggested("M365 BP"), ["Microsoft 365 Business Premium"]);
        // The other words written narrow what a usual name points to.
        assert_eq!(suggested("M365 E3"), ["Microsoft 365 E3"]);
        assert_eq!(suggested("E3"), ["Office 365 E3", "Microsoft 365 E3"]);
        assert_eq!(
            suggested("Business Standart"),
            ["Microsoft 365 Business Standard"]
        );
        assert_eq!(
            suggested("Business Standard no Teams"),
            ["Microsoft 365 Business Standard (no Teams)"]
        );
        // Sold first, whatever the score.
        assert_eq!(suggested("Busines")[0], "Microsoft 365 Business Standard");
        for bad in [
            "sold = [\"Nope\"]\n",
            "[[usual]]\nname = \"X\"\n",
            "[[usual]]\nname = \"X\"\nmeans = \"Y\"\npoints_to = [\"Office 365 E3\"]\n[[licence]]\nname = \"Office 365 E3\"\n",
        ] {
            assert!(Catalog::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_name_must_stand_for_an_official_name() {
        let err = Catalog::from_toml("[[internal]]\nname = \"X\"\nstands_for = [\"Nope\"]\n")
            .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message.contains("internal.stands_for"),
            "{}",
            err.message
        );
    }

    #[test]
    fn import_keeps_internal_names_and_groups_skus() {
        let csv = "\u{feff}Product_Display_Name,String_Id,GUID,Service_Plan_Name\r\n\
                   Exchange Online (Plan 1),EXCHANGESTANDARD,4b9405b0,A\r\n\
                   Exchange Online (Plan 1),EXCHANGESTANDARD,4b9405b0,B\r\n\
                   \"Windows 365 Business 2 vCPU, 4 GB\",CPC_B,02d8,C\r\n";
        let current = "sold = [\"Exchange Online (Plan 1)\"]\n\
                       [[usual]]\nname = \"EOP1\"\npoints_to = [\"Exchange Online (Plan 1)\"]\n\
                       [[usual]]\nname = \"M365\"\nmeans = \"Microsoft 365\"\n\
                       [[internal]]\nname = \"Boîte mail simple\"\nstands_for = [\"Exchange Online (Plan 1)\"]\n\
                       [[licence]]\nname = \"Exchange Online (Plan 1)\"\n";
        let generated = Catalog::from_toml(&import_products(csv, current).unwrap()).unwrap();
        assert_eq!(generated.len(), 2);
        assert_eq!(
            generated
                .get("Exchange Online (Plan 1)")
                .unwrap()
                .skus
                .len(),
            1
        );
        assert!(generated.get("Windows 365 Business 2 vCPU, 4 GB").is_some());
        assert_eq!(generated.internal_names().count(), 1);
        assert_eq!(
            generated.sold_names().collect::<Vec<_>>(),
            ["Exchange Online (Plan 1)"]
        );
        assert_eq!(generated.usual_entries().count(), 2);
    }
}
