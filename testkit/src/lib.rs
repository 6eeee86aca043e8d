//! Fake upstream servers for tests and benchmarks: Ollama, an OpenAI-compatible server and the
//! LiteLLM proxy admin API. Each binds `127.0.0.1:0`, runs in-process on the caller's tokio runtime
//! (until that runtime ends) and is driven through a cheap, cloneable handle.

pub mod capture;
mod common;
pub mod failure;
pub mod litellm;
pub mod ollama;
pub mod openai;
mod probe;
pub mod real_litellm;
pub mod tcp_proxy;

pub use capture::{Capture, Captured, Redirector};
pub use common::{Received, fake_embedding};
pub use failure::Failure;
pub use litellm::{FakeLiteLlm, WriteFault, WriteSeen};
pub use ollama::{FakeOllama, OllamaModel};
pub use openai::{FakeOpenAi, openai_model};
pub use probe::{free_port, http_client, wait_until};
pub use tcp_proxy::TcpProxy;
