//! `litellm-frontend`: the REST API and web UI of litellm-updater. It reads and writes only the
//! shared database; every action that needs the network becomes a job `litellm-sync` runs.
//!
//! - [`app::router`] is the whole HTTP surface: [`api`] (JSON), [`pages`] (HTML), [`auth`]'s guard;
//! - [`serve`] runs it on a bound listener until shutdown; [`wait_for_schema`] holds start-up until
//!   the worker has migrated the database.

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
use std::time::Duration;

use shared::{Database, DbError};
use tokio::net::TcpListener;

pub use state::AppState;

/// Serves the router on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
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
                        path = %db.path().display(), found = ?applied, needed = status.known,
                        "waiting for litellm-sync to create or migrate the database"
                    );
                    logged = true;
                }
                tokio::time::sleep(poll).await;
            }
        }
    }
}
