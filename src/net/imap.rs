//! The watched mailbox, over async-imap: connect (implicit TLS, STARTTLS or
//! plain on loopback), log in, list new messages, fetch them, move them to
//! their folder, and wait for news with IDLE or a plain sleep.
//!
//! Every network call has a timeout; an error leaves the connection to be
//! dropped and opened again by the caller.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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
pub struct Mailbox {
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
}

/// The slowest download rate allowed for, in bytes per second: fetching a
/// mail gets the command timeout plus its size at that rate.
const SLOWEST_LINK: u64 = 64 * 1024;

/// Runs `future` with a deadline.
async fn timed<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {limit:?}"))
}

impl Mailbox {
    /// Connects and logs in.
    pub async fn connect(server: &Server) -> anyhow::Result<Mailbox> {
        let limit = server.timeout;
        let address = (server.host.as_str(), server.port);
        let tcp = timed(limit, "IMAP connect", TcpStream::connect(address))
            .await?
            .with_context(|| format!("IMAP connect to {}:{}", server.host, server.port))?;
        let stream: Box<dyn ImapIo> = match server.tls {
            TlsMode::Implicit => Box::new(tls(server, Box::new(tcp)).await?),
            TlsMode::Starttls | TlsMode::None => Box::new(tcp),
        };
        let mut client = Client::new(stream);
        timed(limit, "IMAP greeting", client.read_response())
            .await??
            .context("IMAP server closed at greeting")?;
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
                "IMAP login",
                client.login(username, password.expose()),
            )
            .await?
            .map_err(|(err, _)| anyhow!("IMAP login as {username}: {err}"))?,
            Some(Auth::Xoauth2(tokens)) => {
                let token = tokens.token().await?;
                let xoauth2 = Xoauth2 {
                    user: username.to_owned(),
                    token: token.expose().to_owned(),
                };
                timed(
                    limit,
                    "IMAP AUTHENTICATE XOAUTH2",
                    client.authenticate("XOAUTH2", xoauth2),
                )
                .await?
                .map_err(|(err, _)| anyhow!("IMAP XOAUTH2 login as {username}: {err}"))?
            }
            None => bail!("IMAP needs credentials"),
        };
        let mut mailbox = Mailbox {
            session,
            timeout: limit,
            idle: false,
            moves: false,
            uidplus: false,
            delimiter: "/".into(),
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
        Ok(mailbox)
    }

    /// A folder name of the configuration (levels separated by `/`) as this
    /// server writes it.
    pub fn folder(&self, configured: &str) -> String {
        configured.replace('/', &self.delimiter)
    }

    /// Creates the folders that do not exist yet.
    pub async fn ensure_folders(&mut self, folders: &[&str]) -> anyhow::Result<()> {
        let existing: Vec<String> = {
            let names =
                timed(self.timeout, "LIST", self.session.list(Some(""), Some("*"))).await??;
            timed(
                self.timeout,
                "LIST",
                names.map_ok(|n| n.name().to_owned()).try_collect(),
            )
            .await??
        };
        for folder in folders {
            let folder = self.folder(folder);
            if !existing.contains(&folder) {
                timed(self.timeout, "CREATE", self.session.create(&folder))
                    .await?
                    .with_context(|| format!("cannot create folder {folder}"))?;
            }
        }
        Ok(())
    }

    /// Selects `name`; returns its UIDVALIDITY.
    pub async fn select(&mut self, name: &str) -> anyhow::Result<u32> {
        let mailbox = timed(self.timeout, "SELECT", self.session.select(name)).await??;
        mailbox
            .uid_validity
            .context("the server gives no UIDVALIDITY")
    }

    /// UIDs, sizes and reception times of every message in the selected mailbox, oldest first.
    pub async fn envelopes(&mut self) -> anyhow::Result<Vec<Envelope>> {
        let mut uids: Vec<u32> = timed(self.timeout, "UID SEARCH", self.session.uid_search("ALL"))
            .await??
            .into_iter()
            .collect();
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

    /// The whole messages (or only their headers), by UID, without setting
    /// \Seen. `bytes`, what the server announced, stretches the timeout: a
    /// large mail on a slow link is not cut off and fetched again for ever.
    pub async fn fetch(
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
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> anyhow::Result<()> {
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
    ) -> anyhow::Result<Mailbox> {
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
        Ok(Mailbox { session, ..self })
    }

    /// Logs out, politely; errors are irrelevant at that point.
    pub async fn logout(mut self) {
        let _ = timed(self.timeout, "LOGOUT", self.session.logout()).await;
    }
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
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .with_context(|| format!("{}: not a valid TLS server name", server.host))?;
    timed(
        server.timeout,
        "TLS handshake",
        TlsConnector::from(config).connect(name, stream),
    )
    .await?
    .with_context(|| format!("TLS handshake with {}", server.host))
}
