//! When a provider's automatic sync is due: on its own interval, else the global one. An
//! interval of 0 means "never automatically"; a provider's own 0 (or none) means "the global
//! interval", as the API, the forms and the Providers page say.

/// The interval a provider is synced on: its own when set above 0, else `global_interval`.
pub fn effective_interval(provider_interval: Option<i64>, global_interval: i64) -> i64 {
    provider_interval.filter(|seconds| *seconds > 0).unwrap_or(global_interval)
}

/// Whether the worker syncs a provider on its own: enabled, and its effective interval above 0.
pub fn syncs_automatically(sync_enabled: bool, provider_interval: Option<i64>, global_interval: i64) -> bool {
    sync_enabled && effective_interval(provider_interval, global_interval) > 0
}

/// Whether a provider's automatic sync is due: it syncs automatically, and its interval has
/// passed since its last fetch started (`None`: it never ran, so at once).
pub fn is_due(
    sync_enabled: bool,
    provider_interval: Option<i64>,
    global_interval: i64,
    seconds_since_last_start: Option<f64>,
) -> bool {
    let interval = effective_interval(provider_interval, global_interval);
    syncs_automatically(sync_enabled, provider_interval, global_interval)
        && seconds_since_last_start.is_none_or(|elapsed| elapsed >= interval as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_due_by_interval_and_last_start() {
        // (what, enabled, own interval, global interval, seconds since last start, due)
        let cases = [
            ("never synced", true, None, 300, None, true),
            ("just synced", true, None, 300, Some(1.0), false),
            ("just before the interval", true, None, 300, Some(299.9), false),
            ("exactly at the interval", true, None, 300, Some(300.0), true),
            ("long after the interval", true, None, 300, Some(86_400.0), true),
            ("own interval, shorter than the global one", true, Some(60), 300, Some(61.0), true),
            ("own interval, longer than the global one", true, Some(3_600), 300, Some(301.0), false),
            ("own interval, with automatic sync off globally", true, Some(60), 0, Some(60.0), true),
            ("own 0 means the global interval", true, Some(0), 300, Some(100.0), false),
            ("own 0 means the global interval (passed)", true, Some(0), 300, Some(300.0), true),
            ("automatic sync off globally, never synced", true, None, 0, None, false),
            ("automatic sync off globally, long ago", true, None, 0, Some(86_400.0), false),
            ("own 0 with automatic sync off globally", true, Some(0), 0, None, false),
            ("disabled provider, never synced", false, None, 300, None, false),
            ("disabled provider, long after its interval", false, Some(60), 300, Some(86_400.0), false),
        ];
        for (what, enabled, own, global, since, due) in cases {
            assert_eq!(is_due(enabled, own, global, since), due, "{what}");
        }
    }

    #[test]
    fn automatic_sync_needs_an_interval_above_zero() {
        let cases = [
            (true, None, 300, true),
            (true, Some(60), 0, true),
            (true, None, 0, false),
            (true, Some(0), 0, false),
            (false, Some(60), 300, false),
        ];
        for (enabled, own, global, expected) in cases {
            assert_eq!(syncs_automatically(enabled, own, global), expected, "{enabled} {own:?} {global}");
        }
    }
}
