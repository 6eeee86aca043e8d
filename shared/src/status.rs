//! Where a model stands: the one status rule (desired vs actual), shown by the Models page, the
//! model page, the listing filter, the Overview counts and the metrics, and the per-model sync
//! state every push or plan records, which the rule reads.
//!
//! The rule is a table, read top to bottom; the SQL the lists filter, sort and count with is
//! rendered from the same table, so the database and [`status_of`] cannot disagree.

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
    /// Wanted in LiteLLM, and not there yet or not as wanted (the detail says what differs).
    Pending,
    /// Wanted, and the latest operation on it failed (the detail holds the message).
    Error,
    /// The provider no longer lists it.
    Orphaned,
    /// Disabled by the operator.
    Disabled,
    /// Listed by the provider, but its settings (a filter, the provider disabled) leave it out.
    Excluded,
}

impl ModelStatus {
    pub const ALL: [Self; 6] =
        [Self::Synced, Self::Pending, Self::Error, Self::Orphaned, Self::Disabled, Self::Excluded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synced => "synced",
            Self::Pending => "pending",
            Self::Error => "error",
            Self::Orphaned => "orphaned",
            Self::Disabled => "disabled",
            Self::Excluded => "excluded",
        }
    }

    /// The words the pages show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Synced => "in sync",
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
pub struct Facts<'a> {
    /// Why its provider's settings leave it out (`models.excluded_reason`, the rule
    /// [`crate::desired::settings_exclusion`]); `None` when they do not.
    pub excluded_reason: Option<&'a str>,
    pub orphaned: bool,
    pub enabled: bool,
    /// An entry with its id is in the latest LiteLLM snapshot.
    pub in_litellm: bool,
    /// `None` until a push or plan has looked at it.
    pub sync_state: Option<SyncState>,
    /// What that push or plan said: what differs, or the error.
    pub sync_detail: Option<&'a str>,
}

/// A model's status and the words that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub status: ModelStatus,
    /// Why, or what differs, or the error; `None` when the status says it all.
    pub detail: Option<String>,
}

/// What a row's condition reads.
#[derive(Debug, Clone, Copy)]
enum Condition {
    Excluded,
    Orphaned,
    Disabled,
    Failed,
    Differs,
    /// Wanted in LiteLLM, whatever the latest push said.
    Wanted,
}

/// Whether LiteLLM's latest snapshot holds the model's entry, as a row requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Any,
    Present,
    Absent,
}

/// The words of a row's detail.
#[derive(Debug, Clone, Copy)]
enum Text {
    Nothing,
    /// The stored exclusion reason.
    Reason,
    /// The stored sync detail.
    Stored,
    Fixed(&'static str),
}

/// Added to the detail of a model LiteLLM should not serve but still does.
pub const STILL_IN_LITELLM: &str = "still in LiteLLM; the next push removes it";
const NO_LONGER_LISTED: &str = "the provider no longer lists it";
const NOT_IN_LITELLM_YET: &str = "not in LiteLLM yet";

/// One row of the rule: when `condition` holds and LiteLLM's presence is as required, the
/// model has `status`, with `text` (and [`STILL_IN_LITELLM`] when `still` is set) as detail.
struct Row {
    condition: Condition,
    presence: Presence,
    status: ModelStatus,
    text: Text,
    still: bool,
}

const fn row(condition: Condition, presence: Presence, status: ModelStatus, text: Text, still: bool) -> Row {
    Row { condition, presence, status, text, still }
}

/// The rule: the first row that holds names the status. A setting that leaves a model out wins
/// over everything (a filter change shows at once, while LiteLLM still serves the model until
/// the next push); then a provider no longer listing it; then the operator disabling it; only
/// a wanted model has a sync verdict.
const RULE: [Row; 10] = {
    use Condition as C;
    use ModelStatus as S;
    use Presence::{Absent, Any, Present};
    [
        row(C::Excluded, Present, S::Excluded, Text::Reason, true),
        row(C::Excluded, Any, S::Excluded, Text::Reason, false),
        row(C::Orphaned, Present, S::Orphaned, Text::Fixed(NO_LONGER_LISTED), true),
        row(C::Orphaned, Any, S::Orphaned, Text::Fixed(NO_LONGER_LISTED), false),
        row(C::Disabled, Present, S::Disabled, Text::Nothing, true),
        row(C::Disabled, Any, S::Disabled, Text::Nothing, false),
        row(C::Failed, Any, S::Error, Text::Stored, false),
        row(C::Differs, Any, S::Pending, Text::Stored, false),
        row(C::Wanted, Absent, S::Pending, Text::Fixed(NOT_IN_LITELLM_YET), false),
        row(C::Wanted, Any, S::Synced, Text::Nothing, false),
    ]
};

const PRESENT_SQL: &str = "EXISTS (SELECT 1 FROM litellm_entries e WHERE e.litellm_id = m.litellm_model_id)";

impl Condition {
    fn holds(self, f: &Facts) -> bool {
        match self {
            Self::Excluded => f.excluded_reason.is_some(),
            Self::Orphaned => f.orphaned,
            Self::Disabled => !f.enabled,
            Self::Failed => f.sync_state == Some(SyncState::Error),
            Self::Differs => f.sync_state == Some(SyncState::Pending),
            Self::Wanted => true,
        }
    }

