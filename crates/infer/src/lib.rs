//! A deterministic local inference engine for GGUF models.
//!
//! ```text
//! GGUF file ─▶ gguf (our reader and dequantizers) ─▶ ModelConfig + weights in their quantized blocks
//!          └─▶ Tokenizer (byte-level BPE from the metadata) + ChatTemplate (minijinja)
//! messages ─▶ template ─▶ tokens ─▶ model::forward (kernels) ─▶ logits ─▶ Sampler ─▶ token …
//! ```
//!
//! The same model file, messages and sampling parameters (seed included) give byte-identical
//! output on every run, after restarts and for any thread count: the kernels fix the order of
//! every floating-point operation (see [`kernels`]), and sampling uses a seeded generator. That
//! is what lets a receipt be checked by re-running the inference.
//!
//! The engine knows nothing of HTTP or Ethereum; the node serves it and signs its receipts.

mod batch;
mod error;
mod gguf;
pub mod kernels;
mod model;
mod sampling;
mod team;
mod template;
mod tokenizer;

pub use error::{InferError, Result};
pub use gguf::{Architecture, ModelConfig, file_sha256};
pub use kernels::KernelIsa;
pub use sampling::{MAX_TOKENS_LIMIT, SamplingParams};
pub use template::{CHATML, ChatMessage, ChatTemplate};
pub use tokenizer::Tokenizer;

use std::{
    ops::ControlFlow,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// Prompt tokens per forward pass: bounds the scratch memory of a long prompt.
const PREFILL_CHUNK: usize = 128;

/// Name of this engine, as written into receipts.
pub const ENGINE_ID: &str = "agora-infer";
/// Version of this engine, as written into receipts; a receipt can only be re-executed by the
/// same version. `+numerics.N` names the arithmetic: any change to an output bit (a kernel's
/// order of operations, a rounding, a new cache format) bumps N, so that a verifier on another
/// build refuses the receipt as another version's instead of calling it wrong. The test
/// `the_numerics_version_pins_the_arithmetic` fails until it is bumped.
pub const ENGINE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+numerics.2");

/// How the engine was compiled, as benchmarks report it: the Cargo profile, the engine's
/// optimisation level, and whether debug assertions (which slow the kernels 1.4-1.6x) are on.
pub fn engine_build() -> String {
    format!(
        "{} profile, engine opt-level {}, debug assertions {}",
        env!("AGORA_INFER_PROFILE"),
        env!("AGORA_INFER_OPT_LEVEL"),
        if cfg!(debug_assertions) { "on" } else { "off" }
    )
}

/// How to run a model.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Cap on the context window (the model's own is used when smaller or `None`).
    pub max_context: Option<usize>,
    /// Force a kernel implementation (tests and benchmarks); `None` detects the best.
    pub isa: Option<KernelIsa>,
}

/// What a loaded model is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelInfo {
    /// Short id: the file name without `.gguf`.
    pub id: String,
    /// Path of the file.
    pub path: PathBuf,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// `llama` or `qwen2`.
    pub architecture: String,
    /// The model's name from its metadata, if any.
    pub name: Option<String>,
    /// Quantization of most of the weights, e.g. `Q4_1`.
    pub quantization: String,
    /// Number of parameters.
    pub parameters: u64,
    /// Context window in use.
    pub context_length: usize,
}

/// Reads a model's description from its GGUF header (and hashes the file) without loading
/// the weights.
pub fn inspect(path: &Path) -> Result<ModelInfo> {
    let file = gguf::GgufFile::open(path)?;
    let config = file.config()?;
    let parameters = file.content.tensor_infos.values().map(|t| t.elem_count() as u64).sum();
    model_info(path, &file, parameters, config.context_length)
}

/// Describes the model file at `path` (hashing it).
fn model_info(
    path: &Path,
    file: &gguf::GgufFile,
    parameters: u64,
    context_length: usize,
) -> Result<ModelInfo> {
    Ok(ModelInfo {
        id: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()),
        path: path.to_path_buf(),
        file_size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        sha256: file_sha256(path)?,
        architecture: file.string("general.architecture").unwrap_or("").to_owned(),
        name: file.string("general.name").map(str::to_owned),
        quantization: quantization_name(file),
        parameters,
        context_length,
    })
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An end-of-turn token or a stop sequence.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The caller asked to stop (e.g. the client went away).
    Cancelled,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The output text (without a matched stop sequence).
    pub text: String,
    /// Every generated token, including an end-of-turn token.
    pub tokens: Vec<u32>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Time spent on the prompt.
    pub prompt_time: Duration,
    /// Time spent generating.
    pub generation_time: Duration,
}

