//! `litellm-sync`: the only component that talks to upstream model servers and LiteLLM.
//!
//! - [`upstream`] and [`litellm`] are the HTTP clients;
//! - [`fetch`] reads a provider into the database, [`push`] reconciles LiteLLM with it,
//!   [`cycle`] does both for a set of providers;
//! - [`jobs`] runs the frontend's queued actions ([`apply`] a plan job's), [`scheduler`] decides what is due, and
//!   [`worker`] is the loop that ties them together; [`app`] is what `main` calls;
//! - [`render_config`] writes the desired state as a LiteLLM `config.yaml`.

pub mod app;
pub mod apply;
pub mod cli;
pub mod context;
pub mod copy_db;
pub mod cycle;
pub mod fallbacks;
pub mod fetch;
pub mod health;
pub mod http;
pub mod jobs;
pub mod json_stream;
pub mod lease;
pub mod litellm;
pub mod push;
pub mod render_config;
pub mod report;
pub mod scheduler;
pub mod upstream;
pub mod worker;
