//! Applying a plan job (`apply_plan`) with the worker running against the fakes: exactly the
//! operations the plan shows, or nothing when LiteLLM or the settings changed since.

mod support;

use shared::db::jobs::JobRecord;
use shared::db::models;
use shared::job_results::{JobResult, PushReport, StoredResult};
use shared::jobs::JobRequest;
use shared::model::Overrides;
use shared::plan::Action;
use support::World;
use testkit::OllamaModel;

fn plan_of(job: &JobRecord) -> PushReport {
    let stored = job.result.as_ref().map(|r| StoredResult::read(&r.0));
    match stored {
        Some(StoredResult::Typed(result)) => result.push().cloned().expect("the job holds a push or a plan"),
        other => panic!("job {} holds no typed result: {other:?}", job.id),
    }
}

/// `(action, model_name, litellm_id)` of each operation, sorted.
fn shown(report: &PushReport) -> Vec<(Action, String, String)> {
    let mut ops: Vec<_> =
        report.plan.operations.iter().map(|op| (op.action, op.model_name.clone(), op.litellm_id.clone())).collect();
    ops.sort();
    ops
}

fn tag(team: &str) -> Overrides {
    Overrides { user_tags: Some(Some(vec![team.to_owned()])), ..Overrides::default() }
}

/// Synced lab, then: llama gets a tag (an update), the embedding model is no longer listed (a
/// delete), qwen3 is new (a create); a fetch-then-plan job computes the plan.
async fn planned_world() -> (World, tokio::process::Child, JobRecord) {
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    assert_eq!(world.entry_names().len(), 3);
    let llama = world.model(&lab, "llama3.2:3b").await;
    assert!(models::set_overrides(world.db(), llama.id, &tag("team-a")).await.expect("override"));
    assert!(world.ollama.remove_model("nomic-embed-text:latest"));
    world.ollama.add_model(OllamaModel::chat("qwen3:8b"));
    let worker = world.spawn_worker();
    world.litellm.reset_counters();
    let plan = world.finished_job(world.enqueue(&JobRequest::Plan { fetch: true }).await).await;
    assert_eq!(plan.status, "done", "{plan:?}");
    assert_eq!(world.litellm.write_calls(), 0, "a plan writes nothing");
    (world, worker, plan)
}

#[tokio::test]
async fn applying_a_plan_writes_exactly_its_operations_once() {
    let (world, mut worker, plan) = planned_world().await;
    let planned = shown(&plan_of(&plan));
    let kinds: Vec<(Action, &str)> = planned.iter().map(|(a, n, _)| (*a, n.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (Action::Delete, "nomic-embed-text:latest"),
            (Action::Update, "llama3.2:3b"),
            (Action::Create, "qwen3:8b")
        ]
    );

    let apply = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: plan.id }).await).await;
    assert_eq!(apply.status, "done", "{apply:?}");
    let applied = plan_of(&apply);
    assert!(!applied.dry_run);
    assert_eq!(shown(&applied), planned, "the apply did the operations shown, with the ids shown");
    assert_eq!((applied.writes.created, applied.writes.updated, applied.writes.deleted), (1, 1, 1));
    assert_eq!((applied.writes.replaced, applied.writes.failed, applied.writes.skipped), (0, 0, 0));
    let summary = StoredResult::read(&apply.result.as_ref().expect("result").0).summary();
    assert!(summary.starts_with("LiteLLM: 1 created, 1 updated, 1 deleted"), "{summary}");
    assert!(
        matches!(StoredResult::read(&apply.result.expect("result").0), StoredResult::Typed(r) if matches!(*r, JobResult::Push(_)))
    );

    // LiteLLM ends as planned, by one write per operation (the list read twice: compare, apply).
    assert_eq!(
        (world.litellm.new_calls(), world.litellm.patch_calls(), world.litellm.delete_calls()),
        (1, 1, 1),
        "{:?}",
        world.litellm.requests()
    );
    assert_eq!(world.entry_names(), vec!["llama3.2:3b", "qwen2.5vl:7b", "qwen3:8b"]);
    let created = world.entry("qwen3:8b").expect("created");
    let create_id = planned.iter().find(|(a, ..)| *a == Action::Create).map(|(.., id)| id.clone());
    assert_eq!(
        created["model_info"]["id"].as_str().map(str::to_owned),
        create_id,
        "created with the id the plan showed"
    );
    let tags = world.entry("llama3.2:3b").expect("llama")["litellm_params"]["tags"].to_string();
    assert!(tags.contains("team-a"), "{tags}");

    // The same plan again: LiteLLM already holds it, so nothing is written.
    world.litellm.reset_counters();
    let again = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: plan.id }).await).await;
    assert_eq!(again.status, "failed", "{again:?}");
    let error = again.error.unwrap_or_default();
    assert!(error.contains("nothing to apply") && error.contains("applied already"), "{error}");
    assert_eq!(world.litellm.write_calls(), 0);

    // Only a finished plan job can be applied.
    let cases = [
        (apply.id, format!("job {} is not a plan (it is a apply_plan job)", apply.id)),
        (999, "there is no job 999 to apply".to_owned()),
    ];
    for (id, expected) in cases {
        let refused = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: id }).await).await;
        assert_eq!((refused.status.as_str(), refused.error.as_deref()), ("failed", Some(expected.as_str())));
    }
    assert_eq!(world.litellm.write_calls(), 0);
    let _ = worker.start_kill();
}