/// A loaded model, ready to generate. Concurrent generations (from several threads) are decoded
/// together, one batched forward pass per step, with the same tokens as each would get alone.
#[derive(Debug)]
pub struct Engine {
    info: ModelInfo,
    batcher: std::sync::Arc<batch::Batcher>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.batcher.close();
    }
}

impl Engine {
    /// Loads a GGUF model.
    pub fn load(path: &Path, options: &EngineOptions) -> Result<Self> {
        let started = Instant::now();
        let mut file = gguf::GgufFile::open(path)?;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        let weights = model::Weights::load(&mut file)?;
        if tokenizer.vocab_size() < weights.config.vocab {
            return Err(InferError::Model("the vocabulary is smaller than the embedding table".into()));
        }
        let token = |key: &str| {
            file.u64(key).and_then(|id| tokenizer.token_text(id as u32)).unwrap_or_default().to_owned()
        };
        let template_source = file.string("tokenizer.chat_template").unwrap_or(CHATML).to_owned();
        let template = ChatTemplate::new(
            &template_source,
            &token("tokenizer.ggml.bos_token_id"),
            &token("tokenizer.ggml.eos_token_id"),
        )?;
        let threads = if options.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            options.threads
        };
        let team = team::Team::new(threads).map_err(|source| InferError::ThreadPool { threads, source })?;
        let context_length = options
            .max_context
            .map_or(weights.config.context_length, |cap| cap.min(weights.config.context_length));
        let info = model_info(path, &file, weights.parameters, context_length)?;
        let isa = options.isa.unwrap_or_else(KernelIsa::detect);
        tracing::debug!(
            target: "agora::infer",
            model = %info.id,
            threads,
            isa = isa.name(),
            took_ms = started.elapsed().as_millis() as u64,
            "model loaded"
        );
        let batcher = batch::Batcher::start(batch::Core { weights, team, isa })?;
        Ok(Self { info, batcher, tokenizer, template })
    }

    /// What the model is.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.batcher.core().weights.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.batcher.core().team.threads()
    }

    /// The kernel implementation in use.
    pub fn isa(&self) -> KernelIsa {
        self.batcher.core().isa
    }

    /// The conversation rendered by the model's chat template and tokenized.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>> {
        if messages.is_empty() {
            return Err(InferError::InvalidRequest("messages must not be empty".into()));
        }
        let text = self.template.render(messages)?;
        Ok(self.tokenizer.encode(&text))
    }

    /// The tokens of a raw prompt: `text` as it is, without a chat template (the tokenizer's
    /// beginning-of-sequence token first where the model wants one).
    pub fn raw_prompt(&self, text: &str) -> Result<Vec<u32>> {
        if text.is_empty() {
            return Err(InferError::InvalidRequest("the prompt must not be empty".into()));
        }
        Ok(self.tokenizer.encode(text))
    }

    /// Generates a reply to `messages`. `on_text` receives the output as it grows and may
    /// return `ControlFlow::Break` to stop.
    pub fn chat(
        &self,
        messages: &[ChatMessage],
        params: &SamplingParams,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let prompt = self.chat_prompt(messages)?;
        self.generate(&prompt, params, on_text)
    }

    /// Checks that a prompt of `prompt` tokens plus `max_tokens` fit the context window.
    pub fn check_context(&self, prompt: usize, max_tokens: usize) -> Result<()> {
        let context = self.info.context_length;
        if prompt == 0 || prompt + max_tokens > context {
            return Err(InferError::ContextLength { context, prompt, requested: max_tokens });
        }
        Ok(())
    }

    /// Checks `params` and a tokenized prompt against this engine once: every setting in
    /// range, the prompt and `max_tokens` within the context window, every token in the
    /// vocabulary. [`Engine::run`] then generates without checking again.
    pub fn prepare(&self, tokens: Vec<u32>, params: SamplingParams) -> Result<PreparedPrompt> {
        params.validate()?;
        self.check_context(tokens.len(), params.max_tokens)?;
        if let Some(bad) = tokens.iter().find(|t| **t as usize >= self.config().vocab) {
            return Err(InferError::InvalidRequest(format!("token id {bad} is outside the vocabulary")));
        }
        Ok(PreparedPrompt { tokens, params })
    }

    /// Generates from prompt tokens. See [`Engine::chat`].
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &SamplingParams,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let prepared = self.prepare(prompt.to_vec(), params.clone())?;
        self.run(&prepared, on_text)
    }

    /// Generates from a prompt checked by [`Engine::prepare`]. `on_text` receives the output
    /// as it grows and may return `ControlFlow::Break` to stop.
    pub fn run(
        &self,
        prepared: &PreparedPrompt,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation> {
        let PreparedPrompt { tokens: prompt, params } = prepared;
        let _running = self.batcher.join();
        let mut decoder = Decoder::new(self, prompt, params);
        let started = Instant::now();
        // The prompt a chunk at a time: bounded scratch memory, and other generations' steps
        // go on between the chunks. Positions are independent, so the bits are the same.
        let mut cache = model::KvCache::with_capacity(self.config(), prompt.len() + params.max_tokens);
        let mut logits = Vec::new();
        for chunk in prompt.chunks(PREFILL_CHUNK) {
            (logits, cache) = self.batcher.forward(chunk.to_vec(), cache)?;
        }
        let prompt_time = started.elapsed();
        let started = Instant::now();
        let finish = if params.max_tokens == 0 {
            FinishReason::Length
        } else {
            loop {
                match decoder.step(&mut logits, &mut on_text) {
                    (next, None) => (logits, cache) = self.batcher.forward(vec![next], cache)?,
                    (_, Some(finish)) => break finish,
                }
            }
        };
        if finish != FinishReason::Cancelled {
            let rest = decoder.output.finish();
            if !rest.is_empty() {
                let _ = on_text(&rest);
            }
        }
        Ok(Generation {
            text: decoder.output.text(),
            tokens: decoder.tokens,
            prompt_tokens: prompt.len(),
            finish_reason: finish,
            prompt_time,
            generation_time: started.elapsed(),
        })
    }

    /// The most concurrent generations one forward pass has served since the model was loaded.
    pub fn largest_batch(&self) -> usize {
        self.batcher.largest_batch()
    }

    /// Checks that `claimed` is what [`Engine::run`] generates for `prepared`, at the cost of a
    /// prompt pass: the prompt and the claimed tokens go through the model together (teacher
    /// forcing), and at every position the sampler, with the same seed and parameters, must
    /// choose the claimed token from the logits, and the output must end exactly where
    /// generation ends. The logits are bit-identical to generation's, so the answer is the same
    /// as re-generating.
    pub fn verify(&self, prepared: &PreparedPrompt, claimed: &[u32]) -> Result<Verification> {
        /// Positions whose logits are held at once (rows of the vocabulary).
        const LOGIT_ROWS: usize = 64;
        /// Positions per pass: a prompt and its answer in one pass at the usual sizes (the
        /// weights are streamed once), with bounded scratch memory beyond them.
        const PASS: usize = 256;
        let started = Instant::now();
        let PreparedPrompt { tokens: prompt, params } = prepared;
        let core = self.batcher.core();
        let (isa, team, weights) = (core.isa, &core.team, &core.weights);
        let claimed_len = claimed.len().min(params.max_tokens);
        // Step i chooses from the logits of the prompt's last token (i = 0), then of the claimed
        // token i − 1: the last claimed token is never fed.
        let feed: Vec<u32> =
            prompt.iter().chain(&claimed[..claimed_len.saturating_sub(1)]).copied().collect();
        let first_logits = prompt.len() - 1;
        let mut cache = model::KvCache::with_capacity(&weights.config, feed.len());
        let mut decoder = Decoder::new(self, prompt, params);
        let mut quiet = |_: &str| ControlFlow::Continue(());
        let vocab = weights.vocab();
        let mut i = 0;
        let first_divergence = if params.max_tokens == 0 {
            (!claimed.is_empty()).then_some(0)
        } else {
            'check: {
                // The positions are independent, so the bits are those of generation.
                for (c, chunk) in feed.chunks(PASS).enumerate() {
                    let start = c * PASS;
                    let hidden = weights.hidden(isa, team, &mut [(chunk, &mut cache)]);
                    let wanted: Vec<usize> = (first_logits.max(start) - start..chunk.len()).collect();
                    for rows in wanted.chunks(LOGIT_ROWS) {
                        let mut logits = weights.logits(isa, team, &hidden, rows);
                        for row in logits.chunks_exact_mut(vocab) {
                            let (chosen, finish) = decoder.step(row, &mut quiet);
                            if claimed.get(i) != Some(&chosen) {
                                break 'check Some(i);
                            }
                            match finish {
                                // Generation ends here: so must the claim.
                                Some(_) => break 'check (claimed.len() > i + 1).then_some(i + 1),
                                // Generation goes on: the claim stopped early.
                                None if i + 1 == claimed.len() => break 'check Some(i + 1),
                                None => i += 1,
                            }
                        }
                    }
                }
                // Not reached: the last fed position's step ends the check one way or another.
                Some(i)
            }
        };
        Ok(Verification {
            text: decoder.output.text(),
            tokens: decoder.tokens,
            first_divergence,
            time: started.elapsed(),
        })
    }
}

