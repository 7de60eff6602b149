/// Why loading a model or running an inference failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The model file cannot be read.
    #[error("cannot read model {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The file is not a usable GGUF model.
    #[error("model: {0}")]
    Model(String),
    /// The model's architecture is not supported.
    #[error(
        "unsupported model architecture {0:?}: supported are llama (SmolLM2, Llama 3.x) and qwen2 (Qwen2.5)"
    )]
    UnsupportedArchitecture(String),
    /// The tokenizer described in the GGUF is not supported.
    #[error("unsupported tokenizer: {0}")]
    UnsupportedTokenizer(String),
    /// The chat template failed to render.
    #[error("chat template: {0}")]
    Template(String),
    /// The request is invalid (parameters out of range, empty conversation).
    #[error("{0}")]
    InvalidRequest(String),
    /// The prompt and the requested output do not fit the context window.
    #[error(
        "this model's maximum context length is {context} tokens; the prompt has {prompt} tokens and {requested} more were requested"
    )]
    ContextLength {
        /// Context window.
        context: usize,
        /// Prompt tokens.
        prompt: usize,
        /// Tokens requested for the completion.
        requested: usize,
    },
}

impl InferError {
    /// Whether the caller's request (rather than the model or the machine) is at fault.
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidRequest(_) | Self::ContextLength { .. } | Self::Template(_))
    }
}

/// Result alias for inference.
pub type Result<T, E = InferError> = std::result::Result<T, E>;
