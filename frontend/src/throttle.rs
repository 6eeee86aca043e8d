//! Login throttling: wrong admin tokens (login form or `Authorization: Bearer`) are counted per
//! client address and over all clients, in fixed windows. Past either limit every attempt,
//! right or wrong, is answered 429 with `Retry-After` until the window ends, so guessing gains
//! nothing from being fast. In memory: each frontend counts its own clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures one address may have per window.
pub const PER_CLIENT: u32 = 10;
/// Failures all addresses together may have per window (a spread-out guesser).
pub const OVERALL: u32 = 100;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past it, only the overall limit holds for new ones.
const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self { started: now, failures: 0 }
    }

    fn current(&mut self, now: Instant) -> &mut Self {
        if now.duration_since(self.started) >= WINDOW {
            *self = Self::new(now);
        }
        self
    }

    fn retry_after(&self, now: Instant) -> Duration {
        WINDOW.saturating_sub(now.duration_since(self.started)).max(Duration::from_secs(1))
    }
}

#[derive(Debug)]
struct State {
    overall: Window,
    clients: HashMap<IpAddr, Window>,
}

#[derive(Debug)]
pub struct Throttle {
    state: Mutex<State>,
    per_client: u32,
    overall: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(PER_CLIENT, OVERALL)
    }
}

impl Throttle {
    pub fn new(per_client: u32, overall: u32) -> Self {
        let now = Instant::now();
        Self { state: Mutex::new(State { overall: Window::new(now), clients: HashMap::new() }), per_client, overall }
    }

    /// `Err(wait)` when `client` may not try a token now.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    /// Counts a wrong token from `client`.
    pub fn failed(&self, client: IpAddr) {
        self.failed_at(client, Instant::now());
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let overall = state.overall.current(now);
        if overall.failures >= self.overall {
            return Err(overall.retry_after(now));
        }
        match state.clients.get_mut(&client).map(|w| *w.current(now)) {
            Some(window) if window.failures >= self.per_client => Err(window.retry_after(now)),
            _ => Ok(()),
        }
    }

    fn failed_at(&self, client: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.overall.current(now).failures += 1;
        if state.clients.len() >= MAX_CLIENTS && !state.clients.contains_key(&client) {
            state.clients.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if state.clients.len() >= MAX_CLIENTS {
                return;
            }
        }
        state.clients.entry(client).or_insert_with(|| Window::new(now)).current(now).failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_all_together_are_limited_per_window() {
        let throttle = Throttle::new(3, 5);
        let start = Instant::now();
        let (a, b, c) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]), IpAddr::from([10, 0, 0, 3]));
        for _ in 0..3 {
            assert!(throttle.check_at(a, start).is_ok());
            throttle.failed_at(a, start);
        }
        let wait = throttle.check_at(a, start + Duration::from_secs(20)).expect_err("a is throttled");
        assert_eq!(wait, Duration::from_secs(40));
        assert!(throttle.check_at(b, start).is_ok(), "b is not");
        throttle.failed_at(b, start);
        throttle.failed_at(b, start);
        assert!(throttle.check_at(c, start).is_err(), "five failures overall throttle everyone");
        assert!(throttle.check_at(a, start + WINDOW).is_ok(), "a new window forgives");
        assert!(throttle.check_at(c, start + WINDOW).is_ok());
    }
}
