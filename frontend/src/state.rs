//! What every handler gets: the database and the checked settings.

use std::sync::Arc;

use shared::Database;

use crate::config::Settings;
use crate::throttle::Throttle;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// Wrong admin tokens seen, per client and overall.
    pub throttle: Arc<Throttle>,
    /// A one-connection pool for reading raw metadata (see [`AppState::raw_reader`]).
    raw_reader: Arc<tokio::sync::OnceCell<Database>>,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            throttle: Arc::new(Throttle::default()),
            raw_reader: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The connection raw metadata is read on. To cut a stored answer SQLite loads all of it
    /// (15 MB, say); each pooled connection runs on its own thread, whose allocator arena keeps
    /// what it once held, so such reads on every connection of the pool would add up. One
    /// connection bounds it to one value's worth. Opened on first use. PostgreSQL cuts the value
    /// on the server, so there the shared pool serves.
    pub async fn raw_reader(&self) -> Result<&Database, shared::DbError> {
        let Some(path) = self.db.path() else { return Ok(&self.db) };
        self.raw_reader.get_or_try_init(|| Database::open_with(path, 1)).await
    }
}
