//! Small vocabulary types stored in the database and used by the rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How litellm-updater talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    Ollama,
    /// Any OpenAI-compatible `/v1/models` server: vLLM, llama.cpp, LM Studio, hosted APIs, LiteLLM.
    Openai,
    /// The holder of compat aliases; never fetched.
    Compat,
}

/// How LiteLLM should call an Ollama model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OllamaMode {
    #[default]
    OllamaChat,
    Ollama,
    Openai,
}

/// A LiteLLM `model_info.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Chat,
    Embedding,
    Completion,
    ImageGeneration,
    AudioTranscription,
    AudioSpeech,
    Rerank,
}

/// What a model can do, in Ollama's words (`types/model/capability.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Completion,
    Tools,
    Insert,
    Vision,
    Embedding,
    Thinking,
    Image,
    Audio,
}

/// Per-token prices, as LiteLLM names them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
}

impl Pricing {
    pub fn is_empty(&self) -> bool {
        self.input_cost_per_token.is_none() && self.output_cost_per_token.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of: {expected})")]
pub struct ParseError {
    what: &'static str,
    value: String,
    expected: String,
}

macro_rules! string_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(ParseError {
                        what: $what,
                        value: s.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

string_enum!(ProviderType, "provider type", { Ollama => "ollama", Openai => "openai", Compat => "compat" });
string_enum!(OllamaMode, "Ollama mode", { OllamaChat => "ollama_chat", Ollama => "ollama", Openai => "openai" });

/// A [`string_enum!`] kept in a TEXT column, as its text, on either backend (sqlx's derive
/// would want a PostgreSQL enum type).
macro_rules! stored_as_text {
    ($ty:ident) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&'r str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.as_str().to_owned(), buf)
            }
        }
    };
}

stored_as_text!(ProviderType);
stored_as_text!(OllamaMode);
string_enum!(Mode, "LiteLLM mode", {
    Chat => "chat",
    Embedding => "embedding",
    Completion => "completion",
    ImageGeneration => "image_generation",
    AudioTranscription => "audio_transcription",
    AudioSpeech => "audio_speech",
    Rerank => "rerank",
});
string_enum!(Capability, "capability", {
    Completion => "completion",
    Tools => "tools",
    Insert => "insert",
    Vision => "vision",
    Embedding => "embedding",
    Thinking => "thinking",
    Image => "image",
    Audio => "audio",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>().ok(), Some(*mode));
        }
        assert_eq!("OLLAMA_CHAT".parse::<OllamaMode>().ok(), Some(OllamaMode::OllamaChat));
        let err = "llama".parse::<ProviderType>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown provider type \"llama\" (expected one of: ollama, openai, compat)"));
    }
}
