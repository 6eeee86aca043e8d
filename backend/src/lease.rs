//! Exactly one active worker among any number of `litellm-sync` processes on one database: the
//! one holding the lease (`shared::db::lease`). The others are hot standbys that take over
//! within a lease term of the active one dying or losing the database.
//!
//! Fencing: the holder counts its term from *before* it asked for the lease and ends it a
//! margin early, so by its own clock it stops writing to LiteLLM before the term can have
//! ended on the database server's, which is when a standby may take over. Every LiteLLM write
//! checks [`Fence::check`] first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::db::lease;
use shared::{Database, DbError};

/// How long a term lasts on the database server.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Term {
    token: Option<i64>,
    /// By this process's monotonic clock: when it must stop writing unless renewed.
    valid_until: Option<Instant>,
}

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// A new term began (first acquisition, a takeover, or a lapse of our own): recover what
    /// the previous holder left running.
    Began(i64),
    /// Our term was extended.
    Extended,
    /// Another worker holds the lease.
    Standby,
}

/// Clones share one term.
#[derive(Debug, Clone)]
pub struct Lease {
    instance_id: String,
    ttl: Duration,
    term: Arc<Mutex<Term>>,
}

impl Lease {
    pub fn new(ttl: Duration) -> Self {
        Self { instance_id: uuid::Uuid::new_v4().to_string(), ttl, term: Arc::default() }
    }

    /// This process among all workers.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// How often to renew (or, as a standby, to try): three times a term.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// Takes or extends the lease. A database error leaves the term as it was: it runs out by
    /// itself, and writes stop then.
    pub async fn renew(&self, db: &Database) -> Result<Renewal, DbError> {
        let asked_at = Instant::now();
        let granted = lease::acquire(db, &self.instance_id, self.ttl).await?;
        let mut term = self.term.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let still_valid = term.valid_until.is_some_and(|until| until > Instant::now());
        Ok(match granted {
            Some(token) => {
                let began = term.token != Some(token) || !still_valid;
                term.token = Some(token);
                term.valid_until = Some(asked_at + self.ttl.mul_f32(0.8));
                if began { Renewal::Began(token) } else { Renewal::Extended }
            }
            None => {
                term.token = None;
                term.valid_until = None;
                Renewal::Standby
            }
        })
    }

    /// Whether this process may work now (holds a term that has not run out).
    pub fn is_held(&self) -> bool {
        self.fence().check().is_ok()
    }

    pub fn token(&self) -> Option<i64> {
        self.term.lock().ok().and_then(|term| term.token)
    }

    /// The check every LiteLLM write makes.
    pub fn fence(&self) -> Fence {
        Fence { term: Some(self.term.clone()) }
    }

    /// Gives the lease up so that a standby takes over at once (at shutdown).
    pub async fn release(&self, db: &Database) {
        let token = {
            let mut term = self.term.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            term.valid_until = None;
            term.token.take()
        };
        if let Some(token) = token
            && let Err(error) = lease::release(db, &self.instance_id, token).await
        {
            tracing::warn!(error = ?error.to_string(), "could not release the worker lease; a standby takes over when it expires");
        }
    }
}

/// Whether LiteLLM may be written to: the lease term of this process has not run out. A client
/// without a fence (tests, `render-config`) is never stopped.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    term: Option<Arc<Mutex<Term>>>,
}

/// The reason a write was not sent.
pub const LOST: &str = "this worker no longer holds the worker lease (the database could not be reached to renew it, \
     or another litellm-sync took over); it stopped before writing to LiteLLM";

impl Fence {
    pub fn check(&self) -> Result<(), &'static str> {
        let Some(term) = &self.term else { return Ok(()) };
        let held = term
            .lock()
            .map(|term| term.token.is_some() && term.valid_until.is_some_and(|until| until > Instant::now()))
            .unwrap_or(false);
        if held { Ok(()) } else { Err(LOST) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_without_a_term_refuses_and_an_unfenced_client_is_never_stopped() {
        let lease = Lease::new(DEFAULT_TTL);
        assert_eq!(lease.fence().check(), Err(LOST));
        assert!(!lease.is_held());
        assert_eq!(Fence::default().check(), Ok(()));
        {
            let mut term = lease.term.lock().expect("lock");
            term.token = Some(7);
            term.valid_until = Some(Instant::now() + Duration::from_secs(5));
        }
        assert!(lease.is_held());
        lease.term.lock().expect("lock").valid_until = Some(Instant::now());
        assert!(!lease.is_held(), "a term that ran out stops writes even with a token");
    }
}