    /// The same condition over a models row `m`.
    fn sql(self) -> String {
        match self {
            Self::Excluded => "m.excluded_reason IS NOT NULL".into(),
            Self::Orphaned => "m.is_orphaned".into(),
            Self::Disabled => "NOT m.sync_enabled".into(),
            Self::Failed => format!("m.sync_state = {}", literal(SyncState::Error.as_str())),
            Self::Differs => format!("m.sync_state = {}", literal(SyncState::Pending.as_str())),
            Self::Wanted => "TRUE".into(),
        }
    }
}

impl Row {
    fn holds(&self, f: &Facts) -> bool {
        let presence = match self.presence {
            Presence::Any => true,
            Presence::Present => f.in_litellm,
            Presence::Absent => !f.in_litellm,
        };
        presence && self.condition.holds(f)
    }

    fn detail(&self, f: &Facts) -> Option<String> {
        let text = match self.text {
            Text::Nothing => None,
            Text::Reason => f.excluded_reason.map(str::to_owned),
            Text::Stored => f.sync_detail.map(str::to_owned),
            Text::Fixed(text) => Some(text.to_owned()),
        };
        match (text, self.still) {
            (Some(text), true) => Some(format!("{text}; {STILL_IN_LITELLM}")),
            (None, true) => Some(STILL_IN_LITELLM.to_owned()),
            (text, false) => text,
        }
    }

    fn condition_sql(&self) -> String {
        let condition = self.condition.sql();
        match self.presence {
            Presence::Any => condition,
            Presence::Present => format!("{condition} AND {PRESENT_SQL}"),
            Presence::Absent => format!("{condition} AND NOT {PRESENT_SQL}"),
        }
    }

    fn detail_sql(&self) -> String {
        let text = match self.text {
            Text::Nothing => None,
            Text::Reason => Some("m.excluded_reason".to_owned()),
            Text::Stored => Some("m.sync_detail".to_owned()),
            Text::Fixed(text) => Some(literal(text)),
        };
        match (text, self.still) {
            (Some(text), true) => format!("{text} || {}", literal(&format!("; {STILL_IN_LITELLM}"))),
            (None, true) => literal(STILL_IN_LITELLM),
            (Some(text), false) => text,
            (None, false) => "NULL".into(),
        }
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The row of the rule that holds (the last one always does).
fn first_row(facts: &Facts) -> &'static Row {
    RULE.iter().find(|row| row.holds(facts)).unwrap_or(&RULE[RULE.len() - 1])
}

/// A model's status and its detail.
pub fn status_of(facts: &Facts) -> Shown {
    let row = first_row(facts);
    Shown { status: row.status, detail: row.detail(facts) }
}

fn case_sql(arm: impl Fn(&Row) -> String) -> String {
    let arms: String = RULE.iter().map(|row| format!("WHEN {} THEN {} ", row.condition_sql(), arm(row))).collect();
    format!("CASE {arms}END")
}

static STATUS_SQL: LazyLock<String> = LazyLock::new(|| case_sql(|row| literal(row.status.as_str())));
static DETAIL_SQL: LazyLock<String> = LazyLock::new(|| case_sql(Row::detail_sql));

/// [`status_of`]'s status as one SQL expression over a models row aliased `m`.
pub fn status_sql() -> &'static str {
    &STATUS_SQL
}

/// [`status_of`]'s detail as one SQL expression over a models row aliased `m`.
pub fn detail_sql() -> &'static str {
    &DETAIL_SQL
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
