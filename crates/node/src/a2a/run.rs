//! Tasks at work: each paid generation runs in a background task of its own that moves its
//! A2A task through its states, writes each state to the store, streams the answer to whoever
//! listens, settles the payment when the answer is complete, and stops early when canceled.

use super::task::{ANSWER_ARTIFACT, TaskRecord, TaskState};
use crate::{inference::GenerationEvent, openai::PaidGeneration};
use agora_pay::wire::SettleResponse;
use agora_receipts::ReceiptEnvelope;
use agora_store::Store;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// The tasks now at work, by id. Finished tasks live in the store only.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    live: Mutex<HashMap<String, Arc<Live>>>,
}

/// A task at work.
#[derive(Debug)]
pub(crate) struct Live {
    inner: Mutex<LiveInner>,
    cancel: Notify,
    finished: watch::Sender<Option<TaskState>>,
}

#[derive(Debug)]
struct LiveInner {
    record: TaskRecord,
    /// Listeners (streams): each gets every `StreamResponse` from when it joined.
    listeners: Vec<mpsc::UnboundedSender<Value>>,
}

/// How a task ended, for the request that waits on it (a blocking `message:send`).
pub(crate) struct Finished {
    pub(crate) record: TaskRecord,
    pub(crate) settlement: Option<SettleResponse>,
    pub(crate) receipt: Option<Box<ReceiptEnvelope>>,
    /// The settlement failed: the paywall's answer, sent instead of the task.
    pub(crate) refusal: Option<agora_pay::Refusal>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tasks {
    /// The task at work with this id.
    pub(crate) fn live(&self, id: &str) -> Option<Arc<Live>> {
        lock(&self.live).get(id).cloned()
    }

    /// Puts `record` to work (it is stored first): `generation` runs in the background. With
    /// `listen`, the caller's stream of updates starts now (so it misses nothing); with
    /// `reply`, the caller hears how it ended.
    pub(crate) fn start(
        self: &Arc<Self>,
        store: Arc<Store>,
        record: TaskRecord,
        generation: PaidGeneration,
        listen: bool,
        reply: Option<oneshot::Sender<Finished>>,
    ) -> Result<Option<mpsc::UnboundedReceiver<Value>>, agora_store::StoreError> {
        let (finished, _) = watch::channel(None);
        let mut listeners = Vec::new();
        let receiver = listen.then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            listeners.push(tx);
            rx
        });
        let id = record.id.clone();
        let saving = record.clone();
        let live = Arc::new(Live {
            inner: Mutex::new(LiveInner { record, listeners }),
            cancel: Notify::new(),
            finished,
        });
        // At work before it is stored, under one lock, so a reader never takes a stored task at
        // work for one cut by a restart.
        {
            let mut all = lock(&self.live);
            all.insert(id.clone(), Arc::clone(&live));
            if let Err(e) = saving.save(&store) {
                all.remove(&id);
                drop(all);
                // Dropping the events stops the generation; nothing was served.
                generation.paid.abandon();
                return Err(e);
            }
        }
        let tasks = Arc::clone(self);
        tokio::spawn(async move {
            let finished = run(&live, &store, generation).await;
            let state = finished.record.state;
            // Stored before it leaves the live set, so a reader always finds it somewhere.
            lock(&tasks.live).remove(&id);
            live.finished.send_replace(Some(state));
            if let Some(reply) = reply {
                let _ = reply.send(finished);
            }
        });
        Ok(receiver)
    }
}

impl Live {
    /// The task as it stands.
    pub(crate) fn record(&self) -> TaskRecord {
        lock(&self.inner).record.clone()
    }

    /// The task as it stands and a stream of what happens to it from now on.
    pub(crate) fn subscribe(&self) -> (TaskRecord, mpsc::UnboundedReceiver<Value>) {
        let mut inner = lock(&self.inner);
        let (tx, rx) = mpsc::unbounded_channel();
        inner.listeners.push(tx);
        (inner.record.clone(), rx)
    }

    /// Asks the task to stop, and waits until it has: the state it ended in.
    pub(crate) async fn cancel(&self) -> TaskState {
        let mut finished = self.finished.subscribe();
        self.cancel.notify_one();
        match finished.wait_for(Option::is_some).await {
            Ok(state) => state.unwrap_or(TaskState::Failed),
            Err(_) => lock(&self.inner).record.state,
        }
    }
}

/// What the running task tells its listeners and the store.
struct Runner<'a> {
    live: &'a Live,
    store: &'a Store,
    /// Chunks of text received from the engine (each at least one token).
    generated: usize,
    /// Chunks handed to a listener.
    delivered: usize,
    /// The last chunk, held back so the last one sent can say it is the last.
    held: Option<String>,
    sent_any: bool,
}

