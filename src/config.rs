//! The daemon's configuration: a TOML file read into [`RawConfig`] (serde, every
//! key checked), then turned into [`Config`] by [`Config::from_raw`], which
//! resolves secrets from the environment or files and cross-checks values.
//! Every problem is a [`Finding`] (key, what is wrong, what to do); all of
//! them are reported at once, each with the file and the line of its key.
//! [`RawConfig::diagnose`] adds what `config check` finds on the disk (rules,
//! store folder), and [`RawConfig::effective_toml`] prints the result.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::judge::Limits;
use crate::mail::ReceivingServer;
use crate::net::is_loopback;
pub use crate::net::{Auth, Secret, Server, TlsMode};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawConfig {
    pub imap: RawImap,
    pub smtp: RawSmtp,
    #[serde(default)]
    pub senders: RawSenders,
    #[serde(default)]
    pub purchasing: RawPurchasing,
    #[serde(default)]
    pub digest: RawDigest,
    #[serde(default)]
    pub reminder: RawReminder,
    pub store: RawStore,
    pub rules: RawRules,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub metrics: RawMetrics,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawImap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    #[serde(default)]
    pub folders: RawFolders,
    #[serde(default = "default_true")]
    pub idle: bool,
    #[serde(default = "default_poll_interval")]
    pub poll_interval: u64,
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    pub ca_file: Option<PathBuf>,
    pub auth: RawAuth,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawFolders {
    pub accepted: String,
    pub rejected: String,
    pub ignored: String,
    pub quarantine: String,
    /// Requests waiting for their requester's confirmation (upgrades,
    /// annual licences); absent from configurations older than them.
    #[serde(default = "default_held_folder")]
    pub held: String,
}

fn default_held_folder() -> String {
    "licgate/a-confirmer".into()
}

impl RawFolders {
    /// The folder a mail of this outcome is moved to.
    pub fn of(&self, outcome: crate::judge::Outcome) -> &str {
        use crate::judge::Outcome;
        match outcome {
            Outcome::Accepted => &self.accepted,
            Outcome::Held => &self.held,
            Outcome::Rejected => &self.rejected,
            Outcome::Ignored => &self.ignored,
            Outcome::Quarantined => &self.quarantine,
        }
    }
}

impl Default for RawFolders {
    fn default() -> RawFolders {
        RawFolders {
            accepted: "licgate/acceptees".into(),
            rejected: "licgate/refusees".into(),
            ignored: "licgate/ignorees".into(),
            quarantine: "licgate/quarantaine".into(),
            held: default_held_folder(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    pub ca_file: Option<PathBuf>,
    pub auth: Option<RawAuth>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, tag = "method")]
pub enum RawAuth {
    /// A password from an environment variable or a file.
    #[serde(rename = "password", rename_all = "kebab-case")]
    Password {
        password_env: Option<String>,
        password_file: Option<PathBuf>,
    },
    /// SASL XOAUTH2 with a token from an OAuth2 client-credentials flow.
    #[serde(rename = "xoauth2", rename_all = "kebab-case")]
    Xoauth2 {
        token_url: String,
        client_id: String,
        client_secret_env: Option<String>,
        client_secret_file: Option<PathBuf>,
        scope: String,
    },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawSenders {
    #[serde(default)]
    pub allow: Vec<String>,
    /// An empty `allow` is meant: every mail goes to quarantine, none is judged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_none: bool,
    /// Require the receiving server's `Authentication-Results` verdict.
    pub require_authentication: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawPurchasing {
    /// `addresses` is the name of licgate 0.1.
    #[serde(default, alias = "addresses")]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default = "default_true")]
    pub removal_notice: bool,
    #[serde(default)]
    pub contact: Option<String>,
}

impl Default for RawPurchasing {
    fn default() -> RawPurchasing {
        RawPurchasing {
            to: Vec::new(),
            cc: Vec::new(),
            removal_notice: true,
            contact: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawDigest {
    #[serde(default = "default_digest_times")]
    pub times: Vec<String>,
    #[serde(default)]
    pub days: DigestDays,
    #[serde(default = "default_digest_max_size")]
    pub max_size: usize,
}

impl Default for RawDigest {
    fn default() -> RawDigest {
        RawDigest {
            times: default_digest_times(),
            days: DigestDays::default(),
            max_size: default_digest_max_size(),
        }
    }
}

use crate::compose::digest::DIGEST_MAX_SIZE;

fn default_digest_max_size() -> usize {
    DIGEST_MAX_SIZE
}

/// The smallest `[digest] max-size` taken: a part must hold at least one
/// request with the digest's header and footer.
pub const DIGEST_MIN_SIZE: usize = 20_000;

/// On which days the digest is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestDays {
    /// Monday to Friday, not on public holidays nor the calendar's closed days.
    #[default]
    BusinessDays,
    EveryDay,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawReminder {
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default = "default_reminder_time")]
    pub time: String,
}

impl Default for RawReminder {
    fn default() -> RawReminder {
        RawReminder {
            to: Vec::new(),
            time: default_reminder_time(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawStore {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawRules {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default = "default_max_size")]
    pub max_message_size: usize,
    #[serde(default = "default_max_mime_parts")]
    pub max_mime_parts: usize,
    #[serde(default = "default_max_quantity")]
    pub max_quantity: u32,
    #[serde(default = "default_replies_per_hour")]
    pub replies_per_sender_per_hour: u32,
}

impl Default for RawLimits {
    fn default() -> RawLimits {
        RawLimits {
            max_message_size: default_max_size(),
            max_mime_parts: default_max_mime_parts(),
            max_quantity: default_max_quantity(),
            replies_per_sender_per_hour: default_replies_per_hour(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLog {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<SocketAddr>,
}

fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_true() -> bool {
    true
}
fn default_digest_times() -> Vec<String> {
    vec!["08:30".into(), "14:00".into()]
}
fn default_reminder_time() -> String {
    "09:00".into()
}
fn default_poll_interval() -> u64 {
    60
}
fn default_timeout() -> u64 {
    30
}
fn default_max_size() -> usize {
    Limits::default().max_message_size
}
fn default_max_mime_parts() -> usize {
    Limits::default().max_mime_parts
}
fn default_max_quantity() -> u32 {
    Limits::default().max_quantity
}
fn default_replies_per_hour() -> u32 {
    20
}

/// The daemon's configuration, checked and with secrets resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The shared mailbox.
    pub imap: Server,
    /// Folder watched for requests.
    pub mailbox: String,
    /// Folders decided mails are moved to.
    pub folders: RawFolders,
    /// Use IDLE when the server offers it.
    pub idle: bool,
    /// Time between two polls (and the longest IDLE wait).
    pub poll_interval: Duration,
    /// Where replies are sent through.
    pub smtp: Server,
    /// The gateway's own address: the From of replies, never answered.
    pub from: String,
    /// Sender patterns whose mails are judged; others go to quarantine.
    pub allow: Vec<String>,
    /// The receiving server whose verdict must say the sender is
    /// authenticated; mails it does not vouch for go to quarantine.
    pub authenticated_by: Option<ReceivingServer>,
    /// Who gets the digest and the removal notices.
    pub purchasing: Purchasing,
    /// When the digest is sent.
    pub digest: crate::compose::digest::Schedule,
    /// The technicians' reminder on the month's last business day, if any.
    pub reminder: Option<Reminder>,
    /// sled database folder.
    pub store: PathBuf,
    /// Rules folder.
    pub rules: PathBuf,
    /// Size limit of the judgement.
    pub limits: Limits,
    /// Replies to one sender in one hour, at most.
    pub replies_per_sender_per_hour: u32,
    /// Log format.
    pub log: LogFormat,
    /// Loopback address of the Prometheus endpoint, if enabled.
    pub metrics: Option<SocketAddr>,
    /// The file it was read from, for the logs (`None`: not read from a file).
    pub source: Option<PathBuf>,
}

impl Config {
    /// Where licgate's own mails to purchasing go, and how long one may be.
    pub fn mailing(&self) -> crate::compose::digest::Mailing {
        crate::compose::digest::Mailing {
            from: self.from.clone(),
            to: self.purchasing.to.clone(),
            cc: self.purchasing.cc.clone(),
            max_size: self.digest.max_size,
        }
    }
    /// Reads, parses and checks a configuration file; every error names the
    /// file, the line and the key.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        Config::load_with(path, Secrets::Read)
    }

    /// [`Config::load`] without the secrets: for the commands that only read
    /// the store (`audit`, `ledger`, `digest` without `--send`), which must
    /// work where the daemon's secrets are not at hand. Its servers have no
    /// authentication.
    pub fn load_without_secrets(path: &Path) -> anyhow::Result<Config> {
        Config::load_with(path, Secrets::Skip)
    }

    fn load_with(path: &Path, secrets: Secrets) -> anyhow::Result<Config> {
        let text = read_file(path)?;
        let raw =
            RawConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let errors: Vec<String> = raw
            .findings(base, secrets)
            .iter()
            .filter(|f| !f.warning)
            .map(|f| f.located(path, &text))
            .collect();
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        let mut config =
            Config::assemble(raw, base, secrets).with_context(|| format!("{}", path.display()))?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Turns a parsed configuration into a checked one; relative paths are
    /// taken from `base` (the config file's folder).
    pub fn from_raw(raw: RawConfig, base: &Path) -> anyhow::Result<Config> {
        let errors: Vec<String> = raw
            .findings(base, Secrets::Read)
            .iter()
            .filter(|f| !f.warning)
            .map(Finding::to_string)
            .collect();
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        Config::assemble(raw, base, Secrets::Read)
    }

    /// Builds the configuration of a file whose findings hold no error.
    fn assemble(raw: RawConfig, base: &Path, secrets: Secrets) -> anyhow::Result<Config> {
        let resolve = |p: &Path| resolve(base, p);
        let (imap_auth, smtp_auth) = match secrets {
            Secrets::Read => (
                Some(resolve_auth(
                    "imap.auth",
                    &raw.imap.auth,
                    base,
                    raw.imap.timeout,
                )?),
                raw.smtp
                    .auth
                    .as_ref()
                    .map(|a| resolve_auth("smtp.auth", a, base, raw.smtp.timeout))
                    .transpose()?,
            ),
            Secrets::Skip => (None, None),
        };
        let mut times = raw
            .digest
            .times
            .iter()
            .map(|t| parse_time("digest.times", t))
            .collect::<anyhow::Result<Vec<_>>>()?;
        times.sort();
        times.dedup();
        let reminder_time = parse_time("reminder.time", &raw.reminder.time)?;
        Ok(Config {
            imap: Server {
                host: raw.imap.host,
                port: raw.imap.port,
                tls: raw.imap.tls,
                ca_file: raw.imap.ca_file.as_deref().map(resolve),
                timeout: Duration::from_secs(raw.imap.timeout),
                username: Some(raw.imap.username),
                auth: imap_auth,
            },
            mailbox: raw.imap.mailbox,
            folders: raw.imap.folders,
            idle: raw.imap.idle,
            poll_interval: Duration::from_secs(raw.imap.poll_interval),
            smtp: Server {
                host: raw.smtp.host,
                port: raw.smtp.port,
                tls: raw.smtp.tls,
                ca_file: raw.smtp.ca_file.as_deref().map(resolve),
                timeout: Duration::from_secs(raw.smtp.timeout),
                username: raw.smtp.username,
                auth: smtp_auth,
            },
            from: raw.smtp.from.to_lowercase(),
            allow: raw.senders.allow.iter().map(|p| p.to_lowercase()).collect(),
            authenticated_by: match raw.senders.require_authentication.as_deref() {
                None | Some("off") => None,
                Some("exchange-online") => Some(ReceivingServer::ExchangeOnline),
                Some(id) => Some(ReceivingServer::AuthservId(id.to_lowercase())),
            },
            purchasing: Purchasing {
                to: lowercase(&raw.purchasing.to),
                cc: lowercase(&raw.purchasing.cc),
                removal_notice: raw.purchasing.removal_notice,
                contact: raw.purchasing.contact.as_deref().map(str::to_lowercase),
            },
            digest: crate::compose::digest::Schedule {
                times,
                every_day: raw.digest.days == DigestDays::EveryDay,
                max_size: raw.digest.max_size,
            },
            reminder: (!raw.reminder.to.is_empty()).then(|| Reminder {
                to: lowercase(&raw.reminder.to),
                time: reminder_time,
            }),
            store: resolve(&raw.store.path),
            rules: resolve(&raw.rules.dir),
            limits: Limits {
                max_message_size: raw.limits.max_message_size,
                max_mime_parts: raw.limits.max_mime_parts,
                max_quantity: raw.limits.max_quantity,
            },
            replies_per_sender_per_hour: raw.limits.replies_per_sender_per_hour,
            log: raw.log.format,
            metrics: raw.metrics.listen,
            source: None,
        })
    }

    /// True when `sender` matches an `allow` pattern (an address, or
    /// `*@domain`) and is one plain address.
    ///
    /// NOTE: a second `@`, or a `%` or `!` (old source routes) in the local
    /// part, would let `evil%attacker.example@example.test` pass as of the
    /// domain while a relay delivers it elsewhere: never allowed.
    pub fn is_allowed(&self, sender: &str) -> bool {
        let sender = sender.to_lowercase();
        let Some((local, domain)) = sender.rsplit_once('@') else {
            return false;
        };
        if !crate::text::is_email_address(&sender) || local.contains(['%', '!']) {
            return false;
        }
        self.allow
            .iter()
            .any(|pattern| match pattern.strip_prefix("*@") {
                Some(allowed) => domain == allowed,
                None => *pattern == sender,
            })
    }
}

/// The warning of `config check` and `status` while senders are not
/// authenticated: every right in licgate rests on `From:`.
pub const AUTHENTICATION_OFF: &str = "désactivée : n'importe quel expéditeur peut écrire l'adresse \
     d'un technicien dans l'en-tête From et commander, confirmer ou annuler en son nom ; mettez \
     require-authentication = \"exchange-online\" (ou l'authserv-id du serveur de réception)";

/// The text of the configuration file at `path`; the error says what to do.
pub fn read_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|err| {
        let why = match err.kind() {
            std::io::ErrorKind::NotFound => "fichier absent".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "lecture refusée à cet utilisateur : lancez la commande en tant que licgate \
                 (runuser -u licgate -- licgate …) ou root"
                    .to_owned()
            }
            _ => crate::text::io_reason(&err),
        };
        anyhow::anyhow!(
            "{} : configuration illisible ({why}) ; donnez le fichier avec --config FICHIER ou \
             la variable LICGATE_CONFIG",
            path.display()
        )
    })
}

/// Whether loading a configuration reads its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Read,
    Skip,
}

/// `path` taken from `base` (the config file's folder) when relative.
fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

/// A problem of a configuration: the key at fault, what is wrong and what
/// to do. A warning does not stop the daemon; an error does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The dotted key, e.g. `imap.port`.
    pub key: String,
    /// What is wrong, then what to do.
    pub message: String,
    /// The daemon runs, but perhaps not as meant.
    pub warning: bool,
}

impl Finding {
    fn error(key: &str, message: impl Into<String>) -> Finding {
        Finding {
            key: key.to_owned(),
            message: message.into(),
            warning: false,
        }
    }

    fn warning(key: &str, message: impl Into<String>) -> Finding {
        Finding {
            warning: true,
            ..Finding::error(key, message)
        }
    }

    /// The line (from 1) of `text` where the key, else its table, is written.
    pub fn line(&self, text: &str) -> Option<usize> {
        line_of(text, &self.key)
    }

    /// `FILE:LINE: key: message`, the line being where the key (or its
    /// table) is written in `text`, when it is written at all.
    pub fn located(&self, file: &Path, text: &str) -> String {
        match self.line(text) {
            Some(line) => format!("{}:{line}: {self}", file.display()),
            None => format!("{}: {self}", file.display()),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The line (from 1) where `key` is written, else where its table opens.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let lines = text.lines().count();
    (1..=lines)
        .find(|&line| key_at(text, line).as_deref() == Some(key))
        .or_else(|| {
            let (table, _) = key.rsplit_once('.')?;
            text.lines()
                .position(|l| {
                    l.split('#').next().unwrap_or_default().trim() == format!("[{table}]")
                })
                .map(|i| i + 1)
        })
}

impl RawConfig {
    /// Every problem of this configuration that can be found without the
    /// network nor the disk (but for secret files, read when `secrets` says
    /// so): [`Config::from_raw`] refuses one with an error.
    fn findings(&self, base: &Path, secrets: Secrets) -> Vec<Finding> {
        let mut found = Vec::new();
        let mut unseen = Vec::new();
        let mut error = |key: &str, message: String| found.push(Finding::error(key, message));
        for (key, host, tls) in [
            ("imap.tls", &self.imap.host, self.imap.tls),
            ("smtp.tls", &self.smtp.host, self.smtp.tls),
        ] {
            if tls == TlsMode::None && !is_loopback(host) {
                error(
                    key,
                    format!(
                        "\"none\" (sans chiffrement) n'est permis que vers un hôte de bouclage \
                         (127.0.0.1, ::1, localhost), pas vers {host} : donnez \"starttls\" ou \"tls\""
                    ),
                );
            }
        }
        for (key, port) in [("imap.port", self.imap.port), ("smtp.port", self.smtp.port)] {
            if port == 0 {
                error(key, PORT_RANGE.into());
            }
        }
        for (key, seconds) in [
            ("imap.poll-interval", self.imap.poll_interval),
            ("imap.timeout", self.imap.timeout),
            ("smtp.timeout", self.smtp.timeout),
        ] {
            if seconds == 0 {
                error(
                    key,
                    "0 seconde : donnez au moins 1 (un nombre entier de secondes)".into(),
                );
            }
        }
        if secrets == Secrets::Read {
            let auths = [("imap.auth", Some(&self.imap.auth), self.imap.timeout)];
            let smtp = [("smtp.auth", self.smtp.auth.as_ref(), self.smtp.timeout)];
            for (key, auth, timeout) in auths.into_iter().chain(smtp) {
                if let Some((file_key, path)) = auth.and_then(unseen_credential) {
                    unseen.push(Finding::warning(
                        &format!("{key}.{file_key}"),
                        format!(
                            "{} : un secret remis par systemd (LoadCredential), au seul service, \
                             n'est pas lu ici ; l'ExecStartPre de l'unité fait cette vérification avec lui à \
                             chaque démarrage (systemctl restart licgate, puis journalctl -u \
                             licgate), ou donnez le dossier où il est rangé avec --credentials \
                             DOSSIER",
                            path.display()
                        ),
                    ));
                } else if let Some(Err(err)) = auth.map(|a| resolve_auth(key, a, base, timeout)) {
                    let text = format!("{err:#}");
                    let (key, message) = text.split_once(": ").unwrap_or((key, &text));
                    error(key, message.to_owned());
                }
            }
        }
        if self.smtp.auth.is_some() && self.smtp.username.is_none() {
            error(
                "smtp.username",
                "obligatoire avec [smtp.auth] : donnez le nom de connexion".into(),
            );
        }
        if !crate::text::is_email_address(&self.smtp.from) {
            error(
                "smtp.from",
                format!("« {} » n'est pas une adresse électronique", self.smtp.from),
            );
        }
        for pattern in &self.senders.allow {
            let address = pattern
                .strip_prefix("*@")
                .map_or(pattern.clone(), |d| format!("x@{d}"));
            let local = address.rsplit_once('@').map_or("", |(local, _)| local);
            if !crate::text::is_email_address(&address) || local.contains(['%', '!']) {
                error(
                    "senders.allow",
                    format!(
                        "« {pattern} » n'est ni une adresse simple ni *@domaine : écrivez \
                         l'adresse d'un technicien (prenom.nom@domaine) ou *@domaine"
                    ),
                );
            }
        }
        match (self.senders.allow.is_empty(), self.senders.allow_none) {
            (true, false) => error(
                "senders.allow",
                "vide : tout courriel irait en quarantaine, aucun ne serait jugé ; donnez les \
                 adresses ou les domaines des techniciens (\"*@infogerance.example\"), ou \
                 allow-none = true si c'est bien voulu"
                    .into(),
            ),
            (false, true) => error(
                "senders.allow-none",
                "true alors que allow nomme des expéditeurs : retirez l'une des deux clés".into(),
            ),
            _ => {}
        }
        let contact: Vec<String> = self.purchasing.contact.iter().cloned().collect();
        for (key, addresses) in [
            ("purchasing.to", &self.purchasing.to),
            ("purchasing.cc", &self.purchasing.cc),
            ("reminder.to", &self.reminder.to),
            ("purchasing.contact", &contact),
        ] {
            if let Some(bad) = addresses.iter().find(|a| !crate::text::is_email_address(a)) {
                error(key, format!("« {bad} » n'est pas une adresse électronique"));
            }
        }
        if let Some(contact) = &self.purchasing.contact
            && (contact.eq_ignore_ascii_case(&self.smtp.from)
                || self.imap.username.eq_ignore_ascii_case(contact))
        {
            error(
                "purchasing.contact",
                format!(
                    "« {contact} » est l'adresse de la passerelle elle-même, où une question \
                     serait jugée comme une commande : donnez une adresse des achats"
                ),
            );
        }
        for time in &self.digest.times {
            if let Err(err) = parse_time("digest.times", time) {
                error(
                    "digest.times",
                    format!("{err}").replacen("digest.times: ", "", 1),
                );
            }
        }
        if let Err(err) = parse_time("reminder.time", &self.reminder.time) {
            error(
                "reminder.time",
                format!("{err}").replacen("reminder.time: ", "", 1),
            );
        }
        if self.digest.max_size < DIGEST_MIN_SIZE {
            error(
                "digest.max-size",
                format!(
                    "{} octets ne suffisent pas à une demande avec l'en-tête et le pied de la \
                     synthèse : donnez au moins {DIGEST_MIN_SIZE} (ou retirez la clé pour \
                     {DIGEST_MAX_SIZE})",
                    self.digest.max_size
                ),
            );
        }
        if let Some(listen) = self.metrics.listen.filter(|l| !l.ip().is_loopback()) {
            error(
                "metrics.listen",
                format!(
                    "{listen} n'est pas une adresse de bouclage : les métriques ne se \
                     servent qu'en local (127.0.0.1:PORT)"
                ),
            );
        }
        for (key, value) in [
            ("limits.max-message-size", self.limits.max_message_size),
            ("limits.max-mime-parts", self.limits.max_mime_parts),
            ("limits.max-quantity", self.limits.max_quantity as usize),
        ] {
            if value == 0 {
                error(
                    key,
                    "0 refuserait tout courriel : donnez au moins 1 (ou retirez la clé pour la \
                     valeur par défaut)"
                        .into(),
                );
            }
        }
        if let Some(id) = self.senders.require_authentication.as_deref()
            && id != "exchange-online"
            && id != "off"
            && (id.trim().is_empty() || id.contains([';', ' ', '=']))
        {
            error(
                "senders.require-authentication",
                format!(
                    "« {id} » n'est ni un authserv-id (le nom d'hôte qu'un serveur RFC 8601 \
                     écrit en tête de Authentication-Results), ni \"exchange-online\""
                ),
            );
        }
        found.extend(unseen);
        if matches!(
            self.senders.require_authentication.as_deref(),
            None | Some("off")
        ) {
            found.push(Finding::warning(
                "senders.require-authentication",
                AUTHENTICATION_OFF,
            ));
        }
        if self.purchasing.to.is_empty() && !self.digest.times.is_empty() {
            found.push(Finding::warning(
                "purchasing.to",
                "vide alors que [digest] times est donné : aucune synthèse ni aucun avis de \
                 suppression ne sera envoyé ; donnez l'adresse des achats",
            ));
        }
        found
    }

    /// Every problem `licgate config check` reports: those of the values, of
    /// the secrets and of the disk, errors and warnings, in file order.
    pub fn diagnose(&self, base: &Path) -> Vec<Finding> {
        let mut found = self.findings(base, Secrets::Read);
        found.extend(self.findings_on_disk(base));
        found
    }

    /// What `run` would find on this machine before the first mail: the
    /// rules folder and its files (as `rules check` says), and a store
    /// folder that can be created or opened (nothing is created here).
    fn findings_on_disk(&self, base: &Path) -> Vec<Finding> {
        let mut found = Vec::new();
        let rules = resolve(base, &self.rules.dir);
        if !rules.is_dir() {
            found.push(Finding::error(
                "rules.dir",
                format!(
                    "{} : dossier absent ; donnez le dossier qui contient licences.toml, \
                     clients.toml et calendar.toml",
                    rules.display()
                ),
            ));
        } else if let Err(err) = crate::rules::Rules::load(&rules) {
            found.push(Finding::error("rules.dir", format!("{err:#}")));
        }
        let store = resolve(base, &self.store.path);
        let (folder, what) = if store.exists() {
            (store.clone(), "le dossier de la base de données")
        } else {
            let parent = store
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned();
            (parent, "le dossier qui tiendra la base de données")
        };
        if !folder.is_dir() {
            found.push(Finding::error(
                "store.path",
                format!(
                    "{} : {what} n'existe pas : créez-le (le StateDirectory de l'unité du \
                     paquet donne /var/lib/licgate), ou corrigez le chemin",
                    folder.display()
                ),
            ));
        } else if !writable(&folder) {
            found.push(Finding::error(
                "store.path",
                format!(
                    "{} : {what} n'est pas accessible en écriture à cet utilisateur : lancez la \
                     commande en tant que l'utilisateur du démon (runuser -u licgate -- licgate \
                     …), ou donnez-lui le dossier",
                    folder.display()
                ),
            ));
        }
        found
    }

    /// The effective configuration as TOML: every key with its value or its
    /// default, relative paths resolved. It holds no secret: secrets are
    /// named by their variable or file only.
    pub fn effective_toml(&self, base: &Path) -> anyhow::Result<String> {
        let mut effective = self.clone();
        effective.store.path = resolve(base, &self.store.path);
        effective.rules.dir = resolve(base, &self.rules.dir);
        for ca in [&mut effective.imap.ca_file, &mut effective.smtp.ca_file] {
            *ca = ca.as_deref().map(|p| resolve(base, p));
        }
        Ok(toml::to_string(&effective)?)
    }
}

/// True when this process may create files in `folder` (access(2), W_OK|X_OK).
fn writable(folder: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(path) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access only reads the NUL-terminated path.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// What a port must be.
const PORT_RANGE: &str = "ce n'est pas un port : donnez un nombre entier de 1 à 65535 (993 pour \
     IMAP avec TLS implicite, 587 pour SMTP avec STARTTLS)";

/// Purchasing's addresses.
#[derive(Debug, Clone, Default)]
pub struct Purchasing {
    /// Recipients of the digest and the removal notices.
    pub to: Vec<String>,
    /// In copy of them.
    pub cc: Vec<String>,
    /// Send each accepted removal at once, besides the digest.
    pub removal_notice: bool,
    /// Where technicians write with a question, named in every reply.
    pub contact: Option<String>,
}

impl Purchasing {
    /// Every purchasing address: one of them among a refused request's
    /// recipients gets a copy of the refusal, marked not to be processed.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.to.iter().chain(&self.cc)
    }
}

/// The monthly reminder to technicians.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub to: Vec<String>,
    /// Time of day (calendar's zone) from which it is sent on the last business day.
    pub time: jiff::civil::Time,
}

fn lowercase(addresses: &[String]) -> Vec<String> {
    addresses.iter().map(|a| a.to_lowercase()).collect()
}

/// `HH:MM` (or `HH:MM:SS`) as a time of day.
fn parse_time(key: &str, text: &str) -> anyhow::Result<jiff::civil::Time> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{key}: « {text} » n'est pas une heure (HH:MM)"))
}

impl RawConfig {
    /// Parses the text of a configuration file; the errors, one per line,
    /// each start with the line of its key.
    pub fn from_toml(text: &str) -> Result<RawConfig, String> {
        match RawConfig::parse_all(text) {
            (Some(raw), errors) if errors.is_empty() => Ok(raw),
            (_, errors) => Err(errors
                .iter()
                .map(|(line, err)| match line {
                    Some(line) => format!("{line}: {err}"),
                    None => format!(" {err}"),
                })
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    /// Parses the text of a configuration file, going on past each key of a
    /// wrong type or unknown (set aside, or given the example's value, so
    /// that the next one is found): every such error, each starting with its
    /// line (from 1) when known, and the configuration read with them set
    /// aside when the file is TOML at all and no required key is missing.
    pub fn parse_all(text: &str) -> (Option<RawConfig>, Vec<(Option<usize>, String)>) {
        let mut text = text.to_owned();
        let mut errors = Vec::new();
        // NOTE: each pass sets aside one line, so the file's lines bound the passes.
        for _ in 0..=text.lines().count() {
            let err = match toml::from_str::<RawConfig>(&text) {
                Ok(raw) => return (Some(raw), errors),
                Err(err) => err,
            };
            let line = err
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1);
            let key = line.and_then(|line| key_at(&text, line));
            let message = plain_message(key.as_deref(), err.message());
            errors.push(match &key {
                Some(key) => (line, format!("{key}: {message}")),
                None => (line, message),
            });
            match (line, key) {
                (Some(line), Some(key)) if text.parse::<toml::Table>().is_ok() => {
                    text = set_aside(&text, line, &key);
                }
                _ => break,
            }
        }
        (None, errors)
    }
}

/// `text` with its line `line` (from 1), which gives `key`, replaced by the
/// example's value of that key, or by an empty line when the example has none.
fn set_aside(text: &str, line: usize, key: &str) -> String {
    let example = include_str!("../config/licgate.example.toml");
    let written = (1..=example.lines().count())
        .find(|&l| key_at(example, l).as_deref() == Some(key))
        .and_then(|l| example.lines().nth(l - 1));
    let mut lines: Vec<&str> = text.lines().collect();
    lines[line - 1] = written.unwrap_or_default();
    lines.join("\n")
}

/// serde's and the TOML parser's words, said in French as an operator needs
/// them, most precisely for the keys people get wrong: a port, a duration
/// written with its unit.
fn plain_message(key: Option<&str>, message: &str) -> String {
    let last = key.and_then(|k| k.rsplit('.').next()).unwrap_or_default();
    let message = message.trim();
    let wrong = message.starts_with("invalid type") || message.starts_with("invalid value");
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(|word| format!("« {word} »"))
            .collect()
    };
    match last {
        "port" if wrong => return PORT_RANGE.to_owned(),
        "poll-interval" | "timeout" if wrong => {
            return "ce n'est pas un nombre de secondes : écrivez un nombre entier, sans unité \
                    (60, pas \"60s\")"
                .into();
        }
        _ => {}
    }
    // serde's `unknown field `x`, expected one of `a`, `b``: the word
    // written, then those it could have been.
    let unknown_and_known = |rest: &str| {
        let words = quoted(rest);
        let (unknown, known) = words.split_first().map_or_else(
            || ("?".to_owned(), String::new()),
            |(unknown, known)| (unknown.clone(), known.join(", ")),
        );
        (unknown, known)
    };
    if let Some(rest) = message.strip_prefix("unknown field") {
        let (unknown, known) = unknown_and_known(rest);
        return format!(
            "clé inconnue {unknown} : corrigez-la ou retirez-la (clés possibles ici : {known})"
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant") {
        let (unknown, known) = unknown_and_known(rest);
        return format!("valeur inconnue {unknown} : donnez l'une de {known}");
    }
    if let Some(rest) = message.strip_prefix("missing field") {
        return format!(
            "clé obligatoire {} absente de cette table : ajoutez-la",
            quoted(rest).join(", ")
        );
    }
    if wrong {
        let expected = message
            .rsplit_once("expected ")
            .map_or("", |(_, e)| e)
            .trim();
        let expected = match expected {
            e if e.starts_with('u') || e.starts_with('i') || e.contains("integer") => {
                "un nombre entier"
            }
            e if e.contains("bool") => "true ou false",
            e if e.contains("string") => "un texte entre guillemets",
            e if e.contains("sequence") || e.contains("array") => "une liste entre [ ]",
            _ => "une autre sorte de valeur",
        };
        return format!("valeur de mauvais type : il faut {expected}");
    }
    format!("syntaxe TOML invalide : {}", message.replace('\n', " ; "))
}

/// The dotted key written on `line` (from 1) of a TOML text: the table
/// header above it and the key before `=`, e.g. `imap.port`.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let written = lines.get(line.checked_sub(1)?)?;
    let (key, _) = written.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(['[', ']']).trim());
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

fn read_secret(
    key: &str,
    env: Option<&String>,
    file: Option<&PathBuf>,
    base: &Path,
) -> anyhow::Result<Secret> {
    match (env, file) {
        (Some(var), None) => {
            let value = std::env::var(var).map_err(|_| {
                let (file_key, credential) = secret_alternative(key);
                anyhow::anyhow!(
                    "{key}-env: la variable d'environnement {var} n'est pas définie : \
                     définissez-la, ou écrivez plutôt {file_key} = \
                     \"/run/credentials/licgate.service/{credential}\" (l'unité systemd remet \
                     le fichier avec LoadCredential={credential}:…)"
                )
            })?;
            Ok(Secret::new(value.trim_end_matches(['\r', '\n']).to_owned()))
        }
        (None, Some(path)) => {
            let handed = std::env::var_os("CREDENTIALS_DIRECTORY");
            let path = credential_path(resolve(base, path), handed.as_deref().map(Path::new));
            let value = std::fs::read_to_string(&path).map_err(|err| {
                // NOTE: systemd hands credentials over only to the service.
                let hint = if path.starts_with("/run/credentials/") {
                    " ; un secret remis par systemd n'existe que dans le service : l'ExecStartPre \
                     de l'unité fait cette vérification à chaque démarrage (systemctl restart \
                     licgate, puis journalctl -u licgate), ou donnez le dossier où il est rangé \
                     avec --credentials DOSSIER"
                } else {
                    ""
                };
                anyhow::anyhow!(
                    "{key}-file: fichier secret {} illisible ({}){hint}",
                    path.display(),
                    crate::text::io_reason(&err)
                )
            })?;
            let value = value.trim_end_matches(['\r', '\n']);
            if value.is_empty() {
                bail!(
                    "{key}-file: le fichier secret {} est vide : écrivez-y le secret (printf '%s' \
                     'LE SECRET' > {}), puis chmod 0600",
                    path.display(),
                    path.display()
                );
            }
            Ok(Secret::new(value.to_owned()))
        }
        _ => bail!("{key}: donnez une et une seule des clés {key}-env et {key}-file"),
    }
}

/// The file a secret is read from: `path`, or, for a systemd credential of
/// another unit (`/run/credentials/licgate.service/NAME`) that this process
/// does not see, the credential of that name handed to this process
/// (`handed`, systemd's `CREDENTIALS_DIRECTORY`): so `licgate recover`, run
/// with `systemd-run -p LoadCredential=NAME:…`, reads the daemon's secrets.
fn credential_path(path: PathBuf, handed: Option<&Path>) -> PathBuf {
    let (Ok(rest), Some(handed)) = (path.strip_prefix("/run/credentials/"), handed) else {
        return path;
    };
    let mut parts = rest.components();
    parts.next();
    let name = parts.as_path();
    if name.as_os_str().is_empty() || path.exists() {
        return path;
    }
    handed.join(name)
}

/// The secret file of `auth` (its key and path) when it is a systemd
/// credential this process cannot see: a missing file under
/// `/run/credentials/` outside a service given credentials (systemd sets
/// `CREDENTIALS_DIRECTORY` for those). `config check` run by an operator
/// warns of it; `run` still needs it.
fn unseen_credential(auth: &RawAuth) -> Option<(&'static str, &Path)> {
    let (key, file) = match auth {
        RawAuth::Password {
            password_file: Some(file),
            ..
        } => ("password-file", file),
        RawAuth::Xoauth2 {
            client_secret_file: Some(file),
            ..
        } => ("client-secret-file", file),
        _ => return None,
    };
    (file.starts_with("/run/credentials/")
        && std::env::var_os("CREDENTIALS_DIRECTORY").is_none()
        && !file.exists())
    .then_some((key, file.as_path()))
}

/// For the secret `key` (`imap.auth.password`...): its `-file` key and the
/// name of the systemd credential the packaged unit expects for it.
fn secret_alternative(key: &str) -> (&'static str, &'static str) {
    match key {
        "imap.auth.password" => ("password-file", "imap-password"),
        "smtp.auth.password" => ("password-file", "smtp-password"),
        _ => ("client-secret-file", "oauth-client-secret"),
    }
}

fn resolve_auth(key: &str, raw: &RawAuth, base: &Path, timeout: u64) -> anyhow::Result<Auth> {
    Ok(match raw {
        RawAuth::Password {
            password_env,
            password_file,
        } => Auth::Password(read_secret(
            &format!("{key}.password"),
            password_env.as_ref(),
            password_file.as_ref(),
            base,
        )?),
        RawAuth::Xoauth2 {
            token_url,
            client_id,
            client_secret_env,
            client_secret_file,
            scope,
        } => {
            let client_secret = read_secret(
                &format!("{key}.client-secret"),
                client_secret_env.as_ref(),
                client_secret_file.as_ref(),
                base,
            )?;
            let credentials = crate::net::oauth::ClientCredentials {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret,
                scope: scope.clone(),
            };
            crate::net::oauth::validate(&credentials).with_context(|| key.to_string())?;
            Auth::Xoauth2(crate::net::oauth::TokenSource::new(
                credentials,
                Duration::from_secs(timeout),
            ))
        }
    })
}

/// Configurations for the unit tests of what reads a configuration.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    /// The commented example configuration.
    pub fn example_text() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/licgate.example.toml"),
        )
        .unwrap()
    }

    /// `text` read as a configuration, with its secrets from a file of a
    /// fresh folder instead of the environment (one folder per call: tests
    /// run in parallel and write the secret).
    pub fn from_text(text: &str) -> anyhow::Result<Config> {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = folders().join(call.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), "p@ss\n").unwrap();
        let text = text
            .replace(
                "password-env = \"LICGATE_IMAP_PASSWORD\"",
                "password-file = \"secret\"",
            )
            .replace(
                "password-env = \"LICGATE_SMTP_PASSWORD\"",
                "password-file = \"secret\"",
            );
        let mut config = Config::from_raw(
            RawConfig::from_toml(&text).map_err(anyhow::Error::msg)?,
            &dir,
        )?;
        config.store = dir.join("store");
        Ok(config)
    }

    /// The folder of this process's configurations, removed at exit when no
    /// test panicked (kept to look at otherwise).
    fn folders() -> PathBuf {
        static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        static CLEANUP: std::sync::Once = std::sync::Once::new();
        fn root() -> PathBuf {
            std::env::temp_dir().join(format!("licgate-config-{}", std::process::id()))
        }
        extern "C" fn remove() {
            if !FAILED.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(root());
            }
        }
        CLEANUP.call_once(|| {
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                hook(info)
            }));
            // SAFETY: registers a plain function run once at process exit.
            unsafe {
                libc::atexit(remove);
            }
        });
        root()
    }

    /// The example, its store in a fresh folder, with the shipped rules.
    pub fn example() -> Config {
        let mut config = from_text(&example_text()).unwrap();
        config.rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use fixture::example_text as example;

    fn config(text: &str) -> anyhow::Result<Config> {
        fixture::from_text(text)
    }

    // Issue 18, item 8: `licgate recover` needs the IMAP secret, which the
    // configuration names as the daemon's systemd credential: run in a unit
    // of its own, it reads the credential of the same name handed to it.
    #[test]
    fn a_credential_of_the_daemon_is_read_from_the_one_handed_over() {
        let daemon = PathBuf::from("/run/credentials/licgate-absent.service/imap-password");
        let handed = Path::new("/run/credentials/run-u7.service");
        assert_eq!(
            credential_path(daemon.clone(), Some(handed)),
            handed.join("imap-password")
        );
        assert_eq!(credential_path(daemon.clone(), None), daemon);
        let plain = PathBuf::from("/etc/licgate/imap-password");
        assert_eq!(credential_path(plain.clone(), Some(handed)), plain);
        let bare = PathBuf::from("/run/credentials/licgate-absent.service");
        assert_eq!(credential_path(bare.clone(), Some(handed)), bare);
    }

    // Found by review: the gateway's own address was accepted as the
    // contact, where technicians' questions would be judged as orders.
    #[test]
    fn the_contact_is_not_the_gateway() {
        let text = example().replace(
            "contact = \"achats@infogerance.example\"",
            "contact = \"Licences@Infogerance.example\"",
        );
        let err = config(&text).unwrap_err();
        assert!(err.to_string().starts_with("purchasing.contact"), "{err}");
        assert!(config(&example()).is_ok());
    }

    #[test]
    fn a_bad_value_is_named_by_line_and_key() {
        let text = example().replace("port = 993", "port = \"imaps\"");
        let err = RawConfig::from_toml(&text).unwrap_err();
        let line = text.lines().position(|l| l == "port = \"imaps\"").unwrap() + 1;
        assert!(err.starts_with(&format!("{line}: imap.port: ")), "{err}");
        assert_eq!(
            key_at("[a.b]\n# c = 1\nc = 1\n", 3).as_deref(),
            Some("a.b.c")
        );
        assert_eq!(key_at("[a]\n# c = 1\n", 2), None);
        assert_eq!(key_at("[a] # bounds\nc = 1\n", 2).as_deref(), Some("a.c"));
    }

    // Issue 13: errors found after parsing had no line, and serde's words
    // (`expected u16`) were all an operator got for a port or a duration.
    #[test]
    fn findings_after_parsing_have_their_line_and_words_for_operators() {
        let text = "[imap]\nhost = \"h\"\nport = 0\n[imap.auth]\nmethod = \"password\"\n";
        assert_eq!(line_of(text, "imap.port"), Some(3));
        assert_eq!(
            line_of(text, "imap.auth.password-env"),
            Some(4),
            "its table"
        );
        assert_eq!(line_of(text, "store.path"), None);
        let finding = Finding::error("imap.port", PORT_RANGE);
        assert_eq!(
            finding.located(Path::new("l.toml"), text),
            format!("l.toml:3: imap.port: {PORT_RANGE}")
        );
        let err =
            RawConfig::from_toml(&example().replace("port = 993", "port = 99999")).unwrap_err();
        assert!(err.ends_with(&format!("imap.port: {PORT_RANGE}")), "{err}");
        let err = RawConfig::from_toml(&example().replacen("timeout = 30", "timeout = \"30s\"", 1))
            .unwrap_err();
        assert!(
            err.ends_with(
                "imap.timeout: ce n'est pas un nombre de secondes : écrivez un nombre entier, \
                 sans unité (60, pas \"60s\")"
            ),
            "{err}"
        );
        let err = config(
            &example()
                .replace("port = 993", "port = 0")
                .replace("max-quantity = 1000", "max-quantity = 0"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err.lines().count(), 2, "every error at once: {err}");
    }

    #[test]
    fn the_example_lists_valid_keys_and_secrets_come_from_files() {
        let config = config(&example()).unwrap();
        assert_eq!(config.imap.port, 993);
        let Some(Auth::Password(secret)) = &config.imap.auth else {
            panic!()
        };
        assert_eq!(
            secret.expose(),
            "p@ss",
            "trailing newline of the file dropped"
        );
        assert!(
            !format!("{config:?}").contains("p@ss"),
            "secrets never printed"
        );
        assert!(config.is_allowed("Julie.Bernard@Infogerance.example"));
        assert!(!config.is_allowed("someone@elsewhere.example"));
        // Issue 18: these passed `*@domain` and got replies.
        for forged in [
            "evil@attacker.example@infogerance.example",
            "evil%attacker.example@infogerance.example",
            "attacker.example!evil@infogerance.example",
            "evil@sub.infogerance.example",
            "evil@notinfogerance.example",
        ] {
            assert!(!config.is_allowed(forged), "{forged}");
        }
        assert_eq!(config.digest, crate::compose::digest::Schedule::default());
        assert!(
            config.reminder.is_none(),
            "no technicians' list: no reminder"
        );
        assert!(config.purchasing.removal_notice);
    }

    // Found by review: 0 for a limit was accepted, and refused every mail;
    // a check of the sender read a header the way Exchange never writes it.
    #[test]
    fn limits_and_the_receiving_server_are_checked() {
        let zero = example().replace("max-quantity = 1000", "max-quantity = 0");
        let err = config(&zero).unwrap_err().to_string();
        assert!(
            err.starts_with("limits.max-quantity: 0 refuserait tout courriel"),
            "{err}"
        );
        // Issue 18: on in the example, as the package ships it.
        assert_eq!(
            config(&example()).unwrap().authenticated_by,
            Some(ReceivingServer::ExchangeOnline)
        );
        let off = example().replace(
            "require-authentication = \"exchange-online\"",
            "require-authentication = \"off\"",
        );
        assert_eq!(config(&off).unwrap().authenticated_by, None);
        let verdict = example().replace(
            "require-authentication = \"exchange-online\"",
            "require-authentication = \"spf=pass\"",
        );
        let err = config(&verdict).unwrap_err().to_string();
        assert!(err.contains("n'est ni un authserv-id"), "{err}");
    }

    #[test]
    fn schedule_addresses_and_the_old_purchasing_key() {
        let text = example()
            .replace(
                "to = [\"achats@infogerance.example\"]",
                "addresses = [\"Achats@X.example\"]",
            )
            .replace(
                "times = [\"08:30\", \"14:00\"]",
                "times = [\"17:00\", \"07:45:30\"]",
            )
            .replace("days = \"business-days\"", "days = \"every-day\"")
            .replace("to = []\n", "to = [\"tech@x.example\"]\n");
        let loaded = config(&text).unwrap();
        assert_eq!(loaded.purchasing.to, ["achats@x.example"]);
        assert_eq!(
            loaded.digest.times,
            [
                jiff::civil::Time::constant(7, 45, 30, 0),
                jiff::civil::Time::constant(17, 0, 0, 0)
            ]
        );
        assert!(loaded.digest.every_day);
        assert_eq!(loaded.reminder.unwrap().to, ["tech@x.example"]);
        let err = config(&example().replace("\"14:00\"", "\"14h\"")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "digest.times: « 14h » n'est pas une heure (HH:MM)"
        );
        let err = config(&example().replace("cc = []", "cc = [\"achats\"]")).unwrap_err();
        assert!(err.to_string().starts_with("purchasing.cc"), "{err}");
    }

    #[test]
    fn errors_name_the_line_or_the_key() {
        let err = RawConfig::from_toml(&example().replacen("poll-interval", "poll-intervall", 1))
            .unwrap_err();
        let line = example()
            .lines()
            .position(|l| l.starts_with("poll-interval"))
            .unwrap()
            + 1;
        assert!(
            err.starts_with(&format!(
                "{line}: imap.poll-intervall: clé inconnue « poll-intervall » : corrigez-la"
            )),
            "{err}"
        );
        let err =
            config(&example().replacen("tls = \"implicit\"", "tls = \"none\"", 1)).unwrap_err();
        assert!(err.to_string().starts_with("imap.tls"), "{err}");
        let err = config(&example().replace(
            "allow = [\"*@infogerance.example\"]",
            "allow = [\"infogerance\"]",
        ));
        assert!(err.unwrap_err().to_string().starts_with("senders.allow"));
        let text = example().replace(
            "password-env = \"LICGATE_IMAP_PASSWORD\"",
            "password-file = \"missing\"",
        );
        let err = Config::from_raw(
            RawConfig::from_toml(&text).unwrap(),
            Path::new("/nonexistent"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("imap.auth.password-file: fichier secret /nonexistent/"),
            "{err}"
        );
    }
}
