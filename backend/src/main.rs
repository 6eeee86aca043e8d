use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = backend::cli::Cli::parse();
    shared::logging::init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("litellm-sync: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(backend::app::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            let error = shared::logging::redact(&format!("{error:#}"));
            tracing::error!(error = ?error, "stopped");
            eprintln!("litellm-sync: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
