//! The paid route: the price of a call from its tokens, the payment verified before the
//! generation and settled (or charged for what was delivered) after it.

use super::*;

/// A paid call in flight: the verified payment and how its price follows from its tokens.
pub(crate) struct PaidCall {
    authorized: agora_pay::Authorized,
    terms: agora_receipts::PaymentTerms,
}

impl PaidCall {
    /// Settles (or durably records) the payment for `generation`; the answer may only be sent
    /// when this succeeds.
    pub(crate) async fn settle(
        self,
        generation: &Generation,
    ) -> Result<agora_pay::wire::SettleResponse, agora_pay::Refusal> {
        let amount = self.terms.amount(generation.prompt_tokens + generation.tokens.len());
        self.authorized.complete(amount).await
    }

    /// The call was not served: nothing is charged.
    pub(crate) fn abandon(self) {
        self.authorized.abandon();
    }

    /// Ends a stream that stopped early (the client went away, or the generation failed): the
    /// text already sent is charged (`exact` charges its whole price once anything was sent);
    /// a stream that sent no text is charged nothing. Runs in the background, since a stream
    /// is dropped synchronously; the channel stays locked until the charge is durable, so the
    /// next call on it sees it.
    pub(crate) fn charge_delivered(self, prompt_tokens: usize, delivered: usize) {
        if delivered == 0 {
            self.authorized.abandon();
            return;
        }
        let amount = self.terms.amount(prompt_tokens + delivered);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(target: "agora::pay", "a cut stream could not be charged: no runtime");
            return;
        };
        runtime.spawn(async move {
            match self.authorized.complete(amount).await {
                Ok(_) => tracing::info!(
                    target: "agora::pay",
                    amount,
                    delivered_tokens = delivered,
                    "charged a stream that ended early for what it delivered"
                ),
                Err(refusal) => tracing::warn!(
                    target: "agora::pay",
                    "charging a stream that ended early failed: {}",
                    refusal.message
                ),
            }
        });
    }
}

/// `POST /v1/chat/completions` on the paid listener: priced per token, with a per-request
/// ceiling; the 402 asks for the ceiling of this request, `upto` and channels are charged what
/// was used.
pub(crate) async fn paid_chat_completions(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    match paid_chat(state, headers, body).await {
        Ok(response) => response,
        Err(response) => response,
    }
}

async fn paid_chat(
    state: AppState,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let service = service_for(&state, &body).await.map_err(IntoResponse::into_response)?;
    let (prepared, job) = prepare(&service, &body).map_err(IntoResponse::into_response)?;
    let route = PaidRoute {
        path: "/v1/chat/completions",
        what: "chat completion",
        tags: &["inference", "llm", "openai"],
        // The x402 `bazaar` description of this route, so discovery services can list it.
        discovery: Some(agora_pay::bazaar::chat_completions(&prepared.model)),
    };
    let paid = authorize(&state, &headers, &route, &body, &prepared, &job).await?;
    let events = match service.submit(job.input, job.prompt, Some(paid.terms.clone())) {
        Ok(events) => events,
        Err(e) => {
            paid.abandon();
            return Err(submit_error(&e).into_response());
        }
    };
    if prepared.stream {
        Ok(stream(prepared, events, Some(paid)).into_response())
    } else {
        complete(prepared, events, Some(paid)).await.map_err(IntoResponse::into_response)
    }
}

/// How a paid route names what it sells in its 402.
pub(crate) struct PaidRoute<'a> {
    /// The route's path, which the resource URL and a `zk-credits` proof name.
    pub(crate) path: &'a str,
    /// What one call buys, in words (`chat completion`).
    pub(crate) what: &'a str,
    /// The resource's tags.
    pub(crate) tags: &'a [&'a str],
    /// The x402 `bazaar` description of the route, when it has one.
    pub(crate) discovery: Option<Value>,
}