#[tokio::test]
async fn a_plan_is_refused_when_litellm_or_the_settings_changed_since() {
    let (world, mut worker, plan) = planned_world().await;
    let before = world.litellm_holds();

    // Someone deletes an entry in LiteLLM itself: a plan now would also create it.
    let vision = world.entry("qwen2.5vl:7b").expect("vision")["model_info"]["id"].as_str().map(str::to_owned);
    assert!(world.litellm.remove(&vision.clone().expect("id")));
    let refused = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: plan.id }).await).await;
    assert_eq!(refused.status, "failed", "{refused:?}");
    assert_eq!(
        refused.error.as_deref(),
        Some(
            "LiteLLM or the settings changed since this plan was computed: 1 operation differs; compute the plan \
             again (nothing was written)"
        )
    );
    assert_eq!(world.litellm.write_calls(), 0, "{:?}", world.litellm.requests());
    let held: Vec<_> = before.iter().filter(|(id, _)| Some(id) != vision.as_ref()).cloned().collect();
    assert_eq!(world.litellm_holds(), held);

    // A settings change that only alters what a create would send (a create lists no changes).
    let (world, mut worker2, plan) = {
        let _ = worker.start_kill();
        planned_world().await
    };
    let lab = shared::db::providers::list(world.db()).await.expect("providers").remove(0);
    let qwen = world.model(&lab, "qwen3:8b").await;
    assert!(models::set_overrides(world.db(), qwen.id, &tag("team-b")).await.expect("override"));
    let before = world.litellm_holds();
    let refused = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: plan.id }).await).await;
    assert_eq!(refused.status, "failed", "{refused:?}");
    let error = refused.error.unwrap_or_default();
    assert!(error.contains("changed since this plan was computed: 2 operations differ"), "{error}");
    assert_eq!(world.litellm.write_calls(), 0);
    assert_eq!(world.litellm_holds(), before);

    // Computed again, the plan applies.
    let fresh = world.finished_job(world.enqueue(&JobRequest::Plan { fetch: false }).await).await;
    let apply = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: fresh.id }).await).await;
    assert_eq!(apply.status, "done", "{apply:?}");
    let tags = world.entry("qwen3:8b").expect("created")["litellm_params"]["tags"].to_string();
    assert!(tags.contains("team-b"), "{tags}");
    let _ = worker2.start_kill();
}

#[tokio::test]
async fn a_plan_with_a_routing_group_and_fallbacks_applies_them_too() {
    use shared::db::routing;
    use shared::routing::{Fallback, FallbackType, GroupInput, TargetInput};
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let target = |model_id: &str, weight: i64, priority: i64| TargetInput {
        provider_id: lab.id,
        model_id: model_id.into(),
        weight,
        priority,
        enabled: true,
    };
    let group = GroupInput {
        name: "pool".into(),
        description: None,
        capabilities: vec!["chat".into()],
        auto_context_fallback: true,
        targets: vec![target("llama3.2:3b", 3, 1), target("qwen2.5vl:7b", 1, 2)],
    };
    routing::create_group(world.db(), &group).await.expect("group");
    let general = Fallback {
        model_name: "pool".into(),
        fallback_type: FallbackType::General,
        fallback_models: vec!["llama3.2:3b".into()],
    };
    routing::set_fallback(world.db(), &general).await.expect("fallback");
    let mut worker = world.spawn_worker();
    world.litellm.reset_counters();

    let plan = world.finished_job(world.enqueue(&JobRequest::Plan { fetch: false }).await).await;
    let planned = plan_of(&plan);
    assert_eq!(planned.plan.count(Action::Create), 2, "the group's two deployments");
    assert_eq!(planned.fallbacks.operations.len(), 1, "{:?}", planned.fallbacks);
    assert_eq!((world.litellm.write_calls(), world.litellm.fallback_write_calls()), (0, 0));

    let apply = world.finished_job(world.enqueue(&JobRequest::ApplyPlan { plan_job_id: plan.id }).await).await;
    assert_eq!(apply.status, "done", "{apply:?}");
    let applied = plan_of(&apply);
    assert_eq!(shown(&applied), shown(&planned));
    assert_eq!(applied.fallbacks.failed(), 0, "{:?}", applied.fallbacks);
    assert_eq!(world.litellm.new_calls(), 2);
    let held = world.litellm.fallbacks();
    assert_eq!(held, vec![("fallbacks".to_owned(), "pool".to_owned(), vec!["llama3.2:3b".to_owned()])]);
    let _ = worker.start_kill();
}
