//! `GET /metrics`: Prometheus text format (exposition format 0.0.4), written by hand.

use shared::db::models::ModelStatus;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use shared::db::{jobs, models};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::status;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const RUN_STATUSES: [&str; 3] = ["ok", "warning", "failed"];

/// Models by state, per-provider sync age and outcome, job queue depth, worker heartbeat.
#[utoipa::path(get, path = "/metrics", tag = "status",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let pool = &state.db;
    let counts = models::status_counts(pool).await?;
    let mut runs: Vec<_> = status::last_runs(pool).await?.into_values().collect();
    runs.sort_by(|a, b| a.provider_name.cmp(&b.provider_name));
    let queue = jobs::queue_depth(pool).await?;
    let worker = status::worker_summary(pool).await?;
    let now = OffsetDateTime::now_utc();

    let mut out = Metrics::default();
    out.family("litellm_updater_models", "Models by state (compat aliases not counted).");
    for (state, value) in ModelStatus::ALL.map(|s| (s.as_str(), counts.get(s))) {
        out.sample("litellm_updater_models", &[("state", state)], value as f64);
    }

    out.family("litellm_updater_provider_sync_age_seconds", "Seconds since the provider's latest fetch or sync ended.");
    for run in &runs {
        let ended = run.finished_at.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        if let Some(ended) = ended {
            let age = (now - ended).as_seconds_f64().max(0.0);
            out.sample("litellm_updater_provider_sync_age_seconds", &provider_labels(run), age);
        }
    }

    out.family(
        "litellm_updater_provider_last_sync_status",
        "Outcome of the provider's latest fetch or sync: 1 for the status it ended with.",
    );
    for run in &runs {
        for status in RUN_STATUSES {
            let mut labels = provider_labels(run);
            labels.push(("status", status));
            let value = if run.status == status { 1.0 } else { 0.0 };
            out.sample("litellm_updater_provider_last_sync_status", &labels, value);
        }
    }

    out.family("litellm_updater_job_queue_depth", "Jobs queued or running.");
    out.sample("litellm_updater_job_queue_depth", &[], queue as f64);

    if let Some(age) = worker.seconds_since_beat {
        out.family("litellm_updater_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.");
        out.sample("litellm_updater_worker_heartbeat_age_seconds", &[], age.max(0.0));
    }
    out.family("litellm_updater_worker_online", "1 when the worker's heartbeat is recent, else 0.");
    out.sample("litellm_updater_worker_online", &[], if worker.online { 1.0 } else { 0.0 });

    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], out.text))
}

fn provider_labels(run: &shared::db::sync_runs::SyncRun) -> Vec<(&'static str, &str)> {
    vec![("provider", run.provider_name.as_deref().unwrap_or(""))]
}

#[derive(Default)]
struct Metrics {
    text: String,
}

impl Metrics {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.text, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// Label values escape backslash, double quote and newline (the format's three escapes); a
/// carriage return, which scrapers also read as a line end, is written as `\r`.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_written_in_the_text_format() {
        let mut metrics = Metrics::default();
        metrics.family("m", "Help.");
        metrics.sample("m", &[("provider", "a\"b\\c\nd")], 1.5);
        metrics.sample("m", &[], 2.0);
        assert_eq!(metrics.text, "# HELP m Help.\n# TYPE m gauge\nm{provider=\"a\\\"b\\\\c\\nd\"} 1.5\nm 2\n");
    }

    #[test]
    fn no_label_value_ends_a_line() {
        let mut metrics = Metrics::default();
        metrics.sample("m", &[("provider", "lab\r\nm{provider=\"forged\"} 1\r")], 1.0);
        assert_eq!(metrics.text.lines().count(), 1, "{:?}", metrics.text);
        assert!(!metrics.text.contains('\r'));
        assert_eq!(metrics.text, "m{provider=\"lab\\r\\nm{provider=\\\"forged\\\"} 1\\r\"} 1\n");
    }
}
