//! Which providers' automatic syncs are due (the rule is `shared::schedule::is_due`).

use std::collections::HashMap;

use shared::DbError;
use shared::db::config;
use shared::db::sync_runs;
use shared::provider::Provider;
use shared::schedule;

use crate::context::Context;
use crate::jobs::enabled_providers;

/// Enabled providers whose interval has passed since their last fetch started (or that never ran).
pub async fn due_providers(ctx: &Context) -> Result<Vec<Provider>, DbError> {
    let global = config::get(&ctx.db).await?.sync_interval_seconds;
    let since: HashMap<i64, f64> = sync_runs::seconds_since_last_start(&ctx.db).await?.into_iter().collect();
    Ok(enabled_providers(ctx)
        .await?
        .into_iter()
        .filter(|provider| {
            schedule::is_due(
                provider.sync_enabled,
                provider.sync_interval_seconds,
                global,
                since.get(&provider.id).copied(),
            )
        })
        .collect())
}
