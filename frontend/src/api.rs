//! The REST API (SPEC §7): the Python tool's paths and field names, plus jobs, diagnostics,
//! sync history, plans, OpenAPI and metrics.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
