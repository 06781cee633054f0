//! Sends queued replies over SMTP with lettre (implicit TLS, STARTTLS or plain
//! on loopback; AUTH when configured). The message bytes are sent as stored.

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Auth, Server, TlsMode};
use crate::store::OutboxItem;

/// An SMTP client for the configured server.
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Sender {
    /// Prepares the transport; connects only when sending.
    pub fn new(server: &Server) -> anyhow::Result<Sender> {
        let tls_parameters = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(server.host.clone());
            if let Some(path) = &server.ca_file {
                let pem = std::fs::read(path)
                    .with_context(|| format!("{}: cannot read CA file", path.display()))?;
                builder = builder.add_root_certificate(
                    Certificate::from_pem(&pem)
                        .with_context(|| format!("{}: bad CA file", path.display()))?,
                );
            }
            Ok(builder.build_rustls()?)
        };
        let tls = match server.tls {
            TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
            TlsMode::Starttls => Tls::Required(tls_parameters()?),
            TlsMode::None => Tls::None,
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
                .port(server.port)
                .tls(tls)
                .timeout(Some(server.timeout));
        if let (Some(username), Some(Auth::Password(password))) = (&server.username, &server.auth) {
            builder = builder
                .credentials(Credentials::new(
                    username.clone(),
                    password.expose().to_owned(),
                ))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Sender {
            transport: builder.build(),
        })
    }

    /// Sends one queued reply; `Ok` once the server accepted it.
    pub async fn send(&self, item: &OutboxItem) -> anyhow::Result<()> {
        let from = item.from.parse().context("bad envelope sender")?;
        let to = item
            .to
            .iter()
            .map(|a| a.parse())
            .collect::<Result<Vec<_>, _>>()
            .context("bad envelope recipient")?;
        let envelope = Envelope::new(Some(from), to)?;
        self.transport
            .send_raw(&envelope, item.message.as_bytes())
            .await?;
        Ok(())
    }
}
