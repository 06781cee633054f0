//! The watched mailbox, over async-imap: connect (implicit TLS, STARTTLS or
//! plain on loopback), log in, list new messages, fetch them, move them to
//! their folder, and wait for news with IDLE or a plain sleep.
//!
//! Folder names: the configuration writes levels with `/`; they are sent
//! with the server's delimiter, under the personal namespace's prefix when
//! the server has one (NAMESPACE, RFC 2342: `INBOX.` on Cyrus, Courier and
//! many hosts) and in modified UTF-7 (RFC 3501 §5.1.3).
//!
//! Every network call has a timeout; an error leaves the connection to be
//! dropped and opened again by the caller, except a folder the server refuses
//! to create ([`FolderRefused`]), which no new attempt can mend.

use std::fmt::{self, Debug};
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::{debug, warn};

use super::{Auth, Server, TlsMode};

/// A byte stream IMAP can run over (TCP or TLS).
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

/// What is known of a message before downloading it.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// UID in the selected mailbox.
    pub uid: u32,
    /// RFC822.SIZE.
    pub size: u32,
    /// INTERNALDATE: when the server received it.
    pub internal_date: Option<Timestamp>,
}

/// A logged-in IMAP session.
pub struct Connection {
    session: Session<Box<dyn ImapIo>>,
    /// Time allowed for each command.
    timeout: Duration,
    /// The server offers IDLE.
    pub idle: bool,
    /// The server offers MOVE.
    moves: bool,
    /// The server offers UIDPLUS (UID EXPUNGE).
    uidplus: bool,
    /// The server's hierarchy delimiter (`/` on Exchange, `.` on a default Dovecot).
    delimiter: String,
    /// What the server said of its namespaces.
    namespace: NamespaceAnswer,
    /// The number of the last command licgate tagged itself (see `raw_command`).
    tags: u32,
}

/// A folder the server refuses to create. Trying again cannot help (the
/// configuration or the rights on the server must change), so the daemon
/// stops with this error instead of retrying for ever.
#[derive(Debug)]
pub struct FolderRefused {
    /// The folder as configured.
    pub configured: String,
    /// The name sent in the CREATE command.
    pub sent: String,
    /// The server's answer to CREATE.
    pub answer: String,
    /// What NAMESPACE said, in words.
    pub namespace: String,
}

impl fmt::Display for FolderRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the IMAP server refuses to create folder {:?} (sent as {:?}): {}; server namespaces: {}",
            self.configured, self.sent, self.answer, self.namespace
        )
    }
}

impl std::error::Error for FolderRefused {}

/// What the server said of its namespaces.
#[derive(Debug)]
enum NamespaceAnswer {
    /// It does not offer NAMESPACE: names are used as configured.
    NotOffered,
    /// Its answer could not be read: names are used as configured.
    Unreadable(String),
    Read(namespace::Namespaces),
}

impl fmt::Display for NamespaceAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceAnswer::NotOffered => f.write_str("no NAMESPACE capability, no prefix used"),
            NamespaceAnswer::Unreadable(why) => {
                write!(f, "NAMESPACE unreadable ({why}), no prefix used")
            }
            NamespaceAnswer::Read(namespaces) => fmt::Display::fmt(namespaces, f),
        }
    }
}

/// The slowest download rate allowed for, in bytes per second: fetching a
/// mail gets the command timeout plus its size at that rate.
const SLOWEST_LINK: u64 = 64 * 1024;

/// Why the server refused to log `username` in, in one sentence for a
/// person: the server's own words, then what to check.
fn login_refused(username: &str, err: &async_imap::error::Error) -> anyhow::Error {
    anyhow!(
        "le serveur IMAP refuse la connexion de {username} ({}) : vérifiez le nom \
         d'utilisateur (imap.username) et le secret de [imap.auth]",
        server_words(err)
    )
}

/// What an IMAP server or the network said: the server's text of a NO or a
/// BAD (async-imap gives it as a debug dump), the cause of a network failure.
fn server_words(err: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match err {
        Error::No(dump) | Error::Bad(dump) => {
            let text = dump
                .split_once("info: Some(\"")
                .and_then(|(_, rest)| rest.rsplit_once("\")"))
                .map_or(dump.as_str(), |(text, _)| text);
            format!("« {} »", crate::text::cap(text, 300))
        }
        Error::Io(io) => crate::text::io_reason(io),
        Error::ConnectionLost => "connexion perdue".into(),
        other => other.to_string(),
    }
}

/// Runs `future` with a deadline.
async fn timed<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, future).await.map_err(|_| {
        anyhow!(
            "{what} : pas de réponse en {} s ; le serveur est-il joignable ?",
            limit.as_secs()
        )
    })
}

