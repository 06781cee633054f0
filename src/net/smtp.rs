//! Sends queued replies over SMTP with lettre (implicit TLS, STARTTLS or plain
//! on loopback; AUTH PLAIN/LOGIN with a password, or XOAUTH2 with a token).
//! The message bytes are sent as stored.

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Mutex;

use super::{Auth, Failure, Outbound, OutgoingMail, SendError, Server, TlsMode};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// An SMTP client for the configured server.
pub struct Sender {
    server: Server,
    /// The transport (and its connection pool), with the token it logs in
    /// with under XOAUTH2: rebuilt when the token changes.
    transport: Mutex<Option<(Option<String>, Transport)>>,
}

impl Sender {
    /// Checks the TLS settings; connects only when sending.
    pub fn new(server: &Server) -> anyhow::Result<Sender> {
        build(server, None)?;
        Ok(Sender {
            server: server.clone(),
            transport: Mutex::new(None),
        })
    }

    /// Connects and logs in as the daemon would, sends nothing
    /// (`licgate config check --connect`).
    pub async fn check_login(&self) -> anyhow::Result<()> {
        let transport = self.transport().await?;
        let connected = tokio::time::timeout(self.server.timeout, transport.test_connection())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "pas de réponse en {} s : le serveur est-il joignable ?",
                    self.server.timeout.as_secs()
                )
            })?
            .map_err(|err| {
                let (code, words, _) = described(&err);
                match code.as_deref() {
                    Some("530" | "534" | "535" | "538") => anyhow::anyhow!(
                        "{words} : vérifiez le nom d'utilisateur (smtp.username) et le secret \
                         de [smtp.auth]"
                    ),
                    _ => anyhow::anyhow!("{words}"),
                }
            })?;
        anyhow::ensure!(connected, "le serveur a fermé la connexion");
        Ok(())
    }

    /// Sends one mail; `Ok` once the server accepted it.
    async fn send_mail(&self, mail: OutgoingMail<'_>) -> Result<(), SendError> {
        let parse = |address: &str| {
            address.parse().map_err(|err| SendError {
                failure: Failure::Refused,
                reason: format!("bad envelope address {address:?}: {err}"),
            })
        };
        let from = parse(mail.from)?;
        let to = mail
            .to
            .iter()
            .map(|a| parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(Some(from), to).map_err(|err| SendError {
            failure: Failure::Refused,
            reason: format!("bad envelope: {err}"),
        })?;
        let transport = self.transport().await.map_err(|err| SendError {
            failure: Failure::Temporary,
            reason: format!("{err:#}"),
        })?;
        transport
            .send_raw(&envelope, mail.message)
            .await
            .map_err(|err| {
                let (code, reason, answer) = described(&err);
                SendError {
                    failure: classify(code.as_deref(), &answer),
                    reason,
                }
            })?;
        Ok(())
    }

    async fn transport(&self) -> anyhow::Result<Transport> {
        let token = match &self.server.auth {
            Some(Auth::Xoauth2(tokens)) => Some(tokens.token().await?.expose().to_owned()),
            _ => None,
        };
        let mut cached = self.transport.lock().await;
        if let Some((cached_token, transport)) = cached.as_ref()
            && *cached_token == token
        {
            return Ok(transport.clone());
        }
        let transport = build(&self.server, token.as_deref())?;
        *cached = Some((token, transport.clone()));
        Ok(transport)
    }
}

impl Outbound for Sender {
    fn send(
        &self,
        mail: OutgoingMail<'_>,
    ) -> impl std::future::Future<Output = Result<(), SendError>> + Send {
        self.send_mail(mail)
    }
}

