//! `litellm-sync copy-db --from <url> --to <url>`: moves an install's whole database to another
//! backend (SQLite → PostgreSQL, or back), into an empty target, in one transaction.

use std::process::ExitCode;

use anyhow::Context as _;
use shared::Database;
use shared::db::{Location, MigrationReport, copy};

pub async fn run(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let source = Location::parse(from).context("--from")?;
    let target = Location::parse(to).context("--to")?;
    if copy::same_database(&source, &target) {
        anyhow::bail!("--from and --to are the same database ({source}); copy-db copies into another, empty database");
    }
    // Connecting would create an empty file and copy nothing from it.
    if let Location::Sqlite(path) = &source
        && !path.is_file()
    {
        anyhow::bail!("there is no SQLite database at {} (--from)", path.display());
    }

    let source_db = Database::connect(&source, 2).await?;
    let migrated = source_db.migrate().await.with_context(|| format!("cannot migrate the source {source}"))?;
    println!("source {source}: {}", schema_line(&source_db, &migrated).await?);
    let target_db = Database::connect(&target, 2).await?;
    let migrated = target_db.migrate().await.with_context(|| format!("cannot migrate the target {target}"))?;
    println!("target {target}: {}", schema_line(&target_db, &migrated).await?);

    let report =
        copy::copy(&source_db, &target_db).await.with_context(|| format!("nothing was copied into {target}"))?;
    source_db.close().await;
    target_db.close().await;
    for (table, rows) in &report.tables {
        println!("  {table:<24} {rows:>8} rows");
    }
    for table in &report.not_copied {
        println!("  {table:<24} not copied (the target has no such table)");
    }
    println!("copied {} rows in {} tables from {source} to {target}", report.rows(), report.tables.len());
    println!("point DATABASE_URL of litellm-sync and litellm-frontend at the target, then start them");
    Ok(ExitCode::SUCCESS)
}

async fn schema_line(db: &Database, migrated: &MigrationReport) -> anyhow::Result<String> {
    let version = db.schema_status().await?.applied.unwrap_or(0);
    let mut line = if migrated.applied.is_empty() {
        format!("at schema version {version}")
    } else {
        let applied: Vec<String> = migrated.applied.iter().map(i64::to_string).collect();
        format!("migrated to schema version {version} (applied {})", applied.join(", "))
    };
    if let Some(adopted) = &migrated.adopted {
        line.push_str(&format!(
            "; adopted the Python litellm-updater database ({} providers, {} models)",
            adopted.providers, adopted.models
        ));
    }
    Ok(line)
}
