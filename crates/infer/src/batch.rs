//! Continuous batching: the forward passes of concurrent generations run together, one pass per
//! step, on the engine's threads. A generation submits its next tokens (its prompt, then one
//! token at a time) with its cache; the batch worker takes every step waiting, giving the
//! generations that are running a moment to join, runs them as one batch
//! ([`Weights::forward_batch`]) and hands each its logits and cache back. Generations join and
//! leave between steps. Sampling stays in each generation's thread.
//!
//! Results do not depend on the batch: every step of the model depends on its own position only
//! (see [`Weights::forward_batch`]), so a generation's tokens are the same alone or among any
//! neighbours.

use crate::{
    InferError, Result,
    kernels::KernelIsa,
    model::{KvCache, Weights},
    team::Team,
};
use std::{
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

/// How long the worker waits for running generations to submit their next step (they do right
/// after sampling) before it runs the steps it has.
const JOIN_WAIT: Duration = Duration::from_millis(3);

/// What the model runs on.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) weights: Weights,
    pub(crate) team: Team,
    pub(crate) isa: KernelIsa,
}

struct Step {
    tokens: Vec<u32>,
    cache: KvCache,
    reply: mpsc::SyncSender<(Vec<f32>, KvCache)>,
}

#[derive(Default)]
struct State {
    /// Generations running (between [`Batcher::join`] and the drop of its [`Member`]).
    active: usize,
    pending: Vec<Step>,
    closed: bool,
}

/// The batch worker's queue.
pub(crate) struct Batcher {
    core: Arc<Core>,
    state: Mutex<State>,
    wake: Condvar,
    /// The most generations one pass has served.
    largest: AtomicUsize,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

/// A running generation's place in the batch; leaving is dropping it.
pub(crate) struct Member<'a>(&'a Batcher);

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.0.lock().active -= 1;
        self.0.wake.notify_all();
    }
}

impl Batcher {
    /// Starts the batch worker thread.
    pub(crate) fn start(core: Core) -> Result<Arc<Self>> {
        let batcher = Arc::new(Self {
            core: Arc::new(core),
            state: Mutex::default(),
            wake: Condvar::new(),
            largest: AtomicUsize::new(0),
        });
        let worker = Arc::clone(&batcher);
        std::thread::Builder::new()
            .name("agora-infer-batch".into())
            .spawn(move || worker.work())
            .map_err(InferError::Worker)?;
        Ok(batcher)
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// The most generations one forward pass has served so far.
    pub(crate) fn largest_batch(&self) -> usize {
        self.largest.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a generation as running until the returned guard is dropped.
    pub(crate) fn join(&self) -> Member<'_> {
        self.lock().active += 1;
        Member(self)
    }

    /// Runs `tokens` through the model against `cache` in the next batch; returns the logits of
    /// the last token and the cache.
    pub(crate) fn forward(&self, tokens: Vec<u32>, cache: KvCache) -> Result<(Vec<f32>, KvCache)> {
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let mut state = self.lock();
            if state.closed {
                return Err(InferError::Stopped);
            }
            state.pending.push(Step { tokens, cache, reply });
        }
        self.wake.notify_all();
        answer.recv().map_err(|_| InferError::Stopped)
    }

    /// Stops the worker once the steps it has are done.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    fn work(&self) {
        loop {
            let steps = {
                let mut state = self.lock();
                while state.pending.is_empty() && !state.closed {
                    state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
                if state.pending.is_empty() {
                    return;
                }
                let deadline = Instant::now() + JOIN_WAIT;
                while state.pending.len() < state.active && !state.closed {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = self.wake.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
                }
                std::mem::take(&mut state.pending)
            };
            self.largest.fetch_max(steps.len(), Ordering::Relaxed);
            let mut caches: Vec<KvCache> = Vec::with_capacity(steps.len());
            let mut replies = Vec::with_capacity(steps.len());
            let mut tokens = Vec::with_capacity(steps.len());
            for step in steps {
                caches.push(step.cache);
                replies.push(step.reply);
                tokens.push(step.tokens);
            }
            let core = &self.core;
            let logits = {
                let mut seqs: Vec<(&[u32], &mut KvCache)> =
                    tokens.iter().map(Vec::as_slice).zip(caches.iter_mut()).collect();
                core.weights.forward_batch(core.isa, &core.team, &mut seqs, false)
            };
            for ((reply, logits), cache) in replies.into_iter().zip(logits).zip(caches) {
                // A generation that went away no longer waits for its answer.
                let _ = reply.send((logits, cache));
            }
        }
    }
}