/// What [`Engine::verify`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The engine's tokens: the claimed ones up to the first divergence, then its own choice
    /// there (absent where the claim goes on after generation would have ended, or stops early).
    pub tokens: Vec<u32>,
    /// The text those tokens make, as generation returns it (a matched stop sequence cut off):
    /// a claim must carry this text with its tokens.
    pub text: String,
    /// The first position where the claim differs from generation: another token, a token after
    /// generation ends, or an end before it does.
    pub first_divergence: Option<usize>,
    /// Time for the passes and the sampling.
    pub time: Duration,
}

/// The choosing and stopping of one generation: shared by [`Engine::run`] and
/// [`Engine::verify`], so both choose and end alike.
struct Decoder<'a> {
    engine: &'a Engine,
    params: &'a SamplingParams,
    sampler: sampling::Sampler,
    history: Vec<u32>,
    output: StopScanner<'a>,
    tokens: Vec<u32>,
}

impl<'a> Decoder<'a> {
    fn new(engine: &'a Engine, prompt: &[u32], params: &'a SamplingParams) -> Self {
        Self {
            engine,
            params,
            sampler: sampling::Sampler::new(params.clone()),
            history: prompt.to_vec(),
            output: StopScanner::new(&params.stop),
            tokens: Vec::new(),
        }
    }

