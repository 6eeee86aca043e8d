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
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        Self { db, settings: Arc::new(settings), throttle: Arc::new(Throttle::default()) }
    }

    pub fn pool(&self) -> &sqlx::SqlitePool {
        self.db.pool()
    }
}
