//! The HTML UI (SPEC §7): server-rendered pages, usable without JavaScript.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