/// Prices a validated chat job (per token, prompt and the most it may generate, under the
/// per-request ceiling) and verifies the payment `headers` carry for it on `route`, whose
/// request `body` a `zk-credits` proof is made over. The error is the answer to send: the
/// 402, or why the prompt alone costs too much.
async fn authorize(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    route: &PaidRoute<'_>,
    body: &[u8],
    prepared: &Prepared,
    job: &ChatJob,
) -> Result<PaidCall, Response> {
    let paywall = state
        .paywall()
        .ok_or_else(|| ApiError::unavailable("paid access is off on this node").into_response())?;
    let pricing = state.pricing();
    let tokens = (prepared.prompt_tokens + job.prompt.params().max_tokens) as u128;
    let cheapest = pricing.price_per_token.saturating_mul(prepared.prompt_tokens as u128 + 1);
    if cheapest > pricing.max_per_request {
        return Err(ApiError::invalid(
            format!(
                "this prompt alone costs {cheapest} ({} tokens at {}), above the {} a request may cost; shorten it",
                prepared.prompt_tokens, pricing.price_per_token, pricing.max_per_request
            ),
            Some("messages"),
        )
        .with_code(agora_pay::wire::reason::ABOVE_CEILING)
        .into_response());
    }
    let ceiling = pricing.price_per_token.saturating_mul(tokens).min(pricing.max_per_request);
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let resource = agora_pay::wire::ResourceInfo {
        url: format!("http://{host}{}", route.path),
        description: Some(format!(
            "{} with {}: {} per token, at most {ceiling} for this request",
            route.what, prepared.model, pricing.price_per_token
        )),
        mime_type: Some("application/json".into()),
        service_name: Some("agora".into()),
        tags: route.tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    // A `zk-credits` proof is made over this request: its path and exact body.
    let signal = agora_credits::request_signal("POST", route.path, body);
    let authorized = paywall
        .authorize_request(headers, &resource, ceiling, route.discovery.as_ref(), Some(signal))
        .await
        .map_err(IntoResponse::into_response)?;
    let terms = receipt_terms(&authorized.facts(), pricing.price_per_token, ceiling);
    Ok(PaidCall { authorized, terms })
}

/// A generation sold on another protocol's paid route (A2A), queued: its events, its verified
/// payment, and what the engine runs.
pub(crate) struct PaidGeneration {
    /// The generation's events; dropping them stops it.
    pub(crate) events: mpsc::UnboundedReceiver<GenerationEvent>,
    /// The payment, to settle (or charge for what was delivered) when it ends.
    pub(crate) paid: PaidCall,
    /// The model that answers.
    pub(crate) model: String,
    /// The prompt's length in tokens.
    pub(crate) prompt_tokens: usize,
}

/// Why a generation was not started: a request error, or the paywall's answer (a 402 with
/// its `PAYMENT-REQUIRED` header), to send as it is.
pub(crate) enum NotStarted {
    /// The request cannot be served (an invalid prompt, a full queue, no model).
    Invalid(ApiError),
    /// The paywall's answer.
    Payment(Response),
}

/// Starts a paid generation for another protocol's route: `chat` is the OpenAI chat request
/// the route's request amounts to, validated, tokenized and priced exactly as
/// `/v1/chat/completions` prices it; `body` is the route's own request (what a `zk-credits`
/// proof is made over).
pub(crate) async fn start_paid_generation(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    route: &PaidRoute<'_>,
    body: &[u8],
    chat: &[u8],
) -> Result<PaidGeneration, NotStarted> {
    let service = service_for(state, chat).await.map_err(NotStarted::Invalid)?;
    let (prepared, job) = prepare(&service, chat).map_err(NotStarted::Invalid)?;
    let paid = authorize(state, headers, route, body, &prepared, &job).await.map_err(NotStarted::Payment)?;
    match service.submit(job.input, job.prompt, Some(paid.terms.clone())) {
        Ok(events) => {
            Ok(PaidGeneration { events, paid, model: prepared.model, prompt_tokens: prepared.prompt_tokens })
        }
        Err(e) => {
            paid.abandon();
            Err(NotStarted::Invalid(submit_error(&e)))
        }
    }
}

/// The payment as a receipt names it, with this route's price terms. A per-token price applies
/// to `upto` and channels: `exact` always pays the ceiling, so its price is fixed (0).
fn receipt_terms(
    facts: &agora_pay::paywall::PaymentFacts,
    price_per_token: u128,
    ceiling: u128,
) -> agora_receipts::PaymentTerms {
    agora_receipts::PaymentTerms {
        payment: agora_receipts::ReceiptPayment {
            scheme: facts.scheme.to_owned(),
            network: facts.network.clone(),
            payer: facts.payer,
            pay_to: facts.pay_to,
            asset: facts.asset,
            reference: facts.reference,
            amount: String::new(),
            cumulative: None,
        },
        price_per_token: if facts.scheme == agora_pay::wire::SCHEME_EXACT { 0 } else { price_per_token },
        ceiling,
        charged_before: facts.charged_before,
    }
}
