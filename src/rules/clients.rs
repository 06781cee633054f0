//! The clients, from `clients.toml`: canonical name, aliases, the domains
//! allowed for generic addresses, the licences billed yearly, and the
//! Microsoft tenant purchasing finds the client by.
//!
//! Names and aliases match whatever the case, accents and punctuation.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Catalog, SourceError};
use crate::text;

/// One client company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The canonical name, used in replies and digests.
    pub name: String,
    /// Other names technicians use for it.
    pub aliases: Vec<String>,
    /// Domains allowed for generic addresses (lower case); empty allows any.
    pub domains: Vec<String>,
    /// Official licences billed yearly for this client (12-month impact).
    pub annual: Vec<String>,
    /// The client's Microsoft tenant (`contoso.onmicrosoft.com` or its id),
    /// shown in the digest to find the client in the admin center.
    pub tenant: Option<String>,
}

/// All clients, indexed by every name they answer to.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    list: Vec<Client>,
    /// Index in `list` by [`text::words`] of each name and alias.
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClients {
    #[serde(default)]
    client: Vec<RawClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: Spanned<String>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    annual: Vec<Spanned<String>>,
    #[serde(default)]
    tenant: Option<Spanned<String>>,
    /// Free text for operators; licgate does not read it.
    #[serde(default, rename = "note")]
    _note: Option<String>,
}

impl Clients {
    /// Parses and checks the text of `clients.toml`; annual licences must be
    /// official names of `catalog`.
    pub fn from_toml(source: &str, catalog: &Catalog) -> Result<Clients, SourceError> {
        let raw: RawClients =
            toml::from_str(source).map_err(|e| SourceError::from_toml(source, e))?;
        let mut clients = Clients::default();
        for raw_client in raw.client {
            let index = clients.list.len();
            for (key, name) in std::iter::once(("name", &raw_client.name))
                .chain(raw_client.aliases.iter().map(|alias| ("aliases", alias)))
            {
                let folded = text::words(name.get_ref());
                if folded.is_empty() {
                    return Err(SourceError::at(
                        source,
                        name.span(),
                        format!("client.{key}: empty name"),
                    ));
                }
                if let Some(other) = clients.by_name.insert(folded, index) {
                    let msg = format!(
                        "client.{key}: « {} » already names client « {} »",
                        name.get_ref(),
                        clients.list.get(other).map_or(name.get_ref(), |c| &c.name)
                    );
                    return Err(SourceError::at(source, name.span(), msg));
                }
            }
            let mut domains = Vec::new();
            for domain in &raw_client.domains {
                let value = text::trim(domain.get_ref())
                    .trim_start_matches('@')
                    .to_lowercase();
                if !crate::text::is_email_address(&format!("x@{value}")) {
                    let msg = format!(
                        "client.domains: « {} » is not a domain name",
                        domain.get_ref()
                    );
                    return Err(SourceError::at(source, domain.span(), msg));
                }
                domains.push(value);
            }
            for licence in &raw_client.annual {
                if catalog.get(licence.get_ref()).is_none() {
                    let msg = format!(
                        "client.annual: « {} » is not an official licence name",
                        licence.get_ref()
                    );
                    return Err(SourceError::at(source, licence.span(), msg));
                }
            }
            let tenant = match &raw_client.tenant {
                Some(tenant) => Some(check_tenant(tenant.get_ref()).map_err(|message| {
                    SourceError::at(source, tenant.span(), format!("client.tenant: {message}"))
                })?),
                None => None,
            };
            clients.list.push(Client {
                tenant,
                name: text::trim(raw_client.name.get_ref()).to_owned(),
                aliases: raw_client
                    .aliases
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                domains,
                annual: raw_client
                    .annual
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
            });
        }
        Ok(clients)
    }

