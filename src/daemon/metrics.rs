//! Serves the daemon's [`Status`] to Prometheus (`[metrics] listen`): a
//! minimal HTTP responder for `GET /metrics`, bounded in time and size.

use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::warn;

use crate::store::status::Status;

/// Serves `GET /metrics` on `listener` from the store, until the task is dropped.
pub async fn serve_metrics(listener: TcpListener, shared: super::Shared) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let store = shared.store.clone();
        let zone = shared.rules().calendar.time_zone.clone();
        let (rules_refused, rules_refusals) = shared.rules_refused().clone();
        tokio::spawn(async move {
            let mut request = vec![0; 2048];
            let read =
                tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
            let Ok(Ok(length)) = read else { return };
            let line = String::from_utf8_lossy(&request[..length]);
            let response = if line.starts_with("GET /metrics ") {
                match Status::collect(&store, Timestamp::now(), &zone) {
                    Ok(mut status) => {
                        status.rules_refused = rules_refused;
                        status.rules_refusals = rules_refusals;
                        let body = status.prometheus();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    Err(err) => {
                        warn!(cause = %format!("{err:#}"), "métriques indisponibles");
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
                    }
                }
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            };
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                socket.write_all(response.as_bytes()),
            )
            .await;
        });
    }
}
