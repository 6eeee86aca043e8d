//! The HTML UI (SPEC §7): server-rendered pages, usable without JavaScript. Forms post to page
//! routes and redirect back (post/redirect/get); actions that need the network enqueue a job and
//! redirect to its page, which `static/app.js` turns into progress shown in place.

mod chrome;
mod compat;
mod form;
mod history;
mod jobs;
mod list;
mod litellm;
mod login;
mod models;
mod overview;
mod plan;
mod pricing;
mod providers;
mod routing;
mod settings;
mod view;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub use chrome::{Chrome, PageError, PageResult};

/// Pages load nothing from elsewhere and run no inline script: a second line of defence should
/// upstream text ever slip past escaping.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/providers", get(providers::list).post(providers::create))
        .route("/providers/new", get(providers::new_form))
        .route("/providers/test", post(providers::test_unsaved))
        .route("/providers/sync-all", post(providers::sync_all))
        .route("/providers/fetch-all", post(providers::fetch_all))
        .route("/providers/push-all", post(providers::push_all))
        .route("/providers/{id}", get(providers::edit_form).post(providers::update))
        .route("/providers/{id}/enabled", post(providers::set_enabled))
        .route("/providers/{id}/delete", post(providers::delete))
        .route("/providers/{id}/sync", post(providers::sync))
        .route("/providers/{id}/fetch", post(providers::fetch))
        .route("/providers/{id}/push", post(providers::push))
        .route("/providers/{id}/test", post(providers::test))
        .route("/models", get(models::list))
        .route("/models/{id}", get(models::detail).post(models::save))
        .route("/models/{id}/refresh", post(models::refresh))
        .route("/models/{id}/push", post(models::push))
        .route("/compat", get(compat::list).post(compat::add))
        .route("/compat/register-defaults", post(compat::register_defaults))
        .route("/compat/{id}", get(compat::edit_form).post(compat::update))
        .route("/compat/{id}/delete", post(compat::delete))
        .route("/routing", get(routing::page).post(routing::create))
        .route("/routing/fallbacks", post(routing::set_fallback))
        .route("/routing/fallbacks/delete", post(routing::delete_fallback))
        .route("/routing/{id}", get(routing::edit_form).post(routing::update))
        .route("/routing/{id}/delete", post(routing::delete))
        .route("/pricing", get(pricing::page))
        .route("/pricing/profiles", post(pricing::save_profile))
        .route("/pricing/profiles/{name}/delete", post(pricing::delete_profile))
        .route("/pricing/providers/{id}", post(pricing::save_provider))
        .route("/models/{id}/pricing", post(pricing::save_model))
        .route("/migration", get(pricing::migration))
        .route("/litellm", get(litellm::page).post(litellm::delete))
        .route("/admin", get(settings::page).post(settings::save))
        .route("/admin/test-litellm", post(settings::test_litellm))
        .route("/history", get(history::page))
        .route("/plan", get(plan::page).post(plan::compute))
        .route("/plan/{id}/apply", post(plan::apply))
        .route("/jobs/{id}", get(jobs::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}
