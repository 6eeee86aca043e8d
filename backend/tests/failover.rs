//! Several `litellm-sync` processes on one database: exactly one works, a standby takes over
//! when it dies, and LiteLLM never gets a duplicate or loses an entry.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use shared::db::{config, jobs, lease, worker_status};
use shared::jobs::JobRequest;
use support::World;
use testkit::wait_until;
use tokio::process::Child;

const LEASE_SECONDS: &str = "2";

fn model_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("model-{i:03}")).collect()
}

async fn world_with_models(n: usize) -> World {
    let world = World::new().await;
    let ids = model_ids(n);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    world.add_openai_provider("hosted", &ids).await;
    world
}

/// Every LiteLLM entry's model_name, and whether any appears twice.
fn names_and_duplicates(world: &World) -> (usize, Vec<String>) {
    let names = world.entry_names();
    let mut seen = HashSet::new();
    let duplicates = names.iter().filter(|name| !seen.insert(name.as_str())).cloned().collect();
    (seen.len(), duplicates)
}

#[tokio::test]
async fn two_once_runs_at_the_same_moment_make_each_entry_once() {
    for trial in 1..=3 {
        let world = world_with_models(50).await;
        let start = |world: &World| {
            let mut command = world.command(&["--once"]);
            command.env("WORKER_LEASE_SECONDS", LEASE_SECONDS);
            command.output()
        };
        let (a, b) = tokio::join!(start(&world), start(&world));
        let (a, b) = (a.expect("run a"), b.expect("run b"));
        assert!(a.status.success() && b.status.success(), "trial {trial}: {a:?} {b:?}");
        let (distinct, duplicates) = names_and_duplicates(&world);
        assert_eq!(duplicates, Vec::<String>::new(), "trial {trial}");
        assert_eq!(distinct, 50, "trial {trial}: every model once");
    }
}

#[tokio::test]
async fn of_three_workers_one_is_active_and_a_standby_takes_over_when_it_is_killed_mid_push() {
    let world = world_with_models(200).await;
    // Only the job below pushes: no scheduled sync.
    config::set_sync_interval(world.db(), 0).await.expect("no schedule");
    // Slow writes, two at a time: the push of 200 creates takes seconds, long enough to kill
    // the active worker in the middle of it.
    world.litellm.set_latency(Duration::from_millis(25));
    let mut workers: Vec<Child> = (0..3)
        .map(|_| {
            let mut command = world.command(&[]);
            command.env("WORKER_LEASE_SECONDS", LEASE_SECONDS).env("LITELLM_CONCURRENCY", "2");
            world.spawn(command)
        })
        .collect();

    wait_until("three workers beating, one of them active", Duration::from_secs(20), || async {
        let all = worker_status::instances(world.db()).await.expect("workers");
        let online: Vec<_> = all.iter().filter(|w| w.is_online()).collect();
        online.len() == 3 && online.iter().filter(|w| w.role == "active").count() == 1
    })
    .await;
    let first = lease::get(world.db()).await.expect("lease").expect("row");
    let first_holder = first.holder.clone().expect("a holder");
    let active = worker_status::instances(world.db())
        .await
        .expect("workers")
        .into_iter()
        .find(|w| w.instance_id == first_holder)
        .expect("the holder beats");
    assert_eq!(
        worker_status::instances(world.db()).await.expect("workers").iter().filter(|w| w.role == "standby").count(),
        2
    );

    let job = world.enqueue(&JobRequest::SyncAll).await;
    wait_until("the job's push under way", Duration::from_secs(30), || async { world.litellm.new_calls() >= 20 }).await;
    let running = jobs::get(world.db(), job).await.expect("job").expect("exists");
    assert_eq!((running.status.as_str(), running.claimed_by.as_deref()), ("running", Some(first_holder.as_str())));
    let index = workers
        .iter()
        .position(|child| child.id().map(i64::from) == Some(active.pid))
        .expect("the active worker is one of ours");
    let killed_at = Instant::now();
    workers[index].start_kill().expect("kill -9");
    let _ = workers[index].wait().await;
    let written_when_killed = world.litellm.new_calls();
    assert!(written_when_killed < 200, "killed mid-push ({written_when_killed} of 200 written)");

    wait_until("a standby holding the lease", Duration::from_secs(20), || async {
        lease::get(world.db()).await.expect("lease").and_then(|l| l.holder).is_some_and(|h| h != first_holder)
    })
    .await;
    let takeover = killed_at.elapsed();
    assert!(takeover < Duration::from_secs(15), "took over after {takeover:?}");
    let second = lease::get(world.db()).await.expect("lease").expect("row");
    assert!(second.token > first.token, "a new term");

    let finished = world.wait_for_job(job, |j| j.is_finished()).await;
    assert_eq!(finished.status, "done", "{finished:?}");
    assert_eq!(finished.attempts, 2, "run again by the new active worker: {finished:?}");
    assert_eq!(finished.claimed_by, second.holder);
    let (distinct, duplicates) = names_and_duplicates(&world);
    assert_eq!(duplicates, Vec::<String>::new(), "no duplicate after the takeover");
    assert_eq!(distinct, 200, "no missing entry");
    assert_eq!(jobs::queue_depth(world.db()).await.expect("depth"), 0);

    for child in &mut workers {
        let _ = child.start_kill();
    }
}
