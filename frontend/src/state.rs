//! What every handler gets: the database and the checked settings.

use std::sync::Arc;

use shared::Database;

use crate::config::Settings;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        Self { db, settings: Arc::new(settings) }
    }

    pub fn pool(&self) -> &sqlx::SqlitePool {
        self.db.pool()
    }
}
