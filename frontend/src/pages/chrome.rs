//! What every page shares: the top bar (pages, worker light, last sync, logout), the one-line
//! notice a redirect carries, and the error page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use shared::DbError;
use shared::db::litellm_health::{self, LiteLlmHealth};

use super::view::Stamp;
use crate::state::AppState;
use crate::status;

const PAGES: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/providers", "Providers"),
    ("/models", "Models"),
    ("/compat", "Compat"),
    ("/routing", "Routing"),
    ("/pricing", "Pricing"),
    ("/litellm", "LiteLLM"),
    ("/history", "History"),
    ("/plan", "Plan"),
    ("/admin", "Settings"),
];

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The top bar of a page. Extracting it reads the worker's heartbeat, so every page shows
/// whether actions will run.
pub struct Chrome {
    pub nav: Vec<NavItem>,
    pub worker: Option<WorkerLight>,
    pub litellm: Option<WorkerLight>,
    pub last_sync: Option<Stamp>,
    pub logout: bool,
    pub notice: Option<&'static str>,
}

pub struct WorkerLight {
    pub online: bool,
    pub text: String,
    pub detail: String,
}

impl Chrome {
    /// The bar without anything read from the database (login and error pages).
    pub fn bare(state: &AppState, path: &str, with_nav: bool) -> Self {
        Self {
            nav: if with_nav { nav(path) } else { Vec::new() },
            worker: None,
            litellm: None,
            last_sync: None,
            logout: with_nav && state.settings.admin_token.is_some(),
            notice: None,
        }
    }
}

fn nav(path: &str) -> Vec<NavItem> {
    let section = match path.split('/').nth(1).unwrap_or("") {
        "jobs" => "history",
        other => other,
    };
    PAGES
        .iter()
        .map(|&(href, label)| NavItem { href, label, current: href.trim_start_matches('/') == section })
        .collect()
}

impl FromRequestParts<AppState> for Chrome {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let summary = status::worker_summary(&state.db).await?;
        let worker = if summary.online {
            let step = summary.current_step.as_deref().map(|s| format!(", {s}")).unwrap_or_default();
            let version = summary.version.as_deref().unwrap_or("?");
            let standbys = match summary.standbys {
                0 => String::new(),
                1 => "; 1 standby worker".into(),
                n => format!("; {n} standby workers"),
            };
            WorkerLight {
                online: true,
                text: "worker online".into(),
                detail: format!("litellm-sync {version}: {}{step}{standbys}", summary.state),
            }
        } else if let Some(beat) = &summary.last_beat {
            WorkerLight {
                online: false,
                text: format!("worker offline since {}", Stamp::new(beat).text),
                detail: "litellm-sync is not running: actions wait in the queue until it starts".into(),
            }
        } else {
            WorkerLight {
                online: false,
                text: "worker never seen".into(),
                detail: "litellm-sync has never run against this database: start it to run actions".into(),
            }
        };
        let notice = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "notice").and_then(|(_, v)| notice(&v))
        });
        let mut chrome = Self::bare(state, parts.uri.path(), true);
        chrome.worker = Some(worker);
        chrome.litellm = Some(litellm_light(litellm_health::latest(&state.db).await?));
        chrome.last_sync = summary.last_sync_at.as_deref().map(Stamp::new);
        chrome.notice = notice;
        Ok(chrome)
    }
}

/// The LiteLLM light: the worker's latest read of LiteLLM, with why it failed and when.
fn litellm_light(health: Option<LiteLlmHealth>) -> WorkerLight {
    match health {
        None => WorkerLight {
            online: false,
            text: "LiteLLM: not read yet".into(),
            detail:
                "the worker has not read LiteLLM yet: a push, a plan or \"Test LiteLLM connection\" in Settings does"
                    .into(),
        },
        Some(health) => {
            let at = Stamp::new(&health.checked_at).text;
            let time = at.split_once(' ').map_or(at.as_str(), |(_, time)| time);
            if health.ok {
                WorkerLight { online: true, text: "LiteLLM ok".into(), detail: format!("last read ok at {at}") }
            } else {
                WorkerLight {
                    online: false,
                    text: format!("LiteLLM: {} at {time}", health.reason.as_deref().unwrap_or("failed")),
                    detail: health.detail.unwrap_or_default(),
                }
            }
        }
    }
}

/// Notices travel as fixed codes, so a crafted link cannot put words on the page.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "provider-added" => {
            "Provider added. The worker syncs it now: its models are fetched and pushed to LiteLLM \
             (disable it to review them first)."
        }
        "provider-added-manual" => {
            "Provider added. Automatic syncs are off: nothing reaches LiteLLM until you Sync it."
        }
        "provider-added-disabled" => {
            "Provider added, disabled: nothing is fetched or pushed to LiteLLM until you enable it."
        }
        "provider-saved" => "Provider saved.",
        "provider-deleted" => "Provider deleted. Its LiteLLM entries are removed at the next push.",
        "provider-enabled" => "Provider enabled: it is synced again.",
        "provider-disabled" => "Provider disabled: the next push removes its models from LiteLLM.",
        "model-saved" => "Overrides saved. They reach LiteLLM at the next push.",
        "alias-added" => "Alias added. It reaches LiteLLM at the next push.",
        "alias-saved" => "Alias saved.",
        "alias-deleted" => "Alias deleted.",
        "settings-saved" => "Settings saved.",
        "group-saved" => "Routing group saved. It reaches LiteLLM at the next push.",
        "group-deleted" => "Routing group deleted. The next push removes its LiteLLM entries.",
        "fallback-saved" => "Fallback saved. It reaches LiteLLM at the next push of everything.",
        "fallback-deleted" => "Fallback deleted. The next push of everything removes it from LiteLLM.",
        "profile-saved" => "Pricing profile saved. Prices change in LiteLLM at the next push.",
        "profile-deleted" => "Pricing profile deleted.",
        "pricing-saved" => "Pricing and rate limits saved. They reach LiteLLM at the next push.",
        "nothing-selected" => "Nothing was selected: tick the entries to delete first.",
        _ => return None,
    })
}

/// An HTML error page with its status.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

pub type PageResult<T> = Result<T, PageError>;

impl PageError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: what.into() }
    }

    /// An action refused in the state things are in (a plan that cannot be applied).
    pub fn conflict(why: impl Into<String>) -> Self {
        Self { status: StatusCode::CONFLICT, message: why.into() }
    }
}

impl From<DbError> for PageError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Invalid(message) => Self { status: StatusCode::UNPROCESSABLE_ENTITY, message },
            DbError::Conflict(message) => Self { status: StatusCode::CONFLICT, message },
            other => {
                tracing::error!(error = %other, "database error");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "database error; see the frontend's log".into(),
                }
            }
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let chrome = Chrome { nav: nav(""), worker: None, litellm: None, last_sync: None, logout: false, notice: None };
        let status = format!("{} {}", self.status.as_u16(), self.status.canonical_reason().unwrap_or(""));
        (self.status, ErrorPage { chrome, status, message: self.message }).into_response()
    }
}
