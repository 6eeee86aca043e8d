//! Exponential backoff: how long to wait before the next attempt of something that failed for
//! a reason that may pass (a reset connection, a 503 from a proxy, a database file being
//! replaced). Pure, so the schedule is table-tested rather than timed.

use std::time::Duration;

/// Waits `first`, then twice as long each time, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// The wait after the `failures`-th consecutive failure (1-based; 0 waits nothing).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        // 2^31 × anything overflows long before: cap the exponent, then the product.
        let factor = 1u32.checked_shl(failures.saturating_sub(1).min(30)).unwrap_or(u32::MAX);
        self.first.checked_mul(factor).unwrap_or(self.max).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_first_delay_up_to_the_cap() {
        let ms = Duration::from_millis;
        let db = Backoff::new(ms(500), Duration::from_secs(30));
        let cases = [
            (0, ms(0)),
            (1, ms(500)),
            (2, ms(1000)),
            (3, ms(2000)),
            (6, ms(16_000)),
            (7, ms(30_000)),
            (8, ms(30_000)),
            (40, ms(30_000)),
            (u32::MAX, ms(30_000)),
        ];
        for (failures, expected) in cases {
            assert_eq!(db.delay(failures), expected, "after {failures} failures");
        }
        let huge = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert_eq!(huge.delay(5), Duration::MAX, "overflow saturates at the cap");
    }
}
