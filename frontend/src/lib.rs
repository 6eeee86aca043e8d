//! `litellm-frontend`: the REST API and web UI of litellm-updater. It reads and writes only the
//! shared database; every action that needs the network becomes a job `litellm-sync` runs.
//!
//! - [`app::router`] is the whole HTTP surface: [`api`] (JSON), [`pages`] (HTML), [`auth`]'s guard;
//! - [`serve`] runs it on a bound listener until shutdown, with a header-read timeout and a
//!   connection cap; [`wait_for_schema`] holds start-up until the worker has migrated the database.

pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod config;
pub mod error;
pub mod pages;
pub mod probe;
pub mod state;
pub mod status;
pub mod throttle;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use shared::{Database, DbError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

pub use state::AppState;

/// Largest buffer a connection reads a request head (and body chunks) into: headers are small,
/// and 2,000 slow clients must not each hold hyper's default ~400 KiB.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long shutdown waits for requests in flight before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves the router on `listener` until `shutdown` completes, then lets requests in flight end.
///
/// Not `axum::serve`: it has no header-read timeout and no connection limit, so clients that send
/// half a request and wait (slowloris) pile up without bound. Here hyper's HTTP/1 builder closes
/// a connection that has not sent its headers within `header_read_timeout` (idle keep-alive
/// connections too), and at most `max_connections` are served at once: the next waits, unaccepted,
/// in the kernel's backlog. Each request carries the peer address as `ConnectInfo<SocketAddr>`
/// (the login throttle counts per address).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = state.settings.clone();
    let app = app::router(state);
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout).max_buf_size(READ_BUFFER_BYTES);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running {} s after shutdown began; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
    Ok(())
}

/// Waits until `litellm-sync` has brought the schema to the version this binary knows (the worker
/// owns migrations), logging while it waits. A newer schema is refused at once.
pub async fn wait_for_schema(db: &Database, poll: Duration) -> Result<(), DbError> {
    let mut logged = false;
    loop {
        let status = db.schema_status().await?;
        match status.applied {
            Some(found) if found > status.known => return Err(DbError::NewerSchema { found, known: status.known }),
            Some(found) if found == status.known => return Ok(()),
            applied => {
                if !logged {
                    tracing::info!(
                        database = %db.describe(), found = ?applied, needed = status.known,
                        "waiting for litellm-sync to create or migrate the database"
                    );
                    logged = true;
                }
                tokio::time::sleep(poll).await;
            }
        }
    }
}
