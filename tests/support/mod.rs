//! Fixtures of the end-to-end tests: a real mail stack (`tests/mailstack/mailstack`)
//! in a fresh run directory, the `licgate` daemon as a child process, and an
//! IMAP client to look at mailboxes as a person would.

#![allow(dead_code)] // each test file uses its own part of the fixtures

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use async_imap::Session;
use futures::TryStreamExt;
use tokio::net::TcpStream;

pub const PASSWORD: &str = "secret";
pub const GATEWAY: &str = "licences@example.test";
pub const TECH: &str = "tech@example.test";
pub const PURCHASING: &str = "achats@example.test";
pub const OUTSIDER: &str = "other@example.test";

/// Monday 16 November 2026, 10:00 in Paris, as an IMAP INTERNALDATE: in
/// the past, since Dovecot replaces a future INTERNALDATE of an APPEND by
/// the time of the APPEND (and the judgement would then depend on the day
/// the tests run).
pub const MONDAY_10H: &str = "16-Nov-2026 10:00:00 +0100";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Dovecot and Postfix running in their own folder and ports.
pub struct Stack {
    pub run: PathBuf,
    pub imap_port: u16,
    pub smtp_port: u16,
    pub submission_port: u16,
    pub ca: PathBuf,
}

static NEXT_BASE: AtomicU16 = AtomicU16::new(0);

impl Stack {
    pub fn start() -> Stack {
        Stack::start_with(None)
    }

    /// A stack whose personal namespace has the prefix `INBOX.` (as on Cyrus
    /// or Courier), with a public namespace `Public.` where users may not
    /// create folders (`mailstack start RUN PORT_BASE prefixed`).
    pub fn start_prefixed() -> Stack {
        Stack::start_with(Some("prefixed"))
    }

    /// Starts a stack, with the namespace layout `namespace` if given.
    fn start_with(namespace: Option<&str>) -> Stack {
        let slot = NEXT_BASE.fetch_add(1, Ordering::SeqCst);
        let base = 20000 + (std::process::id() % 300) as u16 * 30 + slot * 10;
        let run = std::env::temp_dir().join(format!("licgate-e2e-{}-{slot}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let base_arg = base.to_string();
        let mut args = vec!["start", run.to_str().unwrap(), &base_arg];
        args.extend(namespace);
        mailstack(&args);
        Stack {
            ca: run.join("tls/ca.crt"),
            run,
            imap_port: base,
            smtp_port: base + 3,
            submission_port: base + 4,
        }
    }

    pub fn stop_smtp(&self) {
        mailstack(&["stop-smtp", self.run.to_str().unwrap()]);
    }

    pub fn start_smtp(&self) {
        mailstack(&["start-smtp", self.run.to_str().unwrap()]);
    }

    /// Postfix refuses messages larger than `bytes` (552 5.3.4).
    pub fn size_limit(&self, bytes: usize) {
        mailstack(&["size-limit", self.run.to_str().unwrap(), &bytes.to_string()]);
    }

    pub fn stop_imap(&self) {
        mailstack(&["stop-imap", self.run.to_str().unwrap()]);
    }

    pub fn start_imap(&self) {
        mailstack(&["start-imap", self.run.to_str().unwrap()]);
    }

    /// Writes a daemon configuration for this stack (password logins);
    /// `extra` is appended.
    pub fn config(&self, extra: &str) -> PathBuf {
        let password = self.run.join("gateway-password");
        std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
        let auth = format!(
            "method = \"password\"\npassword-file = \"{}\"",
            password.display()
        );
        self.config_with_auth(&auth, extra)
    }

    /// Writes a daemon configuration whose `[imap.auth]` and `[smtp.auth]`
    /// tables hold `auth`; `extra` is appended.
    pub fn config_with_auth(&self, auth: &str, extra: &str) -> PathBuf {
        let path = self.run.join("licgate.toml");
        let text = format!(
            r#"
[imap]
host = "127.0.0.1"
port = {imap}
tls = "starttls"
username = "{GATEWAY}"
poll-interval = 30
timeout = 10
ca-file = "{ca}"
[imap.auth]
{auth}

[smtp]
host = "127.0.0.1"
port = {submission}
tls = "starttls"
username = "{GATEWAY}"
from = "{GATEWAY}"
timeout = 10
ca-file = "{ca}"
[smtp.auth]
{auth}

[senders]
allow = ["{TECH}", "{PURCHASING}"]

[purchasing]
to = ["{PURCHASING}"]

[store]
path = "{store}"

[rules]
dir = "{rules}"
{extra}
"#,
            imap = self.imap_port,
            submission = self.submission_port,
            ca = self.ca.display(),
            store = self.run.join("store").display(),
            rules = root().join("rules").display(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The base64 HS256 key Dovecot validates OAuth2 tokens with.
    pub fn oauth_key(&self) -> String {
        std::fs::read_to_string(self.run.join("etc/oauth-keys/default/HS256/default")).unwrap()
    }

    /// Logs in as `user` (plain IMAP: Dovecot allows it on loopback).
    pub async fn imap(&self, user: &str) -> Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(user, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Puts a mail into `user`'s INBOX with a given reception time.
    pub async fn append(&self, user: &str, mail: &str, internal_date: &str) {
        self.append_all(user, [mail.to_owned()], internal_date)
            .await;
    }

    /// Puts mails into `user`'s INBOX in one IMAP session, all with the
    /// same reception time.
    pub async fn append_all(
        &self,
        user: &str,
        mails: impl IntoIterator<Item = String>,
        internal_date: &str,
    ) {
        let mut session = self.imap(user).await;
        for mail in mails {
            session
                .append(
                    "INBOX",
                    None,
                    Some(&format!("\"{internal_date}\"")),
                    mail.as_bytes(),
                )
                .await
                .unwrap();
        }
        session.logout().await.unwrap();
    }

    /// Sends a mail over SMTP (port 25 role), as a technician's client would.
    pub async fn send(&self, from: &str, to: &[&str], mail: &str) {
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.smtp_port)
            .build();
        let envelope = Envelope::new(
            Some(from.parse().unwrap()),
            to.iter().map(|t| t.parse().unwrap()).collect(),
        )
        .unwrap();
        transport
            .send_raw(&envelope, mail.as_bytes())
            .await
            .unwrap();
    }

    /// Number of messages in a folder of `user`'s mailbox (0 when it does not
    /// exist); `/` separates levels, as in licgate's configuration.
    pub async fn count(&self, user: &str, folder: &str) -> u32 {
        let folder = folder.replace('/', ".");
        let mut session = self.imap(user).await;
        let count = match session.status(&folder, "(MESSAGES)").await {
            Ok(mailbox) => mailbox.exists,
            Err(_) => 0,
        };
        session.logout().await.unwrap();
        count
    }

    /// Every message of a folder of `user`'s mailbox, raw.
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<String> {
        let mut session = self.imap(user).await;
        session.select(folder).await.unwrap();
        let fetched: Vec<_> = session
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap_or_default();
        let messages = fetched
            .iter()
            .filter_map(|f| f.body())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        session.logout().await.unwrap();
        messages
    }
}

impl Drop for Stack {
    /// Stops the servers; removes their folder (mails, logs, the store) when
    /// the test passed, and keeps it to look at when it failed.
    fn drop(&mut self) {
        mailstack(&["stop", self.run.to_str().unwrap()]);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.run);
        }
    }
}

fn mailstack(args: &[&str]) {
    let status = Command::new(root().join("tests/mailstack/mailstack"))
        .args(args)
        .stdin(Stdio::null())
        .status()
        .expect("tests/mailstack/mailstack runs");
    assert!(status.success(), "mailstack {args:?} failed");
}

/// The daemon, as a child process.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_with(config, "info", None)
    }

    /// Starts the daemon with `LICGATE_LOG=filter` and, when given, a umask;
    /// its log goes to the config's path with `.log`, appended.
    pub fn start_with(config: &Path, filter: &str, umask: Option<u32>) -> Daemon {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_extension("log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_licgate"));
        command
            .args(["run", "--config", config.to_str().unwrap()])
            .env("LICGATE_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(mask) = umask {
            // SAFETY: umask(2) is async-signal-safe; nothing else runs here.
            unsafe {
                command.pre_exec(move || {
                    libc::umask(mask as libc::mode_t);
                    Ok(())
                });
            }
        }
        Daemon {
            child: command.spawn().unwrap(),
        }
    }