fn build(server: &Server, token: Option<&str>) -> anyhow::Result<Transport> {
    let tls_parameters = || -> anyhow::Result<TlsParameters> {
        let mut builder = TlsParameters::builder(server.host.clone());
        if let Some(path) = &server.ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("{}: cannot read CA file", path.display()))?;
            let certificate = Certificate::from_pem(&pem)
                .with_context(|| format!("{}: bad CA file", path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(builder.build_rustls()?)
    };
    let tls = match server.tls {
        TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
        TlsMode::Starttls => Tls::Required(tls_parameters()?),
        TlsMode::None => Tls::None,
    };
    let mut builder = Transport::builder_dangerous(server.host.clone())
        .port(server.port)
        .tls(tls)
        .timeout(Some(server.timeout));
    let username = server.username.clone().unwrap_or_default();
    match (&server.auth, token) {
        (Some(Auth::Password(password)), _) => {
            builder = builder
                .credentials(Credentials::new(username, password.expose().to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        (Some(Auth::Xoauth2(_)), Some(token)) => {
            builder = builder
                .credentials(Credentials::new(username, token.to_owned()))
                .authentication(vec![Mechanism::Xoauth2]);
        }
        _ => {}
    }
    Ok(builder.build())
}

/// What the server's answer `code` (none: no answer at all) with its `text`
/// means for the mail.
/// What went wrong with the SMTP server, in one sentence for a person (the
/// server's code and its own words when it answered, else the cause), with
/// the code and the server's answer alone, for [`classify`].
fn described(err: &lettre::transport::smtp::Error) -> (Option<String>, String, String) {
    use std::error::Error as _;
    // NOTE: lettre's Display already ends with its source; anyhow's `{:#}`
    // added it again, so each reason was said twice.
    let answer = err.source().map(ToString::to_string).unwrap_or_default();
    let code = err.status().map(|code| code.to_string());
    let words = if let Some(code) = &code {
        let kind = if err.is_permanent() {
            "refus définitif"
        } else {
            "refus temporaire"
        };
        format!(
            "{kind} du serveur SMTP ({code}) : « {} »",
            crate::text::cap(&answer, 300)
        )
    } else if err.is_timeout() {
        "le serveur SMTP n'a pas répondu dans le délai (smtp.timeout)".to_owned()
    } else if err.is_tls() {
        format!("échec de la négociation TLS avec le serveur SMTP ({answer})")
    } else {
        let mut cause = err.source();
        let io = std::iter::from_fn(|| {
            let current = cause?;
            cause = current.source();
            Some(current)
        })
        .find_map(|e| e.downcast_ref::<std::io::Error>());
        match io {
            Some(io) => format!(
                "connexion au serveur SMTP impossible ({}) : le serveur est-il démarré, l'hôte \
                 et le port sont-ils justes ?",
                crate::text::io_reason(io)
            ),
            None if answer.is_empty() => err.to_string(),
            None => format!("{err} ({answer})"),
        }
    };
    (code, words, answer)
}

/// What a refusal means for the mail, from the code and the server's answer.
fn classify(code: Option<&str>, text: &str) -> Failure {
    let Some(code) = code else {
        return Failure::Temporary;
    };
    // Exchange Online refuses a mailbox that may not send as the gateway's
    // address, or a tenant without SMTP AUTH, with a 5xx too: recognised by
    // the enhanced code that opens the server's text (RFC 3463), never by
    // words elsewhere in it, which may quote an address the sender chose.
    let enhanced = text
        .split_once("): ")
        .map_or(text, |(_, answer)| answer)
        .split_whitespace()
        .next()
        .unwrap_or_default();
    let gateway_refused = ["5.7.60", "5.2.252", "5.7.57", "5.7.139"].contains(&enhanced);
    match code {
        // RFC 4954: authentication required, too weak, refused, or needing
        // encryption: the gateway's own account is at fault.
        "530" | "534" | "535" | "538" => Failure::Gateway,
        code if code.starts_with('5') && gateway_refused => Failure::Gateway,
        code if code.starts_with('5') => Failure::Refused,
        _ => Failure::Temporary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 8, item 7: only 550-554 were permanent; a SendAsDenied dropped
    // every reply while status said all was well (found by review).
    #[test]
    fn every_5xx_is_permanent_but_those_about_the_gateway() {
        assert_eq!(classify(Some("554"), "5.7.1 refused"), Failure::Refused);
        assert_eq!(classify(Some("557"), "refused"), Failure::Refused);
        assert_eq!(classify(Some("501"), "5.1.3 bad address"), Failure::Refused);
        assert_eq!(
            classify(Some("535"), "5.7.8 authentication failed"),
            Failure::Gateway
        );
        assert_eq!(
            classify(Some("530"), "5.7.57 Client not authenticated"),
            Failure::Gateway
        );
        assert_eq!(
            classify(
                Some("554"),
                "permanent error (554): 5.2.252 SendAsDenied; licences@x not allowed to send as y"
            ),
            Failure::Gateway
        );
        // Found by review: a recipient named after an enhanced code paused
        // sending for good.
        assert_eq!(
            classify(
                Some("550"),
                "permanent error (550): 5.1.1 <5.7.60@example.test>: Recipient address rejected"
            ),
            Failure::Refused
        );
        assert_eq!(classify(Some("450"), "4.7.1 deferred"), Failure::Temporary);
        assert_eq!(classify(Some("421"), "closing"), Failure::Temporary);
        assert_eq!(classify(None, "connection refused"), Failure::Temporary);
    }
}
