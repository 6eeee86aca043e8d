//! `litellm-frontend health`: knocks on this service's own `/health` over loopback, for container
//! health checks in images that have no curl. It is the one place the binary opens a connection,
//! and only ever to itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn health(address: SocketAddr) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.map_err(|e| format!("cannot connect to {address}: {e}"))?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut head = vec![0; 64];
        let read = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        let status_line = String::from_utf8_lossy(&head[..read]).lines().next().unwrap_or_default().to_owned();
        if status_line.split_whitespace().nth(1) == Some("200") {
            Ok(())
        } else {
            Err(format!("/health answered {status_line:?}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap_or_else(|_| Err(format!("{address} did not answer within 5 s")))
}