    /// How the daemon ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for a clean exit; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().unwrap().success()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `licgate ARGS`; returns its exit code and standard output.
pub fn licgate(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_licgate"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The audit records of the purchasing notice of the removal answered
/// first, which the SMTP server refused for good.
pub async fn refused_notice(stack: &Stack, config: &Path) -> String {
    let reply = stack.messages(TECH, "INBOX").await.remove(0);
    let id = reply
        .lines()
        .find_map(|l| l.strip_prefix("X-Licgate-Request: "))
        .unwrap()
        .trim()
        .to_owned();
    let (code, records) = licgate(&[
        "audit",
        "show",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        &format!("{id}.notice"),
    ]);
    assert_eq!(code, 0, "{records}");
    assert!(records.contains("\"kind\": \"reply_refused\""), "{records}");
    records
}

/// Polls `probe` until it returns true, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !probe().await {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The subject of the usual test request.
pub const AJOUT: &str = "[AJOUT] Licence Office 365 - Boulangerie Martin";

/// The usual valid request: one Microsoft 365 Business Standard for Boulangerie Martin.
pub fn ajout(id: &str) -> String {
    request(id, AJOUT, "Microsoft 365 Business Standard", "")
}

/// The usual removal: one Microsoft 365 Business Standard of Boulangerie
/// Martin, for the user `Jean Dupont {id}`.
pub fn suppression(id: &str) -> String {
    request(
        id,
        "[SUPPRESSION] Licence Office 365 - Boulangerie Martin",
        "Microsoft 365 Business Standard",
        "",
    )
    .replace("Quantité : +1", "Quantité : -1")
}

/// A licence request mail from the technician, for the user `Jean Dupont {id}`
/// (so that two requests are never duplicates of each other).
pub fn request(id: &str, subject: &str, licence: &str, extra_headers: &str) -> String {
    format!(
        "From: Julie Bernard <{TECH}>\r\nTo: {GATEWAY}\r\n{extra_headers}Subject: {subject}\r\n\
         Message-ID: <{id}@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Nom du client : Boulangerie Martin\r\nType de licence : {licence}\r\nQuantité : +1\r\n\
         Nom Prénom de l'utilisateur : Jean Dupont {id}\r\nBureau à distance associé : NON\r\n"
    )
}
