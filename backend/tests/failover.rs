//! Several `litellm-sync` processes on one database: exactly one works, a standby takes over
//! when it dies, and LiteLLM never gets a duplicate or loses an entry.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use shared::db::{Backend, config, jobs, lease, worker_status};
use shared::jobs::JobRequest;
use support::World;
use testkit::{TcpProxy, wait_until};
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

/// The worker instance id whose process is `child`, once it beats.
async fn instance_of(world: &World, child: &Child) -> String {
    let pid = child.id().map(i64::from).expect("running");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = worker_status::instances(world.db()).await.expect("workers");
        if let Some(worker) = all.into_iter().find(|w| w.pid == pid && w.is_online()) {
            return worker.instance_id;
        }
        assert!(Instant::now() < deadline, "worker {pid} never beat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_worker_cut_off_from_postgresql_stops_writing_before_its_term_ends_and_a_standby_finishes_the_push() {
    const MODELS: usize = 300;
    let term = Duration::from_secs(2);
    let world = World::on(Backend::Postgres).await;
    let ids = model_ids(MODELS);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    world.add_openai_provider("hosted", &ids).await;
    config::set_sync_interval(world.db(), 0).await.expect("no schedule");
    // 40 ms a write, two at a time: the push takes about 6 s, far longer than a term.
    world.litellm.set_latency(Duration::from_millis(40));

    let direct = url::Url::parse(&world.location().to_url()).expect("a PostgreSQL URL");
    let postgres = direct.socket_addrs(|| Some(5432)).expect("address").remove(0);
    let proxy = TcpProxy::start(postgres).await;
    let mut via_proxy = direct.clone();
    via_proxy.set_ip_host("127.0.0.1".parse().expect("ip")).expect("host");
    via_proxy.set_port(Some(proxy.port())).expect("port");
    let worker = |url: &str| {
        let mut command = world.command(&[]);
        command
            .env("DATABASE_URL", url)
            .env("WORKER_LEASE_SECONDS", term.as_secs().to_string())
            .env("LITELLM_CONCURRENCY", "2");
        world.spawn(command)
    };

    let mut a = worker(via_proxy.as_str());
    let a_id = instance_of(&world, &a).await;
    wait_until("A active", Duration::from_secs(20), || async {
        lease::get(world.db()).await.expect("lease").and_then(|l| l.holder).as_deref() == Some(a_id.as_str())
    })
    .await;
    assert!(proxy.live_connections() > 0, "A reaches PostgreSQL through the proxy");
    let mut b = worker(direct.as_str());
    let b_id = instance_of(&world, &b).await;
    wait_until("B standing by", Duration::from_secs(20), || async {
        let all = worker_status::instances(world.db()).await.expect("workers");
        all.iter().any(|w| w.instance_id == b_id && w.role == "standby")
    })
    .await;

    let job = world.enqueue(&JobRequest::SyncAll).await;
    wait_until("A's push under way", Duration::from_secs(30), || async { world.litellm.new_calls() >= 20 }).await;
    let running = jobs::get(world.db(), job).await.expect("job").expect("exists");
    assert_eq!(running.claimed_by.as_deref(), Some(a_id.as_str()));
    let cut_at = Instant::now();
    proxy.cut();

    wait_until("B holding the lease", Duration::from_secs(15), || async {
        lease::get(world.db()).await.expect("lease").and_then(|l| l.holder).as_deref() == Some(b_id.as_str())
    })
    .await;
    let takeover = cut_at.elapsed();
    let finished = world.wait_for_job(job, |j| j.is_finished()).await;
    assert_eq!(finished.status, "done", "{finished:?}");
    assert_eq!(finished.claimed_by.as_deref(), Some(b_id.as_str()), "run again by B: {finished:?}");
    assert_eq!(finished.attempts, 2);

    let log = world.litellm.write_log();
    let by = |id: &str| {
        let tag = format!("(worker {id})");
        log.iter().filter(move |w| w.user_agent.as_deref().is_some_and(|ua| ua.ends_with(&tag))).map(|w| w.at)
    };
    let (a_writes, b_writes): (Vec<Instant>, Vec<Instant>) = (by(&a_id).collect(), by(&b_id).collect());
    assert_eq!(a_writes.len() + b_writes.len(), log.len(), "every write names its worker");
    let a_last = a_writes.iter().max().copied().expect("A wrote before the cut");
    let b_first = b_writes.iter().min().copied().expect("B wrote after the takeover");
    eprintln!(
        "A: {} writes, the last {:?} after the cut; B: {} writes, the first {:?} after the cut; takeover {takeover:?}",
        a_writes.len(),
        a_last.saturating_duration_since(cut_at),
        b_writes.len(),
        b_first.saturating_duration_since(cut_at)
    );
    assert!(a_writes.len() < MODELS, "A was cut off mid-push ({} writes)", a_writes.len());
    assert!(
        a_last < cut_at + term,
        "A wrote {:?} after the cut, past its lease term of {term:?}",
        a_last.duration_since(cut_at)
    );
    assert!(a_last < b_first, "A's last write came after B's first");
    assert!(takeover < Duration::from_secs(15), "B took over after {takeover:?}");
    let (distinct, duplicates) = names_and_duplicates(&world);
    assert_eq!(duplicates, Vec::<String>::new(), "no duplicate after the takeover");
    assert_eq!(distinct, MODELS, "no missing entry");

    // A gets the database back: it stands by, and its stale outcome of the job changes nothing.
    proxy.restore();
    wait_until("A back as a standby, B the one active worker", Duration::from_secs(30), || async {
        let all = worker_status::instances(world.db()).await.expect("workers");
        let online: Vec<_> = all.iter().filter(|w| w.is_online()).collect();
        let a_standby =
            online.iter().any(|w| w.instance_id == a_id && w.role == "standby" && w.seconds_since_beat < 1.5);
        let active: Vec<&str> = online.iter().filter(|w| w.role == "active").map(|w| w.instance_id.as_str()).collect();
        a_standby && active == [b_id.as_str()]
    })
    .await;
    assert!(proxy.live_connections() > 0, "A reconnected through the proxy");
    assert!(a.try_wait().expect("status").is_none(), "A kept running through the outage");
    let after = jobs::get(world.db(), job).await.expect("job").expect("exists");
    assert_eq!(
        (after.status.as_str(), after.claimed_by.as_deref(), after.finished_at.as_deref()),
        ("done", Some(b_id.as_str()), finished.finished_at.as_deref())
    );
    assert_eq!(by(&a_id).count(), a_writes.len(), "no write from A after it came back");
    assert_eq!(names_and_duplicates(&world), (MODELS, Vec::new()));

    let _ = a.start_kill();
    let _ = b.start_kill();
}
