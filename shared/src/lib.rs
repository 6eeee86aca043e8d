//! The library both services share: the SQLite schema and its access layer (`db`), and the
//! domain rules that decide what LiteLLM should hold (`metadata`, `tags`, `desired`, `plan`).
//!
//! Nothing here performs network I/O: the backend feeds upstream answers in, the frontend reads
//! the results out, and they meet only in the database.

pub mod backoff;
pub mod compat;
pub mod db;
pub mod desired;
pub mod job_results;
pub mod jobs;
pub mod limits;
pub mod listing;
pub mod logging;
pub mod metadata;
pub mod model;
pub mod plan;
pub mod presets;
pub mod pricing;
pub mod provider;
pub mod redact;
pub mod render;
pub mod routing;
pub mod runs;
pub mod schedule;
pub mod secret;
pub mod settings;
pub mod status;
pub mod tags;
pub mod types;

#[cfg(test)]
mod purity;
#[cfg(test)]
mod testing;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use db::{Database, DbError};
pub use secret::Secret;
