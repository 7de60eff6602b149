/// Why loading a model or running an inference failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The model file cannot be read.
    #[error("cannot read model {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// One tensor's data cannot be read from the model file.
    #[error("cannot read model {path}: tensor {tensor}: {source}")]
    TensorIo {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The file's GGUF header cannot be parsed.
    #[error("model: {path} is not a valid GGUF file: {reason}")]
    NotGguf {
        /// The file.
        path: String,
        /// What the reader found.
        reason: String,
    },
    /// The batch worker thread cannot be started.
    #[error("model: cannot start the batch worker: {0}")]
    Worker(#[source] std::io::Error),
    /// The batch worker has stopped (the engine is shutting down).
    #[error("inference stopped: the engine is shutting down")]
    Stopped,
    /// The worker threads cannot be started.
    #[error("model: cannot start {threads} worker threads: {source}")]
    ThreadPool {
        /// How many were asked for.
        threads: usize,
        /// Why not.
        #[source]
        source: std::io::Error,
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
    /// The tokenizer's pre-tokenizer pattern does not compile.
    #[error("unsupported tokenizer: {0}")]
    TokenizerPattern(#[source] Box<fancy_regex::Error>),
    /// The chat template failed to compile or render.
    #[error("chat template: {0}")]
    Template(#[source] minijinja::Error),
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
