//! `POST /v1/completions`: OpenAI's legacy completion of a raw prompt, which tools for base
//! models and code completion still call. The prompt is tokenized as it is (no chat template);
//! the receipt commits to it as a raw prompt, so it re-executes like a chat.

use super::*;

/// OpenAI's default for this endpoint.
const DEFAULT_MAX_TOKENS: usize = 16;

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    model: String,
    prompt: Option<Prompt>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    sampling: Sampling,
    n: Option<u32>,
    best_of: Option<u32>,
    echo: Option<bool>,
    logprobs: Option<Value>,
    suffix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Other(Value),
}

fn prepare(service: &InferenceService, body: &[u8]) -> Result<(Prepared, ChatJob), ApiError> {
    let request: CompletionRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!("the request body is not a valid completion request: {e}"), None)
    })?;
    let info = service.engine().info();
    check_model(&request.model, info)?;
    if request.n.is_some_and(|n| n != 1) || request.best_of.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("only n = 1 (and best_of = 1) is supported", Some("n")));
    }
    if request.echo == Some(true) {
        return Err(ApiError::invalid("echo is not supported", Some("echo")));
    }
    if request.logprobs.as_ref().is_some_and(|l| !l.is_null()) {
        return Err(ApiError::invalid("logprobs are not supported", Some("logprobs")));
    }
    if request.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid("suffix (fill in the middle) is not supported", Some("suffix")));
    }
    let text = match request.prompt {
        Some(Prompt::Text(text)) => text,
        Some(Prompt::Texts(mut texts)) if texts.len() == 1 => texts.remove(0),
        Some(Prompt::Texts(_)) => {
            return Err(ApiError::invalid("only one prompt per request is supported", Some("prompt")));
        }
        Some(Prompt::Other(other)) => {
            let what = if other.is_array() { "token ids" } else { "anything but text" };
            return Err(ApiError::invalid(
                format!("prompts as {what} are not supported; send text"),
                Some("prompt"),
            ));
        }
        None => return Err(ApiError::invalid("prompt is required", Some("prompt"))),
    };
    let engine = service.engine();
    let prompt = engine.raw_prompt(&text).map_err(|e| infer_error(&e))?;
    let sampling = request.sampling.params(prompt.len(), info.context_length, Some(DEFAULT_MAX_TOKENS))?;
    let prompt = engine.prepare(prompt, sampling).map_err(|e| infer_error(&e))?;
    let prepared = Prepared {
        model: info.id.clone(),
        prompt_tokens: prompt.tokens().len(),
        stream: request.stream,
        include_usage: request.stream_options.is_some_and(|o| o.include_usage),
        text: true,
    };
    Ok((prepared, ChatJob { input: RequestInput::Raw(text), prompt }))
}

/// `POST /v1/completions`
pub(crate) async fn completions(State(state): State<AppState>, body: Bytes) -> Response {
    let answer = async {
        let service = service_for(&state, &body).await?;
        let (prepared, job) = prepare(&service, &body)?;
        let events = service.submit(job.input, job.prompt, None).map_err(|e| submit_error(&e))?;
        if prepared.stream {
            Ok(stream(prepared, events, None).into_response())
        } else {
            complete(prepared, events, None).await
        }
    };
    match answer.await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}