    /// Chooses the next token from `logits` and says whether generation ends with it.
    fn step(
        &mut self,
        logits: &mut [f32],
        on_text: &mut impl FnMut(&str) -> ControlFlow<()>,
    ) -> (u32, Option<FinishReason>) {
        let next = self.sampler.sample(logits, &self.history);
        self.tokens.push(next);
        self.history.push(next);
        if !self.params.ignore_eos && self.engine.tokenizer.stop_tokens().contains(&next) {
            return (next, Some(FinishReason::Stop));
        }
        let (delta, stopped) = self.output.push(&self.engine.tokenizer.token_bytes(next));
        if !delta.is_empty() && on_text(&delta).is_break() {
            return (next, Some(FinishReason::Cancelled));
        }
        if stopped {
            return (next, Some(FinishReason::Stop));
        }
        if self.tokens.len() == self.params.max_tokens {
            return (next, Some(FinishReason::Length));
        }
        (next, None)
    }
}

/// A tokenized prompt and its sampling settings, checked by [`Engine::prepare`] against the
/// engine that will run it.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedPrompt {
    tokens: Vec<u32>,
    params: SamplingParams,
}

impl PreparedPrompt {
    /// The prompt's tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The checked sampling settings.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }
}

/// Accumulates output bytes, releases text that can no longer be part of a stop sequence or a
/// split UTF-8 character, and notices stop sequences.
struct StopScanner<'a> {
    stops: &'a [String],
    bytes: Vec<u8>,
    released: usize,
    end: Option<usize>,
}

impl<'a> StopScanner<'a> {
    fn new(stops: &'a [String]) -> Self {
        Self { stops, bytes: Vec::new(), released: 0, end: None }
    }

