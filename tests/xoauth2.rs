//! XOAUTH2 end to end: the daemon gets its tokens from an OAuth2
//! client-credentials endpoint (a small HTTP server in this test, minting
//! HS256 JWTs) and logs in with them to Dovecot's IMAP and to Postfix's
//! submission port, which validate them locally (Dovecot's oauth2 passdb).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT_SECRET: &str = "s3cret value&more";

/// An HS256 JWT for `email`, as Dovecot's local validation expects it.
fn jwt(key_base64: &str, email: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims =
        serde_json::json!({"sub": "licgate", "email": email, "iat": now, "exp": now + 3600});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = STANDARD.decode(key_base64.trim()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Serves the token endpoint; counts the requests that carried the right client secret.
async fn token_endpoint(listener: tokio::net::TcpListener, key: String, granted: Arc<AtomicUsize>) {
    loop {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let length = socket.read(&mut request).await.unwrap();
        let request = String::from_utf8_lossy(&request[..length]).into_owned();
        let authorised = request.starts_with("POST /contoso/oauth2/v2.0/token ")
            && request.contains("grant_type=client_credentials")
            && request.contains("client_id=licgate-test")
            && request.contains("client_secret=s3cret+value%26more")
            && request.contains("scope=https%3A%2F%2Foutlook.office365.com%2F.default");
        let (status, body) = if authorised {
            granted.fetch_add(1, Ordering::SeqCst);
            let token = jwt(&key, GATEWAY);
            (
                "200 OK",
                format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#),
            )
        } else {
            (
                "401 Unauthorized",
                r#"{"error":"invalid_client"}"#.to_owned(),
            )
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_in_to_imap_and_smtp_with_xoauth2_tokens() {
    let stack = Stack::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let granted = Arc::new(AtomicUsize::new(0));
    tokio::spawn(token_endpoint(listener, stack.oauth_key(), granted.clone()));
    let secret = stack.run.join("client-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let auth = format!(
        "method = \"xoauth2\"\ntoken-url = \"http://127.0.0.1:{port}/contoso/oauth2/v2.0/token\"\n\
         client-id = \"licgate-test\"\nclient-secret-file = \"{}\"\nscope = \"https://outlook.office365.com/.default\"",
        secret.display()
    );
    // IMAP over implicit TLS (IMAPS) here; the other tests use STARTTLS.
    let config = stack.config_with_auth(&auth, "");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        &format!("port = {}\ntls = \"starttls\"", stack.imap_port),
        &format!("port = {}\ntls = \"implicit\"", stack.imap_port + 1),
        1,
    );
    assert!(text.contains("tls = \"implicit\""));
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    let subject = "[AJOUT] Licence Office 365 - Boulangerie Martin";
    stack
        .append(
            GATEWAY,
            &request("oauth", subject, "Microsoft 365 Business Standard", ""),
            MONDAY_10H,
        )
        .await;
    eventually(
        Duration::from_secs(30),
        "mail decided and reply delivered",
        || async {
            stack.count(GATEWAY, "licgate/acceptees").await == 1
                && stack.count(TECH, "INBOX").await == 1
        },
    )
    .await;
    assert!(daemon.terminate());
    assert!(
        granted.load(Ordering::SeqCst) >= 2,
        "one token for IMAP, one for SMTP"
    );
    let log = std::fs::read_to_string(stack.run.join("licgate.log")).unwrap();
    assert!(
        !log.contains(CLIENT_SECRET) && !log.contains("eyJ"),
        "no secret nor token in the logs:\n{log}"
    );
}
