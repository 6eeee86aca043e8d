use super::*;
use crate::job_results::{FetchReport, OpResult};
use crate::plan::Action;

const LAB: i64 = 1;
const GPU: i64 = 2;

fn fetched(seen: usize, added: usize, warnings: &[&str]) -> ProviderOutcome {
    let mut report = FetchReport { provider_id: LAB, provider: "lab".into(), ..FetchReport::default() };
    report.counts.seen = seen;
    report.counts.added = added;
    report.counts.orphaned = 1;
    report.warnings = warnings.iter().map(|w| (*w).to_owned()).collect();
    ProviderOutcome { provider: "lab".into(), ok: true, fetch: Some(report), error: None }
}

fn unreadable(error: &str) -> ProviderOutcome {
    ProviderOutcome { provider: "lab".into(), ok: false, fetch: None, error: Some(error.into()) }
}

/// One write per `(provider, action, ok, skipped)`, tallied as the push does.
fn pushed(dry_run: bool, writes: &[(i64, Action, bool, bool)]) -> PushReport {
    let mut report = PushReport::new(dry_run);
    report.results = writes
        .iter()
        .enumerate()
        .map(|(n, &(provider_id, action, ok, skipped))| OpResult {
            action,
            litellm_id: format!("id-{n}"),
            model_name: format!("model-{n}"),
            provider: Some(if provider_id == LAB { "lab" } else { "gpu" }.into()),
            provider_id: Some(provider_id),
            ok,
            skipped,
            error: (!ok).then(|| if skipped { "not sent: the plan changed" } else { "LiteLLM answered 500" }.into()),
        })
        .collect();
    report.tally();
    report
}

fn counts(seen: i64, added: i64, orphaned: i64, litellm: [i64; 4]) -> RunCounts {
    let [litellm_created, litellm_updated, litellm_deleted, litellm_failed] = litellm;
    RunCounts {
        models_seen: seen,
        added,
        orphaned,
        litellm_created,
        litellm_updated,
        litellm_deleted,
        litellm_failed,
        ..RunCounts::default()
    }
}

/// What, the provider's outcome, the push, its error; the run's status, counts and message.
type ProviderCase<'a> =
    (&'a str, ProviderOutcome, Option<&'a PushReport>, Option<&'a str>, RunStatus, RunCounts, Option<&'a str>);
/// What, the push's report, its error, skipped; the run's status, counts and message.
type PushCase<'a> = (&'a str, Option<&'a PushReport>, Option<&'a str>, bool, RunStatus, RunCounts, Option<&'a str>);

