//! Where a model stands: the one status rule (desired vs actual), shown by the Models page, the
//! model page, the listing filter and the Overview counts, and the per-model sync state every
//! push or plan records, which the rule reads.
//!
//! The rule is a table, read top to bottom; the SQL the lists filter and count with is rendered
//! from the same table, so the database and [`status_of`] cannot disagree.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::job_results::OpResult;
use crate::plan::{Action, Operation};

/// Where a model stands, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// In LiteLLM, and the latest push or plan found nothing to change.
    Synced,
    /// Wanted in LiteLLM, and not there yet or not as wanted (the sync detail says what differs).
    Pending,
    /// The latest operation on it failed (the sync detail holds the message).
    Error,
    Orphaned,
    Disabled,
    /// Listed by the provider, but its settings (a filter, the provider disabled) leave it out.
    Excluded,
    /// Disabled, excluded or orphaned, but LiteLLM still serves it: the next push removes it.
    StillInLitellm,
}

impl ModelStatus {
    pub const ALL: [Self; 7] = [
        Self::Synced,
        Self::Pending,
        Self::Error,
        Self::Orphaned,
        Self::Disabled,
        Self::Excluded,
        Self::StillInLitellm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Pending => "pending",
            Self::Error => "error",
            Self::Orphaned => "orphaned",
            Self::Disabled => "disabled",
            Self::Excluded => "excluded",
            Self::StillInLitellm => "still_in_litellm",
        }
    }

    /// The words the pages show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Synced => "in sync",
            Self::StillInLitellm => "not wanted, still in LiteLLM",
            other => other.as_str(),
        }
    }

    /// The status the SQL names; an unknown name reads as pending.
    pub fn from_sql(name: &str) -> Self {
        Self::ALL.into_iter().find(|s| s.as_str() == name).unwrap_or(Self::Pending)
    }
}

/// The latest push or plan's verdict on a model it wants in LiteLLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    InSync,
    Pending,
    Error,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in_sync",
            Self::Pending => "pending",
            Self::Error => "error",
        }
    }

    pub fn from_sql(name: &str) -> Option<Self> {
        [Self::InSync, Self::Pending, Self::Error].into_iter().find(|s| s.as_str() == name)
    }
}

/// What the status rule reads of a model row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub orphaned: bool,
    pub enabled: bool,
    pub excluded: bool,
    /// An entry with its id is in the latest LiteLLM snapshot.
    pub in_litellm: bool,
    /// `None` until a push or plan has looked at it.
    pub sync_state: Option<SyncState>,
}

#[derive(Debug, Clone, Copy)]
enum Condition {
    UnwantedButPresent,
    Orphaned,
    Disabled,
    Excluded,
    Failed,
    Absent,
    Differs,
    Otherwise,
}

/// The rule: the first row whose condition holds names the status.
const RULE: [(Condition, ModelStatus); 8] = [
    (Condition::UnwantedButPresent, ModelStatus::StillInLitellm),
    (Condition::Orphaned, ModelStatus::Orphaned),
    (Condition::Disabled, ModelStatus::Disabled),
    (Condition::Excluded, ModelStatus::Excluded),
    (Condition::Failed, ModelStatus::Error),
    (Condition::Absent, ModelStatus::Pending),
    (Condition::Differs, ModelStatus::Pending),
    (Condition::Otherwise, ModelStatus::Synced),
];

const PRESENT_SQL: &str = "EXISTS (SELECT 1 FROM litellm_entries e WHERE e.litellm_id = m.litellm_model_id)";

impl Condition {
    fn holds(self, f: &Facts) -> bool {
        let unwanted = f.orphaned || !f.enabled || f.excluded;
        match self {
            Self::UnwantedButPresent => unwanted && f.in_litellm,
            Self::Orphaned => f.orphaned,
            Self::Disabled => !f.enabled,
            Self::Excluded => f.excluded,
            Self::Failed => f.sync_state == Some(SyncState::Error),
            Self::Absent => !f.in_litellm,
            Self::Differs => f.sync_state == Some(SyncState::Pending),
            Self::Otherwise => true,
        }
    }

