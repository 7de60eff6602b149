//! Server-sent events: a completion as `chat.completion.chunk`s, the receipt (and a paid
//! call's settlement) in the last chunk.

use super::*;

struct StreamState {
    events: mpsc::UnboundedReceiver<GenerationEvent>,
    pending: VecDeque<Event>,
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    done: bool,
    paid: Option<PaidCall>,
    prompt_tokens: usize,
    /// Text chunks handed to the client so far (each at least one token).
    delivered: usize,
    /// `text_completion` chunks (`/v1/completions`) rather than chat ones.
    text: bool,
}

impl Drop for StreamState {
    fn drop(&mut self) {
        // Still unpaid: the stream ended before its last chunk (the client hung up).
        if let Some(paid) = self.paid.take() {
            paid.charge_delivered(self.prompt_tokens, self.delivered);
        }
    }
}

impl StreamState {
    fn chunk(&self, delta: Value, finish: Option<&str>, extra: Option<(&str, Value)>) -> Event {
        let (object, choice) = if self.text {
            let text = delta["content"].as_str().unwrap_or_default();
            (
                "text_completion",
                json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish }),
            )
        } else {
            (
                "chat.completion.chunk",
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }),
            )
        };
        let mut chunk = json!({
            "id": self.id,
            "object": object,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": fingerprint(),
            "choices": [choice],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        if let Some((key, value)) = extra {
            chunk[key] = value;
        }
        Event::default().data(chunk.to_string())
    }
}

/// Streams a completion. A paid stream is charged when the generation ends, before the last
/// chunk (which carries the settlement as `agora_payment`) is sent; a stream that ends early
/// (the client leaves, the generation fails) is charged for the text it sent.
pub(super) fn stream(
    prepared: Prepared,
    events: mpsc::UnboundedReceiver<GenerationEvent>,
    paid: Option<PaidCall>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let mut state = StreamState {
        events,
        pending: VecDeque::new(),
        id: completion_id(prepared.text),
        created: now(),
        model: prepared.model,
        include_usage: prepared.include_usage,
        done: false,
        paid,
        prompt_tokens: prepared.prompt_tokens,
        delivered: 0,
        text: prepared.text,
    };
    if !state.text {
        let first = state.chunk(json!({ "role": "assistant", "content": "" }), None, None);
        state.pending.push_back(first);
    }
    // Dropping this stream (the client went away) drops `events`, which stops the generation.
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.done {
                return None;
            }
            match state.events.recv().await {
                Some(GenerationEvent::Text(text)) => {
                    let chunk = state.chunk(json!({ "content": text }), None, None);
                    // Counted here: nothing awaits between this and handing the chunk over.
                    state.delivered += 1;
                    state.pending.push_back(chunk);
                }
                Some(GenerationEvent::Done(Ok((generation, receipt)))) => {
                    if let Some(paid) = state.paid.take() {
                        match paid.settle(&generation).await {
                            Ok(settlement) => {
                                let chunk =
                                    state.chunk(json!({}), None, Some(("agora_payment", json!(settlement))));
                                state.pending.push_back(chunk);
                            }
                            Err(refusal) => {
                                let error = json!({ "error": { "message": refusal.message, "type": "payment_error", "code": refusal.reason } });
                                state.pending.push_back(Event::default().data(error.to_string()));
                                state.pending.push_back(Event::default().data("[DONE]"));
                                state.done = true;
                                continue;
                            }
                        }
                    }
                    let extra = receipt.map(|r| ("agora_receipt", json!(r)));
                    let last = state.chunk(json!({}), Some(finish_reason(generation.finish_reason)), extra);
                    state.pending.push_back(last);
                    if state.include_usage {
                        let usage = json!({
                            "id": state.id,
                            "object": if state.text { "text_completion" } else { "chat.completion.chunk" },
                            "created": state.created,
                            "model": state.model,
                            "system_fingerprint": fingerprint(),
                            "choices": [],
                            "usage": usage(&generation),
                        });
                        state.pending.push_back(Event::default().data(usage.to_string()));
                    }
                    state.pending.push_back(Event::default().data("[DONE]"));
                    state.done = true;
                }
                Some(GenerationEvent::Done(Err(e))) => {
                    if let Some(paid) = state.paid.take() {
                        paid.charge_delivered(state.prompt_tokens, state.delivered);
                    }
                    let error = infer_error(&e);
                    state.pending.push_back(Event::default().data(error.body().to_string()));
                    state.pending.push_back(Event::default().data("[DONE]"));
                    state.done = true;
                }
                None => return None,
            }
        }
    });
    Sse::new(stream)
}
