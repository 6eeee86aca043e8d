//! A test world: fake Ollama, OpenAI-compatible and LiteLLM servers on 127.0.0.1, a real
//! database of its own (SQLite, or PostgreSQL when `TEST_DATABASE=postgres`), and the real
//! `litellm-sync` binary run against them.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::db::jobs::JobRecord;
use shared::db::providers::NewProvider;
use shared::db::{Backend, Location};
use shared::db::{config, jobs, models, providers};
use shared::jobs::JobRequest;
use shared::model::Model;
use shared::provider::Provider;
use shared::test_support::{TestDatabase, backend_from_env};
use shared::types::ProviderType;
use shared::{Database, Secret};
use tempfile::TempDir;
use testkit::{FakeLiteLlm, FakeOllama, FakeOpenAi, OllamaModel, openai_model};
use tokio::process::{Child, Command};

pub const MASTER_KEY: &str = "sk-test-master-key-0042";

pub struct World {
    /// Logs and files a test makes; the database lives in `database`.
    pub dir: TempDir,
    pub database: TestDatabase,
    pub db: Database,
    pub ollama: FakeOllama,
    pub openai: FakeOpenAi,
    pub litellm: FakeLiteLlm,
}

impl World {
    /// Fakes started, database migrated, LiteLLM configured; no providers yet. The backend is the
    /// one `TEST_DATABASE` names.
    pub async fn new() -> Self {
        Self::on(backend_from_env()).await
    }

    /// The same on SQLite whatever `TEST_DATABASE` says: for what only a database file has.
    pub async fn sqlite() -> Self {
        Self::on(Backend::Sqlite).await
    }

    pub async fn on(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = TestDatabase::on(backend).await;
        let db = database.open().await;
        let litellm = FakeLiteLlm::start(MASTER_KEY).await;
        config::set_litellm(&db, Some(&litellm.url()), Some(&Secret::new(MASTER_KEY))).await.expect("config");
        Self { dir, database, db, ollama: FakeOllama::start().await, openai: FakeOpenAi::start().await, litellm }
    }

    pub fn location(&self) -> &Location {
        self.database.location()
    }

    /// The SQLite database file (the test must have made its world with [`World::sqlite`]).
    #[track_caller]
    pub fn db_path(&self) -> &Path {
        match self.location() {
            Location::Sqlite(path) => path,
            Location::Postgres(_) => panic!("this test needs a database file: make its world with World::sqlite()"),
        }
    }

    /// Plus an Ollama provider `lab` serving a chat, an embedding and a vision model.
    pub async fn with_lab() -> (Self, Provider) {
        let world = Self::new().await;
        world.ollama.set_models(vec![
            OllamaModel::chat("llama3.2:3b").context_length(131072),
            OllamaModel::embedding("nomic-embed-text:latest"),
            OllamaModel::vision("qwen2.5vl:7b"),
        ]);
        let lab = world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
        (world, lab)
    }

    pub async fn add_provider(&self, new: NewProvider) -> Provider {
        providers::insert(self.db(), &new).await.expect("insert provider")
    }

    pub async fn add_openai_provider(&self, name: &str, ids: &[&str]) -> Provider {
        self.openai.set_models(ids.iter().map(|id| openai_model(id)).collect());
        self.add_provider(NewProvider::new(name, ProviderType::Openai, self.openai.url())).await
    }

    pub fn db(&self) -> &shared::Database {
        &self.db
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// `litellm-sync <args>` started through `wrapper` (e.g. `setpriv …` to run as another user).
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_litellm-sync");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(bin);
                command
            }
            None => Command::new(bin),
        };
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.location().to_url())
            .env("LOG_LEVEL", "debug")
            .env("POLL_INTERVAL_MS", "100")
            .env("HEARTBEAT_SECONDS", "1")
            .env("REQUEST_TIMEOUT_SECONDS", "3")
            .env("CONNECT_TIMEOUT_SECONDS", "2")
            .env("LITELLM_RETRY_DELAY_MS", "50")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs `litellm-sync <args>` to completion.
    pub async fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().await.expect("run litellm-sync");
        Run::from(output)
    }

    pub async fn once(&self) -> Run {
        self.run(&["--once"]).await
    }

    /// Starts the long-running worker; its output goes to `worker-<n>.log` in the temp dir.
    pub fn spawn_worker(&self) -> Child {
        self.spawn(self.command(&[]))
    }

    pub fn spawn(&self, mut command: Command) -> Child {
        let n = std::fs::read_dir(self.dir.path()).map(|d| d.count()).unwrap_or(0);
        let log = std::fs::File::create(self.dir.path().join(format!("worker-{n}.log"))).expect("log file");
        let log_err = log.try_clone().expect("log file");
        command.stdout(log).stderr(log_err).spawn().expect("spawn worker")
    }

    pub async fn models(&self) -> Vec<Model> {
        models::list_all(self.db()).await.expect("list models")
    }

    pub async fn model(&self, provider: &Provider, model_id: &str) -> Model {
        models::get_by_model_id(self.db(), provider.id, model_id).await.expect("query").expect("model exists")
    }

    /// LiteLLM entries by model_name.
    pub fn entry(&self, model_name: &str) -> Option<Value> {
        self.litellm.entries().into_iter().find(|e| e["model_name"] == model_name)
    }

    pub fn entry_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.litellm.entries().iter().filter_map(|e| e["model_name"].as_str().map(str::to_owned)).collect();
        names.sort();
        names
    }

    /// `(model_info.id, model_name)` of what LiteLLM holds, sorted.
    pub fn litellm_holds(&self) -> Vec<(String, String)> {
        ids_and_names(&self.litellm.entries())
    }

    /// The same, from the worker's snapshot in the database.
    pub async fn snapshot_holds(&self) -> Vec<(String, String)> {
        let (_, entries) = shared::db::snapshot::latest(self.db()).await.expect("query").expect("a snapshot");
        ids_and_names(&entries)
    }

    pub async fn enqueue(&self, request: &JobRequest) -> i64 {
        jobs::enqueue(self.db(), request).await.expect("enqueue")
    }

    /// Waits (polling the database) until the job has ended.
    pub async fn finished_job(&self, id: i64) -> JobRecord {
        self.wait_for_job(id, JobRecord::is_finished).await
    }

    pub async fn wait_for_job(&self, id: i64, done: impl Fn(&JobRecord) -> bool) -> JobRecord {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let job = jobs::get(self.db(), id).await.expect("get job").expect("job exists");
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} stuck: {job:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "litellm-sync failed: {self:#?}");
        self
    }

    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "litellm-sync should have failed: {self:#?}");
        self
    }

    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn ids_and_names(entries: &[Value]) -> Vec<(String, String)> {
    let mut held: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (e["model_info"]["id"].as_str().unwrap_or("").to_owned(), e["model_name"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    held.sort();
    held
}

/// A URL nothing listens on.
pub async fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", testkit::free_port().await)
}
