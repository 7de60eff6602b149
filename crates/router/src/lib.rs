//! Many models, many providers, none in the middle: the owner's router.
//!
//! The owner's OpenAI endpoint names a model; the router decides who answers it:
//!
//! ```text
//! model ─▶ local model?                  ─▶ the local engine (the node's own code)
//!       ─▶ auto | name | agent:<id>/<m>  ─▶ providers from the ERC-8004 index
//!                                           ─▶ policy (privacy, price, reputation, models, marks)
//!                                           ─▶ ranked: price, reputation, latency
//!                                           ─▶ paid per call under the owner's mandate (or credits)
//!                                           ─▶ on error or timeout: the next one (an unserved call is not charged)
//!                                           ─▶ receipt checked (wallet, model file, request, payment, text)
//!                                           ─▶ a share re-executed locally; a mismatch marks the provider
//! ```
//!
//! The crate owns the policy, the provider catalog, the receipt check and the marks; the node
//! owns the HTTP surface, the local engines that re-execute, and the feedback transaction.

mod catalog;
mod check;
mod marks;
mod policy;

pub use catalog::{Provider, RemoteModel, rank};
pub use check::{CheckError, Expected, check};
pub use marks::{Mark, list as marks};
pub use policy::{Policy, Privacy};

use agora_infer::ChatMessage;
use agora_pay::{CreditPayer, PayError, Payer};
use agora_receipts::ReceiptEnvelope;
use agora_store::Store;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The prefix of a provider-qualified model: `agent:<id>/<model>`.
pub const AGENT_PREFIX: &str = "agent:";

/// How long the provider catalog is reused before the index and the providers are read again.
const CATALOG_TTL: Duration = Duration::from_secs(10);

/// What a request's `model` asks for, once it is not a local model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The best provider by policy.
    Auto,
    /// Any provider serving this model.
    Named(&'a str),
    /// This agent's model.
    Agent {
        /// The agent id.
        agent: &'a str,
        /// The model.
        model: &'a str,
    },
}

impl<'a> Target<'a> {
    /// Reads a request's `model`.
    pub fn parse(model: &'a str) -> Self {
        if model == "auto" {
            return Self::Auto;
        }
        match model.strip_prefix(AGENT_PREFIX).and_then(|rest| rest.split_once('/')) {
            Some((agent, model)) => Self::Agent { agent, model },
            None => Self::Named(model),
        }
    }
}

/// `agent:<id>/<model>`.
pub fn qualified(agent: &str, model: &str) -> String {
    format!("{AGENT_PREFIX}{agent}/{model}")
}

/// Why a request could not be routed or answered.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// Nothing leaves the machine.
    #[error(
        "router.privacy is local-only: {0:?} is not a model served here, and nothing is sent to remote providers"
    )]
    LocalOnly(String),
    /// No provider offers the model.
    #[error("no provider serves {model:?}{}", reasons(.ruled_out))]
    NoProvider {
        /// The model.
        model: String,
        /// Providers left out, and why.
        ruled_out: Vec<String>,
    },
    /// The named agent is not a provider the router may use.
    #[error("agent {agent} cannot answer: {why}")]
    Refused {
        /// The agent.
        agent: String,
        /// Why.
        why: String,
    },
    /// The mandate (or the credits) does not allow the payment: no provider is tried further.
    #[error("{0}")]
    Payment(String),
    /// Every provider tried failed.
    #[error("every provider failed: {}", .0.iter().map(|a| format!("agent {}: {}", a.agent_id, a.error)).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<Attempt>),
}

fn reasons(ruled_out: &[String]) -> String {
    if ruled_out.is_empty() {
        " (see GET /v1/models)".into()
    } else {
        format!(" the policy allows ({})", ruled_out.join("; "))
    }
}

/// A provider tried that did not give an answer.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The agent.
    pub agent_id: String,
    /// What went wrong.
    pub error: String,
}

/// How the router pays.
#[derive(Debug, Clone)]
pub enum Pay {
    /// Openly, from the node's key, under a mandate.
    Open(Arc<Payer>),
    /// With anonymous credits only.
    Anonymous(Arc<CreditPayer>),
}

/// What the router is given.
#[derive(Debug)]
pub struct RouterConfig {
    /// The policy.
    pub policy: Policy,
    /// The node's store: the discovery index, the payer's books, the marks.
    pub store: Arc<Store>,
    /// The chain the index follows.
    pub chain_id: u64,
    /// This node's own agent, never routed to.
    pub own_agent: Option<String>,
    /// How remote calls are paid (`None`: no remote calls can be paid).
    pub pay: Option<Pay>,
    /// Call providers on loopback and private addresses (development chains only).
    pub allow_private_endpoints: bool,
}

/// A request to send out: the conversation and the body as sent.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The conversation, as the receipt must name it.
    pub messages: Vec<ChatMessage>,
    /// The OpenAI request body; `model` and `stream` are set per provider.
    pub body: Value,
    /// The seed sent, if any.
    pub seed: Option<u64>,
    /// The `max_tokens` sent, if any.
    pub max_tokens: Option<usize>,
}

