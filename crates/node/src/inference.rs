//! The inference service: one engine, a bounded FIFO queue of generations, and `batch` worker
//! threads that take them in order; the engine decodes the generations they run together, one
//! batched forward pass per step. A full queue is refused at once (HTTP 429) instead of
//! growing without bound; a generation whose requester went away stops at the next token.

use agora_infer::{Engine, Generation, InferError, PreparedPrompt};
use agora_receipts::{CanonicalRequest, PaymentTerms, ReceiptEnvelope, ReceiptOutput, RequestInput};
use alloy::signers::local::PrivateKeySigner;
use std::{
    ops::ControlFlow,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::sync::mpsc;

/// Default number of generations that may wait for the worker.
pub const DEFAULT_QUEUE: usize = 16;

/// Default number of generations decoded together.
pub const DEFAULT_BATCH: usize = 4;

/// What a generation reports while it runs.
#[derive(Debug)]
pub enum GenerationEvent {
    /// More output text.
    Text(String),
    /// The end: the generation and its signed receipt (when the node signs receipts).
    Done(Result<(Generation, Option<Box<ReceiptEnvelope>>), InferError>),
}

struct Job {
    request: CanonicalRequest,
    prompt: PreparedPrompt,
    payment: Option<PaymentTerms>,
    events: mpsc::UnboundedSender<GenerationEvent>,
}

/// Why a generation could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Every queue slot is taken.
    #[error("the server is busy: {0} generations are already waiting; retry shortly")]
    QueueFull(usize),
    /// The worker has stopped (the node is shutting down).
    #[error("the inference worker has stopped")]
    Stopped,
}

/// A handle to the engine's queue; cheap to clone.
#[derive(Clone)]
pub struct InferenceService {
    engine: Arc<Engine>,
    queue: mpsc::Sender<Job>,
    capacity: usize,
    log_prompts: bool,
}

impl std::fmt::Debug for InferenceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceService").field("model", &self.engine.info().id).finish_non_exhaustive()
    }
}

impl InferenceService {
    /// Starts `batch` worker threads for `engine` (generations decoded together). Receipts are
    /// signed with `signer` when given.
    pub fn start(
        engine: Engine,
        signer: Option<PrivateKeySigner>,
        capacity: usize,
        batch: usize,
        log_prompts: bool,
    ) -> Self {
        let engine = Arc::new(engine);
        let (queue, jobs) = mpsc::channel::<Job>(capacity.max(1));
        // The workers take jobs in order: whichever is free waits on the queue.
        let jobs = Arc::new(std::sync::Mutex::new(jobs));
        for i in 0..batch.max(1) {
            let (engine, signer, jobs) = (Arc::clone(&engine), signer.clone(), Arc::clone(&jobs));
            let spawned = std::thread::Builder::new().name(format!("agora-inference-{i}")).spawn(move || {
                loop {
                    let job = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).blocking_recv();
                    let Some(job) = job else { break };
                    run_job(&engine, signer.as_ref(), job, log_prompts);
                }
            });
            if let Err(e) = spawned {
                tracing::error!(target: "agora::infer", "cannot start inference worker {i}: {e}");
            }
        }
        Self { engine, queue, capacity: capacity.max(1), log_prompts }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, shared (for work that runs beside the queue: a job's delivery, an audit).
    pub fn shared_engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine)
    }

    /// Whether prompts and outputs may be logged.
    pub fn log_prompts(&self) -> bool {
        self.log_prompts
    }

    /// Queues a generation of `prompt` (prepared by this service's engine from `input`, which
    /// the receipt commits to); its events arrive on the returned channel. Dropping the
    /// receiver cancels the generation. A paid call passes its payment terms, which the
    /// receipt names.
    pub fn submit(
        &self,
        input: RequestInput,
        prompt: PreparedPrompt,
        payment: Option<PaymentTerms>,
    ) -> Result<mpsc::UnboundedReceiver<GenerationEvent>, SubmitError> {
        let (events, rx) = mpsc::unbounded_channel();
        let request = CanonicalRequest::new(input, prompt.params().clone());
        let job = Job { request, prompt, payment, events };
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SubmitError::QueueFull(self.capacity),
            mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
        })?;
        Ok(rx)
    }
}

fn run_job(engine: &Engine, signer: Option<&PrivateKeySigner>, job: Job, log_prompts: bool) {
    let Job { request, prompt, payment, events } = job;
    if events.is_closed() {
        return; // the requester left while waiting
    }
    if log_prompts {
        tracing::info!(target: "agora::infer", messages = ?request.messages, raw = ?request.prompt, "prompt");
    }
    let result = engine.run(&prompt, |text| {
        if events.send(GenerationEvent::Text(text.to_owned())).is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let result = result.map(|generation| {
        if log_prompts {
            tracing::info!(target: "agora::infer", output = %generation.text, "output");
        }
        tracing::debug!(
            target: "agora::infer",
            prompt_tokens = generation.prompt_tokens,
            completion_tokens = generation.tokens.len(),
            finish = ?generation.finish_reason,
            "generation done"
        );
        let receipt = signer.and_then(|signer| {
            let output = ReceiptOutput { text: generation.text.clone(), tokens: generation.tokens.clone() };
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            match ReceiptEnvelope::sign(
                signer,
                engine,
                request.clone(),
                output,
                generation.prompt_tokens,
                now,
                payment
                    .as_ref()
                    .map(|terms| terms.settle(generation.prompt_tokens + generation.tokens.len())),
            ) {
                Ok(envelope) => Some(Box::new(envelope)),
                Err(e) => {
                    tracing::warn!(target: "agora::infer", "cannot sign the receipt: {e}");
                    None
                }
            }
        });
        (generation, receipt)
    });
    let _ = events.send(GenerationEvent::Done(result));
}
