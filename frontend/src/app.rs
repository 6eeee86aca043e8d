//! The whole HTTP surface: `/api/...` and the Python tool's paths (`api`), the HTML pages
//! (`pages`), `/health` and `/static/*`, behind the auth guard, a body-size limit and tracing.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{api, assets, auth, pages};

/// Largest request body accepted (forms and JSON are small; anything bigger is a mistake).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::router())
        .merge(pages::router())
        .route("/health", get(health))
        .route("/static/{*path}", get(assets::serve))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// 200 while the database file this process opened is still the one at its path: a deleted or
/// replaced file would leave this frontend serving what no worker writes any more.
async fn health(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match state.db.check_on_disk().lost() {
        None => axum::Json(serde_json::json!({ "status": "ok" })).into_response(),
        Some(problem) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unhealthy", "detail": problem })),
        )
            .into_response(),
    }
}
