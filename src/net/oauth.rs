//! OAuth2 client-credentials flow for XOAUTH2 (Exchange Online: IMAP.AccessAsApp,
//! SMTP.SendAsApp): fetches an access token from the token endpoint, caches it,
//! and fetches a new one a minute before it expires.
//!
//! The HTTP exchange is one small form POST, done here over tokio and rustls
//! (HTTPS; plain HTTP only for a loopback endpoint, as in tests).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use jiff::Timestamp;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::Secret;

/// Where and how to ask for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// `https://outlook.office365.com/.default`.
    pub scope: String,
}

/// Checks the token URL when the configuration is read.
pub fn validate(credentials: &ClientCredentials) -> anyhow::Result<()> {
    Url::parse(&credentials.token_url).map(|_| ())
}

/// Hands out a valid access token, fetching a new one when needed.
#[derive(Debug, Clone)]
pub struct TokenSource {
    credentials: ClientCredentials,
    /// The current token and when it stops being used.
    cached: Arc<Mutex<Option<(Secret, Timestamp)>>>,
    /// Time allowed for the whole exchange.
    timeout: Duration,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<i64>,
}

impl TokenSource {
    pub fn new(credentials: ClientCredentials, timeout: Duration) -> TokenSource {
        TokenSource {
            credentials,
            cached: Arc::new(Mutex::new(None)),
            timeout,
        }
    }

    /// A token valid for at least another minute.
    pub async fn token(&self) -> anyhow::Result<Secret> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Timestamp::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let response = tokio::time::timeout(self.timeout, self.fetch())
            .await
            .map_err(|_| anyhow!("token endpoint: no answer within {:?}", self.timeout))??;
        let renew_at = renewal_time(Timestamp::now(), response.expires_in);
        let token = Secret::new(response.access_token);
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }

    async fn fetch(&self) -> anyhow::Result<TokenResponse> {
        let url = Url::parse(&self.credentials.token_url)?;
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            form_encode(&self.credentials.client_id),
            form_encode(self.credentials.client_secret.expose()),
            form_encode(&self.credentials.scope)
        );
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n{form}",
            url.path,
            url.host,
            form.len()
        );
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .with_context(|| format!("token endpoint {}:{}", url.host, url.port))?;
        let response = if url.https {
            let config = crate::net::tls::client_config(None)?;
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            exchange(tls, request.as_bytes()).await?
        } else {
            exchange(tcp, request.as_bytes()).await?
        };
        let (status, body) = parse_response(&response)?;
        if status != 200 {
            // The body names the error (invalid_client...) and holds no secret.
            bail!(
                "token endpoint answered {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
        serde_json::from_slice(&body).context("token endpoint: not a token response")
    }
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &[u8],
) -> anyhow::Result<Vec<u8>> {
    stream.write_all(request).await?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response).await?;
    Ok(response)
}

/// The status code and the body (de-chunked) of an HTTP/1.1 response.
fn parse_response(response: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("token endpoint: truncated response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("token endpoint: no HTTP status")?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut decoded = Vec::new();
    let mut rest = body;
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunked body")?;
        let size_text = String::from_utf8_lossy(&rest[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok((status, decoded));
        }
        decoded.extend_from_slice(rest.get(..size).context("truncated chunk")?);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// `application/x-www-form-urlencoded` escaping.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The parts of a token URL.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    fn parse(url: &str) -> anyhow::Result<Url> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            bail!("token-url: « {url} » is not an http(s) URL");
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .with_context(|| format!("token-url: bad port in {url}"))?,
            ),
            None => (authority, if https { 443 } else { 80 }),
        };
        if !(https || super::is_loopback(host)) {
            bail!("token-url: plain http is allowed only for a loopback host, not {host}");
        }
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// When a token given at `now` for `expires_in` seconds is renewed: a
/// minute before it expires. The lifetime is clamped to 2 minutes - 1 day:
/// a huge `expires_in` once overflowed the timestamp, a panic that left the
/// daemon without a token.
fn renewal_time(now: Timestamp, expires_in: Option<i64>) -> Timestamp {
    let lifetime = expires_in.unwrap_or(3600).clamp(120, 86_400);
    now + jiff::SignedDuration::from_secs(lifetime - 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 8, item 12: `expires_in` of i64::MAX panicked in the token task.
    #[test]
    fn any_token_lifetime_gives_a_renewal_time() {
        let now: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        for (expires_in, renew_at) in [
            (Some(i64::MAX), "2026-11-24T09:59:00Z"),
            (Some(i64::MIN), "2026-11-23T10:01:00Z"),
            (Some(3600), "2026-11-23T10:59:00Z"),
            (None, "2026-11-23T10:59:00Z"),
        ] {
            assert_eq!(renewal_time(now, expires_in).to_string(), renew_at);
        }
    }

    #[test]
    fn token_urls() {
        let url =
            Url::parse("https://login.microsoftonline.com/contoso/oauth2/v2.0/token").unwrap();
        assert_eq!(
            url,
            Url {
                https: true,
                host: "login.microsoftonline.com".into(),
                port: 443,
                path: "/contoso/oauth2/v2.0/token".into()
            }
        );
        assert_eq!(Url::parse("http://127.0.0.1:8080/t").unwrap().port, 8080);
        assert!(Url::parse("http://login.example.com/t").is_err());
        assert!(Url::parse("ftp://x/t").is_err());
    }

    #[test]
    fn responses_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{}".to_vec()));
        let chunked = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (400, b"abcde".to_vec()));
    }

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(
            form_encode("https://outlook.office365.com/.default"),
            "https%3A%2F%2Foutlook.office365.com%2F.default"
        );
        assert_eq!(form_encode("a b&c"), "a+b%26c");
    }
}
