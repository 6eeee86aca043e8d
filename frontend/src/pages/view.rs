//! Display helpers shared by the pages: timestamps, status badges, numbers and JSON as text.

use serde_json::Value;
use shared::db::models::ModelStatus;
use shared::db::sync_runs::SyncRun;

/// A stored timestamp, as a `<time>` element shows it (the script turns it into local time).
#[derive(Debug, Clone)]
pub struct Stamp {
    pub iso: String,
    pub text: String,
}

impl Stamp {
    /// Accepts the schema's `YYYY-MM-DDTHH:MM:SS.sssZ` and the Python tool's naive
    /// `YYYY-MM-DD HH:MM:SS.ffffff` (both UTC).
    pub fn new(raw: &str) -> Self {
        let trimmed = raw.trim();
        let seconds: String = trimmed.chars().take(19).map(|c| if c == 'T' { ' ' } else { c }).collect();
        let iso = if trimmed.ends_with('Z') { trimmed.to_owned() } else { format!("{}Z", seconds.replace(' ', "T")) };
        Self { iso, text: format!("{seconds} UTC") }
    }

    pub fn opt(raw: Option<&str>) -> Option<Self> {
        raw.filter(|r| !r.trim().is_empty()).map(Self::new)
    }
}

/// A small coloured status label that also carries its text.
#[derive(Debug, Clone)]
pub struct Badge {
    /// One of the CSS classes `ok`, `warn`, `bad`, `info`, `muted`.
    pub class: &'static str,
    pub text: String,
}

impl Badge {
    pub fn new(class: &'static str, text: impl Into<String>) -> Self {
        Self { class, text: text.into() }
    }

    pub fn model(status: ModelStatus) -> Self {
        let class = match status {
            ModelStatus::Synced => "ok",
            ModelStatus::Pending => "info",
            ModelStatus::Error => "bad",
            ModelStatus::Orphaned => "warn",
            ModelStatus::Disabled | ModelStatus::Excluded => "muted",
        };
        Self::new(class, status.label())
    }

    /// A sync run's or a job's status.
    pub fn outcome(status: &str) -> Self {
        let class = match status {
            "ok" | "done" => "ok",
            "warning" => "warn",
            "failed" | "error" => "bad",
            "running" => "info",
            _ => "muted",
        };
        Self::new(class, status)
    }

    pub fn enabled(enabled: bool) -> Self {
        if enabled { Self::new("ok", "enabled") } else { Self::new("muted", "disabled") }
    }
}

/// A provider's latest fetch/sync, as the overview and the providers table show it.
pub struct RunView {
    pub badge: Badge,
    pub when: Option<Stamp>,
    pub summary: String,
    pub message: String,
    pub job_id: Option<i64>,
}

impl RunView {
    pub fn new(run: &SyncRun) -> Self {
        Self {
            badge: Badge::outcome(&run.status),
            when: Stamp::opt(run.finished_at.as_deref().or(Some(&run.started_at))),
            summary: run_summary(run),
            message: run.message.clone().unwrap_or_default(),
            job_id: run.job_id,
        }
    }
}

pub fn run_summary(run: &SyncRun) -> String {
    let mut parts = Vec::new();
    if run.kind != "push" {
        parts.push(format!(
            "{} seen, {} added, {} updated, {} orphaned",
            run.models_seen, run.added, run.updated, run.orphaned
        ));
        if run.unorphaned > 0 {
            parts.push(format!("{} back", run.unorphaned));
        }
    }
    let litellm = run.litellm_created + run.litellm_updated + run.litellm_deleted + run.litellm_failed;
    if run.kind != "fetch" || litellm > 0 {
        let mut text = format!(
            "LiteLLM: {} created, {} updated, {} deleted",
            run.litellm_created, run.litellm_updated, run.litellm_deleted
        );
        if run.litellm_failed > 0 {
            text.push_str(&format!(", {} failed", run.litellm_failed));
        }
        parts.push(text);
    }
    parts.join("; ")
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn opt_num(n: Option<i64>) -> String {
    n.map(thousands).unwrap_or_default()
}

pub fn opt_cost(cost: Option<f64>) -> String {
    cost.map(|c| c.to_string()).unwrap_or_default()
}

/// Most of any one JSON value a page shows (raw metadata, a job's result): bounded whatever the
/// database holds.
pub const SHOWN_JSON_BYTES: usize = 64 * 1024;

/// JSON as a page shows it: pretty, every secret-named value masked
/// ([`shared::secret::mask_json`]), at most [`SHOWN_JSON_BYTES`] with a note when cut.
pub fn pretty_json(value: &Value) -> String {
    shown_json(&value.to_string(), None)
}

/// [`pretty_json`] of a JSON text that may be the first bytes of a longer one of `total_bytes`.
pub fn shown_json(text: &str, total_bytes: Option<i64>) -> String {
    let preview = shared::secret::preview_json(text, SHOWN_JSON_BYTES);
    let total = total_bytes.unwrap_or(text.len() as i64);
    if preview.truncated || total > text.len() as i64 {
        format!(
            "{}\n… truncated: {} bytes in all, the page shows the first {} KiB",
            preview.text,
            thousands(total),
            SHOWN_JSON_BYTES / 1024
        )
    } else {
        preview.text
    }
}

/// A JSON value in one line: strings without quotes, nothing as a dash.
pub fn inline_json(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A URL without any password it carries (`https://user:pass@host` is a credential).
pub fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        _ => raw.to_owned(),
    }
}

/// `/models?q=x&page=2` from a path and its non-empty parameters.
pub fn href(path: &str, params: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(key, value);
    }
    let query = query.finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_both_schemas_become_utc_text() {
        let ours = Stamp::new("2025-11-28T00:30:12.345Z");
        assert_eq!((ours.iso.as_str(), ours.text.as_str()), ("2025-11-28T00:30:12.345Z", "2025-11-28 00:30:12 UTC"));
        let python = Stamp::new("2025-11-28 00:30:12.123456");
        assert_eq!((python.iso.as_str(), python.text.as_str()), ("2025-11-28T00:30:12Z", "2025-11-28 00:30:12 UTC"));
    }

    #[test]
    fn numbers_urls_and_links() {
        assert_eq!(thousands(262144), "262,144");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(display_url("https://bob:hunter2@example.com/v1"), "https://bob:****@example.com/v1");
        assert_eq!(display_url("http://h:11434"), "http://h:11434");
        assert_eq!(href("/models", &[("q", "a b".into()), ("page", String::new())]), "/models?q=a+b");
    }
}
