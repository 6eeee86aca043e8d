//! The human-readable report of `--once` and `--dry-run`.

use std::fmt::Write;

use shared::job_results::verb;
use shared::plan::Action;

use crate::cycle::CycleReport;
use crate::fallbacks::{FallbackAction, FallbackReport};

pub fn render(report: &CycleReport) -> String {
    let mut out = String::new();
    for provider in &report.providers {
        match (&provider.fetch, &provider.error) {
            (Some(f), _) => {
                let c = f.counts;
                let _ = writeln!(
                    out,
                    "{}: {} models ({} added, {} updated, {} orphaned, {} back), {} details read",
                    provider.provider, c.seen, c.added, c.updated, c.orphaned, c.unorphaned, f.details_calls
                );
                for warning in &f.warnings {
                    let _ = writeln!(out, "  warning: {warning}");
                }
            }
            (None, Some(error)) => {
                let _ = writeln!(out, "{}: FAILED: {error}", provider.provider);
            }
            (None, None) => {}
        }
    }
    if report.providers.is_empty() {
        out.push_str("no enabled providers\n");
    }
    if report.push_skipped {
        out.push_str("LiteLLM: not configured, nothing pushed\n");
    }
    if let Some(error) = &report.push_error {
        let _ = writeln!(out, "LiteLLM: FAILED: {error}");
    }
    if let Some(push) = &report.push {
        let plan = &push.plan;
        if push.dry_run {
            let _ = writeln!(
                out,
                "LiteLLM plan (dry run, nothing applied): {} to create, {} to update, {} to replace, {} to delete, {} duplicates, {} unchanged",
                plan.count(Action::Create),
                plan.count(Action::Update),
                plan.count(Action::Replace),
                plan.count(Action::Delete),
                plan.count(Action::DeleteDuplicate),
                plan.unchanged
            );
            for op in &plan.operations {
                let _ = writeln!(out, "  {} {} [{}]: {}", verb(op.action), op.model_name, op.litellm_id, op.reason);
                for change in &op.changes {
                    let _ = writeln!(out, "      {}: {} -> {}", change.field, change.from, change.to);
                }
            }
        } else {
            let _ = writeln!(
                out,
                "LiteLLM: {} created, {} updated, {} replaced, {} deleted, {} failed, {} not sent, {} unchanged",
                push.writes.created,
                push.writes.updated,
                push.writes.replaced,
                push.writes.deleted,
                push.writes.failed,
                push.writes.skipped,
                plan.unchanged
            );
            for failure in push.results.iter().filter(|r| !r.ok) {
                let _ = writeln!(
                    out,
                    "  {} {} {}: {}",
                    if failure.skipped { "did not" } else { "failed to" },
                    verb(failure.action),
                    failure.model_name,
                    failure.error.as_deref().unwrap_or("")
                );
            }
        }
        fallback_lines(&mut out, &push.fallbacks, push.dry_run);
        if plan.foreign_entries + plan.config_entries > 0 {
            let _ = writeln!(
                out,
                "  left alone: {} config-file entries, {} entries owned by others",
                plan.config_entries, plan.foreign_entries
            );
        }
    }
    out
}

/// The fallback part of the plan (dry run) or of what was applied.
fn fallback_lines(out: &mut String, fallbacks: &FallbackReport, dry_run: bool) {
    if fallbacks.operations.is_empty() && fallbacks.unchanged == 0 && fallbacks.notes.is_empty() {
        return;
    }
    let _ =
        writeln!(out, "LiteLLM fallbacks: {} to change, {} unchanged", fallbacks.operations.len(), fallbacks.unchanged);
    for op in &fallbacks.operations {
        let verb = match op.action {
            FallbackAction::Set => "set",
            FallbackAction::Delete => "delete",
        };
        let to = op.to.as_ref().map(|m| format!(" -> {}", m.join(", "))).unwrap_or_default();
        let outcome = match (dry_run, op.ok, &op.error) {
            (false, Some(false), Some(error)) => format!(" FAILED: {error}"),
            _ => String::new(),
        };
        let _ =
            writeln!(out, "  {verb} {} fallback of {}{to}: {}{outcome}", op.fallback_type, op.model_name, op.reason);
    }
    for note in &fallbacks.notes {
        let _ = writeln!(out, "  {note}");
    }
}
