//! Applying a plan job (`apply_plan`): the operations the plan shows and only those, or
//! nothing at all when a plan computed now would differ from it.

use shared::DbError;
use shared::db::jobs;
use shared::job_results::plan_to_apply;
use shared::plan::OperationSet;

use crate::push::Mode;

use crate::context::Context;
use crate::push::{self, PushError, Scope};

/// How to apply plan job `plan_job_id` (sending only what it holds), once a plan computed now has
/// been found to be the same; otherwise why nothing is applied, in plain words.
pub async fn check(ctx: &Context, plan_job_id: i64) -> Result<Result<Mode, String>, DbError> {
    let Some(job) = jobs::get(&ctx.db, plan_job_id).await? else {
        return Ok(Err(format!("there is no job {plan_job_id} to apply")));
    };
    let stored = match plan_to_apply(&job) {
        Ok(stored) => stored,
        Err(refusal) => return Ok(Err(refusal)),
    };
    ctx.step("computing the plan again, to compare it with the one shown").await;
    // A plan is computed over everything, so it is compared with everything.
    let fresh = match push::push(ctx, Scope::All, true).await {
        Ok(fresh) => fresh,
        Err(PushError::Db(error)) => return Err(error),
        Err(error) => return Ok(Err(ctx.redact(&format!("cannot compare the plan with LiteLLM: {error}")))),
    };
    Ok(match stored.differences(&fresh) {
        0 => Ok(Mode::ApplyOnly {
            operations: OperationSet::of(&stored.plan.operations),
            fallbacks: stored.fallbacks.operations,
        }),
        _ if fresh.operation_count() == 0 => Err(format!(
            "nothing to apply: LiteLLM already holds what plan job {plan_job_id} shows (it was applied already, \
             or a sync did it); nothing was written"
        )),
        1 => Err(refusal("1 operation differs")),
        n => Err(refusal(&format!("{n} operations differ"))),
    })
}

fn refusal(differ: &str) -> String {
    format!(
        "LiteLLM or the settings changed since this plan was computed: {differ}; compute the plan again \
         (nothing was written)"
    )
}