    /// The same condition over a models row `m`.
    fn sql(self) -> String {
        match self {
            Self::UnwantedButPresent => {
                format!("(m.is_orphaned OR NOT m.sync_enabled OR m.excluded_reason IS NOT NULL) AND {PRESENT_SQL}")
            }
            Self::Orphaned => "m.is_orphaned".into(),
            Self::Disabled => "NOT m.sync_enabled".into(),
            Self::Excluded => "m.excluded_reason IS NOT NULL".into(),
            Self::Failed => format!("m.sync_state = '{}'", SyncState::Error.as_str()),
            Self::Absent => format!("NOT {PRESENT_SQL}"),
            Self::Differs => format!("m.sync_state = '{}'", SyncState::Pending.as_str()),
            Self::Otherwise => "TRUE".into(),
        }
    }
}

/// A model's status.
pub fn status_of(facts: &Facts) -> ModelStatus {
    RULE.iter().find(|(condition, _)| condition.holds(facts)).map_or(ModelStatus::Synced, |(_, status)| *status)
}

static STATUS_SQL: LazyLock<String> = LazyLock::new(|| {
    let arms: String = RULE
        .iter()
        .map(|(condition, status)| format!("WHEN {} THEN '{}' ", condition.sql(), status.as_str()))
        .collect();
    format!("CASE {arms}END")
});

/// [`status_of`] as one SQL expression over a models row aliased `m`.
pub fn status_sql() -> &'static str {
    &STATUS_SQL
}

/// The most a stored detail holds; longer messages are cut.
const DETAIL_MAX: usize = 500;

/// What a push or plan found for each model it wants in LiteLLM: `wanted` are the model rows
/// of its deployments in scope, `operations` the plan's for them, `results` what became of
/// them (`None` for a dry run, which sends nothing). No operation: in sync. Operations not
/// sent: pending, naming what differs. Sent: in sync when every one worked, else the error.
pub fn sync_states(
    wanted: &[i64],
    operations: &[Operation],
    results: Option<&[OpResult]>,
) -> Vec<(i64, SyncState, Option<String>)> {
    let mut by_model: HashMap<i64, Vec<&Operation>> = HashMap::new();
    for op in operations {
        if let Some(row) = op.model_row_id {
            by_model.entry(row).or_default().push(op);
        }
    }
    let outcome: HashMap<(Action, &str), &OpResult> =
        results.unwrap_or_default().iter().map(|r| ((r.action, r.litellm_id.as_str()), r)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut states = Vec::new();
    for &row in wanted {
        if !seen.insert(row) {
            continue;
        }
        let ops = by_model.get(&row).map_or(&[][..], Vec::as_slice);
        let state = if ops.is_empty() {
            (SyncState::InSync, None)
        } else if results.is_none() {
            (SyncState::Pending, Some(differences(ops)))
        } else {
            let failure = ops.iter().find_map(|op| match outcome.get(&(op.action, op.litellm_id.as_str())) {
                Some(result) if !result.ok => Some(result.error.clone().unwrap_or_else(|| "failed".into())),
                Some(_) => None,
                None => Some("not sent".into()),
            });
            match failure {
                Some(message) => (SyncState::Error, Some(message)),
                None => (SyncState::InSync, None),
            }
        };
        states.push((row, state.0, state.1.map(|d| cut(&d))));
    }
    states
}

/// What an unsent operation would change, in a few words: the fields, or what it would do.
fn differences(ops: &[&Operation]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for op in ops {
        let part = match op.action {
            Action::Create => "not in LiteLLM yet".to_owned(),
            Action::DeleteDuplicate => "a duplicate entry to delete".to_owned(),
            Action::Delete => "an entry to delete".to_owned(),
            Action::Update | Action::Replace if op.changes.is_empty() => op.reason.clone(),
            Action::Update | Action::Replace => {
                op.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts.join("; ")
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(DETAIL_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
