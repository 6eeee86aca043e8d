//! A TCP proxy on 127.0.0.1 in front of a server (PostgreSQL, in the failover tests) that can
//! cut its clients off as a network partition does: [`TcpProxy::cut`] drops every live
//! connection and black-holes new ones (accepted, never forwarded, never answered), and
//! [`TcpProxy::restore`] serves again. Everything it holds ends with the handle.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// Black-holed connections kept at most; further ones are closed at once.
const MAX_HELD: usize = 256;

#[derive(Debug, Default)]
struct State {
    cut: bool,
    next_id: u64,
    /// Forwarding tasks by connection, each removing itself when its connection ends.
    live: HashMap<u64, AbortHandle>,
    /// Connections accepted while cut: open, silent, closed at `restore`.
    held: Vec<TcpStream>,
}

impl State {
    fn drop_live(&mut self) {
        for (_, task) in self.live.drain() {
            task.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Handle to a running proxy; dropping it stops it and closes every connection it holds.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address of bound listener");
        let state = Arc::new(Mutex::new(State::default()));
        let accept = tokio::spawn(accept_loop(listener, target, state.clone()));
        Self { addr, state, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Drops every live connection; new ones are accepted and then get no byte either way.
    pub fn cut(&self) {
        let mut state = lock(&self.state);
        state.cut = true;
        state.drop_live();
    }

    /// Closes the black-holed connections and forwards new ones again.
    pub fn restore(&self) {
        let mut state = lock(&self.state);
        state.cut = false;
        state.held.clear();
    }

    /// Connections being forwarded right now.
    pub fn live_connections(&self) -> usize {
        lock(&self.state).live.len()
    }

    /// Connections accepted while cut and still held open.
    pub fn held_connections(&self) -> usize {
        lock(&self.state).held.len()
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        let mut state = lock(&self.state);
        state.drop_live();
        state.held.clear();
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, state: Arc<Mutex<State>>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of descriptors, or a connection reset before it was accepted: try again.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut guard = lock(&state);
        if guard.cut {
            if guard.held.len() < MAX_HELD {
                guard.held.push(client);
            }
            continue;
        }
        let id = guard.next_id;
        guard.next_id += 1;
        let own = state.clone();
        // The lock is held until the handle is stored, so the task's own removal comes after.
        let task = tokio::spawn(async move {
            let mut client = client;
            if let Ok(mut server) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
            lock(&own).live.remove(&id);
        });
        guard.live.insert(id, task.abort_handle());
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> std::io::Result<[u8; 4]> {
        stream.write_all(b"ping").await?;
        let mut answer = [0; 4];
        tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut answer))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        Ok(answer)
    }

    #[tokio::test]
    async fn cut_drops_live_connections_and_black_holes_new_ones_until_restored() {
        let proxy = TcpProxy::start(echo_server().await).await;
        let mut before = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(&round_trip(&mut before).await.expect("forwarded"), b"ping");
        assert_eq!(proxy.live_connections(), 1);

        proxy.cut();
        assert_eq!(proxy.live_connections(), 0);
        assert!(round_trip(&mut before).await.is_err(), "a live connection is dropped");
        let mut during = TcpStream::connect(proxy.addr()).await.expect("accepted while cut");
        let silent = round_trip(&mut during).await.expect_err("no answer while cut");
        assert_eq!(silent.kind(), std::io::ErrorKind::TimedOut, "black-holed, not refused");
        assert_eq!(proxy.held_connections(), 1);

        proxy.restore();
        assert_eq!(proxy.held_connections(), 0);
        let mut buf = [0; 1];
        let closed = tokio::time::timeout(Duration::from_secs(1), during.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "a held connection is closed at restore: {closed:?}");
        let mut after = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(&round_trip(&mut after).await.expect("forwarded again"), b"ping");

        drop(proxy);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(round_trip(&mut after).await.is_err(), "nothing outlives the handle");
    }
}
