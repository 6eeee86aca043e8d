use super::*;
use crate::plan::Change;
use serde_json::{Value, json};

fn facts(orphaned: bool, enabled: bool, excluded: bool, in_litellm: bool, sync_state: Option<SyncState>) -> Facts {
    Facts { orphaned, enabled, excluded, in_litellm, sync_state }
}

#[test]
fn the_status_rule() {
    use ModelStatus::*;
    use SyncState::{Error as Failed, InSync, Pending as Differs};
    let cases = [
        // (orphaned, enabled, excluded, in LiteLLM, sync state) → status
        (facts(false, true, false, true, None), Synced),
        (facts(false, true, false, true, Some(InSync)), Synced),
        (facts(false, true, false, true, Some(Differs)), Pending),
        (facts(false, true, false, false, Some(InSync)), Pending),
        (facts(false, true, false, false, None), Pending),
        (facts(false, true, false, true, Some(Failed)), Error),
        (facts(false, true, false, false, Some(Failed)), Error),
        (facts(true, true, false, false, None), Orphaned),
        (facts(true, true, false, true, Some(InSync)), StillInLitellm),
        (facts(false, false, false, false, Some(Failed)), Disabled),
        (facts(false, false, false, true, None), StillInLitellm),
        (facts(false, true, true, false, None), Excluded),
        (facts(false, true, true, true, None), StillInLitellm),
        (facts(true, false, true, false, None), Orphaned),
    ];
    for (facts, expected) in cases {
        assert_eq!(status_of(&facts), expected, "{facts:?}");
    }
}

#[test]
fn the_sql_has_one_arm_per_rule_row() {
    let sql = status_sql();
    assert!(sql.starts_with("CASE WHEN "), "{sql}");
    assert_eq!(sql.matches(" THEN ").count(), RULE.len(), "{sql}");
    assert!(sql.contains("'still_in_litellm'") && sql.contains("'error'"), "{sql}");
}

#[test]
fn names_round_trip() {
    for status in ModelStatus::ALL {
        assert_eq!(ModelStatus::from_sql(status.as_str()), status);
        let json = serde_json::to_value(status).unwrap();
        assert_eq!(json, Value::String(status.as_str().into()));
    }
    assert_eq!(ModelStatus::from_sql("nonsense"), ModelStatus::Pending);
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
