use super::*;
use crate::plan::Change;
use serde_json::{Value, json};

/// A wanted model: listed, enabled, not excluded, in LiteLLM, never looked at by a push.
fn wanted() -> Facts<'static> {
    Facts {
        excluded_reason: None,
        orphaned: false,
        enabled: true,
        in_litellm: true,
        sync_state: None,
        sync_detail: None,
    }
}

const FILTER: &str = "excluded by hosted's exclude filter term \"mini\"";

#[test]
fn the_status_rule() {
    use ModelStatus::*;
    use SyncState::{Error as Failed, InSync, Pending as Differs};
    let still = |text: &str| format!("{text}; {STILL_IN_LITELLM}");
    let absent = Facts { in_litellm: false, ..wanted() };
    let failed = Facts { sync_state: Some(Failed), sync_detail: Some("LiteLLM answered HTTP 500: boom"), ..wanted() };
    let differs = Facts { sync_state: Some(Differs), sync_detail: Some("tags"), ..wanted() };
    let excluded = Facts { excluded_reason: Some(FILTER), ..wanted() };
    let orphaned = Facts { orphaned: true, ..wanted() };
    let disabled = Facts { enabled: false, ..wanted() };
    let cases: Vec<(&str, Facts, ModelStatus, Option<String>)> = vec![
        ("wanted, never pushed, in LiteLLM", wanted(), Synced, None),
        ("wanted, pushed", Facts { sync_state: Some(InSync), ..wanted() }, Synced, None),
        ("an unpushed change", differs, Pending, Some("tags".into())),
        ("an unpushed change, absent", Facts { in_litellm: false, ..differs }, Pending, Some("tags".into())),
        ("absent, never pushed", absent, Pending, Some("not in LiteLLM yet".into())),
        (
            "absent though pushed",
            Facts { sync_state: Some(InSync), ..absent },
            Pending,
            Some("not in LiteLLM yet".into()),
        ),
        ("the last write failed", failed, Error, Some("LiteLLM answered HTTP 500: boom".into())),
        (
            "failed, absent",
            Facts { in_litellm: false, ..failed },
            Error,
            Some("LiteLLM answered HTTP 500: boom".into()),
        ),
        // A setting that leaves a model out wins, and says LiteLLM still serves it.
        ("excluded, still in LiteLLM", excluded, Excluded, Some(still(FILTER))),
        ("excluded, removed", Facts { in_litellm: false, ..excluded }, Excluded, Some(FILTER.into())),
        ("excluded and orphaned", Facts { orphaned: true, ..excluded }, Excluded, Some(still(FILTER))),
        (
            "excluded and disabled",
            Facts { enabled: false, in_litellm: false, ..excluded },
            Excluded,
            Some(FILTER.into()),
        ),
        (
            "excluded, its last write failed",
            Facts { sync_state: Some(Failed), ..excluded },
            Excluded,
            Some(still(FILTER)),
        ),
        ("orphaned, still in LiteLLM", orphaned, Orphaned, Some(still("the provider no longer lists it"))),
        (
            "orphaned, removed",
            Facts { in_litellm: false, ..orphaned },
            Orphaned,
            Some("the provider no longer lists it".into()),
        ),
        (
            "orphaned and disabled",
            Facts { enabled: false, in_litellm: false, ..orphaned },
            Orphaned,
            Some("the provider no longer lists it".into()),
        ),
        ("disabled, still in LiteLLM", disabled, Disabled, Some(STILL_IN_LITELLM.into())),
        ("disabled, removed", Facts { in_litellm: false, ..disabled }, Disabled, None),
        (
            "disabled, its last write failed",
            Facts { in_litellm: false, ..Facts { enabled: false, ..failed } },
            Disabled,
            None,
        ),
        (
            "disabled with an unpushed change",
            Facts { enabled: false, ..differs },
            Disabled,
            Some(STILL_IN_LITELLM.into()),
        ),
    ];
    for (case, facts, status, detail) in cases {
        assert_eq!(status_of(&facts), Shown { status, detail }, "{case}: {facts:?}");
    }
}