#[test]
fn a_providers_run_from_its_fetch_and_its_part_of_the_push() {
    use Action::*;
    let clean = pushed(false, &[(LAB, Create, true, false), (LAB, Replace, true, false), (GPU, Delete, true, false)]);
    let others_failed = pushed(false, &[(LAB, Update, true, false), (GPU, Create, false, false)]);
    let own_failed =
        pushed(false, &[(LAB, Create, false, false), (LAB, Update, false, true), (LAB, Delete, true, false)]);
    let dry_run = pushed(true, &[(LAB, Create, true, false), (LAB, Update, false, false)]);
    let cases: [ProviderCase; 10] = [
        ("fetched, no push", fetched(3, 2, &[]), None, None, RunStatus::Ok, counts(3, 2, 1, [0; 4]), None),
        (
            "fetched with warnings",
            fetched(3, 0, &["2 models had no details", "duplicate id x"]),
            None,
            None,
            RunStatus::Warning,
            counts(3, 0, 1, [0; 4]),
            Some("2 models had no details; duplicate id x"),
        ),
        (
            "unreadable",
            unreadable("connection refused"),
            None,
            None,
            RunStatus::Failed,
            RunCounts::default(),
            Some("connection refused"),
        ),
        (
            "pushed cleanly: only its own writes, a replace counted as an update",
            fetched(3, 2, &[]),
            Some(&clean),
            None,
            RunStatus::Ok,
            counts(3, 2, 1, [1, 1, 0, 0]),
            None,
        ),
        (
            "another provider's failed write is not its failure",
            fetched(3, 2, &[]),
            Some(&others_failed),
            None,
            RunStatus::Ok,
            counts(3, 2, 1, [0, 1, 0, 0]),
            None,
        ),
        (
            "its own write failed and one was not sent",
            fetched(3, 2, &[]),
            Some(&own_failed),
            None,
            RunStatus::Failed,
            counts(3, 2, 1, [0, 0, 1, 2]),
            Some("2 LiteLLM operations failed or not sent"),
        ),
        (
            "warnings and a failed write: failed, both said",
            fetched(3, 2, &["duplicate id x"]),
            Some(&own_failed),
            None,
            RunStatus::Failed,
            counts(3, 2, 1, [0, 0, 1, 2]),
            Some("duplicate id x; 2 LiteLLM operations failed or not sent"),
        ),
        (
            "a dry run writes nothing",
            fetched(3, 2, &[]),
            Some(&dry_run),
            None,
            RunStatus::Ok,
            counts(3, 2, 1, [0; 4]),
            None,
        ),
        (
            "the push could not run",
            fetched(3, 2, &[]),
            None,
            Some("LiteLLM answered 401"),
            RunStatus::Failed,
            counts(3, 2, 1, [0; 4]),
            Some("push: LiteLLM answered 401"),
        ),
        (
            "unreadable, and the push could not run",
            unreadable("timed out"),
            None,
            Some("LiteLLM answered 401"),
            RunStatus::Failed,
            RunCounts::default(),
            Some("timed out; push: LiteLLM answered 401"),
        ),
    ];
    for (what, outcome, push, push_error, status, counts, message) in cases {
        let end = provider_run(&outcome, LAB, push, push_error);
        assert_eq!(end, RunEnd { status, counts, message: message.map(str::to_owned) }, "{what}");
    }
}

#[test]
fn a_push_run_from_its_report_or_its_error() {
    use Action::*;
    let clean = pushed(false, &[(LAB, Create, true, false), (GPU, Replace, true, false), (GPU, Delete, true, false)]);
    let failed = pushed(false, &[(LAB, Create, true, false), (GPU, Update, false, false), (GPU, Delete, false, true)]);
    let cases: [PushCase; 6] = [
        ("clean", Some(&clean), None, false, RunStatus::Ok, counts(0, 0, 0, [1, 1, 1, 0]), None),
        (
            "a write failed, one not sent",
            Some(&failed),
            None,
            false,
            RunStatus::Failed,
            counts(0, 0, 0, [1, 0, 0, 2]),
            Some("1 of 3 LiteLLM operations failed (first: LiteLLM answered 500); 1 not sent"),
        ),
        (
            "could not run",
            None,
            Some("LiteLLM is unreachable"),
            false,
            RunStatus::Failed,
            RunCounts::default(),
            Some("LiteLLM is unreachable"),
        ),
        (
            "an error wins over a report",
            Some(&clean),
            Some("fenced: another worker holds the lease"),
            false,
            RunStatus::Failed,
            RunCounts::default(),
            Some("fenced: another worker holds the lease"),
        ),
        (
            "LiteLLM not configured",
            None,
            None,
            true,
            RunStatus::Warning,
            RunCounts::default(),
            Some("LiteLLM is not configured; nothing pushed"),
        ),
        ("nothing to say", None, None, false, RunStatus::Ok, RunCounts::default(), None),
    ];
    for (what, push, error, skipped, status, counts, message) in cases {
        assert_eq!(
            push_run(push, error, skipped),
            RunEnd { status, counts, message: message.map(str::to_owned) },
            "{what}"
        );
    }
}

#[test]
fn worst_of_two_statuses() {
    use RunStatus::*;
    let cases = [
        (Ok, Ok, Ok),
        (Ok, Warning, Warning),
        (Warning, Ok, Warning),
        (Warning, Failed, Failed),
        (Failed, Ok, Failed),
        (Failed, Warning, Failed),
    ];
    for (a, b, worst) in cases {
        assert_eq!(a.worst(b), worst, "{a:?} {b:?}");
    }
}