impl Runner<'_> {
    /// Sends `event` to every listener; `true` when someone got it.
    fn broadcast(inner: &mut LiveInner, event: Value) -> bool {
        inner.listeners.retain(|l| l.send(event.clone()).is_ok());
        !inner.listeners.is_empty()
    }

    fn status_event(record: &TaskRecord) -> Value {
        let mut update =
            json!({ "taskId": record.id, "contextId": record.context_id, "status": record.status_json() });
        if record.state.is_terminal() && record.metadata.as_object().is_some_and(|m| !m.is_empty()) {
            update["metadata"] = record.metadata.clone();
        }
        json!({ "statusUpdate": update })
    }

    /// Moves the task to `state`, stores it and tells the listeners.
    fn transition(&self, state: TaskState, why: Option<String>) {
        let mut inner = lock(&self.live.inner);
        inner.record.set_state(state, why);
        if let Err(e) = inner.record.save(self.store) {
            tracing::error!(target: "agora::a2a", task = %inner.record.id, "cannot store the task: {e}");
        }
        let event = Self::status_event(&inner.record);
        Self::broadcast(&mut inner, event);
    }

    /// Streams a chunk of the answer.
    fn chunk(&mut self, text: String, last: bool) {
        let mut inner = lock(&self.live.inner);
        let event = json!({
            "artifactUpdate": {
                "taskId": inner.record.id,
                "contextId": inner.record.context_id,
                "artifact": { "artifactId": ANSWER_ARTIFACT, "name": ANSWER_ARTIFACT, "parts": [{ "text": text }] },
                "append": self.sent_any,
                "lastChunk": last,
            }
        });
        self.sent_any = true;
        if Self::broadcast(&mut inner, event) && !text.is_empty() {
            self.delivered += 1;
        }
    }

    fn text(&mut self, text: String) {
        if self.generated == 0 {
            self.transition(TaskState::Working, None);
        }
        self.generated += 1;
        lock(&self.live.inner).record.answer.push_str(&text);
        if let Some(previous) = self.held.replace(text) {
            self.chunk(previous, false);
        }
    }

    /// Ends the task in `state`: stored, told, and the listeners' streams closed.
    fn end(&self, state: TaskState, why: Option<String>) {
        self.transition(state, why);
        lock(&self.live.inner).listeners.clear();
    }
}

/// Runs one task to its end.
async fn run(live: &Live, store: &Store, generation: PaidGeneration) -> Finished {
    let PaidGeneration { mut events, paid, model, prompt_tokens } = generation;
    let mut runner = Runner { live, store, generated: 0, delivered: 0, held: None, sent_any: false };
    let finished = |record, settlement, receipt, refusal| Finished { record, settlement, receipt, refusal };
    loop {
        let event = tokio::select! {
            biased;
            () = live.cancel.notified() => None,
            event = events.recv() => Some(event),
        };
        let event = match event {
            None => {
                // Canceled: the generation stops (its events are dropped); what was generated
                // is kept, and charged.
                drop(events);
                paid.charge_delivered(prompt_tokens, runner.generated);
                if let Some(last) = runner.held.take() {
                    runner.chunk(last, true);
                }
                runner.end(TaskState::Canceled, Some("canceled at the client's request".into()));
                return finished(live.record(), None, None, None);
            }
            Some(event) => event,
        };
        match event {
            Some(GenerationEvent::Text(text)) => runner.text(text),
            Some(GenerationEvent::Done(Ok((generation, receipt)))) => {
                let settlement = match paid.settle(&generation).await {
                    Ok(settlement) => settlement,
                    Err(refusal) => {
                        // Not paid: the answer is not given (the last chunk is held back).
                        lock(&live.inner).record.answer.clear();
                        let why = format!("the payment could not be settled: {}", refusal.message);
                        runner.end(TaskState::Failed, Some(why));
                        return finished(live.record(), None, None, Some(refusal));
                    }
                };
                {
                    let mut inner = lock(&live.inner);
                    inner.record.answer = generation.text.clone();
                    let completion = generation.tokens.len();
                    inner.record.metadata = json!({
                        "agora": {
                            "model": model,
                            "finishReason": format!("{:?}", generation.finish_reason).to_ascii_lowercase(),
                            "usage": {
                                "promptTokens": generation.prompt_tokens,
                                "completionTokens": completion,
                                "totalTokens": generation.prompt_tokens + completion,
                            },
                            "payment": settlement,
                            "receipt": receipt,
                        }
                    });
                }
                let last = runner.held.take().unwrap_or_default();
                runner.chunk(last, true);
                runner.end(TaskState::Completed, None);
                return finished(live.record(), Some(settlement), receipt, None);
            }
            Some(GenerationEvent::Done(Err(e))) => {
                paid.charge_delivered(prompt_tokens, runner.delivered);
                if runner.delivered == 0 {
                    lock(&live.inner).record.answer.clear();
                }
                runner.end(TaskState::Failed, Some(format!("the generation failed: {e}")));
                return finished(live.record(), None, None, None);
            }
            None => {
                paid.charge_delivered(prompt_tokens, runner.delivered);
                runner.end(TaskState::Failed, Some("the inference worker stopped".into()));
                return finished(live.record(), None, None, None);
            }
        }
    }
}
