use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use frontend::config::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    shared::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("litellm-frontend: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("litellm-frontend: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if matches!(cli.command, Some(Command::Health)) {
        frontend::probe::health(cli.probe_address()).await.map_err(|e| anyhow::anyhow!("unhealthy: {e}"))?;
        println!("healthy");
        return Ok(());
    }
    let settings = cli.settings()?;
    let db = shared::Database::connect(&settings.database, 8).await?;
    frontend::wait_for_schema(&db, Duration::from_secs(1)).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen).await?;
    tracing::info!(
        url = %format!("http://{}", listener.local_addr()?),
        auth = match (&settings.admin_token, settings.listen.ip().is_loopback()) {
            (Some(_), _) => "admin token",
            (None, true) => "none (loopback only)",
            (None, false) => "none (--insecure-listen: anyone who reaches this port is admin)",
        },
        "litellm-frontend listening"
    );
    frontend::serve(listener, frontend::AppState::new(db.clone(), settings), shutdown_signal()).await?;
    db.close().await;
    tracing::info!("litellm-frontend stopped");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