/// A checked remote answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Who answered.
    pub provider: Provider,
    /// With which model.
    pub model: RemoteModel,
    /// The provider's response body (a chat completion).
    pub body: Value,
    /// Its receipt, checked.
    pub receipt: ReceiptEnvelope,
    /// What the call was charged, atomic units, when the settlement says.
    pub charged: Option<u128>,
    /// The payment scheme used.
    pub scheme: Option<String>,
    /// Providers tried before it, and why they failed.
    pub failed: Vec<Attempt>,
    /// How long the provider took.
    pub latency: Duration,
}

/// The router of one node.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    http: reqwest::Client,
    catalog: tokio::sync::Mutex<Option<(Instant, Vec<Provider>)>>,
    latency: Mutex<HashMap<String, f64>>,
}

impl Router {
    /// A router.
    pub fn new(config: RouterConfig) -> Self {
        Self {
            config,
            http: reqwest::Client::new(),
            catalog: tokio::sync::Mutex::new(None),
            latency: Mutex::new(HashMap::new()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.config.policy
    }

    /// The providers known, ranked best first (marked ones included, with their mark), read
    /// again from the index when the last read is older than a few seconds.
    pub async fn providers(&self) -> Vec<Provider> {
        if self.config.policy.privacy == Privacy::LocalOnly {
            return Vec::new();
        }
        let mut cached = self.catalog.lock().await;
        let fresh = cached.as_ref().is_some_and(|(at, _)| at.elapsed() < CATALOG_TTL);
        if !fresh {
            let trusted = self.config.policy.trusted_raters.clone();
            let providers = catalog::load(
                &self.config.store,
                self.config.chain_id,
                self.config.own_agent.as_deref(),
                &trusted,
                self.config.allow_private_endpoints,
                &self.http,
            )
            .await;
            *cached = Some((Instant::now(), providers));
        }
        let mut providers = cached.as_ref().map(|(_, p)| p.clone()).unwrap_or_default();
        drop(cached);
        let measured = self.latency.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let marked = marks::all(&self.config.store, self.config.chain_id).unwrap_or_default();
        for p in &mut providers {
            if let Some(ms) = measured.get(&p.agent_id) {
                p.latency_ms = Some(*ms);
            }
            if let Some(why) = marked.get(&p.agent_id) {
                p.marked = Some(why.clone());
            }
        }
        rank(&mut providers);
        providers
    }

    /// The providers that may answer `target`, best first, each with the model it serves.
    pub async fn candidates(
        &self,
        target: Target<'_>,
        requested: &str,
    ) -> Result<Vec<(Provider, RemoteModel)>, RouteError> {
        if self.config.policy.privacy == Privacy::LocalOnly {
            return Err(RouteError::LocalOnly(requested.to_owned()));
        }
        let providers = self.providers().await;
        let policy = &self.config.policy;
        if let Target::Agent { agent, model } = target {
            let provider =
                providers.into_iter().find(|p| p.agent_id == agent).ok_or_else(|| RouteError::Refused {
                    agent: agent.to_owned(),
                    why:
                        "it is not a chat provider in the discovery index (or its catalog could not be read)"
                            .into(),
                })?;
            if let Some(why) = provider.refused_by(policy, model) {
                return Err(RouteError::Refused { agent: agent.to_owned(), why });
            }
            let served = provider.serves(model).cloned().unwrap_or_else(|| unreachable!("checked above"));
            return Ok(vec![(provider, served)]);
        }
        let mut chosen = Vec::new();
        let mut ruled_out = Vec::new();
        for provider in providers {
            let model = match target {
                Target::Named(model) => Some(model.to_owned()),
                // `auto`: the provider's first model the policy allows.
                _ => provider
                    .models
                    .iter()
                    .map(|m| m.id.clone())
                    .find(|m| provider.refused_by(policy, m).is_none()),
            };
            let Some(model) = model else {
                ruled_out.push(format!("agent {}: no model the policy allows", provider.agent_id));
                continue;
            };
            match provider.refused_by(policy, &model) {
                None => {
                    let served = provider.serves(&model).cloned().unwrap_or_else(|| unreachable!("checked"));
                    chosen.push((provider, served));
                }
                Some(why) if provider.serves(&model).is_some() => {
                    ruled_out.push(format!("agent {}: {why}", provider.agent_id));
                }
                Some(_) => {}
            }
        }
        if chosen.is_empty() {
            return Err(RouteError::NoProvider { model: requested.to_owned(), ruled_out });
        }
        Ok(chosen)
    }

    /// Sends `request` to the first candidate that answers with a receipt that checks, paying
    /// each call; a provider that fails, times out or answers unchecked is skipped for the next
    /// (one that answered with a receipt that does not check is marked). A call that was not
    /// served is not charged: the provider settles only what it delivered.
    pub async fn call(
        &self,
        candidates: Vec<(Provider, RemoteModel)>,
        request: &Outbound,
    ) -> Result<Answer, RouteError> {
        let pay = self.config.pay.as_ref().ok_or_else(|| {
            RouteError::Payment("remote calls cannot be paid: the node has no chain to pay on".into())
        })?;
        let timeout = Duration::from_secs(self.config.policy.timeout_secs.max(1));
        let mut failed = Vec::new();
        for (provider, model) in candidates {
            let mut body = request.body.clone();
            body["model"] = Value::String(model.id.clone());
            body["stream"] = Value::Bool(false);
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let started = Instant::now();
            let sent = match pay {
                Pay::Open(payer) => {
                    tokio::time::timeout(
                        timeout,
                        payer.send(reqwest::Method::POST, &provider.endpoint, Some(bytes)),
                    )
                    .await
                }
                Pay::Anonymous(credits) => {
                    tokio::time::timeout(timeout, credits.send(&provider.endpoint, bytes)).await
                }
            };
            let latency = started.elapsed();
            let fail = |error: String| Attempt { agent_id: provider.agent_id.clone(), error };
            let response = match sent {
                Err(_) => {
                    failed.push(fail(format!("no answer within {}s", timeout.as_secs())));
                    continue;
                }
                Ok(Err(e @ (PayError::Mandate { .. } | PayError::NoMandate(_)))) => {
                    return Err(RouteError::Payment(e.to_string()));
                }
                Ok(Err(e)) => {
                    failed.push(fail(e.to_string()));
                    continue;
                }
                Ok(Ok(response)) => response,
            };
            if !(200..300).contains(&response.status) {
                let text = String::from_utf8_lossy(&response.body);
                failed.push(fail(format!(
                    "answered {}: {}",
                    response.status,
                    text.chars().take(300).collect::<String>()
                )));
                continue;
            }
            let Ok(answer) = serde_json::from_slice::<Value>(&response.body) else {
                failed.push(fail("answered with a body that is not JSON".into()));
                continue;
            };
            let text = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
            let checked = answer
                .get("agora_receipt")
                .filter(|r| !r.is_null())
                .ok_or(CheckError::NoReceipt)
                .and_then(|r| {
                    serde_json::from_value::<ReceiptEnvelope>(r.clone())
                        .map_err(|e| CheckError::Invalid(e.to_string()))
                })
                .and_then(|envelope| {
                    let expected = Expected {
                        wallet: provider.wallet,
                        model_sha256: &model.sha256,
                        messages: &request.messages,
                        seed: request.seed,
                        max_tokens: request.max_tokens,
                        payer: match pay {
                            Pay::Open(payer) => Some(payer.address()),
                            Pay::Anonymous(_) => None,
                        },
                        text: &text,
                    };
                    check(&envelope, &expected).map(|()| envelope)
                });
            let receipt = match checked {
                Ok(receipt) => receipt,
                Err(e) => {
                    let evidence =
                        serde_json::json!({ "answer": answer, "error": e.to_string() }).to_string();
                    self.mark(
                        &provider.agent_id,
                        &format!("an answer failed its receipt check: {e}"),
                        &evidence,
                    );
                    failed.push(fail(format!("its answer failed the receipt check: {e}")));
                    continue;
                }
            };
            self.record_latency(&provider.agent_id, latency);
            let charged = response.settlement.as_ref().and_then(|s| s.charged());
            return Ok(Answer {
                provider,
                model,
                body: answer,
                receipt,
                charged,
                scheme: response.scheme,
                failed,
                latency,
            });
        }
        Err(RouteError::AllFailed(failed))
    }

    /// Whether this answer is one of the share re-executed.
    pub fn should_recheck(&self) -> bool {
        let percent = u32::from(self.config.policy.recheck_percent.min(100));
        percent > 0 && rand::random::<u32>() % 100 < percent
    }

    /// Stops routing to `agent_id`, keeping why and the evidence.
    pub fn mark(&self, agent_id: &str, reason: &str, evidence: &str) {
        tracing::warn!(target: "agora::router", agent = agent_id, "provider marked: {reason}");
        if let Err(e) = marks::mark(&self.config.store, self.config.chain_id, agent_id, reason, evidence) {
            tracing::error!(target: "agora::router", "the mark could not be stored: {e}");
        }
    }

    /// The marks, with their evidence.
    pub fn marks(&self) -> Vec<Mark> {
        marks::list(&self.config.store, self.config.chain_id).unwrap_or_default()
    }

    fn record_latency(&self, agent: &str, latency: Duration) {
        let ms = latency.as_secs_f64() * 1e3;
        let mut measured = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let entry = measured.entry(agent.to_owned()).or_insert(ms);
        *entry = 0.7 * *entry + 0.3 * ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_name_reads_as_a_target() {
        assert_eq!(Target::parse("auto"), Target::Auto);
        assert_eq!(Target::parse("agent:7/SmolLM2/x"), Target::Agent { agent: "7", model: "SmolLM2/x" });
        assert_eq!(Target::parse("SmolLM2"), Target::Named("SmolLM2"));
        assert_eq!(Target::parse(&qualified("12", "m")), Target::Agent { agent: "12", model: "m" });
    }
}
