//! The paid route: the price of a call from its tokens, the payment verified before the
//! generation and settled (or charged for what was delivered) after it.

use super::*;

/// A paid call in flight: the verified payment and how its price follows from its tokens.
pub(super) struct PaidCall {
    pub(super) authorized: agora_pay::Authorized,
    terms: agora_receipts::PaymentTerms,
}

impl PaidCall {
    /// Settles (or durably records) the payment for `generation`; the answer may only be sent
    /// when this succeeds.
    pub(super) async fn settle(
        self,
        generation: &Generation,
    ) -> Result<agora_pay::wire::SettleResponse, agora_pay::Refusal> {
        let amount = self.terms.amount(generation.prompt_tokens + generation.tokens.len());
        self.authorized.complete(amount).await
    }

    /// Ends a stream that stopped early (the client went away, or the generation failed): the
    /// text already sent is charged (`exact` charges its whole price once anything was sent);
    /// a stream that sent no text is charged nothing. Runs in the background, since a stream
    /// is dropped synchronously; the channel stays locked until the charge is durable, so the
    /// next call on it sees it.
    pub(super) fn charge_delivered(self, prompt_tokens: usize, delivered: usize) {
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
    let service = service(&state).map_err(IntoResponse::into_response)?.clone();
    let paywall = state
        .paywall()
        .ok_or_else(|| ApiError::unavailable("paid access is off on this node").into_response())?
        .clone();
    let (prepared, job) = prepare(&service, &body).map_err(IntoResponse::into_response)?;
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
        url: format!("http://{host}/v1/chat/completions"),
        description: Some(format!(
            "chat completion with {}: {} per token, at most {ceiling} for this request",
            prepared.model, pricing.price_per_token
        )),
        mime_type: Some("application/json".into()),
        service_name: Some("agora".into()),
        tags: vec!["inference".into(), "llm".into(), "openai".into()],
    };
    // The x402 `bazaar` description of this route, so discovery services can list it.
    let discovery = agora_pay::bazaar::chat_completions(&prepared.model);
    // A `zk-credits` proof is made over this request: its path and exact body.
    let signal = agora_credits::request_signal("POST", "/v1/chat/completions", &body);
    let authorized = paywall
        .authorize_request(&headers, &resource, ceiling, Some(&discovery), Some(signal))
        .await
        .map_err(IntoResponse::into_response)?;
    let terms = receipt_terms(&authorized.facts(), pricing.price_per_token, ceiling);
    let events = match service.submit(job.messages, job.prompt, Some(terms.clone())) {
        Ok(events) => events,
        Err(e) => {
            authorized.abandon();
            return Err(submit_error(&e).into_response());
        }
    };
    let paid = PaidCall { authorized, terms };
    if prepared.stream {
        Ok(stream(prepared, events, Some(paid)).into_response())
    } else {
        complete(prepared, events, Some(paid)).await.map_err(IntoResponse::into_response)
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
