//! The network adapters, each a thin wrapper that says in its first line
//! what it wraps: [`imap`] (async-imap), [`smtp`] (lettre), `oauth`
//! (OAuth2 client credentials for XOAUTH2), `tls` (rustls). The settings
//! of a server, resolved by the configuration, are defined here so that the
//! adapters need nothing above them.

pub mod imap;
pub(crate) mod oauth;
pub mod smtp;
pub(crate) mod tls;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No TLS at all: allowed only for a loopback host.
    None,
}

/// A secret value; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value obtained at run time (an OAuth2 token).
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Credentials, resolved.
#[derive(Debug, Clone)]
pub enum Auth {
    /// LOGIN / AUTH PLAIN with a password.
    Password(Secret),
    /// XOAUTH2 with tokens from this source.
    Xoauth2(oauth::TokenSource),
}

/// One server to connect to.
#[derive(Debug, Clone)]
pub struct Server {
    /// Host name (also checked against the certificate).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub tls: TlsMode,
    /// Extra trusted CA (PEM), on top of the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Time allowed for each network call.
    pub timeout: Duration,
    /// Login name.
    pub username: Option<String>,
    /// How to log in; `None` sends without authentication (SMTP relay on the LAN).
    pub auth: Option<Auth>,
}

/// True for `localhost` and loopback addresses, where plain text is allowed.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A mail to hand to the SMTP server: envelope and bytes, sent as they are.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingMail<'a> {
    /// Envelope sender.
    pub from: &'a str,
    /// Envelope recipients.
    pub to: &'a [String],
    /// The whole message (RFC 5322).
    pub message: &'a [u8],
}

/// Why a mail was not sent, as the outbox acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 4xx, or the server could not be reached: try again later.
    Temporary,
    /// A permanent answer about this mail (every 5xx but authentication,
    /// RFC 5321): sending it again would fail the same.
    Refused,
    /// The server refused the gateway itself (its login, or its right to
    /// send as its address): every mail would fail alike; sending pauses
    /// until it is fixed.
    Gateway,
}

/// A mail the SMTP server did not take, and what that means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// What the outbox does about it.
    pub failure: Failure,
    /// The server's answer, or why it could not be reached.
    pub reason: String,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for SendError {}

/// Where the outbox hands mails: the SMTP server ([`smtp::Sender`]), or an
/// in-memory fake in tests.
pub trait Outbound: Send + Sync {
    /// Sends one mail; `Ok` once the receiving server took it.
    fn send(
        &self,
        mail: OutgoingMail<'_>,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send;
}

/// The watched mailbox as the daemon's intake uses it once a batch of new
/// messages is known: the IMAP server ([`imap::Connection`]), or an
/// in-memory fake in tests.
pub trait Mailbox: Send {
    /// The whole messages (or only their headers), by UID, unread-marks
    /// untouched; `bytes`, their announced size, stretches the time allowed.
    fn fetch(
        &mut self,
        uids: &[u32],
        header_only: bool,
        bytes: u64,
    ) -> impl std::future::Future<Output = anyhow::Result<Vec<(u32, Vec<u8>)>>> + Send;

    /// Moves messages to a folder of the configuration (`licgate/acceptees`).
    fn move_to(
        &mut self,
        uids: &[u32],
        folder: &str,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}