impl Connection {
    /// Connects and logs in.
    pub async fn connect(server: &Server) -> anyhow::Result<Connection> {
        let limit = server.timeout;
        let address = (server.host.as_str(), server.port);
        let tcp = timed(limit, "connexion IMAP", TcpStream::connect(address))
            .await?
            .map_err(|err| {
                anyhow!(
                    "connexion à {}:{} impossible ({}) : le serveur IMAP est-il démarré, l'hôte \
                     et le port sont-ils justes ?",
                    server.host,
                    server.port,
                    crate::text::io_reason(&err)
                )
            })?;
        let stream: Box<dyn ImapIo> = match server.tls {
            TlsMode::Implicit => Box::new(tls(server, Box::new(tcp)).await?),
            TlsMode::Starttls | TlsMode::None => Box::new(tcp),
        };
        let mut client = Client::new(stream);
        timed(limit, "accueil IMAP", client.read_response())
            .await??
            .context("le serveur IMAP a fermé la connexion dès l'accueil")?;
        if server.tls == TlsMode::Starttls {
            timed(
                limit,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await??;
            let upgraded = tls(server, client.into_inner()).await?;
            client = Client::new(Box::new(upgraded));
        }
        let username = server.username.as_deref().unwrap_or_default();
        let session = match &server.auth {
            Some(Auth::Password(password)) => timed(
                limit,
                "authentification IMAP",
                client.login(username, password.expose()),
            )
            .await?
            .map_err(|(err, _)| login_refused(username, &err))?,
            Some(Auth::Xoauth2(tokens)) => {
                let token = tokens.token().await?;
                let xoauth2 = Xoauth2 {
                    user: username.to_owned(),
                    token: token.expose().to_owned(),
                };
                timed(
                    limit,
                    "authentification IMAP XOAUTH2",
                    client.authenticate("XOAUTH2", xoauth2),
                )
                .await?
                .map_err(|(err, _)| login_refused(username, &err))?
            }
            None => bail!("[imap.auth] manque : donnez le secret de connexion IMAP"),
        };
        let mut mailbox = Connection {
            session,
            timeout: limit,
            idle: false,
            moves: false,
            uidplus: false,
            delimiter: "/".into(),
            namespace: NamespaceAnswer::NotOffered,
            tags: 0,
        };
        let capabilities = timed(limit, "CAPABILITY", mailbox.session.capabilities()).await??;
        mailbox.idle = capabilities.has_str("IDLE");
        mailbox.moves = capabilities.has_str("MOVE");
        mailbox.uidplus = capabilities.has_str("UIDPLUS");
        // Every folder (INBOX at least) is listed with the hierarchy delimiter.
        let names = timed(limit, "LIST", mailbox.session.list(Some(""), Some("*"))).await??;
        let names: Vec<_> = timed(limit, "LIST", names.try_collect::<Vec<_>>()).await??;
        if let Some(delimiter) = names.iter().find_map(|n| n.delimiter()) {
            mailbox.delimiter = delimiter.to_owned();
        }
        if capabilities.has_str("NAMESPACE") {
            mailbox.namespace = mailbox.namespaces().await?;
            if let NamespaceAnswer::Unreadable(why) = &mailbox.namespace {
                warn!(cause = %why, "NAMESPACE illisible : noms de dossiers pris tels que configurés");
            }
        }
        if let NamespaceAnswer::Read(namespaces) = &mailbox.namespace {
            debug!(%namespaces, "espaces de noms du serveur");
            // The personal namespace's own delimiter, rather than that of
            // whichever folder LIST gave first (it may be in another namespace).
            if let Some(delimiter) = namespaces.personal.first().and_then(|n| n.delimiter) {
                mailbox.delimiter = delimiter.to_string();
            }
        }
        Ok(mailbox)
    }

    /// Asks the server for its namespaces.
    async fn namespaces(&mut self) -> anyhow::Result<NamespaceAnswer> {
        let answer = self.raw_command("NAMESPACE").await?;
        if answer.status != Status::Ok {
            return Ok(NamespaceAnswer::Unreadable(format!(
                "the server answered {}",
                answer.completion()
            )));
        }
        let Some(response) = answer.untagged.iter().find(|r| {
            r.get(..12)
                .is_some_and(|head| head.eq_ignore_ascii_case(b"* NAMESPACE "))
        }) else {
            return Ok(NamespaceAnswer::Unreadable("no NAMESPACE response".into()));
        };
        Ok(match namespace::parse(response) {
            Ok(namespaces) => NamespaceAnswer::Read(namespaces),
            Err(why) => NamespaceAnswer::Unreadable(why),
        })
    }

    /// A folder name of the configuration (levels separated by `/`) as this
    /// server writes it, before encoding: under the personal namespace.
    pub fn full_name(&self, configured: &str) -> String {
        let namespaces = match &self.namespace {
            NamespaceAnswer::Read(namespaces) => Some(namespaces),
            NamespaceAnswer::NotOffered | NamespaceAnswer::Unreadable(_) => None,
        };
        server_name(configured, &self.delimiter, namespaces)
    }

    /// A folder name of the configuration as sent to this server.
    ///
    /// Always in modified UTF-7: a server speaks UTF-8 in mailbox names only
    /// to a client that sent ENABLE UTF8=ACCEPT (RFC 6855), which licgate
    /// does not.
    pub fn folder(&self, configured: &str) -> String {
        mutf7::encode(&self.full_name(configured))
    }

    /// Creates the folders that do not exist yet. A refusal is a
    /// [`FolderRefused`]; any other error is worth a new connection.
    pub async fn ensure_folders(&mut self, folders: &[&str]) -> anyhow::Result<()> {
        // LIST gives names in modified UTF-7, where one name can be written
        // in more than one way: compare them decoded.
        let existing: Vec<String> = {
            let names =
                timed(self.timeout, "LIST", self.session.list(Some(""), Some("*"))).await??;
            timed(
                self.timeout,
                "LIST",
                names
                    .map_ok(|n| mutf7::decode(n.name()).unwrap_or_else(|_| n.name().to_owned()))
                    .try_collect(),
            )
            .await??
        };
        for configured in folders {
            let name = self.full_name(configured);
            if existing
                .iter()
                .any(|e| same_mailbox(e, &name, &self.delimiter))
            {
                continue;
            }
            let sent = mutf7::encode(&name);
            let answer = self
                .raw_command(&format!("CREATE {}", quoted(&sent)))
                .await?;
            match create_outcome(&answer) {
                Created::Yes => {}
                Created::NotNow => bail!(
                    "cannot create folder {configured:?} (sent as {sent:?}) for now: {}",
                    answer.completion()
                ),
                Created::Refused => {
                    return Err(FolderRefused {
                        configured: configured.to_string(),
                        sent,
                        answer: answer.completion(),
                        namespace: self.namespace.to_string(),
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Sends `command` with a tag of licgate's own and reads the answer
    /// itself, for the commands async-imap cannot read the answer of.
    ///
    /// NOTE: async-imap 0.12 has no NAMESPACE command, and imap-proto 0.17
    /// cannot parse an untagged `* NAMESPACE` response: its stream then fails
    /// on every read, the unparsed bytes staying at the head of its buffer,
    /// and the connection is lost. So this talks to the stream under the
    /// session, between two commands of async-imap (nothing of the server's
    /// is then waiting in async-imap's buffer: no mailbox is selected).
    /// It reads byte by byte, so as to take no byte of what follows the
    /// tagged answer. Its answer to CREATE also keeps the server's words,
    /// which async-imap turns into a `Debug` dump.
    async fn raw_command(&mut self, command: &str) -> anyhow::Result<Answer> {
        self.tags += 1;
        let tag = format!("LG{}", self.tags);
        let what = command.split(' ').next().unwrap_or(command);
        let stream = self.session.get_mut();
        timed(self.timeout, what, async {
            stream
                .write_all(format!("{tag} {command}\r\n").as_bytes())
                .await?;
            stream.flush().await?;
            read_answer(stream, &tag).await
        })
        .await?
        .with_context(|| format!("IMAP {what}"))
    }

    /// Selects `name`; returns its UIDVALIDITY.
    pub async fn select(&mut self, name: &str) -> anyhow::Result<u32> {
        let mailbox = timed(self.timeout, "SELECT", self.session.select(name)).await??;
        mailbox
            .uid_validity
            .context("the server gives no UIDVALIDITY")
    }

    /// Opens `name` read-only (EXAMINE); returns its UIDVALIDITY.
    pub async fn examine(&mut self, name: &str) -> anyhow::Result<u32> {
        let mailbox = timed(self.timeout, "EXAMINE", self.session.examine(name)).await??;
        mailbox
            .uid_validity
            .context("the server gives no UIDVALIDITY")
    }

    /// UIDs, sizes and reception times of every message in the selected mailbox, oldest first.
    pub async fn envelopes(&mut self) -> anyhow::Result<Vec<Envelope>> {
        let uids = timed(self.timeout, "UID SEARCH", self.session.uid_search("ALL")).await??;
        self.envelopes_of(uids.into_iter().collect()).await
    }

    /// Envelopes of the messages of the selected mailbox whose UID is
    /// `first` or above, oldest first.
    pub async fn envelopes_from(&mut self, first: u32) -> anyhow::Result<Vec<Envelope>> {
        let query = format!("UID {}:*", first.max(1));
        let uids = timed(self.timeout, "UID SEARCH", self.session.uid_search(&query)).await??;
        // NOTE: `n:*` always holds the last message, even below n.
        self.envelopes_of(uids.into_iter().filter(|uid| *uid >= first).collect())
            .await
    }

    /// Sizes and reception times of the messages `uids`, oldest first.
    async fn envelopes_of(&mut self, mut uids: Vec<u32>) -> anyhow::Result<Vec<Envelope>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        uids.sort_unstable();
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let fetches = timed(
            self.timeout,
            "UID FETCH",
            self.session
                .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE)"),
        )
        .await??;
        let fetches: Vec<_> =
            timed(self.timeout, "UID FETCH", fetches.try_collect::<Vec<_>>()).await??;
        let mut envelopes: Vec<Envelope> = fetches
            .iter()
            .filter_map(|fetch| {
                Some(Envelope {
                    uid: fetch.uid?,
                    size: fetch.size.unwrap_or(0),
                    internal_date: fetch
                        .internal_date()
                        .and_then(|d| Timestamp::from_second(d.timestamp()).ok()),
                })
            })
            .collect();
        envelopes.sort_by_key(|e| e.uid);
        Ok(envelopes)
    }

    /// Whether the selected mailbox holds a message whose UID is above
    /// `uid`: one delivered since a listing whose last UID was `uid`.
    pub async fn arrived_after(&mut self, uid: u32) -> anyhow::Result<bool> {
        let query = format!("UID {}:*", uid.saturating_add(1));
        let uids = timed(self.timeout, "UID SEARCH", self.session.uid_search(&query)).await??;
        // NOTE: `n:*` always holds the last message, even below n (RFC 3501
        // §6.4.8): only a UID above `uid` is news.
        Ok(uids.into_iter().any(|found| found > uid))
    }

    /// The whole messages (or only their headers), by UID, without setting
    /// \Seen. `bytes`, what the server announced, stretches the timeout: a
    /// large mail on a slow link is not cut off and fetched again for ever.
    async fn fetch_messages(
        &mut self,
        uids: &[u32],
        header_only: bool,
        bytes: u64,
    ) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let query = if header_only {
            "BODY.PEEK[HEADER]"
        } else {
            "BODY.PEEK[]"
        };
        let limit = self.timeout + Duration::from_secs(bytes / SLOWEST_LINK);
        let fetches = timed(
            limit,
            "UID FETCH",
            self.session.uid_fetch(uid_set(uids), query),
        )
        .await??;
        let fetches: Vec<_> = timed(limit, "UID FETCH", fetches.try_collect::<Vec<_>>()).await??;
        Ok(fetches
            .iter()
            .filter_map(|f| {
                let bytes = if header_only { f.header() } else { f.body() };
                Some((f.uid?, bytes?.to_vec()))
            })
            .collect())
    }

    /// Moves messages to `folder` (MOVE, else COPY + \Deleted + expunge).
    async fn move_messages(&mut self, uids: &[u32], folder: &str) -> anyhow::Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        // The EXPUNGE and EXISTS news of earlier commands are of no use here:
        // drop them rather than keep up to 100 of them (with their buffers).
        while self.session.unsolicited_responses.try_recv().is_ok() {}
        let set = uid_set(uids);
        let folder = &self.folder(folder);
        if self.moves {
            timed(self.timeout, "UID MOVE", self.session.uid_mv(&set, folder)).await??;
            return Ok(());
        }
        timed(
            self.timeout,
            "UID COPY",
            self.session.uid_copy(&set, folder),
        )
        .await??;
        let stored = timed(
            self.timeout,
            "UID STORE",
            self.session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
        )
        .await??;
        timed(self.timeout, "UID STORE", stored.try_collect::<Vec<_>>()).await??;
        if self.uidplus {
            let expunged =
                timed(self.timeout, "UID EXPUNGE", self.session.uid_expunge(&set)).await??;
            timed(
                self.timeout,
                "UID EXPUNGE",
                expunged.try_collect::<Vec<_>>(),
            )
            .await??;
        } else {
            let expunged = timed(self.timeout, "EXPUNGE", self.session.expunge()).await??;
            timed(self.timeout, "EXPUNGE", expunged.try_collect::<Vec<_>>()).await??;
        }
        Ok(())
    }

    /// Waits until the server announces news (IDLE), `limit` passes, or
    /// `stop` completes; without IDLE, sleeps `limit` (or until `stop`).
    pub async fn wait(
        self,
        limit: Duration,
        stop: impl Future<Output = ()>,
    ) -> anyhow::Result<Connection> {
        if !self.idle {
            tokio::select! {
                _ = tokio::time::sleep(limit) => {}
                _ = stop => {}
            }
            return Ok(self);
        }
        let session = self.session;
        let mut handle = session.idle();
        timed(self.timeout, "IDLE", handle.init()).await??;
        {
            let (news, interrupt) = handle.wait_with_timeout(limit);
            tokio::select! {
                result = news => { result?; }
                _ = stop => {}
            }
            drop(interrupt);
        }
        let session = timed(self.timeout, "DONE", handle.done()).await??;
        Ok(Connection { session, ..self })
    }

    /// Logs out, politely; errors are irrelevant at that point.
    pub async fn logout(mut self) {
        let _ = timed(self.timeout, "LOGOUT", self.session.logout()).await;
    }
}

impl super::Mailbox for Connection {
    fn fetch(
        &mut self,
        uids: &[u32],
        header_only: bool,
        bytes: u64,
    ) -> impl Future<Output = anyhow::Result<Vec<(u32, Vec<u8>)>>> + Send {
        self.fetch_messages(uids, header_only, bytes)
    }

    fn move_to(
        &mut self,
        uids: &[u32],
        folder: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        self.move_messages(uids, folder)
    }
}

/// A folder name of the configuration (levels separated by `/`), written
/// with the server's `delimiter`, under the personal namespace unless it is
/// INBOX or already written under a namespace's prefix (`INBOX/licgate` or
/// `INBOX.licgate` for the prefix `INBOX.`, `Public/licgate` for a shared
/// namespace `Public.`). Not encoded yet.
fn server_name(
    configured: &str,
    delimiter: &str,
    namespaces: Option<&namespace::Namespaces>,
) -> String {
    let name = configured.replace('/', delimiter);
    let Some(namespaces) = namespaces else {
        return name;
    };
    // The first personal namespace is the one for the user's own folders
    // (RFC 2342 §5).
    let Some(personal) = namespaces.personal.first() else {
        return name;
    };
    let canonical = canonical_inbox(&name, delimiter);
    // NOTE: a prefix is matched whole levels at a time: a prefix `l` must
    // not make `licgate` look as if it were written under it.
    let prefixed = namespaces
        .all()
        .filter_map(level_prefix)
        .any(|prefix| canonical.starts_with(&canonical_inbox(&prefix, delimiter)));
    match level_prefix(personal) {
        Some(prefix) if canonical != "INBOX" && !prefixed => format!("{prefix}{name}"),
        _ => name,
    }
}

/// A namespace's prefix ending with its delimiter (`INBOX` with `.` is
/// `INBOX.`); `None` for an empty prefix.
fn level_prefix(namespace: &namespace::Namespace) -> Option<String> {
    let prefix = &namespace.prefix;
    if prefix.is_empty() {
        return None;
    }
    Some(match namespace.delimiter {
        Some(delimiter) if !prefix.ends_with(delimiter) => format!("{prefix}{delimiter}"),
        _ => prefix.clone(),
    })
}

/// Whether two mailbox names (decoded) are the same mailbox: the name INBOX
/// is case-insensitive (RFC 3501 §5.1), the rest is not.
fn same_mailbox(a: &str, b: &str, delimiter: &str) -> bool {
    canonical_inbox(a, delimiter) == canonical_inbox(b, delimiter)
}

/// `name` with a first level INBOX, in any case, written `INBOX`.
fn canonical_inbox(name: &str, delimiter: &str) -> String {
    let (first, rest) = match name.split_once(delimiter).filter(|_| !delimiter.is_empty()) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if !first.eq_ignore_ascii_case("INBOX") {
        return name.to_owned();
    }
    match rest {
        Some(rest) => format!("INBOX{delimiter}{rest}"),
        None => "INBOX".to_owned(),
    }
}

/// `text` as an IMAP quoted string. Mailbox names go out in modified
/// UTF-7, printable ASCII only: no CR or LF can reach here.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What became of a CREATE.
#[derive(Debug, PartialEq)]
enum Created {
    /// Created, or there already (a LIST can miss a folder, e.g. one the
    /// user may not see).
    Yes,
    /// Refused for a reason that passes (RFC 5530: UNAVAILABLE, INUSE):
    /// worth a new attempt.
    NotNow,
    /// Refused (NO or BAD): a new attempt would be refused too.
    Refused,
}

fn create_outcome(answer: &Answer) -> Created {
    match (answer.status, answer.code().as_deref()) {
        (Status::Ok, _) | (Status::No, Some("ALREADYEXISTS")) => Created::Yes,
        (Status::No, Some("UNAVAILABLE" | "INUSE")) => Created::NotNow,
        (Status::No | Status::Bad, _) => Created::Refused,
    }
}

/// The end of a tagged command.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Ok,
    No,
    Bad,
}

/// A command's answer, as read by `read_answer`.
#[derive(Debug)]
struct Answer {
    /// The untagged responses, CRLF and literals included.
    untagged: Vec<Vec<u8>>,
    status: Status,
    /// The text after the status, response code included, made printable.
    text: String,
}

impl Answer {
    /// The completion as the server wrote it, e.g. `NO [NOPERM] Permission denied`.
    fn completion(&self) -> String {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        if self.text.is_empty() {
            status.to_owned()
        } else {
            format!("{status} {}", self.text)
        }
    }

    /// The response code's atom, upper case: `NOPERM` for `[NOPERM] ...`.
    fn code(&self) -> Option<String> {
        let inside = self.text.strip_prefix('[')?.split(']').next()?;
        let atom = inside.split(' ').next()?;
        Some(atom.to_ascii_uppercase())
    }
}

/// The most licgate reads of an answer it reads itself: a NAMESPACE or
/// CREATE answer is a few hundred bytes.
const MAX_ANSWER: usize = 64 * 1024;

/// Reads the responses to the command tagged `tag`, up to its tagged end.
async fn read_answer(stream: &mut (impl AsyncRead + Unpin), tag: &str) -> anyhow::Result<Answer> {
    let mut untagged = Vec::new();
    let mut budget = MAX_ANSWER;
    loop {
        let response = read_response(stream, tag, &mut budget).await?;
        if let Some(end) = response
            .strip_prefix(tag.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
        {
            let mut answer = completion(end)?;
            answer.untagged = untagged;
            return Ok(answer);
        }
        if response.starts_with(b"* ") {
            untagged.push(response);
            continue;
        }
        bail!(
            "unexpected response from the server: {:?}",
            printable(&response)
        );
    }
}

/// One response: a line, with the literals (`{n}` CRLF and n bytes) it holds.
async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
    tag: &str,
    budget: &mut usize,
) -> anyhow::Result<Vec<u8>> {
    let mut response = Vec::new();
    let tagged = format!("{tag} ");
    loop {
        loop {
            if *budget == 0 {
                bail!("answer longer than {MAX_ANSWER} bytes");
            }
            *budget -= 1;
            let byte = stream
                .read_u8()
                .await
                .context("connection closed by the server")?;
            response.push(byte);
            if byte == b'\n' {
                break;
            }
        }
        // A tagged completion holds no literal (RFC 9051 §7.1): a `{n}` at
        // its end is text, and must not swallow what follows it.
        if response.starts_with(tagged.as_bytes()) {
            return Ok(response);
        }
        let Some(length) = literal_length(&response)? else {
            return Ok(response);
        };
        if length > *budget {
            bail!("answer longer than {MAX_ANSWER} bytes");
        }
        *budget -= length;
        let start = response.len();
        response.resize(start + length, 0);
        stream
            .read_exact(&mut response[start..])
            .await
            .context("connection closed by the server")?;
    }
}

/// The length of the literal announced at the end of `line` (`{12}` CRLF),
/// if one is.
fn literal_length(line: &[u8]) -> anyhow::Result<Option<usize>> {
    let Some(line) = line
        .strip_suffix(b"\r\n")
        .and_then(|l| l.strip_suffix(b"}"))
    else {
        return Ok(None);
    };
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = &line[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    match std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
    {
        Some(length) => Ok(Some(length)),
        None => bail!("a literal of {} bytes announced", printable(digits)),
    }
}

/// The status and text of a tagged response (what follows the tag).
fn completion(end: &[u8]) -> anyhow::Result<Answer> {
    let end = end.strip_suffix(b"\r\n").unwrap_or(end);
    let (word, text) = match end.iter().position(|&b| b == b' ') {
        Some(space) => (&end[..space], &end[space + 1..]),
        None => (end, &b""[..]),
    };
    let status = if word.eq_ignore_ascii_case(b"OK") {
        Status::Ok
    } else if word.eq_ignore_ascii_case(b"NO") {
        Status::No
    } else if word.eq_ignore_ascii_case(b"BAD") {
        Status::Bad
    } else {
        bail!("unexpected tagged response: {:?}", printable(end));
    };
    Ok(Answer {
        untagged: Vec::new(),
        status,
        text: printable(text),
    })
}

/// Server bytes fit for a log line: valid UTF-8 without control
/// characters, at most 300 characters.
fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\r', '\n']);
    let mut out: String = text
        .chars()
        .take(300)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

/// The SASL XOAUTH2 initial response.
struct Xoauth2 {
    user: String,
    token: String,
}

impl async_imap::Authenticator for Xoauth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// `1,5,7` for a UID command.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Wraps `stream` in TLS for `server.host`.
async fn tls(
    server: &Server,
    stream: Box<dyn ImapIo>,
) -> anyhow::Result<tokio_rustls::client::TlsStream<Box<dyn ImapIo>>> {
    let config = crate::net::tls::client_config(server.ca_file.as_deref())?;
    let name = rustls::pki_types::ServerName::try_from(server.host.clone()).with_context(|| {
        format!(
            "{} n'est pas un nom de serveur valable pour TLS",
            server.host
        )
    })?;
    timed(
        server.timeout,
        "négociation TLS",
        TlsConnector::from(config).connect(name, stream),
    )
    .await?
    .with_context(|| format!("négociation TLS avec {}", server.host))
}

mod mutf7;

mod namespace;

#[cfg(test)]
mod tests {
    use super::namespace::{Namespaces, parse};
    use super::*;

    // Issue 20: a refused login was a Rust debug dump.
    #[test]
    fn a_refused_login_gives_the_servers_words() {
        let dump = "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")";
        let err = login_refused(
            "licences@x.example",
            &async_imap::error::Error::No(dump.into()),
        );
        assert_eq!(
            err.to_string(),
            "le serveur IMAP refuse la connexion de licences@x.example (« [AUTHENTICATIONFAILED] \
             Authentication failed. ») : vérifiez le nom d'utilisateur (imap.username) et le \
             secret de [imap.auth]"
        );
    }

    fn cyrus() -> Namespaces {
        parse(b"* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"Public.\" \".\"))")
            .unwrap()
    }

    // Issue 9 §3: on a server whose personal namespace has the prefix
    // `INBOX.` (Cyrus, Courier), licgate created `licgate.acceptees`, outside
    // any namespace: "Permission denied", retried for ever.
    #[test]
    fn folders_go_under_the_personal_prefix() {
        let ns = cyrus();
        let name = |configured| server_name(configured, ".", Some(&ns));
        assert_eq!(name("licgate/acceptees"), "INBOX.licgate.acceptees");
        assert_eq!(name("licgate/acceptées"), "INBOX.licgate.acceptées");
        assert_eq!(name("refusees"), "INBOX.refusees");
    }

    #[test]
    fn a_name_written_with_a_prefix_is_not_prefixed_again() {
        let ns = cyrus();
        let name = |configured| server_name(configured, ".", Some(&ns));
        assert_eq!(name("INBOX.licgate/acceptees"), "INBOX.licgate.acceptees");
        assert_eq!(name("INBOX/licgate/acceptees"), "INBOX.licgate.acceptees");
        assert_eq!(name("inbox/licgate"), "inbox.licgate");
        assert_eq!(name("INBOX"), "INBOX");
        assert_eq!(name("Inbox"), "Inbox");
        // Other namespaces, written on purpose.
        assert_eq!(name("Public/licgate"), "Public.licgate");
        assert_eq!(name("user/achats/licgate"), "user.achats.licgate");
        // A level that merely begins like INBOX is no INBOX.
        assert_eq!(name("INBOXES/x"), "INBOX.INBOXES.x");
    }

    #[test]
    fn without_a_prefix_names_are_as_configured() {
        let flat = parse(b"* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\"))").unwrap();
        assert_eq!(
            server_name("licgate/acceptees", "/", Some(&flat)),
            "licgate/acceptees"
        );
        assert_eq!(
            server_name("licgate/acceptees", ".", None),
            "licgate.acceptees"
        );
        let none = parse(b"* NAMESPACE NIL NIL NIL").unwrap();
        assert_eq!(server_name("licgate/x", ".", Some(&none)), "licgate.x");
    }

    #[test]
    fn inbox_is_the_same_mailbox_in_any_case() {
        assert!(same_mailbox("INBOX.licgate", "inbox.licgate", "."));
        assert!(same_mailbox("Inbox", "INBOX", "."));
        assert!(!same_mailbox("INBOX.Licgate", "INBOX.licgate", "."));
        assert!(!same_mailbox("licgate.x", "licgate/x", "."));
        assert!(same_mailbox("INBOX", "inbox", ""));
    }

    #[test]
    fn names_are_quoted_with_their_escapes() {
        assert_eq!(
            quoted("INBOX.licgate.refus&AOk-es"),
            "\"INBOX.licgate.refus&AOk-es\""
        );
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    async fn answer(bytes: &[u8]) -> anyhow::Result<Answer> {
        let mut stream = bytes;
        read_answer(&mut stream, "LG1").await
    }

    // Found by review: a `{n}` at the end of the tagged line was read as a
    // literal, swallowing the next answer (async-imap's) and desynchronising
    // the session.
    #[tokio::test]
    async fn a_tagged_line_holds_no_literal() {
        let bytes = b"LG1 NO refused {10}\r\nA0005 OK done\r\n";
        let mut stream = &bytes[..];
        let read = read_answer(&mut stream, "LG1").await.unwrap();
        assert_eq!(read.status, Status::No);
        assert_eq!(stream, b"A0005 OK done\r\n");
    }

    // Found by review: a shared prefix `l` made `licgate` look written under
    // it, and a personal prefix without its delimiter gave `INBOXlicgate`.
    #[test]
    fn prefixes_are_matched_whole_levels() {
        let ns = namespace::parse(b"* NAMESPACE ((\"INBOX\" \".\")) NIL ((\"l\" \".\"))").unwrap();
        let name = |configured| server_name(configured, ".", Some(&ns));
        assert_eq!(name("licgate/acceptees"), "INBOX.licgate.acceptees");
        assert_eq!(name("l/partage"), "l.partage");
    }

    #[tokio::test]
    async fn the_answer_ends_at_its_tag_and_takes_nothing_more() {
        let bytes = b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n* OK still there\r\nLG1 OK Namespace completed\r\nA0007 OK next\r\n";
        let mut stream = &bytes[..];
        let read = read_answer(&mut stream, "LG1").await.unwrap();
        assert_eq!(read.status, Status::Ok);
        assert_eq!(read.untagged.len(), 2);
        assert_eq!(
            stream, b"A0007 OK next\r\n",
            "the rest is left for async-imap"
        );
    }

    #[tokio::test]
    async fn literals_are_read_whole() {
        let read = answer(b"* NAMESPACE (({8}\r\nIN\r\nBOX. \".\")) NIL NIL\r\nLG1 OK\r\n")
            .await
            .unwrap();
        assert_eq!(
            read.untagged[0],
            b"* NAMESPACE (({8}\r\nIN\r\nBOX. \".\")) NIL NIL\r\n"
        );
        assert_eq!(read.completion(), "OK");
    }

    #[tokio::test]
    async fn the_server_words_and_code_of_a_refusal_are_kept() {
        let read = answer(b"LG1 NO [NOPERM] Permission denied\r\n")
            .await
            .unwrap();
        assert_eq!(read.completion(), "NO [NOPERM] Permission denied");
        assert_eq!(read.code().as_deref(), Some("NOPERM"));
        assert_eq!(create_outcome(&read), Created::Refused);
        let bad = answer(b"LG1 bad Invalid\x07 name\r\n").await.unwrap();
        assert_eq!(bad.completion(), "BAD Invalid\u{FFFD} name");
        assert_eq!(create_outcome(&bad), Created::Refused);
    }

    #[tokio::test]
    async fn a_folder_there_already_or_busy_for_now_is_no_refusal() {
        let exists = answer(b"LG1 NO [ALREADYEXISTS] Mailbox already exists\r\n")
            .await
            .unwrap();
        assert_eq!(create_outcome(&exists), Created::Yes);
        let busy = answer(b"LG1 NO [inuse] Mailbox in use\r\n").await.unwrap();
        assert_eq!(create_outcome(&busy), Created::NotNow);
        let down = answer(b"LG1 NO [UNAVAILABLE] Backend down\r\n")
            .await
            .unwrap();
        assert_eq!(create_outcome(&down), Created::NotNow);
        let done = answer(b"LG1 OK Create completed\r\n").await.unwrap();
        assert_eq!(create_outcome(&done), Created::Yes);
    }

    #[tokio::test]
    async fn broken_or_endless_answers_are_errors() {
        let huge = [b"* ".as_slice(), &[b'x'; MAX_ANSWER], b"\r\nLG1 OK\r\n"].concat();
        for bytes in [
            &b""[..],
            b"* NAMESPACE NIL NIL NIL\r\n",
            b"LG1 OK",
            b"LG1 MAYBE so\r\n",
            b"LG2 OK wrong tag\r\n",
            b"+ go ahead\r\n",
            b"* x {999999}\r\nshort\r\nLG1 OK\r\n",
            b"* x {99999999999999999999999}\r\nLG1 OK\r\n",
            &huge,
        ] {
            assert!(answer(bytes).await.is_err(), "{:?}", printable(bytes));
        }
    }

    // Random mutations of valid server answers: errors or results, never a
    // panic, and a decoded name always encodes back to a valid one.
    #[tokio::test]
    async fn mutated_server_bytes_never_panic() {
        let valid: &[&[u8]] = &[
            b"* NAMESPACE ((\"INBOX.\" \".\" \"X\" (\"a\" {1}\r\nb))) ((\"~\" \"/\")) NIL\r\nLG1 OK done\r\n",
            b"* NAMESPACE ((\"Partag&AOk-s.\" NIL)) NIL ((\"#\\\"\" \"/\"))\r\nLG1 NO [NOPERM] x\r\n",
        ];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let odd = b"\"\\(){}0123456789 \r\n&-*NIL\xff\x00";
        for _ in 0..5_000 {
            let mut bytes = valid[(next() % 2) as usize].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len();
                let byte = odd[(next() as usize) % odd.len()];
                match next() % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let _ = namespace::parse(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes)
                && let Ok(name) = mutf7::decode(text)
            {
                assert!(mutf7::decode(&mutf7::encode(&name)).is_ok());
            }
            let mut stream = &bytes[..];
            let _ = read_answer(&mut stream, "LG1").await;
        }
    }

    #[test]
    fn server_text_is_cut_for_the_logs() {
        let long = "é".repeat(400);
        let shown = printable(long.as_bytes());
        assert_eq!(shown.chars().count(), 301);
        assert!(shown.ends_with('…'));
        assert_eq!(printable(b"a\r\n"), "a");
    }

    #[test]
    fn a_refusal_names_the_folder_the_answer_and_the_namespace() {
        let refused = FolderRefused {
            configured: "Public/licgate".into(),
            sent: "Public.licgate".into(),
            answer: "NO [NOPERM] Permission denied".into(),
            namespace: NamespaceAnswer::Read(cyrus()).to_string(),
        };
        assert_eq!(
            refused.to_string(),
            "the IMAP server refuses to create folder \"Public/licgate\" (sent as \"Public.licgate\"): \
             NO [NOPERM] Permission denied; server namespaces: personal \"INBOX.\" (delimiter \".\"), \
             other users \"user.\" (delimiter \".\"), shared \"Public.\" (delimiter \".\")"
        );
        let error = anyhow::Error::from(refused).context("the mailbox task failed");
        assert!(error.is::<FolderRefused>(), "found under a context too");
    }
}