    /// Adds a token's bytes; returns the newly releasable text and whether a stop matched.
    fn push(&mut self, token: &[u8]) -> (String, bool) {
        self.bytes.extend_from_slice(token);
        for stop in self.stops {
            if let Some(at) = find(&self.bytes, stop.as_bytes()) {
                self.end = Some(self.end.map_or(at, |e| e.min(at)));
            }
        }
        if let Some(end) = self.end {
            let delta = String::from_utf8_lossy(&self.bytes[self.released.min(end)..end]).into_owned();
            self.released = end;
            return (delta, true);
        }
        // Hold back a tail that could start a stop sequence, and an incomplete character.
        let hold = self
            .stops
            .iter()
            .map(|s| (1..s.len()).rev().find(|k| self.bytes.ends_with(&s.as_bytes()[..*k])).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let mut safe = self.bytes.len() - hold;
        while safe > self.released && std::str::from_utf8(&self.bytes[self.released..safe]).is_err() {
            safe -= 1;
        }
        let delta = String::from_utf8_lossy(&self.bytes[self.released..safe]).into_owned();
        self.released = safe;
        (delta, false)
    }

    /// Whatever is still held back once generation ends without a stop.
    fn finish(&mut self) -> String {
        let end = self.end.unwrap_or(self.bytes.len());
        let rest = String::from_utf8_lossy(&self.bytes[self.released.min(end)..end]).into_owned();
        self.released = end;
        rest
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..self.end.unwrap_or(self.bytes.len())]).into_owned()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The quantization most of the model's parameters use.
fn quantization_name(file: &gguf::GgufFile) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for info in file.content.tensor_infos.values() {
        *counts.entry(info.ggml_type.name()).or_default() += info.elem_count();
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(name, _)| name.to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_are_cut_and_held_back() {
        let stops = vec!["END".to_owned()];
        let mut s = StopScanner::new(&stops);
        assert_eq!(s.push(b"hello E"), ("hello ".to_owned(), false));
        assert_eq!(s.push(b"N"), (String::new(), false));
        assert_eq!(s.push(b"Dmore"), (String::new(), true));
        assert_eq!(s.text(), "hello ");
    }

    #[test]
    fn split_utf8_characters_are_released_whole() {
        let mut s = StopScanner::new(&[]);
        let rocket = "🚀".as_bytes();
        assert_eq!(s.push(&rocket[..2]).0, "");
        assert_eq!(s.push(&rocket[2..]).0, "🚀");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn a_held_prefix_that_never_completes_is_released_at_the_end() {
        let stops = vec!["END".to_owned()];
        let mut s = StopScanner::new(&stops);
        assert_eq!(s.push(b"the EN").0, "the ");
        assert_eq!(s.finish(), "EN");
        assert_eq!(s.text(), "the EN");
    }

    /// The default model's logits for a prompt and one generated step, on every kernel this CPU
    /// runs, hash to the value pinned for this `+numerics` version.
    #[test]
    fn the_numerics_version_pins_the_arithmetic() {
        const PIN: (&str, u64) = ("0.1.0+numerics.2", 0x38f8_e030_f2e1_2f60);
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.models/SmolLM2-135M-Instruct.Q4_1.gguf"
        ));
        assert!(path.is_file(), "{} is missing: run `make setup`", path.display());
        for isa in KernelIsa::available() {
            let engine =
                Engine::load(&path, &EngineOptions { threads: 2, isa: Some(isa), ..Default::default() })
                    .unwrap();
            let prompt = engine.chat_prompt(&[ChatMessage::new("user", "What is Ethereum?")]).unwrap();
            let core = engine.batcher.core();
            let mut cache = model::KvCache::with_capacity(&core.weights.config, prompt.len() + 1);
            let first = core.weights.forward(isa, &core.team, &prompt, &mut cache);
            let next = sampling::argmax(&first);
            let second = core.weights.forward(isa, &core.team, &[next], &mut cache);
            // FNV-1a over every bit of both rows of logits.
            let hash = first.iter().chain(&second).fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                v.to_bits()
                    .to_le_bytes()
                    .iter()
                    .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
            });
            assert_eq!(
                (ENGINE_VERSION, hash),
                PIN,
                "{} kernels: the engine's arithmetic changed. Receipts of {} can no longer be \
                 re-executed by this build: bump `+numerics.N` in ENGINE_VERSION and pin the new hash",
                isa.name(),
                PIN.0
            );
        }
    }
}