    /// Every client, in the file's order.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.list.iter()
    }

    /// The client that `written` names (canonical name or alias).
    pub fn lookup(&self, written: &str) -> Option<&Client> {
        self.by_name
            .get(&text::words(written))
            .map(|i| &self.list[*i])
    }

    /// The canonical name of the client whose name or alias is closest to `written`,
    /// when one is close enough to be worth suggesting.
    pub fn suggest(&self, written: &str) -> Option<&str> {
        let written = text::words(written);
        self.by_name
            .iter()
            .map(|(name, i)| (strsim::normalized_levenshtein(&written, name), *i))
            .filter(|(score, _)| *score >= 0.6)
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, i)| self.list[i].name.as_str())
    }

    /// Number of clients.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no client is listed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A tenant as Microsoft names it: its initial domain
/// (`contoso.onmicrosoft.com`, kept in lower case) or its id (a GUID).
fn check_tenant(written: &str) -> Result<String, String> {
    let value = text::trim(written).to_lowercase();
    let is_guid = value.len() == 36
        && value.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let is_initial_domain = value
        .strip_suffix(".onmicrosoft.com")
        .is_some_and(|name| !name.is_empty() && text::is_email_address(&format!("x@{value}")));
    if is_guid || is_initial_domain {
        Ok(value)
    } else {
        Err(format!(
            "« {written} » is neither a *.onmicrosoft.com domain nor a tenant id (GUID)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_toml("[[licence]]\nname = \"Microsoft 365 Business Premium\"\n").unwrap()
    }

    const CLIENTS: &str = r#"
[[client]]
name = "Boulangerie Martin"
aliases = ["Boulangerie Martin SARL"]
domains = ["boulangerie-martin.fr"]
annual = ["Microsoft 365 Business Premium"]

[[client]]
name = "Cabinet Durand & Associés"
note = "contrat renouvelé en 2026"
tenant = "CabinetDurand.onmicrosoft.com"
"#;

    #[test]
    fn a_tenant_is_an_initial_domain_or_an_id() {
        let clients = Clients::from_toml(CLIENTS, &catalog()).unwrap();
        let tenant = |name: &str| clients.lookup(name).unwrap().tenant.clone();
        assert_eq!(
            tenant("Cabinet Durand & Associés").as_deref(),
            Some("cabinetdurand.onmicrosoft.com")
        );
        assert_eq!(tenant("Boulangerie Martin"), None);
        let id = "[[client]]\nname = \"A\"\ntenant = \"72F988BF-86F1-41AF-91AB-2D7CD011DB47\"\n";
        assert!(Clients::from_toml(id, &catalog()).is_ok());
        for bad in ["contoso.fr", ".onmicrosoft.com", "72f988bf-86f1-41af-91ab"] {
            let source = format!("[[client]]\nname = \"A\"\ntenant = \"{bad}\"\n");
            let err = Clients::from_toml(&source, &catalog()).unwrap_err();
            assert_eq!(err.line, Some(3), "{bad}");
            assert!(err.message.starts_with("client.tenant"), "{}", err.message);
        }
    }

    #[test]
    fn names_and_aliases_match_loosely() {
        let clients = Clients::from_toml(CLIENTS, &catalog()).unwrap();
        assert_eq!(
            clients.lookup("boulangerie martin sarl").unwrap().name,
            "Boulangerie Martin"
        );
        assert_eq!(clients.lookup("CABINET DURAND ET ASSOCIES"), None);
        assert_eq!(
            clients.lookup("Cabinet Durand & associes").unwrap().name,
            "Cabinet Durand & Associés"
        );
        assert_eq!(
            clients.suggest("Boulangerie Martine"),
            Some("Boulangerie Martin")
        );
        assert_eq!(clients.suggest("Garage Petit"), None);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = Clients::from_toml(
            "[[client]]\nname = \"A\"\nannual = [\"Nope\"]\n",
            &catalog(),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.starts_with("client.annual"), "{}", err.message);
        let err = Clients::from_toml(
            "[[client]]\nname = \"A\"\n[[client]]\nname = \"a\"\n",
            &catalog(),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(4));
        let err = Clients::from_toml(
            "[[client]]\nname = \"A\"\ndomains = [\"not a domain\"]\n",
            &catalog(),
        );
        assert_eq!(err.unwrap_err().line, Some(3));
    }
}