#[test]
fn the_sql_has_one_arm_per_rule_row() {
    for sql in [status_sql(), detail_sql()] {
        assert!(sql.starts_with("CASE WHEN "), "{sql}");
        assert_eq!(sql.matches(" THEN ").count(), RULE.len(), "{sql}");
    }
    assert!(status_sql().contains("'error'") && status_sql().contains("'excluded'"));
    assert!(detail_sql().contains("m.excluded_reason || '; still in LiteLLM; the next push removes it'"));
    let first_arm = status_sql().split(" THEN ").next().unwrap_or_default();
    assert!(first_arm.contains("m.excluded_reason IS NOT NULL AND EXISTS"), "excluded comes first: {first_arm}");
}

#[test]
fn literals_are_quoted() {
    assert_eq!(literal("lab's"), "'lab''s'");
}

#[test]
fn names_round_trip() {
    for status in ModelStatus::ALL {
        assert_eq!(ModelStatus::from_sql(status.as_str()), status);
        let json = serde_json::to_value(status).unwrap();
        assert_eq!(json, Value::String(status.as_str().into()));
    }
    assert_eq!(ModelStatus::from_sql("nonsense"), ModelStatus::Pending);
    assert_eq!(ModelStatus::Synced.label(), "in sync");
}

fn op(action: Action, id: &str, row: i64, fields: &[&str]) -> Operation {
    Operation {
        action,
        litellm_id: id.into(),
        model_name: "m".into(),
        provider: None,
        provider_id: Some(1),
        model_row_id: Some(row),
        reason: "reason".into(),
        changes: fields.iter().map(|f| Change { field: (*f).into(), from: json!(1), to: json!(2) }).collect(),
        body: Value::Null,
        api_key: None,
        digest: None,
    }
}

fn result(op: &Operation, error: Option<&str>) -> OpResult {
    OpResult {
        action: op.action,
        litellm_id: op.litellm_id.clone(),
        model_name: op.model_name.clone(),
        provider: None,
        provider_id: op.provider_id,
        ok: error.is_none(),
        skipped: false,
        error: error.map(str::to_owned),
    }
}

#[test]
fn a_dry_run_names_what_differs() {
    let ops = [op(Action::Update, "a", 1, &["litellm_params.rpm", "model_info.mode"]), op(Action::Create, "b", 2, &[])];
    let states = sync_states(&[1, 2, 3, 3], &ops, None);
    assert_eq!(
        states,
        vec![
            (1, SyncState::Pending, Some("litellm_params.rpm, model_info.mode".into())),
            (2, SyncState::Pending, Some("not in LiteLLM yet".into())),
            (3, SyncState::InSync, None),
        ]
    );
}

#[test]
fn a_push_records_failures_with_their_message() {
    let ops = [op(Action::Update, "a", 1, &["x"]), op(Action::Create, "b", 2, &[]), op(Action::Delete, "c", 3, &[])];
    let results = [result(&ops[0], None), result(&ops[1], Some("LiteLLM answered HTTP 500: boom"))];
    let states = sync_states(&[1, 2, 3], &ops, Some(&results));
    assert_eq!(
        states,
        vec![
            (1, SyncState::InSync, None),
            (2, SyncState::Error, Some("LiteLLM answered HTTP 500: boom".into())),
            (3, SyncState::Error, Some("not sent".into())),
        ]
    );
}

#[test]
fn long_messages_are_cut() {
    let ops = [op(Action::Create, "a", 1, &[])];
    let long = "é".repeat(DETAIL_MAX + 10);
    let states = sync_states(&[1], &ops, Some(&[result(&ops[0], Some(&long))]));
    let detail = states[0].2.as_deref().unwrap();
    assert_eq!(detail.chars().count(), DETAIL_MAX + 1);
    assert!(detail.ends_with('…'));
}
