//! The REST API (SPEC §7): the Python tool's paths and field names, plus jobs, diagnostics,
//! sync history, plans, OpenAPI and metrics. One module per resource; every route is declared
//! with its OpenAPI description, so the document served at `/api/openapi.json` lists exactly
//! the routes the router serves.

mod admin;
mod compat;
mod diagnostics;
pub mod input;
mod jobs;
mod litellm;
mod metrics;
mod models;
mod presets;
pub(crate) mod pricing;
mod providers;
pub(crate) mod routing;

use std::sync::LazyLock;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// Every error's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub detail: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "litellm-updater",
        description = "REST API of litellm-frontend. Actions that need the network answer 202 with a job \
                       (follow it at /api/jobs/{id}, or pass ?wait=<seconds>). Errors are {\"detail\": \"...\"}. \
                       With ADMIN_TOKEN set, send Authorization: Bearer <token>."
    ),
    tags(
        (name = "providers", description = "Upstream model servers"),
        (name = "models", description = "Discovered models and the operator's overrides"),
        (name = "compat", description = "OpenAI-name aliases served by local models"),
        (name = "admin", description = "LiteLLM connection and global settings"),
        (name = "litellm", description = "What LiteLLM holds (the worker's last snapshot)"),
        (name = "jobs", description = "Actions queued for the worker"),
        (name = "routing", description = "Routing groups and fallbacks"),
        (name = "pricing", description = "Pricing profiles, rate limits and effective prices"),
        (name = "status", description = "Diagnostics, history, plans, metrics")
    )
)]
struct ApiDoc;

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(providers::routes())
        .merge(presets::routes())
        .merge(routing::routes())
        .merge(pricing::routes())
        .merge(models::routes())
        .merge(compat::routes())
        .merge(admin::routes())
        .merge(litellm::routes())
        .merge(jobs::routes())
        .merge(diagnostics::routes())
        .merge(metrics::routes())
        .routes(routes!(openapi_json))
}

pub fn router() -> Router<AppState> {
    let (router, _) = documented().split_for_parts();
    router.method_not_allowed_fallback(method_not_allowed).route("/api/{*rest}", any(unknown_route))
}

/// The OpenAPI 3 document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented().into_openapi();
    // Handler names repeat across modules and one handler may serve several methods: name each
    // operation by method and path (`patch_api_providers_id`), which is unique.
    for (path, item) in doc.paths.paths.iter_mut() {
        let slug: String = path
            .chars()
            .filter(|c| !matches!(c, '{' | '}'))
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                operation.operation_id = Some(format!("{method}{slug}").replace("__", "_"));
            }
        }
    }
    doc
}

static OPENAPI_JSON: LazyLock<Value> = LazyLock::new(|| serde_json::to_value(openapi()).unwrap_or_default());

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "status",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
async fn openapi_json() -> axum::Json<Value> {
    axum::Json(OPENAPI_JSON.clone())
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("no such API route (see /api/openapi.json)")
}

async fn method_not_allowed() -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route (see /api/openapi.json)")
        .into_response()
}

/// `value` with every secret-named value masked (`••••` + last 4): upstream answers, user params
/// and job results are shown, the keys in them never are ([`shared::secret::mask_json`]).
pub fn redact(value: Value) -> Value {
    shared::secret::mask_json(value)
}

/// Per-token prices (the shape of every `pricing_override` and `default_pricing`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PricingDoc {
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
}

/// A simple `{"status": ..., ...}` acknowledgement (the Python tool's answers).
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub status: &'static str,
    pub message: String,
}

impl Done {
    pub(crate) fn new(status: &'static str, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_masked_wherever_they_are() {
        let value = json!({"a": {"api_key": "sk-1234567890abcd", "n": 1}, "list": [{"litellm_api_key": "x"}],
                           "api_key": null});
        assert_eq!(
            redact(value),
            json!({"a": {"api_key": "••••abcd", "n": 1}, "list": [{"litellm_api_key": "••••"}],
                                          "api_key": null})
        );
    }
}
