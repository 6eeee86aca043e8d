//! When automatic syncs are due: each enabled provider on its own interval, or the global one.
//! An interval of 0 (the global default when a provider has none) means "never automatically".

use std::collections::HashMap;

use shared::DbError;
use shared::db::config;
use shared::db::providers::Provider;
use shared::db::sync_runs;

use crate::context::Context;
use crate::jobs::enabled_providers;

/// Providers whose interval has passed since their last fetch started (or that never ran).
pub async fn due_providers(ctx: &Context) -> Result<Vec<Provider>, DbError> {
    let global = config::get(&ctx.db).await?.sync_interval_seconds;
    let since: HashMap<i64, f64> = sync_runs::seconds_since_last_start(&ctx.db).await?.into_iter().collect();
    Ok(enabled_providers(ctx)
        .await?
        .into_iter()
        .filter(|provider| {
            let interval = provider.sync_interval_seconds.unwrap_or(global);
            provider.syncs_automatically(global)
                && since.get(&provider.id).is_none_or(|elapsed| *elapsed >= interval as f64)
        })
        .collect())
}
